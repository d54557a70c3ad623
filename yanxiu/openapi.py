"""The OpenAPI 3.0 document of the records API (/api/v1/openapi.json).

Built in Python so the limits it states are the ones the code enforces.
"""
from yanxiu.models.teacher import TEACHING_STAGES
from yanxiu.models.training import PROGRAMME_KINDS
from yanxiu.services import records

MAX_BODY = 2 * 1024 * 1024  # bytes of one request: a full batch needs well under half of it


def _error(description: str) -> dict:
    return {"description": description,
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}


def _unauthorized() -> dict:
    answer = _error("缺少访问令牌，或令牌无效、已被吊销")
    answer["headers"] = {"WWW-Authenticate": {"schema": {"type": "string"},
                                              "description": "Bearer"}}
    return answer


def _throttled() -> dict:
    answer = _error("该地址认证失败次数过多，稍后再试")
    answer["headers"] = {"Retry-After": {"schema": {"type": "integer"}, "description": "秒"}}
    return answer


INTEGER = {"type": "integer"}
STRING = {"type": "string"}
FIGURE = {"type": "string", "description": "一位小数；无分母时为 —", "example": "66.7%"}

SCHEMAS = {
    "Error": {
        "type": "object", "required": ["error"],
        "properties": {"error": {"type": "string", "description": "中文说明"}},
    },
    "Teacher": {
        "type": "object",
        "description": "以平台账号（account）或身份证号（id_number，须为已认证教师）指明教师，二者给一即可",
        "properties": {
            "account": {"type": "string", "maxLength": 64, "example": "wang_laoshi"},
            "id_number": {"type": "string", "pattern": "^[0-9]{17}[0-9Xx]$"},
        },
        "anyOf": [{"required": ["account"]}, {"required": ["id_number"]}],
    },
    "Record": {
        "type": "object",
        "required": ["external_id", "teacher", "programme", "course", "minutes", "occurred_at"],
        "properties": {
            "external_id": {"type": "string", "minLength": 1, "maxLength": 64,
                            "description": "贵方系统中的记录编号；同一编号只记一次（幂等）"},
            "teacher": {"$ref": "#/components/schemas/Teacher"},
            "programme": {"type": "integer", "description": "研修项目 id（见 GET /programmes）"},
            "course": {"type": "integer", "description": "该项目下的课程 id"},
            "minutes": {"type": "integer", "minimum": 1, "maximum": records.MAX_MINUTES,
                        "description": "学习分钟数"},
            "occurred_at": {"type": "string", "format": "date-time",
                            "example": "2025-07-15T20:30:00+08:00",
                            "description": "学习时间，ISO 8601；不带时区时按北京时间；不得晚于当前时间"},
        },
    },
    "RecordBatch": {
        "type": "object", "required": ["records"],
        "properties": {"records": {
            "type": "array", "maxItems": records.MAX_BATCH,
            "description": "每条应为一个 Record。不合要求的条目不会使整批被拒：它在结果中标为 rejected "
                           "并说明原因，同批其他条目照常处理",
            # Any item is taken into the batch and judged on its own (200 with per-item
            # results), so the body is valid whatever its items: Record says what a good one is.
            "items": {"anyOf": [{"$ref": "#/components/schemas/Record"}, {}]}}},
    },
    "ItemResult": {
        "type": "object", "required": ["index", "external_id", "status"],
        "properties": {
            "index": {"type": "integer", "description": "该条在 records 中的位置，从 0 起"},
            "external_id": {"type": "string"},
            "status": {"type": "string", "enum": [records.ACCEPTED, records.DUPLICATE, records.REJECTED],
                       "description": "accepted 已接收；duplicate 此前已接收过该编号，未重复计入；rejected 被拒"},
            "reason": {"type": "string", "description": "被拒原因（仅 rejected）"},
            "field": {"type": "string", "description": "出错的字段名，如 minutes（仅 rejected）"},
        },
    },
    "BatchResult": {
        "type": "object", "required": ["results", "accepted", "duplicates", "rejected"],
        "properties": {
            "results": {"type": "array", "items": {"$ref": "#/components/schemas/ItemResult"}},
            "accepted": INTEGER, "duplicates": INTEGER, "rejected": INTEGER,
        },
    },
    "Course": {
        "type": "object", "required": ["id", "name", "minutes", "max_hours"],
        "properties": {"id": INTEGER, "name": STRING,
                       "minutes": {"type": "integer", "description": "课程时长（分钟）"},
                       "max_hours": {"type": "integer", "description": "最多可计学时"}},
    },
    "Region": {
        "type": "object", "required": ["code", "name"],
        "properties": {"code": {"type": "string", "pattern": "^[0-9]{6}$"}, "name": STRING},
    },
    "Programme": {
        "type": "object",
        "required": ["id", "name", "kind", "start_date", "end_date", "minutes_per_hour",
                     "required_hours", "audience", "region", "courses"],
        "properties": {
            "id": INTEGER, "name": STRING,
            "kind": {"type": "string", "enum": list(PROGRAMME_KINDS)},
            "start_date": {"type": "string", "format": "date"},
            "end_date": {"type": "string", "format": "date"},
            "minutes_per_hour": {"type": "integer", "description": "每学时分钟数"},
            "required_hours": {"type": "integer", "description": "完成所需学时"},
            "audience": {"type": "array", "items": {"type": "string", "enum": TEACHING_STAGES},
                         "description": "面向学段；空数组表示全体教师"},
            "region": {"allOf": [{"$ref": "#/components/schemas/Region"}], "nullable": True,
                       "description": "发布的省份；null 为全国项目"},
            "courses": {"type": "array", "items": {"$ref": "#/components/schemas/Course"}},
        },
    },
    "ProgrammeList": {
        "type": "object", "required": ["programmes"],
        "properties": {"programmes": {"type": "array", "items": {"$ref": "#/components/schemas/Programme"}}},
    },
    "StatisticsRow": {
        "type": "object", "required": ["name", "kind", "code"],
        "properties": {
            "name": STRING, "kind": {"type": "string", "enum": ["region", "school"]},
            "code": {"type": "string", "description": "区划代码或学校标识码"},
            "school_id": INTEGER,
            "teachers": INTEGER, "participants": INTEGER, "participation_rate": FIGURE,
            "completed": INTEGER, "completion_rate": FIGURE,
            "total_hours": {"type": "string", "example": "12.5"},
            "average_hours": {"type": "string", "example": "3.1"},
        },
    },
    "Column": {"type": "object", "required": ["key", "label"],
               "properties": {"key": STRING, "label": STRING}},
    "RegionStatistics": {
        "type": "object",
        "required": ["programme", "region", "generated_at", "columns", "rows", "total_columns", "totals"],
        "properties": {
            "programme": {"type": "object", "properties": {
                "id": INTEGER, "name": STRING, "kind": STRING,
                "start_date": {"type": "string", "format": "date"},
                "end_date": {"type": "string", "format": "date"},
                "minutes_per_hour": INTEGER, "required_hours": INTEGER}},
            "region": {"type": "object", "properties": {
                "code": STRING, "name": STRING, "trail": {"type": "array", "items": STRING}}},
            "generated_at": {"type": "string", "description": "北京时间，如 2025-07-15 20:30"},
            "columns": {"type": "array", "items": {"$ref": "#/components/schemas/Column"}},
            "rows": {"type": "array", "items": {"$ref": "#/components/schemas/StatisticsRow"}},
            "total_columns": {"type": "array", "items": {"$ref": "#/components/schemas/Column"}},
            "totals": {"type": "object", "description": "合计行，键同 total_columns"},
        },
    },
}

BEARER = [{"bearerAuth": []}]


def document() -> dict:
    """The whole document; paths are relative to the server URL /api/v1."""
    return {
        "openapi": "3.0.3",
        "info": {
            "title": "研修管理平台 学习记录接口",
            "version": "1.0.0",
            "description": (
                "第三方学习平台向研修管理平台报送教师学习记录。令牌由平台运维在“接口令牌”页面发放，"
                "只显示一次；以 `Authorization: Bearer <令牌>` 发送。限定到某省的令牌只能报送该省学校教师的记录、"
                "只能看到全国项目和该省项目。每批最多 %d 条、请求体最多 %d MB；同一 external_id 只计一次，"
                "重发整批是安全的。单条记录有误不影响同批其他记录。"
                % (records.MAX_BATCH, MAX_BODY // (1024 * 1024))),
        },
        "servers": [{"url": "/api/v1"}],
        "security": BEARER,
        "paths": {
            "/records": {"post": {
                "operationId": "submitRecords",
                "summary": "报送一批学习记录",
                "requestBody": {"required": True, "content": {"application/json": {
                    "schema": {"$ref": "#/components/schemas/RecordBatch"}}}},
                "responses": {
                    "200": {"description": "逐条结果（好的记录已保存，坏的逐条说明原因）",
                            "content": {"application/json": {
                                "schema": {"$ref": "#/components/schemas/BatchResult"}}}},
                    "400": _error("请求体不是有效的 JSON，或不是 {\"records\": [...]} 形式"),
                    "401": _unauthorized(),
                    "413": _error("请求体过大，或一批超过 %d 条" % records.MAX_BATCH),
                    "415": _error("Content-Type 不是 application/json"),
                    "429": _throttled(),
                },
            }},
            "/programmes": {"get": {
                "operationId": "listProgrammes",
                "summary": "本令牌可报送的研修项目及其课程（查 programme 与 course 的 id）",
                "responses": {
                    "200": {"description": "研修项目列表", "content": {"application/json": {
                        "schema": {"$ref": "#/components/schemas/ProgrammeList"}}}},
                    "401": _unauthorized(),
                    "429": _throttled(),
                },
            }},
            "/statistics/{programme_id}/{region_code}": {"get": {
                "operationId": "regionStatistics",
                "summary": "某项目在某区域的研修统计（与统计页面、打印和导出的数字相同）",
                "parameters": [
                    {"name": "programme_id", "in": "path", "required": True, "schema": INTEGER},
                    {"name": "region_code", "in": "path", "required": True,
                     "schema": {"type": "string", "pattern": "^[0-9]{6}$"},
                     "description": "区划代码；全国为 000000"},
                ],
                "responses": {
                    "200": {"description": "每个下级区域或直属学校一行，另有合计",
                            "content": {"application/json": {
                                "schema": {"$ref": "#/components/schemas/RegionStatistics"}}}},
                    "401": _unauthorized(),
                    "404": _error("没有该项目或区域，或不在本令牌范围内"),
                    "429": _throttled(),
                },
            }},
            "/openapi.json": {"get": {
                "operationId": "openapiDocument",
                "summary": "本文档",
                "security": [],
                "responses": {"200": {"description": "OpenAPI 文档", "content": {
                    "application/json": {"schema": {"type": "object"}}}}},
            }},
        },
        "components": {
            "securitySchemes": {"bearerAuth": {
                "type": "http", "scheme": "bearer", "bearerFormat": "yx_ 开头的 46 位令牌",
                "description": "平台运维发放的接口令牌"}},
            "schemas": SCHEMAS,
        },
    }
