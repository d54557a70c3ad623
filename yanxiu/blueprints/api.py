"""学习记录接口 /api/v1: learning records in by bearer token, the programmes to send them
for, a region's statistics, and the OpenAPI document. Every answer is JSON, errors too."""
import json

from flask import Blueprint, abort, g, jsonify, request
from werkzeug.exceptions import HTTPException

from yanxiu import openapi
from yanxiu.extensions import csrf
from yanxiu.scope import Scope, api_token, public, region_or_404
from yanxiu.services import api_tokens, programmes, records, statistics
from yanxiu.web import client_address

bp = Blueprint("api", __name__, url_prefix="/api/v1")
csrf.exempt(bp)  # clients send a bearer token, not a cookie: there is no session to forge


class ApiError(Exception):
    """A request the API answers with `status` and a Chinese message."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


def _error(status: int, message: str, headers: dict | None = None):
    return jsonify({"error": message}), status, headers or {}


@bp.errorhandler(ApiError)
def _api_error(err: ApiError):
    return _error(err.status, str(err))


ERROR_MESSAGES = {
    404: "没有该项目或区域，或不在本令牌范围内",
    413: f"请求体过大：最多 {openapi.MAX_BODY // (1024 * 1024)} MB，请分批报送",
    500: "服务器出错了，请稍后重试；问题已记录",
}


# By code as well as by class: the app's HTML pages for these codes would win otherwise.
@bp.errorhandler(HTTPException)
@bp.errorhandler(401)
@bp.errorhandler(404)
@bp.errorhandler(413)
@bp.errorhandler(429)
@bp.errorhandler(500)
def _http_error(err: HTTPException):
    """Every refusal as JSON: 401 says Bearer, 429 says when to retry."""
    if err.code == 401 and request.headers.get("Authorization"):
        return _error(401, "访问令牌无效或已被吊销",
                      {"WWW-Authenticate": 'Bearer realm="yanxiu", error="invalid_token"'})
    if err.code == 401:
        return _error(401, "缺少访问令牌：请以 Authorization: Bearer <令牌> 发送",
                      {"WWW-Authenticate": 'Bearer realm="yanxiu"'})
    if err.code == 429:
        return _error(429, err.description,
                      {"Retry-After": str(int(api_tokens.ADDRESS_WINDOW.total_seconds()))})
    return _error(err.code, ERROR_MESSAGES.get(err.code, err.description or ""))


def _token_scope() -> Scope:
    """The token's part of the tree: its province, or the whole country."""
    token = g.api_token
    return Scope("api", token.region.path if token.region_id else "", token.region_id, None)


def _json_body() -> dict:
    """The request body as a JSON object, or an ApiError saying what is wrong with it."""
    if request.mimetype != "application/json":
        raise ApiError(415, "请求须为 JSON：Content-Type: application/json")
    request.max_content_length = openapi.MAX_BODY
    try:
        payload = json.loads(request.get_data(cache=False))
    except UnicodeDecodeError:
        raise ApiError(400, "请求体须为 UTF-8 编码的 JSON") from None
    except json.JSONDecodeError as err:
        raise ApiError(400, f"请求体不是有效的 JSON（第 {err.lineno} 行第 {err.colno} 列）") from None
    except (ValueError, RecursionError):
        raise ApiError(400, "请求体不是可处理的 JSON（数字过长或嵌套过深）") from None
    if not isinstance(payload, dict):
        raise ApiError(400, '请求体须为 JSON 对象，形如 {"records": [...]}')
    return payload


@bp.route("/records", methods=["POST"])
@api_token
def record_submit():
    """报送学习记录: one result per item; the good items are kept whatever the bad ones."""
    batch = _json_body().get("records")
    if not isinstance(batch, list):
        raise ApiError(400, "records 须为数组")
    try:
        results = api_tokens.submit_records(g.api_token, batch, address=client_address())
    except records.BatchError as err:
        raise ApiError(413, str(err)) from None
    statuses = [r.status for r in results]
    return jsonify({"results": [r.as_dict() for r in results],
                    "accepted": statuses.count(records.ACCEPTED),
                    "duplicates": statuses.count(records.DUPLICATE),
                    "rejected": statuses.count(records.REJECTED)})


@bp.route("/programmes")
@api_token
def programme_list():
    """The programmes this token may send records for, with their courses' ids."""
    visible = list(programmes.visible_programmes(_token_scope()))
    courses = api_tokens.courses_of(visible)
    return jsonify({"programmes": [{
        "id": p.id, "name": p.name, "kind": p.kind,
        "start_date": p.start_date.isoformat(), "end_date": p.end_date.isoformat(),
        "minutes_per_hour": p.minutes_per_hour, "required_hours": p.required_hours,
        "audience": p.audience_stages,
        "region": {"code": p.region.code, "name": p.region.name} if p.region_id else None,
        "courses": [{"id": c.id, "name": c.name, "minutes": c.minutes, "max_hours": c.max_hours}
                    for c in courses[p.id]],
    } for p in visible]})


@bp.route("/statistics/<int:programme_id>/<region_code>")
@api_token
def statistics_show(programme_id: int, region_code: str):
    """A region's statistics for a programme, as the statistics page's JSON form; 404
    outside the token's province."""
    scope = _token_scope()
    programme = programmes.visible_programme(scope, programme_id)
    if programme is None:
        abort(404)
    region = region_or_404(scope, region_code)
    trail = scope.trail_to(region)
    return jsonify(statistics.region_document(statistics.region_statistics(programme, region), trail))


@bp.route("/openapi.json")
@public
def openapi_document():
    """The OpenAPI document of this API (public: it describes, it holds nothing)."""
    return jsonify(openapi.document())

