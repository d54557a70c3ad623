"""热点问题答疑 (FAQ): topics and their questions, search, the operator's edits, the starting set."""
import json
from importlib import resources

from peewee import IntegrityError, fn

from yanxiu.db import as_id, database
from yanxiu.models import Binding, FaqEntry, FaqTopic
from yanxiu.models.base import now
from yanxiu.services import audit

QUESTION_MAX, ANSWER_MAX, TOPIC_NAME_MAX = 200, 5000, 40
QUERY_MAX, SEARCH_LIMIT, QUERY_TERMS = 50, 30, 5


class FaqError(ValueError):
    """Invalid FAQ input; the message is Chinese and `field` names the form field it concerns."""

    def __init__(self, message: str, field: str | None = None):
        super().__init__(message)
        self.field = field


def topics():
    """Every topic in display order."""
    return FaqTopic.select().order_by(FaqTopic.position, FaqTopic.id)


def topics_with_entries() -> list[tuple[FaqTopic, list[FaqEntry]]]:
    """Each topic with its entries in order, in two queries (empty topics included)."""
    grouped = {t.id: (t, []) for t in topics()}
    for entry in FaqEntry.select().order_by(FaqEntry.position, FaqEntry.id):
        grouped[entry.topic_id][1].append(entry)
    return list(grouped.values())


def search_terms(query: str) -> list[str]:
    """The words of a search, at most QUERY_TERMS of them, from the first QUERY_MAX characters."""
    return (query or "")[:QUERY_MAX].split()[:QUERY_TERMS]


def search(query: str, limit: int = SEARCH_LIMIT) -> list[FaqEntry]:
    """Entries whose question or answer contains every word of `query`, case-insensitively."""
    terms = search_terms(query)
    if not terms:
        return []
    found = (FaqEntry.select(FaqEntry, FaqTopic).join(FaqTopic)
             .order_by(FaqTopic.position, FaqTopic.id, FaqEntry.position, FaqEntry.id))
    for term in terms:
        # LOWER on both sides: LIKE ignores case only for ASCII on SQLite, not at all on PostgreSQL.
        needle = term.lower()
        found = found.where(fn.LOWER(FaqEntry.question).contains(needle)
                            | fn.LOWER(FaqEntry.answer).contains(needle))
    return list(found.limit(limit))


def _clean_entry(topic_id, question: str, answer: str) -> tuple[FaqTopic, str, str]:
    question, answer = (question or "").strip(), (answer or "").strip()
    topic_id = as_id(topic_id)
    topic = FaqTopic.get_or_none(FaqTopic.id == topic_id) if topic_id else None
    if topic is None:
        raise FaqError("请选择有效的分类", "topic")
    if not question:
        raise FaqError("请填写问题", "question")
    if len(question) > QUESTION_MAX:
        raise FaqError(f"问题不能超过 {QUESTION_MAX} 字", "question")
    if not answer:
        raise FaqError("请填写解答", "answer")
    if len(answer) > ANSWER_MAX:
        raise FaqError(f"解答不能超过 {ANSWER_MAX} 字", "answer")
    return topic, question, answer


def _clean_topic_name(name: str, *, exclude: int | None = None) -> str:
    name = (name or "").strip()
    if not name:
        raise FaqError("请填写分类名称", "name")
    if len(name) > TOPIC_NAME_MAX:
        raise FaqError(f"分类名称不能超过 {TOPIC_NAME_MAX} 字", "name")
    clash = FaqTopic.select().where(FaqTopic.name == name)
    if exclude is not None:
        clash = clash.where(FaqTopic.id != exclude)
    if clash.exists():
        raise FaqError("已有同名分类", "name")
    return name


def _entry_facts(entry: FaqEntry) -> dict:
    return {"topic": entry.topic_id, "question": entry.question, "answer": entry.answer}


def _next_position(query) -> int:
    return (query.scalar() or 0) + 1


def _record(action: str, binding: Binding | None, target, *, before=None, after=None,
            address: str = "") -> None:
    audit.record(action, actor=binding.account_id if binding else None, binding=binding,
                 target_type="faq_topic" if isinstance(target, FaqTopic) else "faq_entry",
                 target_id=target.id, scope_path=binding.scope_path if binding else "",
                 before=before, after=after, address=address)


def create_entry(binding: Binding, topic_id, question: str, answer: str, *,
                 address: str = "") -> FaqEntry:
    """Add a question and its answer at the end of its topic."""
    topic, question, answer = _clean_entry(topic_id, question, answer)
    with database.atomic():
        entry = FaqEntry.create(
            topic=topic, question=question, answer=answer, updated_at=now(),
            updated_by=binding.account_id,
            position=_next_position(FaqEntry.select(fn.MAX(FaqEntry.position))
                                    .where(FaqEntry.topic == topic)))
        _record("faq.entry_created", binding, entry, after=_entry_facts(entry), address=address)
    return entry


def update_entry(binding: Binding, entry: FaqEntry, topic_id, question: str, answer: str, *,
                 address: str = "") -> FaqEntry:
    """Edit an entry; moved to another topic, it goes to that topic's end."""
    topic, question, answer = _clean_entry(topic_id, question, answer)
    before = _entry_facts(entry)
    with database.atomic():
        if topic.id != entry.topic_id:
            entry.position = _next_position(FaqEntry.select(fn.MAX(FaqEntry.position))
                                            .where(FaqEntry.topic == topic))
        entry.topic, entry.question, entry.answer = topic, question, answer
        entry.updated_at, entry.updated_by = now(), binding.account_id
        entry.save()
        _record("faq.entry_updated", binding, entry, before=before, after=_entry_facts(entry),
                address=address)
    return entry


def delete_entry(binding: Binding, entry: FaqEntry, *, address: str = "") -> None:
    """Remove an entry; the audit row keeps its text."""
    with database.atomic():
        before = _entry_facts(entry)
        entry.delete_instance()
        _record("faq.entry_deleted", binding, entry, before=before, address=address)


def create_topic(binding: Binding, name: str, *, address: str = "") -> FaqTopic:
    """Add a topic after the others."""
    name = _clean_topic_name(name)
    try:
        with database.atomic():
            topic = FaqTopic.create(name=name, position=_next_position(
                FaqTopic.select(fn.MAX(FaqTopic.position))))
            _record("faq.topic_created", binding, topic, after={"name": name}, address=address)
    except IntegrityError:
        raise FaqError("已有同名分类", "name") from None
    return topic


def rename_topic(binding: Binding, topic: FaqTopic, name: str, *, address: str = "") -> FaqTopic:
    """Rename a topic; its entries stay with it."""
    name = _clean_topic_name(name, exclude=topic.id)
    before = {"name": topic.name}
    try:
        with database.atomic():
            topic.name = name
            topic.save()
            _record("faq.topic_renamed", binding, topic, before=before, after={"name": name},
                    address=address)
    except IntegrityError:
        topic.name = before["name"]
        raise FaqError("已有同名分类", "name") from None
    return topic


def starting_set() -> list[dict]:
    """The bundled starting set: topics, each with its ordered questions and answers."""
    text = resources.files("yanxiu.data").joinpath("faq.json").read_text("utf-8")
    return json.loads(text)["topics"]


def load_starting_set() -> int:
    """Load the bundled starting set into an empty FAQ; returns the questions added (0 if any topic exists)."""
    try:
        return _load_into_empty()
    except IntegrityError:
        return 0  # another process loaded it at the same moment: the unique topic name refused ours


def _load_into_empty() -> int:
    with database.atomic():
        if FaqTopic.select().exists():
            return 0
        added = 0
        stamp = now()
        for t_pos, item in enumerate(starting_set(), start=1):
            topic = FaqTopic.create(name=item["name"], position=t_pos)
            FaqEntry.insert_many([
                {"topic": topic.id, "question": e["question"], "answer": e["answer"],
                 "position": e_pos, "updated_at": stamp}
                for e_pos, e in enumerate(item["entries"], start=1)]).execute()
            added += len(item["entries"])
        audit.record("faq.starting_set_loaded", target_type="faq", target_id="starting_set",
                     after={"topics": FaqTopic.select().count(), "entries": added})
    return added
