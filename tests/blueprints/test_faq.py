"""热点问题答疑 over HTTP: public reading and active search, the operator's edit pages."""
import re

import pytest

from tests.conftest import form_post
from yanxiu.models import AuditLog, FaqEntry, FaqTopic
from yanxiu.services import faq

HX = {"HX-Request": "true"}
XSS = '<script>alert("x")</script><img src=x onerror=alert(1)>'


@pytest.fixture
def loaded(app):
    faq.load_starting_set()
    return FaqEntry.select().order_by(FaqEntry.id).first()


def faq_audit_rows():
    return AuditLog.select().where(AuditLog.action.startswith("faq.entry")
                                   | AuditLog.action.startswith("faq.topic")).count()


def test_anonymous_reads_every_topic_and_question(client, loaded):
    page = client.get("/faq")
    assert page.status_code == 200
    assert "热点问题答疑" in page.text and '<html lang="zh-CN">' in page.text
    assert page.text.count("<details") == FaqEntry.select().count()
    for topic in FaqTopic.select():
        assert topic.name in page.text
    assert "拿到权限码后，怎样绑定管理员身份？" in page.text
    assert "/faq/entries" not in page.text  # no edit links for readers
    assert 'hx-get="/faq"' in page.text and 'hx-target="#faq-results"' in page.text


def test_login_page_and_navigation_link_to_the_faq(client, login_as):
    assert 'href="/faq"' in client.get("/login").text
    assert 'href="/faq"' in client.get("/faq").text
    assert 'href="/faq"' in login_as("teacher").get("/workbench").text


def test_search_without_javascript_returns_the_full_page(client, loaded):
    page = client.get("/faq", query_string={"q": "过期"})
    assert page.status_code == 200 and "<html" in page.text
    assert "该权限码已<mark>过期</mark>" in page.text
    assert 'value="过期"' in page.text


def test_search_fragment_for_htmx_is_only_the_results(client, loaded):
    fragment = client.get("/faq?q=%E5%AF%BC%E5%87%BA", headers=HX)  # 导出
    assert fragment.status_code == 200
    assert "<html" not in fragment.text and "<form" not in fragment.text
    assert "<mark>导出</mark> Excel" in fragment.text and "<details" in fragment.text
    assert "找到" in fragment.text
    assert fragment.headers["Vary"].count("HX-Request") >= 1


def test_a_boosted_request_gets_the_full_page(client, loaded):
    page = client.get("/faq?q=x", headers={**HX, "HX-Boosted": "true"})
    assert "<html" in page.text


def test_cleared_search_fragment_lists_every_topic_again(client, loaded):
    fragment = client.get("/faq?q=", headers=HX)
    assert "<html" not in fragment.text
    assert fragment.text.count("<details") == FaqEntry.select().count()


def test_search_with_no_hit_says_so(client, loaded):
    fragment = client.get("/faq?q=量子力学", headers=HX)
    assert fragment.status_code == 200 and "没有找到与“量子力学”相关的问题" in fragment.text


def test_empty_faq_page_answers(client, app):
    assert "暂无热点问题" in client.get("/faq").text


def test_operator_sees_edit_links(login_as, loaded):
    page = login_as("operator").get("/faq")
    assert f"/faq/entries/{loaded.id}/edit" in page.text
    assert f"/faq/entries/{loaded.id}/delete" in page.text
    assert "/faq/topics/new" in page.text and "/faq/entries/new" in page.text


def test_operator_adds_an_entry(login_as, loaded):
    client = login_as("operator")
    topic = FaqTopic.select().order_by(FaqTopic.id).first()
    form = client.get(f"/faq/entries/new?topic={topic.id}")
    assert form.status_code == 200
    assert re.search(rf'<option selected value="{topic.id}">', form.text)
    response = form_post(client, "/faq/entries/new",
                         {"topic": str(topic.id), "question": "忘记用户名怎么办？", "answer": "请联系管理员。"})
    assert response.status_code == 303
    entry = FaqEntry.get(FaqEntry.question == "忘记用户名怎么办？")
    assert response.headers["Location"].endswith(f"/faq#q{entry.id}")
    assert "问题已添加" in client.get("/faq").text
    row = AuditLog.get(AuditLog.action == "faq.entry_created")
    assert row.target_id == str(entry.id) and row.actor.username == "operator"


def test_operator_edits_an_entry(login_as, loaded):
    client = login_as("operator")
    form = client.get(f"/faq/entries/{loaded.id}/edit")
    assert form.status_code == 200 and loaded.question in form.text
    response = form_post(client, f"/faq/entries/{loaded.id}/edit",
                         {"topic": str(loaded.topic_id), "question": "改过的问题", "answer": "改过的解答"})
    assert response.status_code == 303
    assert FaqEntry.get_by_id(loaded.id).question == "改过的问题"
    row = AuditLog.get(AuditLog.action == "faq.entry_updated")
    assert loaded.question in row.before and "改过的问题" in row.after


def test_operator_deletes_after_confirmation(login_as, loaded):
    client = login_as("operator")
    count = FaqEntry.select().count()
    confirm = client.get(f"/faq/entries/{loaded.id}/delete")
    assert confirm.status_code == 200 and "确认删除" in confirm.text and loaded.question in confirm.text
    assert FaqEntry.select().count() == count
    response = form_post(client, f"/faq/entries/{loaded.id}/delete")
    assert response.status_code == 303 and response.headers["Location"].endswith("/faq")
    assert FaqEntry.get_or_none(FaqEntry.id == loaded.id) is None
    assert FaqEntry.select().count() == count - 1
    assert AuditLog.get(AuditLog.action == "faq.entry_deleted").target_id == str(loaded.id)
    assert "问题已删除" in client.get("/faq").text


def test_operator_adds_and_renames_a_topic(login_as, app):
    client = login_as("operator")
    assert client.get("/faq/topics/new").status_code == 200
    response = form_post(client, "/faq/topics/new", {"name": "培训项目"})
    assert response.status_code == 303
    topic = FaqTopic.get(FaqTopic.name == "培训项目")
    form = client.get(f"/faq/topics/{topic.id}/rename")
    assert form.status_code == 200 and 'value="培训项目"' in form.text
    renamed = form_post(client, f"/faq/topics/{topic.id}/rename", {"name": "研修项目"})
    assert renamed.status_code == 303 and FaqTopic.get_by_id(topic.id).name == "研修项目"
    assert "研修项目" in client.get("/faq").text
    actions = [r.action for r in AuditLog.select().where(AuditLog.action.startswith("faq.topic"))]
    assert actions == ["faq.topic_created", "faq.topic_renamed"]


def test_duplicate_topic_name_is_refused_with_422(login_as, loaded):
    client = login_as("operator")
    name = FaqTopic.select().first().name
    response = form_post(client, "/faq/topics/new", {"name": name})
    assert response.status_code == 422 and "已有同名分类" in response.text
    assert FaqTopic.select().where(FaqTopic.name == name).count() == 1


@pytest.mark.parametrize("data,message", [
    ({"topic": "", "question": "保留的问题", "answer": "保留的解答"}, "请选择分类"),
    ({"topic": "999", "question": "保留的问题", "answer": "保留的解答"}, "请选择有效的分类"),
    ({"topic": "T", "question": "", "answer": "保留的解答"}, "请填写问题"),
    ({"topic": "T", "question": "问" * 201, "answer": "保留的解答"}, "问题不能超过 200 字"),
    ({"topic": "T", "question": "保留的问题", "answer": ""}, "请填写解答"),
    ({"topic": "T", "question": "保留的问题", "answer": "答" * 5001}, "解答不能超过 5000 字"),
])
def test_invalid_entry_answers_422_and_keeps_the_values(login_as, loaded, data, message):
    client = login_as("operator")
    if data["topic"] == "T":
        data = {**data, "topic": str(loaded.topic_id)}
    count = FaqEntry.select().count()
    response = form_post(client, "/faq/entries/new", data)
    assert response.status_code == 422 and message in response.text
    for value in (data["question"], data["answer"]):
        if value and len(value) < 100:
            assert value in response.text
    if data["topic"] == str(loaded.topic_id):
        assert re.search(rf'<option selected value="{loaded.topic_id}">', response.text)
    assert FaqEntry.select().count() == count and faq_audit_rows() == 0


def test_invalid_edit_answers_422_and_changes_nothing(login_as, loaded):
    client = login_as("operator")
    response = form_post(client, f"/faq/entries/{loaded.id}/edit",
                         {"topic": str(loaded.topic_id), "question": "新问题", "answer": "  "})
    assert response.status_code == 422 and "请填写解答" in response.text and 'value="新问题"' in response.text
    assert FaqEntry.get_by_id(loaded.id).question == loaded.question


def test_missing_csrf_token_is_refused(login_as, loaded):
    client = login_as("operator")
    count = FaqEntry.select().count()
    assert client.post("/faq/entries/new", data={"topic": str(loaded.topic_id), "question": "q",
                                                  "answer": "a"}).status_code == 400
    assert client.post(f"/faq/entries/{loaded.id}/delete").status_code == 400
    assert client.post("/faq/topics/new", data={"name": "新分类"}).status_code == 400
    assert FaqEntry.select().count() == count and faq_audit_rows() == 0


def test_answer_with_markup_comes_back_escaped(login_as, client, loaded):
    operator = login_as("operator")
    response = form_post(operator, "/faq/entries/new",
                         {"topic": str(loaded.topic_id), "question": f"问题{XSS}", "answer": f"解答{XSS}"})
    assert response.status_code == 303
    for page in (client.get("/faq"), client.get("/faq?q=alert", headers=HX),
                 client.get("/faq?q=script")):
        assert "<script>alert" not in page.text and "<img src=x" not in page.text
        assert "&lt;script&gt;" in page.text or "&lt;<mark>script</mark>&gt;" in page.text
    entry = FaqEntry.get(FaqEntry.answer == f"解答{XSS}")
    confirm = operator.get(f"/faq/entries/{entry.id}/delete")
    assert "<script>alert" not in confirm.text and "&lt;script&gt;" in confirm.text


def test_unknown_ids_answer_404(login_as, app):
    client = login_as("operator")
    for url in ("/faq/entries/999/edit", "/faq/entries/999/delete", "/faq/topics/999/rename"):
        assert client.get(url).status_code == 404
        assert form_post(client, url, {"name": "x", "question": "q", "answer": "a"}).status_code == 404


EDIT_URLS = ["/faq/entries/new", "/faq/entries/{id}/edit", "/faq/entries/{id}/delete",
             "/faq/topics/new", "/faq/topics/{topic}/rename"]


@pytest.mark.parametrize("username", ["zj_admin", "xh_admin", "school_admin", "teacher"])
@pytest.mark.parametrize("url", EDIT_URLS)
def test_non_operators_get_404_and_change_nothing(login_as, loaded, username, url):
    client = login_as(username)
    url = url.format(id=loaded.id, topic=loaded.topic_id)
    before = [(e.id, e.topic_id, e.question, e.answer) for e in FaqEntry.select().order_by(FaqEntry.id)]
    topics = [(t.id, t.name) for t in FaqTopic.select().order_by(FaqTopic.id)]
    assert client.get(url).status_code == 404
    assert client.get(url, headers=HX).status_code == 404
    posted = form_post(client, url, {"topic": str(loaded.topic_id), "question": "篡改",
                                     "answer": "篡改", "name": "篡改"})
    assert posted.status_code == 404
    assert [(e.id, e.topic_id, e.question, e.answer)
            for e in FaqEntry.select().order_by(FaqEntry.id)] == before
    assert [(t.id, t.name) for t in FaqTopic.select().order_by(FaqTopic.id)] == topics
    assert faq_audit_rows() == 0
    # they still read the FAQ, without edit links
    page = client.get("/faq")
    assert page.status_code == 200 and "/faq/entries/" not in page.text


def test_anonymous_edit_urls_go_to_login(client, loaded):
    response = client.get(f"/faq/entries/{loaded.id}/edit")
    assert response.status_code in (302, 303) and "/login" in response.headers["Location"]



def test_a_topic_id_past_64_bits_is_an_invalid_topic(login_as, loaded):
    """Found by the fuzz tests: the topic's id went to the database unchecked and overflowed it."""
    before = FaqEntry.select().count()
    response = form_post(login_as("operator"), "/faq/entries/new",
                         {"topic": "99999999999999999999", "question": "问？", "answer": "答。"})
    assert response.status_code == 422 and "请选择有效的分类" in response.text
    assert FaqEntry.select().count() == before
