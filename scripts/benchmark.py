"""Statistics at national scale: build a dataset of a given size, time the pages and ingestion.

    .venv/bin/python scripts/benchmark.py --scale 0.1                   # one-tenth, SQLite
    .venv/bin/python scripts/benchmark.py --scale 1 --db /tmp/bench.db  # 50,000 schools, 2,000,000
                                                                        # teachers, 20,000,000 records
    .venv/bin/python scripts/benchmark.py --scale 1 --url postgresql://postgres@127.0.0.1:5432/bench
    .venv/bin/python scripts/benchmark.py --reuse --db /tmp/bench.db    # time an existing build again

Scale 1 is the national shape: every province, city and county of the bundled region list,
50,000 schools, 2,000,000 approved teachers and 20,000,000 learning records of one national
programme (fixed seed; completion differs between regions). The rollups are written by the
builder in one pass and checked against `rollups.rebuild_programme` at small scales.

Then, warm, as medians and p95 over --repeat requests: the national, province, city, county and
school statistics pages and a region-tree node, through the Flask test client and through
waitress on 127.0.0.1; beside each page the bare SQL reading the same rollup rows plus the
rendering of a static table of the same size, and the ratio; and ingestion of 10,000 records
(with rollup updates) against a plain insert of the same rows. Figures are printed as a table
and written as JSON (--json).
"""
import argparse
import datetime
import json
import logging
import os
import random
import statistics
import sys
import tempfile
import threading
import time
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

STAGES = ["小学", "初中", "高中"]
SUBJECTS = ["语文", "数学", "英语", "科学", "体育与健康", "音乐", "美术", "道德与法治"]
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何林高罗郑梁谢宋唐许韩冯邓曹彭曾肖田董潘袁蔡蒋余于杜叶程"
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰萍红建文辉力"
PASSWORD = "Bench@2025pw"
COURSES = [("师德师风专题", 3), ("数字素养提升", 3), ("心理健康教育", 2), ("课堂教学实践", 4),
           ("安全教育专题", 2)]
# About three in four teachers take part: 8–19 records each make ten per teacher on average.
RECORDS_PER_PARTICIPANT = (8, 19)


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scale", type=float, default=0.1, help="1 = national shape (default 0.1)")
    parser.add_argument("--db", default="", help="SQLite file (default: a temporary file)")
    parser.add_argument("--url", default="", help="a PostgreSQL URL instead of SQLite")
    parser.add_argument("--reuse", action="store_true", help="time an existing build, don't build")
    parser.add_argument("--repeat", type=int, default=30, help="requests per page (default 30)")
    parser.add_argument("--seed", type=int, default=2025)
    parser.add_argument("--json", default="", help="also write the figures to this file")
    return parser.parse_args()


# ---------------------------------------------------------------- building

def name_of(n: int) -> str:
    return SURNAMES[n % len(SURNAMES)] + GIVEN[(n // 7) % len(GIVEN)] + GIVEN[(n // 13) % len(GIVEN)]


def _bulk_insert(model, columns: list[str], rows, chunk: int = 20_000) -> int:
    """Insert many rows fast: one prepared statement per chunk on SQLite, COPY on PostgreSQL."""
    from yanxiu.db import database, is_postgres
    table = model._meta.table_name
    count = 0
    if is_postgres():
        import io
        cursor = database.cursor()
        buffer, pending = io.StringIO(), 0
        for row in rows:
            buffer.write("\t".join("\\N" if v is None else str(v) for v in row) + "\n")
            pending += 1
            if pending >= chunk:
                buffer.seek(0)
                cursor.copy_expert(f'COPY "{table}" ({", ".join(columns)}) FROM STDIN', buffer)
                count, buffer, pending = count + pending, io.StringIO(), 0
        if pending:
            buffer.seek(0)
            cursor.copy_expert(f'COPY "{table}" ({", ".join(columns)}) FROM STDIN', buffer)
            count += pending
        return count
    statement = (f'INSERT INTO "{table}" ({", ".join(columns)}) '
                 f'VALUES ({", ".join("?" for _ in columns)})')
    cursor = database.cursor()
    batch = []
    for row in rows:
        batch.append(row)
        if len(batch) >= chunk:
            cursor.executemany(statement, batch)
            count, batch = count + len(batch), []
    if batch:
        cursor.executemany(statement, batch)
        count += len(batch)
    return count


def build(scale: float, seed: int) -> dict:
    """The dataset; returns what the timing needs (programme id, sample objects)."""
    from yanxiu.crypto import personal_data_cipher
    from yanxiu.db import database
    from yanxiu.masking import mask_id_number, mask_phone
    from yanxiu.models import (Account, Binding, Course, LearningRecord, Membership,
                               Programme, Region, RegionProgress, School, SchoolProgress,
                               TeacherProgress)
    from yanxiu.models.account import OPERATOR, SCHOOL_ADMIN, TRAINING
    from yanxiu.services import accounts
    from yanxiu.services.regions import load_regions
    from stdnum.cn import ric

    rng = random.Random(seed)
    timings = {}
    started = time.perf_counter()
    load_regions()
    counties = list(Region.select().where(Region.level == "county").order_by(Region.path))
    timings["regions"] = time.perf_counter() - started

    # Schools: spread over counties, more in some than others.
    t0 = time.perf_counter()
    school_total = max(len(counties), int(50_000 * scale))
    weights = [rng.uniform(0.5, 1.5) for _ in counties]
    factor = school_total / sum(weights)
    stamp = datetime.datetime(2025, 6, 1)
    school_rows, next_code = [], {}
    for county, weight in zip(counties, weights):
        for n in range(max(1, round(weight * factor))):
            seq = next_code.get(county.code, 0) + 1
            next_code[county.code] = seq
            school_rows.append((f"{county.code}{seq:04d}", f"{county.name}第{seq}学校", "school",
                                STAGES[seq % 3], "公办", county.id, county.path, "", "", "", "active", 1,
                                stamp, stamp))
    with database.atomic():
        _bulk_insert(School, ["code", "name", "kind", "stage", "ownership", "region_id", "region_path",
                              "address", "contact_name", "contact_phone", "status", "version",
                              "created_at", "updated_at"], school_rows)
    schools = list(School.select(School.id, School.region_path).order_by(School.id).tuples())
    timings["schools"] = time.perf_counter() - t0

    # Teachers: accounts and approved memberships, personal data encrypted as the service does.
    t0 = time.perf_counter()
    teacher_total = int(2_000_000 * scale)
    cipher = personal_data_cipher()
    unusable_hash = "!benchmark-account-cannot-log-in"
    first_account = (Account.select(Account.id).order_by(Account.id.desc()).scalar() or 0) + 1
    school_of: list[int] = []
    path_of_school = dict(schools)
    school_ids = [s for s, _ in schools]

    def accounts_rows():
        for n in range(teacher_total):
            yield (f"t{n:08d}", name_of(n), unusable_hash, True, True, stamp, stamp)

    def membership_rows():
        for n in range(teacher_total):
            school_id = school_ids[n * len(school_ids) // teacher_total]
            school_of.append(school_id)
            region = path_of_school[school_id][-6:]
            # Birth dates and serials differ for every teacher, so every 身份证号 is unique.
            birth = datetime.date(1965, 1, 1) + datetime.timedelta(days=n // 1000)
            body = f"{region}{birth:%Y%m%d}{n % 1000:03d}"
            id_number = body + ric.calc_check_digit(body + "0")
            phone = f"13{n:09d}"
            yield (first_account + n, school_id, "approved", name_of(n), "女" if n % 3 else "男",
                   cipher.encrypt(id_number), cipher.blind_index(id_number), mask_id_number(id_number),
                   cipher.encrypt(phone), cipher.blind_index(phone), mask_phone(phone),
                   STAGES[n % 3], SUBJECTS[n % len(SUBJECTS)], "", stamp, stamp, "", "", 1)

    with database.atomic():
        _bulk_insert(Account, ["username", "display_name", "password_hash", "is_active", "is_demo",
                               "created_at", "password_changed_at"], accounts_rows())
        _bulk_insert(Membership, ["account_id", "school_id", "state", "name", "gender", "id_cipher",
                                  "id_index", "id_masked", "phone_cipher", "phone_index", "phone_masked",
                                  "stage", "subject", "title", "submitted_at", "decided_at", "reason",
                                  "end_reason", "version"], membership_rows())
    timings["teachers"] = time.perf_counter() - t0

    # The programme, its records and its rollups in one pass.
    t0 = time.perf_counter()
    operator = accounts.register("operator", "运维员", PASSWORD)
    Binding.create(account=operator, role=OPERATOR, region=Region.get(Region.code == "000000"))
    programme = Programme.create(name="2025年暑期教师研修", kind="summer", start_date=datetime.date(2025, 7, 1),
                                 end_date=datetime.date(2025, 8, 31), minutes_per_hour=45, required_hours=10,
                                 created_by=operator)
    courses = [Course.create(programme=programme, name=name, minutes=cap * 60, max_hours=cap)
               for name, cap in COURSES]
    caps = [c.max_hours * 45 for c in courses]
    encode = TeacherProgress.course_minutes.db_value
    window_start = datetime.datetime(2025, 6, 30, 16)  # 2025-07-01 00:00 in Asia/Shanghai
    # Each county has its own diligence, so rates differ between regions.
    diligence = {c.path: rng.uniform(0.3, 1.0) for c in counties}
    by_school: dict[int, list[int]] = {}
    teacher_rows = []

    def record_rows():
        external = 0
        for n in range(teacher_total):
            account = first_account + n
            school_id = school_of[n]
            effort = diligence[path_of_school[school_id]]
            minutes_by_course = [0] * len(courses)
            last_by_course = [None] * len(courses)
            count = 0 if rng.random() > effort + 0.1 else rng.randint(*RECORDS_PER_PARTICIPANT)
            for _ in range(count):
                k = rng.randrange(len(courses))
                minutes = rng.choice((20, 30, 45, 60, 90))
                when = window_start + datetime.timedelta(minutes=rng.randrange(62 * 24 * 60))
                minutes_by_course[k] += minutes
                last_by_course[k] = max(last_by_course[k] or when, when)
                external += 1
                yield (f"b{external}", account, programme.id, courses[k].id, minutes, when, "api", None, when)
            credited = sum(min(minutes, caps[k]) for k, minutes in enumerate(minutes_by_course))
            figures = by_school.setdefault(school_id, [0, 0, 0, 0])
            figures[0] += 1
            if credited:
                course_minutes = {courses[k].id: m for k, m in enumerate(minutes_by_course) if m}
                teacher_rows.append((account, programme.id, encode(course_minutes), credited, credited >= 450,
                                     max(t for t in last_by_course if t)))
                figures[1] += 1
                figures[2] += credited >= 450
                figures[3] += credited

    with database.atomic():
        records = _bulk_insert(LearningRecord, ["external_id", "account_id", "programme_id", "course_id",
                                                "minutes", "occurred_at", "source", "token_id",
                                                "received_at"], record_rows())
        _bulk_insert(TeacherProgress, ["account_id", "programme_id", "course_minutes", "credited_minutes",
                                       "completed", "last_at"], teacher_rows)
        _bulk_insert(SchoolProgress, ["school_id", "programme_id", "teachers", "participants",
                                      "completed", "credited_minutes"],
                     ((s, programme.id, *f) for s, f in by_school.items()))
        region_id = dict(Region.select(Region.path, Region.id).tuples())
        by_region: dict[int, list[int]] = {}
        for school_id, figures in by_school.items():
            path = path_of_school[school_id]
            for end in range(0, len(path) + 1, 6):
                if path[:end] in region_id:
                    total = by_region.setdefault(region_id[path[:end]], [0, 0, 0, 0])
                    for i in range(4):
                        total[i] += figures[i]
        _bulk_insert(RegionProgress, ["region_id", "programme_id", "teachers", "participants", "completed",
                                      "credited_minutes"], ((r, programme.id, *f) for r, f in by_region.items()))
    timings["records"] = time.perf_counter() - t0

    # Admins to look with.
    sample_county = Region.get(Region.code == "330106")
    sample_school = School.select().where(School.region == sample_county).order_by(School.id).first()
    for username, role, code in (("zj_admin", TRAINING, "330000"), ("hz_admin", TRAINING, "330100"),
                                 ("xh_admin", TRAINING, "330106")):
        account = accounts.register(username, "管理员", PASSWORD)
        Binding.create(account=account, role=role, region=Region.get(Region.code == code))
    school_admin = accounts.register("school_admin", "校管", PASSWORD)
    Binding.create(account=school_admin, role=SCHOOL_ADMIN, school=sample_school)
    database.execute_sql("ANALYZE")
    return {"programme": programme.id, "school": sample_school.id, "timings": timings,
            "schools": len(schools), "teachers": teacher_total, "records": records,
            "built_in": time.perf_counter() - started}


# ---------------------------------------------------------------- timing

def _summary(samples: list[float]) -> dict:
    ordered = sorted(samples)
    return {"median_ms": round(statistics.median(ordered) * 1000, 2),
            "p95_ms": round(ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))] * 1000, 2)}


def _time(fn, repeat: int) -> dict:
    fn()  # warm
    samples = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - t0)
    return _summary(samples)


def _log_in(client, username: str):
    import re
    page = client.get("/login")
    token = re.search(r'name="csrf_token" (?:type="hidden" )?value="([^"]+)"', page.text).group(1)
    response = client.post("/login", data={"csrf_token": token, "username": username, "password": PASSWORD})
    assert response.status_code in (302, 303), response.status_code


PAGES = [  # label, account, url pattern, rows the page shows (query), bare query kind
    ("全国 statistics", "operator", "/statistics/{p}/000000", "000000"),
    ("省 statistics (浙江省)", "zj_admin", "/statistics/{p}/330000", "330000"),
    ("市 statistics (杭州市)", "hz_admin", "/statistics/{p}/330100", "330100"),
    ("县 statistics (西湖区)", "xh_admin", "/statistics/{p}/330106", "330106"),
    ("学校 statistics", "school_admin", "/statistics/{p}/school/{s}", None),
    ("区域树节点 (浙江省)", "zj_admin", "/regions/330000", None),
]


def _bare_query(programme_id: int, code: str | None, school_id: int):
    """The bare SQL reading the rows a page shows: one statement, no ORM, no scoping."""
    from yanxiu.db import database
    from yanxiu.models import Region

    if code is not None:
        region_id = Region.get(Region.code == code).id
        sql = ('SELECT r.name, p.teachers, p.participants, p.completed, p.credited_minutes '
               'FROM region_progress p JOIN region r ON r.id = p.region_id '
               'WHERE p.programme_id = ? AND r.parent_id = ? '
               'UNION ALL SELECT s.name, p.teachers, p.participants, p.completed, p.credited_minutes '
               'FROM school_progress p JOIN school s ON s.id = p.school_id '
               'WHERE p.programme_id = ? AND s.region_id = ?')
        params = (programme_id, region_id, programme_id, region_id)
    else:
        sql = ('SELECT m.name, m.stage, m.subject, t.credited_minutes, t.completed, t.last_at '
               'FROM membership m LEFT JOIN teacher_progress t ON t.account_id = m.account_id '
               'AND t.programme_id = ? WHERE m.school_id = ? AND m.state = ?')
        params = (programme_id, school_id, "approved")
    if database.param != "?":
        sql = sql.replace("?", database.param)

    def query():
        return list(database.execute_sql(sql, params).fetchall())
    return query, len(query())


def _static_render(app, client, url: str, headers: dict):
    """The page's own template rendered from constants: the context and signed-in user of one
    real request are captured, then rendered again and again with no query and no request
    handling. This is "a static table of the same size" with the layout every page carries,
    so the ratio measures what reading, scoping and request handling add to it."""
    from flask import g, template_rendered

    captured = []

    def capture(sender, template, context, **extra):
        captured.append((template, dict(context)))
    with template_rendered.connected_to(capture, app):
        client.get(url, headers=headers)
    template, context = captured[-1]
    user = context["current_user"]
    user.bindings  # loaded: a static render runs no query

    def render():
        with app.test_request_context(url, headers=headers):
            g._login_user = user
            template.render(context)
    with _queries_logged() as statements:
        render()
    assert not statements, f"the static render ran queries: {statements}"
    return render


@contextmanager
def _queries_logged():
    """The SQL statements peewee runs inside the block."""
    statements = []
    handler = logging.Handler(logging.DEBUG)
    handler.emit = lambda record: statements.append(record.getMessage())
    logger = logging.getLogger("peewee")
    level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    try:
        yield statements
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)


def time_pages(app, facts: dict, repeat: int) -> list[dict]:
    results = []
    clients = {}
    for label, username, pattern, code in PAGES:
        if username not in clients:
            clients[username] = app.test_client()
            _log_in(clients[username], username)
        client = clients[username]
        url = pattern.format(p=facts["programme"], s=facts["school"])
        headers = {"HX-Request": "true"} if url.startswith("/regions") else {}

        def get():
            response = client.get(url, headers=headers)
            assert response.status_code == 200, (url, response.status_code)
        page = _time(get, repeat)
        entry = {"page": label, "url": url, **page}
        if not url.startswith("/regions"):
            with app.test_request_context():
                query, size = _bare_query(facts["programme"], code, facts["school"])
                bare_q = _time(query, repeat)
            bare_r = _time(_static_render(app, client, url, headers), repeat)
            entry.update(rows=size, bare_query_ms=bare_q["median_ms"], static_render_ms=bare_r["median_ms"],
                         ratio=round(page["median_ms"] / max(bare_q["median_ms"] + bare_r["median_ms"], 0.01), 2))
        results.append(entry)
    return results


def time_wsgi(app, facts: dict, repeat: int) -> list[dict]:
    """The same pages through waitress on loopback (client-side times, HTTP included)."""
    import http.client
    import re
    import socket

    from waitress.server import create_server

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    server = create_server(app, host="127.0.0.1", port=port, threads=4)

    def serve():
        try:
            server.run()
        except OSError:  # the main thread closed the socket under the loop: timing is done
            pass
    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    results = []
    try:
        cookies = {}
        for label, username, pattern, _ in PAGES:
            if username not in cookies:
                conn = http.client.HTTPConnection("127.0.0.1", port)
                conn.request("GET", "/login")
                response = conn.getresponse()
                body = response.read().decode()
                jar = response.getheader("Set-Cookie").split(";")[0]
                token = re.search(r'name="csrf_token" (?:type="hidden" )?value="([^"]+)"', body).group(1)
                from urllib.parse import urlencode
                conn.request("POST", "/login", urlencode({"csrf_token": token, "username": username,
                                                          "password": PASSWORD}),
                             {"Content-Type": "application/x-www-form-urlencoded", "Cookie": jar})
                response = conn.getresponse()
                response.read()
                cookies[username] = response.getheader("Set-Cookie").split(";")[0]
                conn.close()
            url = pattern.format(p=facts["programme"], s=facts["school"])
            headers = {"Cookie": cookies[username], "Accept-Encoding": "gzip"}
            if url.startswith("/regions"):
                headers["HX-Request"] = "true"
            conn = http.client.HTTPConnection("127.0.0.1", port)

            def get():
                conn.request("GET", url, headers=headers)
                response = conn.getresponse()
                response.read()
                assert response.status == 200, (url, response.status)
            results.append({"page": label, **_time(get, repeat)})
            conn.close()
    finally:
        # Worker threads first: a worker still finishing a request would pull the trigger
        # that server.close() has already closed.
        server.task_dispatcher.shutdown()
        server.close()
    return results


def _settle_wal() -> None:
    """SQLite: write the WAL back into the database before a timed phase, so each side pays
    for checkpointing its own pages only (a checkpoint runs in whichever commit fills the WAL)."""
    from yanxiu.db import database, is_sqlite
    if is_sqlite():
        database.execute_sql("PRAGMA wal_checkpoint(TRUNCATE)")


def _ingestion_round(facts: dict, names: list[str], rng, total: int) -> tuple[float, float]:
    """One round: `total` records through `records.ingest` (batches of 1,000), then a plain
    insert of the same rows in the same batches (a transaction each, as the API commits each
    batch). Not interleaved batch by batch: each side would then pay for checkpointing the
    other's pages. The records go to a programme of their own, new at each round, so every
    round (--reuse included) takes the full path: new teacher, school and region rollup rows,
    and no teacher already at a course's cap. Returns (ingest seconds, plain insert seconds)."""
    from yanxiu.db import database
    from yanxiu.models import Account, Course, LearningRecord, Programme
    from yanxiu.services import records

    run = time.time_ns()
    main = Programme.get_by_id(facts["programme"])
    programme = Programme.create(name=f"写入基准 {run}", kind=main.kind, start_date=main.start_date,
                                 end_date=main.end_date, created_by=main.created_by_id)
    courses = [Course.create(programme=programme, name=name, minutes=cap * 60, max_hours=cap).id
               for name, cap in COURSES]
    batch = [{"external_id": f"ingest-{run}-{i}", "teacher": {"account": rng.choice(names)},
              "programme": programme.id, "course": rng.choice(courses),
              "minutes": rng.choice((30, 45, 60)), "occurred_at": "2025-07-20T10:00:00+08:00"}
             for i in range(total)]
    accounts = dict(Account.select(Account.username, Account.id).where(
        Account.username.in_(list({i["teacher"]["account"] for i in batch}))).tuples())
    when = datetime.datetime(2025, 7, 20, 2)
    plain = [(f"plain-{run}-{i}", accounts[item["teacher"]["account"]], item["programme"], item["course"],
              item["minutes"], when, "api", None, when) for i, item in enumerate(batch)]
    _settle_wal()
    t0 = time.perf_counter()
    for start in range(0, total, records.MAX_BATCH):
        results = records.ingest(batch[start:start + records.MAX_BATCH])
        assert all(r.status == "accepted" for r in results)
    ingest_s = time.perf_counter() - t0
    _settle_wal()
    t0 = time.perf_counter()
    for start in range(0, total, records.MAX_BATCH):
        with database.atomic():
            _bulk_insert(LearningRecord, ["external_id", "account_id", "programme_id", "course_id", "minutes",
                                          "occurred_at", "source", "token_id", "received_at"],
                         plain[start:start + records.MAX_BATCH], chunk=records.MAX_BATCH)
    plain_s = time.perf_counter() - t0
    LearningRecord.delete().where(LearningRecord.external_id.startswith(f"plain-{run}-")).execute()
    return ingest_s, plain_s


def time_ingestion(facts: dict, total: int = 10_000, rounds: int = 5) -> dict:
    """Ingestion of `total` records against a plain insert of them: medians over `rounds`
    rounds (one round on a busy machine can be off by a quarter either way)."""
    from yanxiu.models import Account

    rng = random.Random(7)
    names = [n for (n,) in Account.select(Account.username).where(Account.username.startswith("t"))
             .order_by(Account.id).limit(50_000).tuples()]
    pairs = [_ingestion_round(facts, names, rng, total) for _ in range(rounds)]
    ingest_s = statistics.median(i for i, _ in pairs)
    plain_s = statistics.median(p for _, p in pairs)
    return {"records": total, "rounds": rounds, "ingest_s": round(ingest_s, 3),
            "records_per_s": round(total / ingest_s), "plain_insert_s": round(plain_s, 3),
            "ratio": round(ingest_s / plain_s, 2),
            "round_ratios": [round(i / p, 2) for i, p in pairs]}


def main():
    args = parse_args()
    if args.url:
        url = args.url
    else:
        path = args.db or os.path.join(tempfile.mkdtemp(prefix="yanxiu-bench-"), "bench.db")
        url = f"sqlite:///{path}"
    os.environ.setdefault("YANXIU_SECRET_KEY", "benchmark-secret-key")
    os.environ.setdefault("YANXIU_DATA_KEY", "benchmark-data-key")
    from yanxiu import create_app
    from yanxiu.db import database, upgrade

    app = create_app({"DATABASE_URL": url, "ARGON2_TIME_COST": 1, "ARGON2_MEMORY_COST": 8192})
    database.connect(reuse_if_open=True)
    report = {"database": url.split("://")[0], "scale": args.scale}
    if args.reuse:
        upgrade()  # a build from before the latest migration is brought up to date first
        from yanxiu.models import Account, LearningRecord, Programme, School
        programme = Programme.get(Programme.name == "2025年暑期教师研修")
        admin = Account.get(Account.username == "school_admin")
        facts = {"programme": programme.id, "school": admin.bindings[0].school_id,
                 "schools": School.select().count(), "teachers": Account.select().count(),
                 "records": LearningRecord.select().count()}
    else:
        upgrade()
        print(f"building scale {args.scale} into {url} …", flush=True)
        facts = build(args.scale, args.seed)
        print(f"built in {facts['built_in']:.0f} s: {facts['schools']:,} schools, {facts['teachers']:,} "
              f"teachers, {facts['records']:,} records ({ {k: round(v) for k, v in facts['timings'].items()} })",
              flush=True)
        if args.scale <= 0.01:
            from yanxiu.models import Programme
            from yanxiu.services import rollups
            check = rollups.rebuild_programme(Programme.get_by_id(facts["programme"]), write=False)
            print(f"rollups equal a rebuild from raw records: {check.clean} {dict(check.differences)}")
    report.update({k: facts[k] for k in ("schools", "teachers", "records")})
    report["pages"] = time_pages(app, facts, args.repeat)
    report["wsgi"] = time_wsgi(app, facts, args.repeat)
    report["ingestion"] = time_ingestion(facts)

    print(f"\n{'page':28} {'median':>8} {'p95':>8} {'rows':>5} {'bare q':>7} {'render':>7} {'ratio':>6}")
    for p in report["pages"]:
        print(f"{p['page']:28} {p['median_ms']:>8} {p['p95_ms']:>8} {p.get('rows', ''):>5} "
              f"{p.get('bare_query_ms', ''):>7} {p.get('static_render_ms', ''):>7} {p.get('ratio', ''):>6}")
    print("\nthrough waitress on 127.0.0.1 (client-side):")
    for p in report["wsgi"]:
        print(f"{p['page']:28} {p['median_ms']:>8} {p['p95_ms']:>8}")
    i = report["ingestion"]
    print(f"\ningestion (medians of {i['rounds']} rounds): {i['records']:,} records in {i['ingest_s']} s "
          f"= {i['records_per_s']:,}/s; plain insert {i['plain_insert_s']} s; ratio {i['ratio']} "
          f"(rounds: {i['round_ratios']})")
    if args.json:
        Path(args.json).write_text(json.dumps(report, ensure_ascii=False, indent=2), encoding="utf-8")


if __name__ == "__main__":
    main()
