"""学习记录接口 /api/v1 over HTTP: bearer tokens, every bad input of issue 6, per-item results,
idempotency, rollups against the rebuild, token scope, programmes, statistics, and the OpenAPI
document checked against the answers the API really gives."""
import json
import random
import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import PASSWORD
from tests.fixture_teachers import valid_id_number
from tests.services.test_api_tokens import record
from tests.services.test_rollups import binding_of, make_programme, oracle, random_batch, stored
from yanxiu.models import ApiToken, AuditLog, Binding, Course, LearningRecord, LoginFailure, Programme
from yanxiu.services import accounts, api_tokens, programmes, records, rollups
from yanxiu.services import teachers as teacher_service

URL = "/api/v1/records"


def issue(tree, region_code=None, name="国家研修平台"):
    region = tree["regions"][region_code] if region_code else None
    return api_tokens.issue_token(binding_of(tree, "operator"), name, region)


def auth(clear: str) -> dict:
    return {"Authorization": f"Bearer {clear}"}


def send(client, clear, body, content_type="application/json", **kwargs):
    data = body if isinstance(body, (str, bytes)) else json.dumps(body)
    return client.post(URL, data=data, content_type=content_type,
                       headers=auth(clear) if clear else {}, **kwargs)


def error_of(response) -> str:
    assert response.mimetype == "application/json", response.data[:200]
    message = response.get_json()["error"]
    assert re.search(r"[\u4e00-\u9fff]", message), message  # said in Chinese
    return message


@pytest.fixture
def programme(tree, teachers):
    return make_programme(tree)


@pytest.fixture
def national(tree):
    return issue(tree)[1]


# ---------------------------------------------------------------- the good path

def test_a_batch_is_stored_and_answered_item_by_item(client, programme, national):
    body = {"records": [record(programme, "a"), record(programme, "b", minutes=-3),
                        record(programme, "a"), record(programme, "c", course=list(programme.courses.order_by(Course.id))[1].id)]}
    response = send(client, national, body)
    assert response.status_code == 200
    answer = response.get_json()
    assert answer["results"] == [
        {"index": 0, "external_id": "a", "status": "accepted"},
        {"index": 1, "external_id": "b", "status": "rejected", "reason": "minutes 须在 1–1440 之间",
         "field": "minutes"},
        {"index": 2, "external_id": "a", "status": "duplicate"},
        {"index": 3, "external_id": "c", "status": "accepted"}]
    assert (answer["accepted"], answer["duplicates"], answer["rejected"]) == (2, 1, 1)
    assert sorted(e for (e,) in LearningRecord.select(LearningRecord.external_id).tuples()) == ["a", "c"]
    assert ApiToken.get().last_used_at is not None
    assert AuditLog.select().where(AuditLog.action == "records.submitted").count() == 1


def test_content_type_with_charset_is_json_too(client, programme, national):
    response = send(client, national, {"records": [record(programme)]},
                    content_type="application/json; charset=utf-8")
    assert response.status_code == 200 and response.get_json()["accepted"] == 1


def test_an_empty_batch_is_an_empty_answer(client, programme, national):
    response = send(client, national, {"records": []})
    assert response.get_json() == {"results": [], "accepted": 0, "duplicates": 0, "rejected": 0}


def test_resending_a_batch_changes_nothing(client, tree, teachers, programme, national):
    batch = random_batch(random.Random(1), programme, list(teachers["accounts"]), 60, "again")
    first = send(client, national, {"records": batch}).get_json()
    figures = stored(programme)
    again = send(client, national, {"records": batch}).get_json()
    assert first["accepted"] == 60
    assert again["duplicates"] == 60 and again["accepted"] == 0
    assert LearningRecord.select().count() == 60 and stored(programme) == figures


def test_duplicates_inside_a_batch_and_across_batches(client, programme, national):
    first = send(client, national, {"records": [record(programme, "x"), record(programme, "x", minutes=90)]})
    assert [r["status"] for r in first.get_json()["results"]] == ["accepted", "duplicate"]
    later = send(client, national, {"records": [record(programme, "y"), record(programme, "x", minutes=300)]})
    assert [r["status"] for r in later.get_json()["results"]] == ["accepted", "duplicate"]
    assert LearningRecord.get(LearningRecord.external_id == "x").minutes == 45


def test_rollups_after_api_ingestion_equal_the_rebuild(client, tree, teachers, programme, national):
    rng = random.Random(6)
    names = list(teachers["accounts"]) + ["xh_admin", "nobody"]
    for n in range(4):
        batch = random_batch(rng, programme, names, 50, f"r{n}")
        batch += [record(programme, f"bad{n}", minutes=rng.choice([-1, 0, 99999]))]
        assert send(client, national, {"records": batch}).status_code == 200
    by_school, by_region = stored(programme)
    assert by_region["000000"][3] > 0
    assert (by_school, by_region) == oracle(Programme.get_by_id(programme.id))
    assert rollups.rebuild_all().clean


# ---------------------------------------------------------------- bad items, good ones kept

@pytest.mark.parametrize("overrides,reason", [
    ({"teacher": {"account": "nobody"}}, "未找到该平台账号"),
    ({"teacher": {"id_number": valid_id_number(999)}}, "未找到该身份证号"),
    ({"teacher": {"id_number": "110105194912310022"}}, "id_number 无效"),
    ({"teacher": "teacher"}, "teacher 须给出"),
    ({"programme": 99999}, "未找到该研修项目"), ({"programme": 10**30}, "未找到该研修项目"),
    ({"course": 99999}, "该课程不属于"), ({"course": -2**64}, "该课程不属于"),
    ({"minutes": -45}, "minutes 须在"), ({"minutes": 0}, "minutes 须在"),
    ({"minutes": 10**9}, "minutes 须在"), ({"minutes": 45.5}, "minutes 须为整数"),
    ({"minutes": "45"}, "minutes 须为整数"), ({"minutes": None}, "minutes 须为整数"),
    ({"occurred_at": "2025-13-45"}, "occurred_at"), ({"occurred_at": "0001-01-01T00:00:00"}, "occurred_at"),
    ({"occurred_at": "2999-01-01T00:00:00+08:00"}, "晚于当前时间"), ({"occurred_at": 1.5}, "occurred_at"),
    ({"external_id": ""}, "external_id"), ({"external_id": 17}, "external_id"),
    ({"external_id": "x" * 65}, "external_id"),
    # U+0000: PostgreSQL refuses it in any statement, so it answered 500 there (found by fuzzing).
    ({"external_id": "a\x00b"}, "external_id 含有控制字符"), ({"teacher": {"account": "t\x00"}}, "teacher 含有控制字符"),
    ({"teacher": {"id_number": "\x00"}}, "teacher 含有控制字符"),
])
def test_a_bad_item_is_refused_with_its_reason_and_the_good_kept(client, programme, national,
                                                                   overrides, reason):
    body = {"records": [record(programme, "good"), record(programme, "bad") | overrides,
                        record(programme, "good2", minutes=30)]}
    response = send(client, national, body)
    assert response.status_code == 200
    results = response.get_json()["results"]
    assert [r["status"] for r in results] == ["accepted", "rejected", "accepted"]
    assert reason in results[1]["reason"]
    assert LearningRecord.select().count() == 2


@pytest.mark.parametrize("item", [None, 7, "record", [1, 2], {}])
def test_an_item_that_is_not_a_record_is_refused_alone(client, programme, national, item):
    response = send(client, national, {"records": [item, record(programme)]})
    assert [r["status"] for r in response.get_json()["results"]] == ["rejected", "accepted"]


def test_an_id_number_is_never_echoed(client, teachers, programme, national):
    number = teachers["data"]["teacher"]["id_number"]
    wrong = number[:-1] + ("0" if number[-1] != "0" else "1")
    response = send(client, national, {"records": [
        record(programme, "by-id", teacher={"id_number": number}),
        record(programme, "by-wrong-id", teacher={"id_number": wrong})]})
    assert [r["status"] for r in response.get_json()["results"]] == ["accepted", "rejected"]
    assert number not in response.text and wrong not in response.text
    assert number[6:14] not in response.text  # not even the birth date
    assert LearningRecord.get().account_id == teachers["accounts"]["teacher"].id


# ---------------------------------------------------------------- token scope

def test_a_provincial_token_sends_for_its_province_only(client, tree, teachers, programme):
    _, zhejiang = issue(tree, "330000", "浙江平台")
    _, jiangsu = issue(tree, "320000", "江苏平台")
    admin = Binding.create(account=accounts.register("xw_admin", "玄武校管", PASSWORD), role="school",
                           school=tree["schools"]["3201020001"])
    teacher_service.approve(admin, teachers["memberships"]["t_far"].id)  # a teacher in 江苏
    batch = [record(programme, "zj", teacher={"account": "teacher"}),
             record(programme, "hs", teacher={"account": "t_other"}),
             record(programme, "js", teacher={"account": "t_far"})]
    from_zhejiang = send(client, zhejiang, {"records": batch}).get_json()["results"]
    assert [r["status"] for r in from_zhejiang] == ["accepted", "accepted", "rejected"]
    assert "范围" in from_zhejiang[2]["reason"]
    batch = [record(programme, "zj2", teacher={"account": "teacher"}), record(programme, "js")
             | {"teacher": {"account": "t_far"}}]
    from_jiangsu = send(client, jiangsu, {"records": batch}).get_json()["results"]
    assert [r["status"] for r in from_jiangsu] == ["rejected", "accepted"]
    assert LearningRecord.select().count() == 3


def test_a_provincial_token_cannot_send_for_another_provinces_programme(client, tree, teachers):
    js_programme = programmes.create_programme(
        binding_of(tree, "js_admin"), {"name": "江苏省专题研修", "kind": "topic", "start_date": "2025-07-01",
                                       "end_date": "2025-08-31"}, [{"name": "专题", "minutes": 90, "max_hours": 2}])
    _, zhejiang = issue(tree, "330000", "浙江平台")
    results = send(client, zhejiang, {"records": [record(js_programme, "p")]}).get_json()["results"]
    assert results[0]["status"] == "rejected" and "范围" in results[0]["reason"]


# ---------------------------------------------------------------- refused requests

def test_no_token_is_401_and_says_bearer(client, programme):
    response = send(client, None, {"records": [record(programme)]})
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert "缺少访问令牌" in error_of(response)
    assert LearningRecord.select().count() == 0 and LoginFailure.select().count() == 0


@pytest.mark.parametrize("header", ["Bearer yx_" + "A" * 43, "Bearer nonsense", "Basic b3BlcmF0b3I6eA==",
                                    "Bearer ", "Token yx_" + "A" * 43])
def test_a_bad_token_is_401(client, programme, national, header):
    response = client.post(URL, json={"records": [record(programme)]}, headers={"Authorization": header})
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert "无效" in error_of(response)
    assert LearningRecord.select().count() == 0


def test_a_revoked_token_is_401(client, tree, programme):
    token, clear = issue(tree)
    assert send(client, clear, {"records": [record(programme, "before")]}).status_code == 200
    api_tokens.revoke_token(binding_of(tree, "operator"), token)
    response = send(client, clear, {"records": [record(programme, "after")]})
    assert response.status_code == 401 and "吊销" in error_of(response)
    assert client.get("/api/v1/programmes", headers=auth(clear)).status_code == 401
    assert [e for (e,) in LearningRecord.select(LearningRecord.external_id).tuples()] == ["before"]


def test_a_session_is_no_credential(login_as, programme):
    operator = login_as("operator")
    assert operator.post(URL, json={"records": [record(programme)]}).status_code == 401
    assert operator.get("/api/v1/programmes").status_code == 401


def test_failed_tokens_are_throttled_per_address(client, programme, national):
    elsewhere = {"REMOTE_ADDR": "203.0.113.9"}
    for _ in range(accounts.ADDRESS_LIMIT):
        assert send(client, "yx_" + "Z" * 43, {"records": []}).status_code == 401
    response = send(client, national, {"records": [record(programme)]})
    assert response.status_code == 429 and "次数过多" in error_of(response)
    assert int(response.headers["Retry-After"]) > 0
    assert send(client, national, {"records": [record(programme)]}, environ_base=elsewhere).status_code == 200


@pytest.mark.parametrize("body,message", [
    ("{", "不是有效的 JSON"), ('{"records": [1, 2,]}', "不是有效的 JSON"), ("", "不是有效的 JSON"),
    (b"\xff\xfe\x00{", "JSON"), ("[" * 100000 + "]" * 100000, "嵌套过深"),
    ('{"records": [{"minutes": 1' + "0" * 5000 + "}]}", "数字过长"),
    ("null", "JSON 对象"), ("[]", "JSON 对象"), ('"records"', "JSON 对象"),
    ("{}", "records 须为数组"), ('{"records": {}}', "records 须为数组"), ('{"records": null}', "records 须为数组"),
])
def test_malformed_json_is_400(client, national, body, message):
    response = send(client, national, body)
    assert response.status_code == 400
    assert message in error_of(response)
    assert LearningRecord.select().count() == 0


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded",
                                          "multipart/form-data; boundary=x", ""])
def test_a_body_that_is_not_json_is_415(client, programme, national, content_type):
    response = send(client, national, json.dumps({"records": [record(programme)]}), content_type=content_type)
    assert response.status_code == 415 and "application/json" in error_of(response)
    assert LearningRecord.select().count() == 0


def test_a_batch_above_the_limit_is_413_and_stores_nothing(client, programme, national):
    batch = [record(programme, f"n{i}") for i in range(records.MAX_BATCH + 1)]
    response = send(client, national, {"records": batch})
    assert response.status_code == 413 and str(records.MAX_BATCH) in error_of(response)
    assert LearningRecord.select().count() == 0
    assert send(client, national, {"records": batch[:-1]}).get_json()["accepted"] == records.MAX_BATCH


def test_a_body_above_the_size_limit_is_413(client, programme, national):
    from yanxiu.openapi import MAX_BODY
    padding = " " * MAX_BODY
    response = send(client, national, '{"records": []' + padding + "}")
    assert response.status_code == 413 and "MB" in error_of(response)


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4),
    max_leaves=12)
ITEMS = st.fixed_dictionaries({}, optional={
    "external_id": JSON_VALUES | st.text(min_size=1, max_size=70),
    "teacher": JSON_VALUES | st.fixed_dictionaries({"account": st.sampled_from(["teacher", "t_other", "x"])}),
    "programme": JSON_VALUES, "course": JSON_VALUES,
    "minutes": st.integers(min_value=-10**20, max_value=10**20) | JSON_VALUES,
    "occurred_at": st.datetimes().map(lambda d: d.isoformat()) | JSON_VALUES,
}) | JSON_VALUES


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(items=st.lists(ITEMS, max_size=6))
def test_whatever_the_items_the_answer_is_per_item_and_never_500(client, programme, national, items):
    response = send(client, national, {"records": items})
    assert response.status_code == 200, response.data[:300]
    answer = response.get_json()
    assert [r["index"] for r in answer["results"]] == list(range(len(items)))
    assert answer["accepted"] + answer["duplicates"] + answer["rejected"] == len(items)


# ---------------------------------------------------------------- programmes and statistics

@pytest.fixture
def zj_programme(tree, teachers):
    return programmes.create_programme(
        binding_of(tree, "zj_admin"), {"name": "浙江省专题研修", "kind": "topic", "start_date": "2025-07-01",
                                       "end_date": "2025-08-31", "required_hours": 2, "audience": ["小学"]},
        [{"name": "专题一", "minutes": 90, "max_hours": 2}])


@pytest.fixture
def js_programme(tree, teachers):
    return programmes.create_programme(
        binding_of(tree, "js_admin"), {"name": "江苏省专题研修", "kind": "topic", "start_date": "2025-07-01",
                                       "end_date": "2025-08-31"}, [])


def test_programmes_list_what_the_token_may_send_for(client, tree, programme, zj_programme, js_programme,
                                                     national):
    _, zhejiang = issue(tree, "330000", "浙江平台")
    everything = client.get("/api/v1/programmes", headers=auth(national)).get_json()["programmes"]
    assert {p["name"] for p in everything} == {programme.name, zj_programme.name, js_programme.name}
    mine = client.get("/api/v1/programmes", headers=auth(zhejiang)).get_json()["programmes"]
    assert {p["name"] for p in mine} == {programme.name, zj_programme.name}
    summer = next(p for p in mine if p["id"] == programme.id)
    assert summer == {
        "id": programme.id, "name": "2025年暑期教师研修", "kind": "summer", "start_date": "2025-07-01",
        "end_date": "2025-08-31", "minutes_per_hour": 45, "required_hours": 3, "audience": [], "region": None,
        "courses": [{"id": c.id, "name": c.name, "minutes": c.minutes, "max_hours": c.max_hours}
                    for c in programme.courses.order_by(Course.id)]}
    topic = next(p for p in mine if p["id"] == zj_programme.id)
    assert topic["region"] == {"code": "330000", "name": "浙江省"} and topic["audience"] == ["小学"]
    assert client.get("/api/v1/programmes").status_code == 401


def test_statistics_equal_the_statistics_pages_json(client, login_as, tree, teachers, programme, national):
    send(client, national, {"records": random_batch(random.Random(2), programme,
                                                    list(teachers["accounts"]), 40, "s")})
    operator = login_as("operator")
    for code in ("000000", "330000", "330106"):
        api = client.get(f"/api/v1/statistics/{programme.id}/{code}", headers=auth(national))
        page = operator.get(f"/statistics/{programme.id}/{code}/stats.json")
        assert api.status_code == page.status_code == 200
        mine, theirs = api.get_json(), page.get_json()
        mine.pop("generated_at"), theirs.pop("generated_at")
        assert mine == theirs
    totals = client.get(f"/api/v1/statistics/{programme.id}/000000", headers=auth(national)).get_json()["totals"]
    assert totals["teachers"] == stored(programme)[1]["000000"][0]


def test_statistics_outside_the_tokens_scope_are_404(client, tree, programme, js_programme):
    _, zhejiang = issue(tree, "330000", "浙江平台")
    ok = client.get(f"/api/v1/statistics/{programme.id}/330106", headers=auth(zhejiang))
    assert ok.status_code == 200 and ok.get_json()["region"]["trail"] == ["浙江省", "杭州市", "西湖区"]
    for url in (f"/api/v1/statistics/{programme.id}/320000", f"/api/v1/statistics/{programme.id}/000000",
                f"/api/v1/statistics/{programme.id}/999999", f"/api/v1/statistics/{js_programme.id}/330000",
                f"/api/v1/statistics/{programme.id + 999}/330000"):
        response = client.get(url, headers=auth(zhejiang))
        assert response.status_code == 404, url
        assert "范围" in error_of(response)


def test_statistics_of_a_programme_without_records(client, tree, teachers, programme, national):
    answer = client.get(f"/api/v1/statistics/{programme.id}/330000", headers=auth(national)).get_json()
    assert answer["totals"]["participants"] == 0 and answer["totals"]["participation_rate"] == "0.0%"
    assert answer["totals"]["average_hours"] == "—"


# ---------------------------------------------------------------- the OpenAPI document

def resolve(document: dict, ref: str) -> dict:
    node = document
    for part in ref.removeprefix("#/").split("/"):
        node = node[part]
    return node


TYPES = {"object": dict, "array": list, "string": str, "boolean": bool,
         "integer": int, "number": (int, float)}


def violations(document: dict, schema: dict, value, where: str = "$") -> list[str]:
    """Where `value` breaks `schema` (the OpenAPI 3.0 subset the document uses)."""
    if "$ref" in schema:
        return violations(document, resolve(document, schema["$ref"]), value, where)
    if value is None:
        return [] if schema.get("nullable") else [f"{where}: null"]
    found = []
    for part in schema.get("allOf", []):
        found += violations(document, part, value, where)
    if "anyOf" in schema and all(violations(document, s, value, where) for s in schema["anyOf"]):
        found.append(f"{where}: matches none of anyOf")
    kind = schema.get("type")
    if kind and (not isinstance(value, TYPES[kind]) or (kind in ("integer", "number") and isinstance(value, bool))):
        return found + [f"{where}: {value!r} is not {kind}"]
    if "enum" in schema and value not in schema["enum"]:
        found.append(f"{where}: {value!r} not in enum")
    if isinstance(value, dict):
        found += [f"{where}.{k}: missing" for k in schema.get("required", []) if k not in value]
        for key, sub in schema.get("properties", {}).items():
            if key in value:
                found += violations(document, sub, value[key], f"{where}.{key}")
    if isinstance(value, list):
        for i, item in enumerate(value):
            found += violations(document, schema.get("items", {}), item, f"{where}[{i}]")
    return found


def response_schema(document: dict, path: str, method: str, status: int) -> dict:
    answer = document["paths"][path][method]["responses"][str(status)]
    return answer["content"]["application/json"]["schema"]


def test_the_document_is_public_openapi_3_with_the_bearer_scheme(client, app):
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200 and response.mimetype == "application/json"
    document = json.loads(response.data)
    assert document["openapi"].startswith("3.") and document["info"]["title"]
    assert document["servers"] == [{"url": "/api/v1"}]
    scheme = document["components"]["securitySchemes"]["bearerAuth"]
    assert scheme["type"] == "http" and scheme["scheme"] == "bearer"
    assert document["security"] == [{"bearerAuth": []}]
    assert "post" in document["paths"]["/records"]
    assert document["paths"]["/openapi.json"]["get"]["security"] == []
    batch = document["components"]["schemas"]["RecordBatch"]["properties"]["records"]
    assert batch["maxItems"] == records.MAX_BATCH


def test_every_api_route_is_described_and_every_ref_resolves(client, app):
    document = client.get("/api/v1/openapi.json").get_json()
    routes = set()
    for rule in app.url_map.iter_rules():
        if rule.endpoint.startswith("api."):
            path = re.sub(r"<(?:[a-z]+:)?([a-z_]+)>", r"{\1}", rule.rule.removeprefix("/api/v1"))
            routes |= {(path, m.lower()) for m in rule.methods - {"HEAD", "OPTIONS"}}
    described = {(p, m) for p, ops in document["paths"].items() for m in ops}
    assert routes == described
    refs = re.findall(r'"\$ref": "([^"]+)"', json.dumps(document))
    assert refs and all(resolve(document, ref) for ref in refs)
    for path, ops in document["paths"].items():
        for method, op in ops.items():
            assert op["operationId"] and op["responses"], (path, method)
            declared = {p["name"] for p in op.get("parameters", [])}
            assert declared == set(re.findall(r"{([a-z_]+)}", path)), path


def test_the_answers_match_the_document(client, tree, teachers, programme, zj_programme, national):
    document = client.get("/api/v1/openapi.json").get_json()
    body = {"records": [record(programme, "d1"), record(programme, "d1"), record(programme, "d2", minutes=-1)]}
    assert violations(document, document["paths"]["/records"]["post"]["requestBody"]["content"]
                      ["application/json"]["schema"], {"records": [record(programme, "d1")]}) == []
    answers = [
        ("/records", "post", send(client, national, body)),
        ("/records", "post", send(client, national, "{")),
        ("/records", "post", send(client, national, "{}", content_type="text/plain")),
        ("/records", "post", send(client, None, body)),
        ("/programmes", "get", client.get("/api/v1/programmes", headers=auth(national))),
        ("/statistics/{programme_id}/{region_code}", "get",
         client.get(f"/api/v1/statistics/{programme.id}/330106", headers=auth(national))),
        ("/statistics/{programme_id}/{region_code}", "get",
         client.get(f"/api/v1/statistics/{programme.id}/999999", headers=auth(national))),
    ]
    for path, method, response in answers:
        assert str(response.status_code) in document["paths"][path][method]["responses"], (path, response.status_code)
        schema = response_schema(document, path, method, response.status_code)
        assert violations(document, schema, response.get_json()) == [], (path, response.status_code)
    assert violations(document, {"$ref": "#/components/schemas/ItemResult"}, {"index": "0"}) != []


def test_a_json_error_never_shows_a_traceback(app, client, national, monkeypatch):
    """The API's 500 is JSON too (with the app's generic wording, no internals)."""
    app.config["PROPAGATE_EXCEPTIONS"] = False

    def broken(*args, **kwargs):
        raise RuntimeError("boom at /secret/path")
    monkeypatch.setattr(api_tokens, "courses_of", broken)
    response = client.get("/api/v1/programmes", headers=auth(national))
    assert response.status_code == 500
    assert "服务器出错" in error_of(response) and "boom" not in response.text


@pytest.mark.parametrize("method, path, status", [
    ("get", "/api/v1/no-such-thing", 404),
    ("post", "/api/v1/records/extra", 404),
    ("delete", "/api/v1/records", 405),
])
def test_unknown_api_paths_and_methods_answer_json(client, method, path, status):
    response = getattr(client, method)(path)
    assert response.status_code == status
    assert response.is_json and response.get_json()["error"]


def test_unknown_pages_outside_the_api_stay_html(client):
    response = client.get("/no-such-page")
    assert response.status_code == 404 and "页面不存在" in response.text
