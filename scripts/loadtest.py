"""Load and fault test: many clients against the app under waitress, then proof nothing was lost.

    .venv/bin/python scripts/loadtest.py                        # SQLite (a temporary file), 60 s
    .venv/bin/python scripts/loadtest.py --seconds 30 --kill    # …killing the server mid-run
    .venv/bin/python scripts/loadtest.py --db /tmp/lt.db        # build into (or top up) a file
    .venv/bin/python scripts/loadtest.py --reuse --db /tmp/lt.db
    .venv/bin/python scripts/loadtest.py --url postgresql://postgres@127.0.0.1:5432/loadtest --kill
                                        # an existing database (createdb loadtest), empty or
                                        # holding a demo dataset

Dataset. The demo dataset of `flask --app app demo` (`yanxiu.services.demo.build_demo`; with
--reuse it must be there already), topped up to --pending waiting teacher applications made
through `teachers.submit_application` (accounts `lt00001`…, demo accounts with the demo
password, spread over the schools of the first 20 school admins), and a fresh national API
token (`api_tokens.issue_token`, as `operator`). Build and reuse are idempotent: a second run
on the same database only adds applications until --pending wait again.

Servers. `python -m waitress … app:app` on 127.0.0.1 in a separate process with
YANXIU_DATABASE_URL, YANXIU_SECRET_KEY and YANXIU_DATA_KEY in its environment (taken from
this environment when set, else fixed load-test values, so --reuse finds the same keys), and
YANXIU_REQUIRE_ADMIN_2FA=0 (the demo admins have no second factor).
On PostgreSQL (--url) two processes on two ports; each client starts on one of them and
moves to the other on a connection error. Server output goes to server-<port>.log in the
work directory (kept, with a temporary database, when the run fails or with --keep).

Clients. --clients threads (default 50) split 5:3:2, each with its own keep-alive
connection and cookie jar (standard library only), running until --seconds are up:
  stats    logged in as a demo region or school admin, GETs that admin's statistics pages:
           the nation (operator), 浙江省, its cities and counties, and school pages;
  review   logged in as a school admin (two clients per admin, so they race), reads the
           待审核 list, takes csrf_token from it as a browser does, and POSTs approve (4 in 5)
           or reject for applications near the top, as htmx does (HX-Request: 200 means
           done, 409 means another admin decided it first — a lost race);
  records  POSTs /api/v1/records batches of 50–200 learning records with fresh external ids,
           for approved demo teachers by account name, to the programme and courses that
           GET /api/v1/programmes lists.
Every client keeps what the server acknowledged: accepted external ids (per-item results;
an item answered `duplicate` on a retried batch counts too — the first attempt stored it),
and the applications it decided. Requests lost to a connection error are retried (the
same request, after a short back-off) and counted; what was sent but never answered is
"in doubt". With --kill, halfway through the run one server process is killed with
SIGKILL and started again on the same port.

Report. Per kind: requests, requests/s over the run, p50/p95/p99/max latency (of the
answered attempt), connection errors, 4xx and 5xx answers (the 4xx of approve and reject
are the 409s of lost races; a 409 to a retried decision is in doubt, as our own lost attempt
may have made it; any other status a kind did not expect is counted as `odd`). Then the
checks, all on the database after the servers stopped:
  - every acknowledged record is in learning_record; every stored record of this run was
    acknowledged or is in doubt; no item was refused;
  - every acknowledged approval (rejection) is approved (rejected) in the database; no
    application was acknowledged twice or decided twice (audit log); every decision of
    this run was acknowledged or is in doubt;
  - the rollups equal a rebuild from the raw records (`rollups.rebuild_all(write=False)`),
    and the audit log's hash chain is intact.
Any 5xx answer, an unexpected status, or a request given up fails the run. Exit status 0
only when everything was verified. --json FILE also writes the figures; --ack-log FILE
writes every acknowledgement as JSON lines.
"""
import argparse
import datetime
import gzip
import http.client
import json
import math
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import urllib.parse
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from http.cookies import SimpleCookie
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

SECRET_KEY = "loadtest-secret-key-not-for-production"
DATA_KEY = "loadtest-data-key-not-for-production"
MIX = (5, 3, 2)  # stats : review : records clients
REVIEW_SCHOOLS = 20  # schools (of the first school admins) that get the load test's applications
TEACHER_PREFIX = "lt"
REQUEST_TIMEOUT = 60.0
GRACE = 60.0  # after the run, how long a client keeps retrying a request before giving up
WARM_UP_LIMIT = 300.0  # signing every client in may take this long at most
APPROVE_SHARE = 0.8
NAMES = ["李明", "张丽", "陈思远", "王芳", "刘洋", "赵敏", "周杰", "吴静", "孙磊", "郑雪梅"]
CSRF_RE = re.compile(r'name="csrf_token"[^>]*?value="([^"]+)"'
                     r'|value="([^"]+)"[^>]*?name="csrf_token"|"X-CSRFToken": "([^"]+)"')
WARM_UP = ("login", "programmes")  # before the clock starts: no rate
ROW_RE = re.compile(r'<tr id="m-(\d+)"')


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=60, help="length of the run (default 60)")
    parser.add_argument("--clients", type=int, default=50, help="concurrent clients (default 50)")
    parser.add_argument("--pending", type=int, default=2000,
                        help="waiting applications to have before the run (default 2000)")
    parser.add_argument("--db", default="", help="SQLite file (default: a temporary one)")
    parser.add_argument("--url", default="", help="a PostgreSQL URL instead: two app processes")
    parser.add_argument("--reuse", action="store_true",
                        help="the demo dataset is there already: don't build it")
    parser.add_argument("--kill", action="store_true",
                        help="SIGKILL one server process halfway through, then restart it")
    parser.add_argument("--threads", type=int, default=8, help="waitress threads per process")
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--json", default="", help="also write the figures to this file")
    parser.add_argument("--ack-log", default="", help="write every acknowledgement here (JSON lines)")
    parser.add_argument("--keep", action="store_true", help="keep the work directory")
    args = parser.parse_args(argv)
    if args.db and args.url:
        parser.error("--db and --url exclude each other")
    if args.reuse and not (args.db or args.url):
        parser.error("--reuse needs --db FILE or --url")
    if args.clients < 3:
        parser.error("--clients must be at least 3 (one of each kind)")
    return args


# ---------------------------------------------------------------- the dataset

@dataclass
class Plan:
    """What the clients need, read from the database before the run."""
    programme_id: int
    token: str
    readers: list[tuple[str, list[str]]]  # (username, statistics paths)
    reviewers: list[str]  # school admins with waiting applications, most first
    teachers: list[str]  # approved teachers' account names
    pending: int  # applications waiting at the reviewers' schools
    built: str  # what the build said


def _top_up_applications(target: int) -> int:
    """Submit applications from new `lt…` accounts until `target` of them wait."""
    from stdnum.cn import ric

    from yanxiu.db import database
    from yanxiu.models import Account, Binding, Membership
    from yanxiu.models.account import SCHOOL_ADMIN
    from yanxiu.models.teacher import PENDING
    from yanxiu.services import teachers

    mine = Account.select(Account.id).where(Account.username.startswith(TEACHER_PREFIX))
    waiting = Membership.select().where(Membership.account.in_(mine) & (Membership.state == PENDING)).count()
    missing = max(0, target - waiting)
    if not missing:
        return 0
    schools = [s for (s,) in Binding.select(Binding.school)
               .where((Binding.role == SCHOOL_ADMIN) & (Binding.state == "active"))
               .order_by(Binding.id).limit(REVIEW_SCHOOLS).tuples()]
    if not schools:
        raise SystemExit("loadtest: no school admin in the database (is the demo dataset there?)")
    # One password hash for all, as the demo does: hashing thousands would take minutes.
    password_hash = Account.get(Account.username == "teacher").password_hash
    numbers = [int(u[len(TEACHER_PREFIX):]) for (u,) in Account.select(Account.username)
               .where(Account.username.startswith(TEACHER_PREFIX)).tuples()
               if u[len(TEACHER_PREFIX):].isdigit()]
    first = max(numbers, default=0) + 1
    names = [f"{TEACHER_PREFIX}{n:05d}" for n in range(first, first + missing)]
    with database.atomic():
        Account.insert_many([{"username": u, "display_name": "压测教师", "password_hash": password_hash,
                              "is_demo": True} for u in names]).execute()
        for account in Account.select().where(Account.username.in_(names)).order_by(Account.id):
            n = int(account.username[len(TEACHER_PREFIX):])
            # Born 2001 onwards (the demo's teachers are born by 2000): never an approved 身份证号.
            birth = datetime.date(2001, 1, 1) + datetime.timedelta(days=n // 1000)
            body = f"330106{birth:%Y%m%d}{n % 1000:03d}"
            data = {"name": NAMES[n % len(NAMES)], "gender": "男" if n % 2 else "女",
                    "id_number": body + ric.calc_check_digit(body + "0"),
                    "phone": f"166{n:08d}", "stage": "小学", "subject": "数学", "title": "一级教师"}
            teachers.submit_application(account, schools[n % len(schools)], data)
    return missing


def _reader_paths(programme_id: int) -> list[tuple[str, list[str]]]:
    """Each demo admin that reads statistics, with the pages it may read."""
    from yanxiu.models import Region, School
    from yanxiu.models.region import NATION_CODE
    from yanxiu.services.demo import DEMO_SCHOOL_NAME

    rng = random.Random(7)
    base = f"/statistics/{programme_id}"

    def region(code):
        return Region.get(Region.code == code)

    def children(code, level):
        parent = region(code)
        return [r.code for r in Region.select(Region.code).where(
            Region.in_subtree(parent.path) & (Region.level == level)).order_by(Region.code)]

    def schools(code, n):
        ids = [s for (s,) in School.select(School.id).where(School.in_subtree(region(code).path)
                                                            & (School.status == "active"))
               .order_by(School.id).tuples()]
        return [f"{base}/school/{s}" for s in rng.sample(ids, min(n, len(ids)))]

    def pages(codes):
        return [f"{base}/{c}" for c in codes]

    demo_school = School.get(School.name == DEMO_SCHOOL_NAME).id
    hz_counties, nb_counties = children("330100", "county"), children("330200", "county")
    zj_counties = children("330000", "county")
    plan = [
        ("operator", pages([NATION_CODE, "330000", "330100"])),
        ("zj_admin", pages(["330000", *children("330000", "city"), *rng.sample(zj_counties, 10)])
         + schools("330000", 10)),
        ("hz_admin", pages(["330100", *hz_counties]) + schools("330100", 15)),
        ("xh_admin", pages(["330106"]) + schools("330106", 20)),
        ("nb_admin", pages(["330200", *nb_counties]) + schools("330200", 15)),
        ("school_admin", [f"{base}/school/{demo_school}"]),
    ]
    return plan


def prepare(args, log) -> Plan:
    """Build or reuse the dataset; returns the plan. Runs in this process, then lets go of
    the database so the servers have it to themselves."""
    from yanxiu import create_app, db
    from yanxiu.db import database
    from yanxiu.models import Account, Binding, Membership, Programme
    from yanxiu.models.account import OPERATOR, SCHOOL_ADMIN
    from yanxiu.models.teacher import APPROVED, PENDING
    from yanxiu.services import api_tokens
    from yanxiu.services.demo import PROGRAMME, DemoRefused, build_demo

    app = create_app()
    with app.app_context():
        database.connect(reuse_if_open=True)
        try:
            if args.reuse:
                if db.pending_migrations():
                    raise SystemExit(f"loadtest: the database is not migrated ({db.MIGRATE_COMMAND})")
                built = "reused"
            else:
                db.upgrade()
                try:
                    built = build_demo()
                except DemoRefused as err:
                    raise SystemExit(f"loadtest: {err}") from None
            log(f"dataset: {built}")
            programme = Programme.get_or_none(Programme.name == PROGRAMME["name"])
            if programme is None:
                raise SystemExit("loadtest: the demo programme is missing (build without --reuse)")
            started = time.perf_counter()
            added = _top_up_applications(args.pending)
            log(f"applications: {added} submitted in {time.perf_counter() - started:.1f}s")
            operator = Binding.get((Binding.role == OPERATOR)
                                   & (Binding.account == Account.get(Account.username == "operator")))
            _, token = api_tokens.issue_token(operator, f"压测 {datetime.datetime.now():%Y-%m-%d %H:%M:%S}")
            waiting = (Membership.select(Account.username, Membership.id)
                       .join(Binding, on=((Binding.school == Membership.school)
                                          & (Binding.role == SCHOOL_ADMIN) & (Binding.state == "active")))
                       .join(Account, on=(Binding.account == Account.id))
                       .where(Membership.state == PENDING).tuples())
            per_admin = Counter(username for username, _ in waiting)
            teachers = [u for (u,) in Account.select(Account.username)
                        .join(Membership, on=(Membership.account == Account.id))
                        .where((Membership.state == APPROVED) & Account.username.startswith("t"))
                        .order_by(Account.id).tuples()]
            return Plan(programme.id, token, _reader_paths(programme.id),
                        [u for u, _ in sorted(per_admin.items(), key=lambda kv: (-kv[1], kv[0]))],
                        teachers, sum(per_admin.values()), built)
        finally:
            database.close()
            if hasattr(database.obj, "close_all"):
                database.close_all()


# ---------------------------------------------------------------- the servers

def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Server:
    """One waitress process serving app:app on a fixed loopback port."""

    def __init__(self, port: int, env: dict, threads: int, workdir: Path):
        self.port, self.env, self.threads = port, env, threads
        self.log_path = workdir / f"server-{port}.log"
        self.proc: subprocess.Popen | None = None
        self.starts = 0

    def start(self) -> None:
        log = open(self.log_path, "a")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "waitress", f"--listen=127.0.0.1:{self.port}",
             f"--threads={self.threads}", "--ident=yanxiu", "app:app"],
            cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT)
        log.close()
        self.starts += 1

    def wait_ready(self, timeout: float = 60) -> float:
        """Seconds until /healthz answers 200."""
        started = time.monotonic()
        while time.monotonic() - started < timeout:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server on {self.port} exited ({self.proc.returncode}); "
                                   f"see {self.log_path}")
            try:
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
                conn.request("GET", "/healthz")
                if conn.getresponse().status == 200:
                    conn.close()
                    return time.monotonic() - started
                conn.close()
            except (OSError, http.client.HTTPException):
                pass
            time.sleep(0.1)
        raise RuntimeError(f"server on {self.port} not ready after {timeout:.0f}s; see {self.log_path}")

    def kill(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


# ---------------------------------------------------------------- measuring

@dataclass
class Kind:
    latencies: list[float] = field(default_factory=list)
    statuses: Counter = field(default_factory=Counter)
    connection_errors: int = 0
    given_up: int = 0
    unexpected: list[str] = field(default_factory=list)


class Figures:
    """Per-kind counts and latencies, shared by every client thread."""

    def __init__(self):
        self.lock = threading.Lock()
        self.kinds: dict[str, Kind] = defaultdict(Kind)

    def answered(self, kind: str, status: int, seconds: float) -> None:
        with self.lock:
            k = self.kinds[kind]
            k.latencies.append(seconds)
            k.statuses[status] += 1

    def connection_error(self, kind: str) -> None:
        with self.lock:
            self.kinds[kind].connection_errors += 1

    def gave_up(self, kind: str) -> None:
        with self.lock:
            self.kinds[kind].given_up += 1

    def unexpected(self, kind: str, what: str) -> None:
        with self.lock:
            self.kinds[kind].unexpected.append(what)


@dataclass
class Answer:
    status: int
    body: bytes
    retried: bool  # an earlier attempt was lost to a connection error

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", "replace")


class Browser:
    """A client with a keep-alive connection and a cookie jar; retries on connection errors,
    moving to the next server when there are several."""

    def __init__(self, ports: list[int], first: int, figures: Figures, give_up_at: list[float]):
        self.ports, self.index = ports, first % len(ports)
        self.figures, self.give_up_at = figures, give_up_at
        self.conn: http.client.HTTPConnection | None = None
        self.cookies: dict[str, str] = {}

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
            self.conn = None

    def request(self, kind: str, method: str, path: str, *, form: dict | None = None,
                payload=None, headers: dict | None = None) -> Answer | None:
        """The answer, or None when the request was given up (it is then in doubt)."""
        body, sent = None, {"Accept-Encoding": "gzip", "User-Agent": "yanxiu-loadtest",
                            **(headers or {})}
        if form is not None:
            body = urllib.parse.urlencode(form).encode()
            sent["Content-Type"] = "application/x-www-form-urlencoded"
        elif payload is not None:
            body = json.dumps(payload, ensure_ascii=False).encode()
            sent["Content-Type"] = "application/json"
        retried, delay = False, 0.05
        while True:
            if self.cookies:
                sent["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
            if self.conn is None:
                self.conn = http.client.HTTPConnection("127.0.0.1", self.ports[self.index],
                                                       timeout=REQUEST_TIMEOUT)
            started = time.perf_counter()
            try:
                self.conn.request(method, path, body, sent)
                response = self.conn.getresponse()
                data = response.read()
            except (OSError, http.client.HTTPException):
                self.close()
                self.figures.connection_error(kind)
                if time.monotonic() > self.give_up_at[0]:
                    self.figures.gave_up(kind)
                    return None
                retried = True
                self.index = (self.index + 1) % len(self.ports)
                time.sleep(delay * random.uniform(0.5, 1.5))
                delay = min(delay * 2, 0.5)
                continue
            elapsed = time.perf_counter() - started
            for header in response.headers.get_all("Set-Cookie") or []:
                for name, morsel in SimpleCookie(header).items():
                    if morsel["expires"] and "1970" in morsel["expires"] or morsel["max-age"] == "0":
                        self.cookies.pop(name, None)
                    else:
                        self.cookies[name] = morsel.value
            if response.getheader("Content-Encoding") == "gzip":
                data = gzip.decompress(data)
            if response.will_close:
                self.close()
            self.figures.answered(kind, response.status, elapsed)
            return Answer(response.status, data, retried)

    def login(self, username: str, password: str) -> bool:
        page = self.request("login", "GET", "/login")
        token = csrf_token(page.text) if page else None
        if not token:
            return False
        answer = self.request("login", "POST", "/login",
                              form={"username": username, "password": password, "next": "",
                                    "csrf_token": token})
        return answer is not None and answer.status == 303


def csrf_token(html: str) -> str | None:
    match = CSRF_RE.search(html)
    return next((g for g in match.groups() if g), None) if match else None


# ---------------------------------------------------------------- the clients

@dataclass
class Log:
    """What one client was told, and what it sent without an answer."""
    records: set = field(default_factory=set)  # external ids acknowledged
    records_in_doubt: set = field(default_factory=set)
    records_on_retry: int = 0  # answered `duplicate` on a retried batch: stored by the lost attempt
    decisions: list = field(default_factory=list)  # (membership id, "approved" | "rejected")
    decisions_in_doubt: set = field(default_factory=set)
    lost_races: int = 0


class Run:
    """Shared state of one run: the stop signal, figures, logs."""

    def __init__(self, args, plan: Plan, ports: list[int]):
        self.args, self.plan, self.ports = args, plan, ports
        self.figures = Figures()
        self.stop = threading.Event()
        self.ready = threading.Barrier(args.clients + 1)
        self.give_up_at = [time.monotonic() + WARM_UP_LIMIT]  # then none while running
        self.logs: dict[str, Log] = {}
        self.failures: list[str] = []
        self.run_id = f"{int(time.time()):x}{random.randrange(16**4):04x}"
        self._arrived = threading.local()

    def browser(self, n: int) -> Browser:
        return Browser(self.ports, n, self.figures, self.give_up_at)

    def fail(self, what: str) -> None:
        with self.figures.lock:
            self.failures.append(what)

    def arrive(self) -> None:
        """Signed in (or ready): wait for every other client, then the clock starts."""
        self._arrived.flag = True
        self.ready.wait()

    def client(self, target, n: int, *args) -> None:
        """Run one client; a crash is a failure, and never leaves the others waiting."""
        self._arrived.flag = False
        try:
            target(self, n, *args)
        except Exception as err:  # noqa: BLE001 - reported, fails the run
            self.fail(f"client {n} ({target.__name__}) crashed: {err!r}")
            traceback.print_exc()
        if not self._arrived.flag:
            self.ready.wait()


def reader(run: Run, n: int, rng: random.Random) -> None:
    from yanxiu.services.demo import DEMO_PASSWORD
    username, paths = run.plan.readers[n % len(run.plan.readers)]
    browser = run.browser(n)
    ok = browser.login(username, DEMO_PASSWORD)
    run.arrive()
    if not ok:
        return run.fail(f"stats client {n}: login as {username} failed")
    while not run.stop.is_set():
        path = rng.choice(paths)
        answer = browser.request("stats", "GET", path)
        if answer is not None and answer.status != 200:
            run.figures.unexpected("stats", f"{answer.status} {path}")
    browser.close()


def reviewer(run: Run, n: int, rng: random.Random, log: Log) -> None:
    from yanxiu.services.demo import DEMO_PASSWORD
    from yanxiu.services.teachers import REJECT_REASONS
    admins = run.plan.reviewers
    username = admins[(n // 2) % len(admins)] if admins else "school_admin"
    browser = run.browser(n)
    ok = browser.login(username, DEMO_PASSWORD)
    run.arrive()
    if not ok:
        return run.fail(f"review client {n}: login as {username} failed")
    while not run.stop.is_set():
        page = browser.request("review_list", "GET", "/teachers?state=pending")
        if page is None:
            continue
        if page.status != 200:
            run.figures.unexpected("review_list", str(page.status))
            continue
        token, ids = csrf_token(page.text), ROW_RE.findall(page.text)
        if not token:
            run.figures.unexpected("review_list", "no csrf_token")
            continue
        if not ids:  # this school's queue is empty: keep reading it, as an admin would
            time.sleep(0.5)
            continue
        for membership_id in rng.sample(ids[:8], min(len(ids), rng.randint(1, 3))):
            if run.stop.is_set():
                break
            approve = rng.random() < APPROVE_SHARE
            kind = "approve" if approve else "reject"
            form = {"csrf_token": token} | ({} if approve else {"preset": REJECT_REASONS[0]})
            answer = browser.request(kind, "POST", f"/teachers/{membership_id}/{kind}", form=form,
                                     headers={"HX-Request": "true", "X-CSRFToken": token})
            if answer is None:
                log.decisions_in_doubt.add(int(membership_id))
            elif answer.status == 200:
                log.decisions.append((int(membership_id), "approved" if approve else "rejected"))
            elif answer.status == 409:
                if answer.retried:  # perhaps our own lost attempt decided it
                    log.decisions_in_doubt.add(int(membership_id))
                else:
                    log.lost_races += 1
            else:
                run.figures.unexpected(kind, f"{answer.status} /teachers/{membership_id}/{kind}")
    browser.close()


def ingester(run: Run, n: int, rng: random.Random, log: Log) -> None:
    from yanxiu.services.demo import PROGRAMME
    browser = run.browser(n)
    auth = {"Authorization": f"Bearer {run.plan.token}"}
    answer = browser.request("programmes", "GET", "/api/v1/programmes", headers=auth)
    run.arrive()
    if answer is None or answer.status != 200:
        return run.fail(f"records client {n}: GET /api/v1/programmes failed")
    programme = next((p for p in json.loads(answer.body)["programmes"]
                      if p["name"] == PROGRAMME["name"]), None)
    if programme is None or not programme["courses"] or not run.plan.teachers:
        return run.fail(f"records client {n}: the demo programme, its courses or teachers are missing")
    courses = [c["id"] for c in programme["courses"]]
    start = datetime.datetime.fromisoformat(programme["start_date"])
    days = (datetime.date.fromisoformat(programme["end_date"]) - start.date()).days + 1
    sequence = 0
    while not run.stop.is_set():
        batch = []
        for _ in range(rng.randint(50, 200)):
            sequence += 1
            when = start + datetime.timedelta(days=rng.randrange(days),
                                              minutes=rng.randrange(6 * 60, 23 * 60))
            batch.append({"external_id": f"lt-{run.run_id}-{n}-{sequence}",
                          "teacher": {"account": rng.choice(run.plan.teachers)},
                          "programme": programme["id"], "course": rng.choice(courses),
                          "minutes": rng.choice((20, 30, 45, 60, 90)),
                          "occurred_at": when.isoformat() + "+08:00"})
        answer = browser.request("records", "POST", "/api/v1/records", payload={"records": batch},
                                 headers=auth)
        if answer is None:
            log.records_in_doubt.update(item["external_id"] for item in batch)
            continue
        if answer.status != 200:
            run.figures.unexpected("records", f"{answer.status} {answer.text[:200]}")
            if answer.status >= 500:  # the batch may or may not be stored
                log.records_in_doubt.update(item["external_id"] for item in batch)
            continue
        for result in json.loads(answer.body)["results"]:
            if result["status"] == "accepted":
                log.records.add(result["external_id"])
            elif result["status"] == "duplicate" and answer.retried:
                log.records.add(result["external_id"])
                log.records_on_retry += 1
            else:
                run.figures.unexpected("records", f"item {result['status']}: {result.get('reason', '')}")
    browser.close()


def killer(run: Run, servers: list[Server], at: float, events: list) -> None:
    """Halfway: SIGKILL the first server, start it again, note how long it was away."""
    if run.stop.wait(at):
        return
    server = servers[0]
    killed = time.monotonic()
    server.kill()
    server.start()
    try:
        server.wait_ready()
    except RuntimeError as err:
        run.fail(str(err))
        return
    events.append({"port": server.port, "killed_at_s": round(at, 1),
                   "down_s": round(time.monotonic() - killed, 2)})


# ---------------------------------------------------------------- checking

def verify(run: Run, started_at: datetime.datetime) -> dict:
    """Compare what the clients were told with the database; the rollups with a rebuild."""
    from peewee import fn

    from yanxiu import create_app
    from yanxiu.db import database
    from yanxiu.models import AuditLog, LearningRecord, Membership
    from yanxiu.services import audit, rollups

    logs = run.logs.values()
    acked = set().union(*(log.records for log in logs))
    in_doubt = set().union(*(log.records_in_doubt for log in logs)) - acked
    decisions = [d for log in logs for d in log.decisions]
    decided = Counter(m for m, _ in decisions)
    decision_doubt = set().union(*(log.decisions_in_doubt for log in logs)) - set(decided)
    checks = {}
    app = create_app()
    with app.app_context():
        database.connect(reuse_if_open=True)
        try:
            stored = {e for (e,) in LearningRecord.select(LearningRecord.external_id)
                      .where(LearningRecord.external_id.startswith(f"lt-{run.run_id}-")).tuples()}
            missing, extra = acked - stored, stored - acked
            checks["records"] = {
                "acknowledged": len(acked), "stored": len(stored), "missing": len(missing),
                "acknowledged_on_retry": sum(log.records_on_retry for log in logs),
                "in_doubt_sent": len(in_doubt), "stored_not_acknowledged": len(extra),
                "unexplained": len(extra - in_doubt),
                "ok": not missing and not (extra - in_doubt)}
            states = dict(Membership.select(Membership.id, Membership.state)
                          .where(Membership.id.in_(list(decided) or [0])).tuples())
            wrong = [m for m, state in decisions if states.get(m) != state]
            twice = (AuditLog.select(AuditLog.target_id)
                     .where(AuditLog.action.in_(["teacher.approved", "teacher.rejected"]))
                     .group_by(AuditLog.target_id).having(fn.COUNT(AuditLog.id) > 1).count())
            this_run = {int(t) for (t,) in AuditLog.select(AuditLog.target_id)
                        .where(AuditLog.action.in_(["teacher.approved", "teacher.rejected"])
                               & (AuditLog.at >= started_at)).tuples()}
            unacked = this_run - set(decided)
            checks["decisions"] = {
                "acknowledged": len(decisions),
                "approved": sum(1 for _, s in decisions if s == "approved"),
                "rejected": sum(1 for _, s in decisions if s == "rejected"),
                "lost_races": sum(log.lost_races for log in logs),
                "not_in_acknowledged_state": len(wrong),
                "acknowledged_twice": sum(1 for c in decided.values() if c > 1),
                "decided_twice": twice, "decided_this_run": len(this_run),
                "in_doubt_sent": len(decision_doubt), "unexplained": len(unacked - decision_doubt),
                "ok": not wrong and twice == 0 and all(c == 1 for c in decided.values())
                and not (unacked - decision_doubt)}
            report = rollups.rebuild_all(write=False)
            checks["rollups"] = {"differences": dict(report.differences), "ok": report.clean}
            broken = audit.verify_chain()
            checks["audit_chain"] = {"broken_rows": len(broken), "ok": not broken}
        finally:
            database.close()
            if hasattr(database.obj, "close_all"):
                database.close_all()
    return checks


def percentile(sorted_values: list[float], share: float) -> float:
    """Nearest-rank percentile of an ascending list."""
    if not sorted_values:
        return float("nan")
    return sorted_values[min(len(sorted_values) - 1, max(0, math.ceil(share * len(sorted_values)) - 1))]


def summarize(figures: Figures, seconds: float) -> dict:
    table = {}
    for name, k in sorted(figures.kinds.items()):
        lat = sorted(k.latencies)
        table[name] = {
            "requests": len(lat), "per_second": None if name in WARM_UP else round(len(lat) / seconds, 2),
            **{f"p{q}_ms": round(percentile(lat, q / 100) * 1000, 1) for q in (50, 95, 99)},
            "max_ms": round((lat[-1] if lat else 0) * 1000, 1),
            "connection_errors": k.connection_errors, "given_up": k.given_up,
            "4xx": sum(c for s, c in k.statuses.items() if 400 <= s < 500),
            "5xx": sum(c for s, c in k.statuses.items() if s >= 500),
            "unexpected": len(k.unexpected), "unexpected_examples": sorted(set(k.unexpected))[:5],
        }
    return table


def print_table(result: dict) -> None:
    print(f"\n{result['database']}, {result['servers']} server process(es), {result['clients']} clients "
          f"({result['mix']}), {result['seconds']:.1f}s"
          + "".join(f"; server :{k['port']} killed at {k['killed_at_s']}s, answering again "
                    f"{k['down_s']}s later" for k in result["kills"]))
    head = f"{'kind':<12}{'requests':>9}{'req/s':>8}{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}" \
           f"{'max ms':>9}{'conn err':>9}{'4xx':>6}{'5xx':>6}{'odd':>5}"
    print(head)
    print("-" * len(head))
    for name, row in result["kinds"].items():
        rate = "-" if row["per_second"] is None else f"{row['per_second']:.1f}"
        print(f"{name:<12}{row['requests']:>9}{rate:>8}{row['p50_ms']:>9.0f}{row['p95_ms']:>9.0f}"
              f"{row['p99_ms']:>9.0f}{row['max_ms']:>9.0f}{row['connection_errors']:>9}{row['4xx']:>6}"
              f"{row['5xx']:>6}{row['unexpected']:>5}")
        for example in row["unexpected_examples"]:
            print(f"    {example}")
    r, d = result["checks"]["records"], result["checks"]["decisions"]
    print(f"records/s {result['records_per_second']:.0f}; records: {r['acknowledged']} acknowledged "
          f"({r['acknowledged_on_retry']} on a retry), {r['stored']} stored, {r['missing']} missing, "
          f"{r['stored_not_acknowledged']} stored unanswered (of {r['in_doubt_sent']} in doubt)")
    print(f"applications: {d['approved']} approved, {d['rejected']} rejected, {d['lost_races']} lost races, "
          f"{d['not_in_acknowledged_state']} not as acknowledged, {d['decided_twice']} decided twice, "
          f"{d['unexplained']} decided unacknowledged ({d['in_doubt_sent']} in doubt)")
    rollup = result["checks"]["rollups"]
    print(f"rollups vs rebuild: {'equal' if rollup['ok'] else rollup['differences']}; "
          f"audit chain broken rows: {result['checks']['audit_chain']['broken_rows']}")
    for failure in result["failures"]:
        print(f"FAIL: {failure}")
    print("verified: all acknowledged work is in the database" if result["ok"] else "NOT VERIFIED")


# ---------------------------------------------------------------- main

def main(argv=None) -> int:
    args = parse_args(argv)
    seed = args.seed if args.seed is not None else random.randrange(2**32)
    workdir = Path(tempfile.mkdtemp(prefix="yanxiu-loadtest-"))

    def log(text: str) -> None:
        print(text, flush=True)

    url = args.url or f"sqlite:///{Path(args.db).resolve() if args.db else workdir / 'loadtest.db'}"
    env = dict(os.environ)
    env.update({"YANXIU_DATABASE_URL": url,
                "YANXIU_SECRET_KEY": os.environ.get("YANXIU_SECRET_KEY") or SECRET_KEY,
                "YANXIU_DATA_KEY": os.environ.get("YANXIU_DATA_KEY") or DATA_KEY,
                # The demo admins have no second factor: an enforced set-up would stop them.
                "YANXIU_REQUIRE_ADMIN_2FA": "0", "PYTHONUNBUFFERED": "1"})
    os.environ.update({k: env[k] for k in ("YANXIU_DATABASE_URL", "YANXIU_SECRET_KEY", "YANXIU_DATA_KEY")})
    log(f"loadtest: database {url.split('@')[-1]}, work directory {workdir}, seed {seed}")

    servers: list[Server] = []
    ok = False
    try:
        started = time.perf_counter()
        plan = prepare(args, log)
        log(f"prepared in {time.perf_counter() - started:.1f}s: {plan.pending} applications waiting at "
            f"{len(plan.reviewers)} schools with an admin, {len(plan.teachers)} approved teachers")
        servers = [Server(free_port(), env, args.threads, workdir) for _ in range(2 if args.url else 1)]
        for server in servers:
            server.start()
        for server in servers:
            server.wait_ready()
        run = Run(args, plan, [s.port for s in servers])
        weights = sum(MIX)
        n_review = max(1, round(args.clients * MIX[1] / weights))
        n_records = max(1, round(args.clients * MIX[2] / weights))
        n_stats = args.clients - n_review - n_records
        rng = random.Random(seed)
        threads = []
        for n in range(args.clients):
            client_rng = random.Random(rng.randrange(2**32))
            if n < n_stats:
                target, extra = reader, ()
            elif n < n_stats + n_review:
                run.logs[f"review-{n}"] = Log()
                target, extra = reviewer, (run.logs[f"review-{n}"],)
            else:
                run.logs[f"records-{n}"] = Log()
                target, extra = ingester, (run.logs[f"records-{n}"],)
            threads.append(threading.Thread(target=run.client, args=(target, n, client_rng, *extra),
                                            name=f"client-{n}", daemon=True))
        for thread in threads:
            thread.start()
        run.ready.wait()  # every client signed in (or fetched the programmes)
        from yanxiu.models.base import now
        started_at = now()
        run.give_up_at[0] = math.inf
        began = time.monotonic()
        kills: list = []
        if args.kill:
            threading.Thread(target=killer, args=(run, servers, args.seconds / 2, kills),
                             daemon=True).start()
        run.stop.wait(args.seconds)
        run.stop.set()
        run.give_up_at[0] = time.monotonic() + GRACE
        for thread in threads:
            thread.join(GRACE + REQUEST_TIMEOUT + 5)
        elapsed = time.monotonic() - began
        if any(t.is_alive() for t in threads):
            run.fail("a client did not finish")
        if args.kill and not kills:
            run.fail("--kill: no server was killed and restarted")
        for server in servers:
            server.stop()
        checks = verify(run, started_at)
        kinds = summarize(run.figures, elapsed)
        for name, row in kinds.items():
            if row["5xx"]:
                run.fail(f"{name}: {row['5xx']} answers 5xx")
            if row["unexpected"]:
                run.fail(f"{name}: {row['unexpected']} unexpected answers")
            if row["given_up"]:
                run.fail(f"{name}: {row['given_up']} requests given up")
        for name, check in checks.items():
            if not check["ok"]:
                run.fail(f"check {name}: {check}")
        ok = not run.failures
        result = {
            "ok": ok, "database": "PostgreSQL" if args.url else "SQLite", "servers": len(servers),
            "clients": args.clients, "mix": f"stats {n_stats}, review {n_review}, records {n_records}",
            "seconds": round(elapsed, 1), "seed": seed, "run_id": run.run_id,
            "kills": kills, "server_starts": sum(s.starts for s in servers),
            "records_per_second": round(checks["records"]["acknowledged"] / elapsed, 1),
            "kinds": kinds, "checks": checks, "failures": run.failures,
        }
        print_table(result)
        if args.json:
            Path(args.json).write_text(json.dumps(result, ensure_ascii=False, indent=2) + "\n")
        if args.ack_log:
            with open(args.ack_log, "w") as fh:
                for client, client_log in sorted(run.logs.items()):
                    for external_id in sorted(client_log.records):
                        fh.write(json.dumps({"client": client, "record": external_id}) + "\n")
                    for membership_id, state in client_log.decisions:
                        fh.write(json.dumps({"client": client, "membership": membership_id,
                                             "state": state}) + "\n")
        return 0 if ok else 1
    finally:
        for server in servers:
            server.stop()
        if ok and not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)
        else:
            print(f"work directory kept: {workdir}", flush=True)


if __name__ == "__main__":
    sys.exit(main())
