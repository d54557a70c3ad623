"""热点问题答疑 service: starting set, search, the operator's edits with their audit rows."""
import json

import pytest

from yanxiu.models import AuditLog, Binding, FaqEntry, FaqTopic
from yanxiu.services import faq
from yanxiu.services.faq import FaqError

SUBJECTS = ["绑定", "权限码", "过期", "学校管理员", "找不到", "转移", "学时", "导出", "打印"]


@pytest.fixture
def operator(tree):
    return Binding.get(Binding.account == tree["accounts"]["operator"])


@pytest.fixture
def topic(operator):
    return faq.create_topic(operator, "绑定与权限码")


def test_starting_set_is_useful_and_loads_once(app):
    added = faq.load_starting_set()
    assert added >= 15 and FaqEntry.select().count() == added
    assert faq.load_starting_set() == 0
    assert FaqEntry.select().count() == added
    assert FaqTopic.select().count() == len(faq.starting_set())
    assert AuditLog.select().where(AuditLog.action == "faq.starting_set_loaded").count() == 1
    text = " ".join(e.question + e.answer for e in FaqEntry.select())
    missing = [s for s in SUBJECTS if s not in text]
    assert missing == []


def test_starting_set_fits_the_columns_and_keeps_its_order(app):
    for item in faq.starting_set():
        assert 0 < len(item["name"]) <= faq.TOPIC_NAME_MAX
        for e in item["entries"]:
            assert 0 < len(e["question"]) <= faq.QUESTION_MAX
            assert 0 < len(e["answer"]) <= faq.ANSWER_MAX
    faq.load_starting_set()
    first = faq.starting_set()[0]
    topic, entries = faq.topics_with_entries()[0]
    assert topic.name == first["name"]
    assert [e.question for e in entries] == [e["question"] for e in first["entries"]]


def test_starting_set_is_not_loaded_over_the_operators_topics(operator, topic):
    assert faq.load_starting_set() == 0
    assert [t.name for t in faq.topics()] == ["绑定与权限码"]


def test_bundled_file_is_valid_json_with_unique_topics():
    from importlib import resources
    data = json.loads(resources.files("yanxiu.data").joinpath("faq.json").read_text("utf-8"))
    names = [t["name"] for t in data["topics"]]
    assert len(names) == len(set(names))


def test_search_matches_question_or_answer_case_insensitively(app):
    faq.load_starting_set()
    hits = faq.search("权限码")
    assert hits and all("权限码" in e.question + e.answer for e in hits)
    assert len(hits) <= faq.SEARCH_LIMIT
    assert {e.id for e in faq.search("excel")} == {e.id for e in faq.search("EXCEL")} != set()
    assert faq.search("  ") == [] and faq.search("") == []
    assert faq.search("不存在的词语xyz") == []


def test_search_needs_every_word(app):
    faq.load_starting_set()
    both = faq.search("权限码 过期")
    assert both and all("过期" in e.question + e.answer and "权限码" in e.question + e.answer
                        for e in both)
    assert len(both) < len(faq.search("权限码"))


def test_search_treats_like_wildcards_literally(operator, topic):
    faq.create_entry(operator, topic.id, "完成率100%吗", "是的")
    faq.create_entry(operator, topic.id, "另一个问题", "无关")
    assert [e.question for e in faq.search("%")] == ["完成率100%吗"]
    assert faq.search("_") == []


def test_create_entry_goes_last_and_is_audited(operator, topic):
    first = faq.create_entry(operator, topic.id, " 权限码丢了怎么办？ ", "找发放人重新发放。", address="10.0.0.9")
    second = faq.create_entry(operator, str(topic.id), "第二个问题", "答案")
    assert first.question == "权限码丢了怎么办？" and second.position > first.position
    assert first.updated_by_id == operator.account_id
    row = AuditLog.get((AuditLog.action == "faq.entry_created") & (AuditLog.target_id == str(first.id)))
    assert row.actor_id == operator.account_id and row.binding_id == operator.id
    assert json.loads(row.after)["question"] == "权限码丢了怎么办？" and row.address == "10.0.0.9"


def test_update_entry_records_before_and_after(operator, topic):
    entry = faq.create_entry(operator, topic.id, "旧问题", "旧答案")
    other = faq.create_topic(operator, "学时统计")
    faq.create_entry(operator, other.id, "已有问题", "答案")
    faq.update_entry(operator, entry, other.id, "新问题", "新答案")
    entry = FaqEntry.get_by_id(entry.id)
    assert (entry.topic_id, entry.question, entry.answer) == (other.id, "新问题", "新答案")
    assert entry.position == 2  # moved to the end of its new topic
    row = AuditLog.get(AuditLog.action == "faq.entry_updated")
    assert json.loads(row.before) == {"topic": topic.id, "question": "旧问题", "answer": "旧答案"}
    assert json.loads(row.after) == {"topic": other.id, "question": "新问题", "answer": "新答案"}


def test_delete_entry_keeps_its_text_in_the_audit_log(operator, topic):
    entry = faq.create_entry(operator, topic.id, "要删除的问题", "答案")
    faq.delete_entry(operator, entry)
    assert FaqEntry.select().count() == 0
    row = AuditLog.get(AuditLog.action == "faq.entry_deleted")
    assert json.loads(row.before)["question"] == "要删除的问题" and row.target_id == str(entry.id)


@pytest.mark.parametrize("topic_id,question,answer,field,message", [
    ("", "问题", "答案", "topic", "请选择有效的分类"),
    ("999", "问题", "答案", "topic", "请选择有效的分类"),
    ("abc", "问题", "答案", "topic", "请选择有效的分类"),
    (None, "  ", "答案", "question", "请填写问题"),
    (None, "问" * 201, "答案", "question", "问题不能超过 200 字"),
    (None, "问题", "\n ", "answer", "请填写解答"),
    (None, "问题", "答" * 5001, "answer", "解答不能超过 5000 字"),
])
def test_invalid_entries_are_refused_with_a_chinese_message(operator, topic, topic_id, question,
                                                            answer, field, message):
    with pytest.raises(FaqError) as caught:
        faq.create_entry(operator, topic.id if topic_id is None else topic_id, question, answer)
    assert caught.value.field == field and str(caught.value) == message
    assert FaqEntry.select().count() == 0
    assert not AuditLog.select().where(AuditLog.action.startswith("faq.entry")).exists()


def test_limits_are_inclusive(operator, topic):
    entry = faq.create_entry(operator, topic.id, "问" * 200, "答" * 5000)
    assert len(entry.question) == 200


def test_topics_are_created_renamed_and_kept_unique(operator, topic):
    second = faq.create_topic(operator, "学时统计")
    assert second.position > topic.position
    with pytest.raises(FaqError, match="已有同名分类"):
        faq.create_topic(operator, " 学时统计 ")
    with pytest.raises(FaqError, match="已有同名分类"):
        faq.rename_topic(operator, second, "绑定与权限码")
    assert FaqTopic.get_by_id(second.id).name == "学时统计"
    with pytest.raises(FaqError, match="请填写分类名称"):
        faq.create_topic(operator, "")
    with pytest.raises(FaqError, match="不能超过 40 字"):
        faq.create_topic(operator, "分" * 41)
    faq.rename_topic(operator, second, "学时与统计")
    faq.rename_topic(operator, second, "学时与统计")  # its own name is no clash
    assert FaqTopic.get_by_id(second.id).name == "学时与统计"
    row = AuditLog.select().where(AuditLog.action == "faq.topic_renamed").order_by(AuditLog.id).first()
    assert json.loads(row.before) == {"name": "学时统计"} and json.loads(row.after) == {"name": "学时与统计"}


def test_topics_with_entries_includes_empty_topics(operator, topic):
    empty = faq.create_topic(operator, "空分类")
    faq.create_entry(operator, topic.id, "问题", "答案")
    groups = faq.topics_with_entries()
    assert [(t.id, len(es)) for t, es in groups] == [(topic.id, 1), (empty.id, 0)]


def test_faq_load_command_is_idempotent(runner):
    first = runner.invoke(args=["faq", "load"])
    assert first.exit_code == 0 and "loaded" in first.output
    second = runner.invoke(args=["faq", "load"])
    assert second.exit_code == 0 and "nothing changed" in second.output
    assert FaqEntry.select().count() == sum(len(t["entries"]) for t in faq.starting_set())
