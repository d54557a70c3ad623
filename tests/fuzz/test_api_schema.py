"""schemathesis against the records API's own OpenAPI document (/api/v1/openapi.json), in
process over WSGI, with a valid bearer token: for every documented operation, generated
requests (valid and invalid per the schema) never get a 5xx, and every answer has a
documented status code, content type, headers and body schema.

The database holds a programme with courses, teachers and a national token, so valid requests
reach the real work (storing records, statistics), not only the refusals.

The schema is the document yanxiu.openapi builds, loaded once at import (each operation is a
test of its own) and checked equal to what the app serves; the requests go to each test's app
in process. (schemathesis' fixture-loaded schemas rely on a pytest internal that pytest 9
renamed.)
"""
import os

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.config import SchemathesisConfig

from tests.services.test_rollups import binding_of, make_programme
from yanxiu import openapi
from yanxiu.models import LoginFailure
from yanxiu.services import api_tokens

# Too many records in one batch is answered 413, as documented (请求体过大，或一批超过 1000 条);
# schemathesis' default statuses for rejected data lack it.
CONFIG = SchemathesisConfig.from_dict({"checks": {"negative_data_rejection": {"expected-statuses": [
    400, 401, 403, 404, 405, 406, 409, 413, 415, 422, 428, 429]}}})
schema = schemathesis.openapi.from_dict(openapi.document(), config=CONFIG)


def test_the_schema_tested_is_the_one_served(client):
    assert client.get("/api/v1/openapi.json").get_json() == openapi.document()


@pytest.fixture
def bearer(tree, teachers) -> dict:
    """A national token, over a tree with teachers and a programme with courses."""
    make_programme(tree)
    _, clear = api_tokens.issue_token(binding_of(tree, "operator"), "schemathesis")
    return {"Authorization": f"Bearer {clear}"}


@schema.parametrize()
@settings(max_examples=int(os.environ.get("YANXIU_FUZZ_EXAMPLES", "30")), deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                 HealthCheck.filter_too_much])
def test_the_api_answers_as_documented(case, app, bearer):
    # Failed credentials (schemathesis also tries the operation without a valid token) count
    # towards the per-address throttle; each case starts from a clean slate so that valid
    # requests are judged, not throttled. 429 itself is documented, and tested elsewhere.
    LoginFailure.delete().execute()
    # This test's app: schemathesis' own probes (without the token, other methods) go to it too.
    case.operation.schema.app = app
    # The body as sent, not gzip: the WSGI test client does not undo Content-Encoding.
    case.call_and_validate(app=app, headers={**bearer, "Accept-Encoding": "identity"})
