"""The database layer: prepared look-ups and pooled connections."""
from flask import request_finished
from peewee import EXCLUDED, JOIN

from tests.conftest import log_in
from yanxiu.db import BulkWrite, Prepared, PreparedIn, database, slot
from yanxiu.models import Binding, FaqTopic, Region, School

REGION_BY_CODE = Prepared(lambda: Region.select().where(Region.code == slot("code")).limit(1))
BINDINGS = Prepared(lambda: Binding.select(Binding, Region)
                    .join(Region, JOIN.LEFT_OUTER, on=(Binding.region == Region.id))
                    .where(Binding.account == slot("account_id")).order_by(Binding.id))
SCHOOL_NAMES = PreparedIn(lambda keys: School.select(School.id, School.name)
                          .where(School.id.in_(keys) & (School.status == slot("status"))).tuples(), size=3)


def test_a_prepared_query_answers_each_call_with_its_own_values(tree):
    assert REGION_BY_CODE.first(code="330000").name == "浙江省"
    assert REGION_BY_CODE.first(code="330106").name == "西湖区"
    assert REGION_BY_CODE.first(code="999999") is None


def test_a_prepared_query_returns_models_with_their_joins(tree):
    account = tree["accounts"]["xh_admin"]
    bindings = list(BINDINGS(account_id=account.id))
    assert [b.region.code for b in bindings] == [b.region.code for b in
                                                 Binding.select().where(Binding.account == account.id)
                                                 .order_by(Binding.id)]
    assert bindings and bindings[0].region.name == "西湖区"


ADD_TOPICS = BulkWrite(lambda rows: FaqTopic.insert_many(rows, fields=[FaqTopic.name, FaqTopic.position])
                       .on_conflict(conflict_target=[FaqTopic.name],
                                    update={FaqTopic.position: FaqTopic.position + EXCLUDED.position}))


def test_a_bulk_write_stores_every_row_of_every_page_and_upserts(app):
    rows = [(f"专题{n}", n) for n in range(2_345)]  # more than two pages of 1,000 on PostgreSQL
    with database.atomic():
        ADD_TOPICS(rows)
        ADD_TOPICS([("专题7", 100), ("新专题", 1)])  # one existing key, one new
        ADD_TOPICS([])
    stored = dict(FaqTopic.select(FaqTopic.name, FaqTopic.position).tuples())
    assert len(stored) == 2_346 and stored["专题0"] == 0 and stored["专题2344"] == 2_344
    assert stored["专题7"] == 107 and stored["新专题"] == 1


def test_prepared_in_runs_in_chunks_and_padding_matches_nothing(tree):
    schools = list(School.select().order_by(School.id))
    assert len(schools) > 3  # more than one chunk
    rows = list(SCHOOL_NAMES([s.id for s in schools] + [10**9], status="active"))
    assert all(type(row) is tuple for row in rows)  # straight from the driver
    found = dict(rows)
    assert found == {s.id: s.name for s in schools if s.status == "active"}
    assert list(SCHOOL_NAMES([], status="active")) == []


def test_requests_reuse_pooled_connections(app, client, tree):
    """Opening a connection per request costs more than a page's queries: they are pooled."""
    log_in(client, "xh_admin")
    used = []  # the connections themselves, so no id is reused by a new one

    def note_connection(sender, response, **extra):
        used.append(database.connection())
    with request_finished.connected_to(note_connection, app):
        for _ in range(5):
            assert client.get("/regions").status_code == 200
    assert len({id(c) for c in used}) == 1


def test_a_transaction_left_open_is_not_handed_to_the_next_request(app, tree):
    """A connection goes back to the pool with nothing pending: its next user starts clean."""
    database.close()
    database.connect()
    database.begin()
    Region.update(name="改名未提交").where(Region.code == "330106").execute()
    database.close()  # back to the pool, uncommitted
    database.connect()
    assert Region.get(Region.code == "330106").name == "西湖区"
