"""The database handle, per-request connections and the migration gate."""
import os
import re
from contextlib import contextmanager
from pathlib import Path

from peewee import DatabaseProxy, PostgresqlDatabase, Select, SqliteDatabase, Value, fn
from playhouse.db_url import connect
from playhouse.migrations import Runner
from psycopg2.extras import execute_values

database = DatabaseProxy()

MAX_ID = 2**63 - 1  # ids are 64-bit integers in both databases


def as_id(value) -> int | None:
    """`value` as a row id, or None when no row can have it: not a number, or beyond a 64-bit
    integer (looking that up would overflow the database driver instead of finding nothing)."""
    try:
        number = int(value)
    except (TypeError, ValueError):
        return None
    return number if 1 <= number <= MAX_ID else None

# yanxiu runs from its source tree (the Docker image copies it to /app), where migrations/
# sits beside the package.
MIGRATIONS_DIR = str(Path(__file__).resolve().parent.parent / "migrations")
MIGRATE_COMMAND = "flask --app app db upgrade"

_STARTUP_LOCK = 7_300_001
POOL_SIZE = int(os.environ.get("YANXIU_DB_POOL_SIZE", "20"))

SQLITE_PRAGMAS = {
    "journal_mode": "wal",
    "foreign_keys": 1,
    "busy_timeout": 10000,
    "synchronous": "normal",
    # Read pages through a memory map (SQLite caps it near 2 GiB): a look-up missing the small
    # per-connection page cache costs a memory read, not a system call. The memory is the
    # operating system's file cache, shared by every connection, not each connection's own.
    "mmap_size": 2**31,
}


def open_database(url: str):
    """Open the database named by a playhouse.db_url URL with our settings."""
    if url.startswith("sqlite"):
        Path(url.split(":///", 1)[-1]).parent.mkdir(parents=True, exist_ok=True)
        # IMMEDIATE: a read-then-write transaction takes the write lock up front,
        # so two writers queue instead of one failing on a stale snapshot.
        # A pool: opening a connection, with its pragmas and a cold page cache and schema,
        # costs more than a statistics page's queries. A connection serves one thread at a
        # time; the pool rolls back anything left open before handing it to the next.
        scheme, path = url.split("://", 1)
        return connect(f"{scheme}+pool://{path}", pragmas=SQLITE_PRAGMAS, lock_type="IMMEDIATE",
                       max_connections=POOL_SIZE, stale_timeout=300, timeout=10,
                       check_same_thread=False)
    scheme, rest = url.split("://", 1)
    if scheme in ("postgres", "postgresql"):
        # A pool: a new PostgreSQL connection per request costs more than the request.
        return connect(f"{scheme}+pool://{rest}", max_connections=POOL_SIZE, stale_timeout=300,
                       timeout=10)
    return connect(url, autoconnect=True)


def is_sqlite() -> bool:
    return isinstance(database.obj, SqliteDatabase)


def is_postgres() -> bool:
    return isinstance(database.obj, PostgresqlDatabase)


def migration_runner(db=None) -> Runner:
    return Runner(db or database.obj, MIGRATIONS_DIR)


def pending_migrations(db=None) -> list[str]:
    """Names of migration files not yet applied to the database."""
    return [m.name for m in migration_runner(db).status() if not m.applied and m.path]


@contextmanager
def startup_lock(db=None):
    """On PostgreSQL, one process at a time runs start-up work (migrations, starting data):
    containers started together queue here instead of racing."""
    db = db or database.obj
    if not isinstance(db, PostgresqlDatabase):
        yield
        return
    Select(columns=[fn.pg_advisory_lock(_STARTUP_LOCK)]).bind(db).scalar()
    try:
        yield
    finally:
        Select(columns=[fn.pg_advisory_unlock(_STARTUP_LOCK)]).bind(db).scalar()


def transaction_lock(key: int) -> None:
    """Within a transaction, queue behind any other holder of `key` (PostgreSQL; SQLite's
    IMMEDIATE transactions already serialize writers)."""
    if is_postgres():
        Select(columns=[fn.pg_advisory_xact_lock(key)]).bind(database.obj).scalar()


def upgrade(db=None) -> list[str]:
    """Apply every pending migration; returns the names applied."""
    with startup_lock(db):
        return migration_runner(db).up()


def init_app(app):
    """Bind the database to the app: one connection per request, closed on teardown."""
    database.initialize(open_database(app.config["DATABASE_URL"]))

    @app.before_request
    def _connect():
        database.connect(reuse_if_open=True)

    @app.teardown_request
    def _close(exc):
        if not database.is_closed():
            database.close()


class BulkWrite:
    """An INSERT (with any ON CONFLICT clause) of many rows of one shape: `build(rows)` makes
    the peewee query, whose SQL is rendered once per database kind (from the first call's
    first row) and reused; SQLite runs it per row as one prepared statement, PostgreSQL as
    one multi-row statement per page.

        ADD = BulkWrite(lambda rows: Model.insert_many(rows, fields=FIELDS).on_conflict(...))
        ADD(rows)

    Rows go to the driver as they are: give values in stored form (`field.db_value`). peewee's
    own insert_many renders every value into the SQL text, and building that text again for
    each batch costs more than several batches' worth of database work.
    """

    def __init__(self, build):
        self._build = build
        self._sql: dict[type, str] = {}

    def __call__(self, rows: list[tuple]) -> None:
        if not rows:
            return
        kind = type(database.obj)
        sql = self._sql.get(kind)
        if sql is None:
            sql = self._sql[kind] = self._compile(rows[0])
        if is_postgres():
            execute_values(database.cursor(), sql, rows, page_size=1000)
        else:
            database.cursor().executemany(sql, rows)

    def _compile(self, row: tuple) -> str:
        sql, params = self._build([row]).returning().sql()  # a bulk write reads nothing back
        if len(params) != len(row):
            raise ValueError("the query must take exactly one parameter per value of a row")
        if is_postgres():
            # One multi-row INSERT per page (execute_values fills `VALUES %s`): PostgreSQL parses
            # and plans every statement, so a statement per row costs more than the rows. An
            # upsert's page must then not hold the same key twice: give each key one row.
            sql, found = _ROW_OF_PLACEHOLDERS.subn("VALUES %s", sql, count=1)
            if not found:
                raise ValueError("the query must be an INSERT … VALUES")
        return sql


_ROW_OF_PLACEHOLDERS = re.compile(r"VALUES \((?:%s, )*%s\)")


class _Slot:
    """Where a prepared query takes a value at each run."""

    def __init__(self, name: str):
        self.name = name


def slot(name: str) -> Value:
    """A named place for a value in a `Prepared` query (passed as is: give it the value the
    column stores)."""
    return Value(_Slot(name), converter=False)


class Prepared:
    """A query whose SQL is built once per database kind and run again with new values.

    peewee renders a query's SQL text on every execution, which for the few look-ups every
    request makes (its session, bindings, region and programme) costs several times running
    them. Build the query with `slot("name")` where the values go; call with the values:

        SESSION = Prepared(lambda: UserSession.select().where(UserSession.token_hash == slot("token")))
        session = SESSION.first(token=digest)
    """

    def __init__(self, build):
        self._build = build
        self._compiled: dict[type, tuple] = {}

    def _execute(self, values: dict):
        kind = type(database.obj)
        compiled = self._compiled.get(kind)
        if compiled is None:
            query = self._build()
            compiled = self._compiled[kind] = (query, *query.sql())
        query, sql, params = compiled
        bound = [values[p.name] if isinstance(p, _Slot) else p for p in params]
        return query, database.execute_sql(sql, bound)

    def __call__(self, **values):
        """Rows as the built query gives them (models with their joins, tuples or dicts)."""
        query, cursor = self._execute(values)
        return query._get_cursor_wrapper(cursor)

    def raw_rows(self, **values) -> list[tuple]:
        """Rows as plain tuples straight from the driver, without peewee's per-field
        conversion (which costs more than the look-up for thousands of rows): for queries
        selecting integer and text columns only."""
        return self._execute(values)[1].fetchall()

    def first(self, **values):
        return next(iter(self(**values)), None)


class PreparedIn:
    """A `Prepared` query over a list of keys: `build(keys)` gets `size` slots to put in an
    IN (...); a call runs it once per `size` keys, the last chunk padded with NULL (which an
    IN matches nothing with), and yields every row as a plain tuple (`Prepared.raw_rows`:
    select integer and text columns only). Use IN only, never NOT IN.

        MEMBERS = PreparedIn(lambda keys: Membership.select(Membership.account, Membership.school)
                             .where(Membership.account.in_(keys) & (Membership.state == slot("state"))))
        rows = list(MEMBERS(account_ids, state="approved"))
    """

    def __init__(self, build, size: int = 500):
        self.size = size
        self._names = [f"key{i}" for i in range(size)]
        self._prepared = Prepared(lambda: build([slot(name) for name in self._names]))

    def __call__(self, keys, **values):
        keys = list(keys)
        for start in range(0, len(keys), self.size):
            chunk = keys[start:start + self.size]
            chunk += [None] * (self.size - len(chunk))
            yield from self._prepared.raw_rows(**values, **dict(zip(self._names, chunk)))
