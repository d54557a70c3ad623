"""A school import file of any size, and a timing of 学校批量导入 on it.

    .venv/bin/python scripts/make_import_file.py /tmp/schools.xlsx            # 10,000 rows
    .venv/bin/python scripts/make_import_file.py /tmp/s.csv --rows 500 --county 330106
    .venv/bin/python scripts/make_import_file.py --bench                       # time it

The file has the template's Chinese headers; codes are `<county><8000000 + i>` cut to 10 digits,
names `<county name>批量学校<i>`. With --bad N, every N-th row carries one mistake (wrong digit
count, unknown 学段, a duplicate code), so the preview has something to report.

--bench builds the file, a throwaway migrated SQLite database with one county and its training
admin, and times: reading + validating (the upload), confirming (the one-transaction write with
its audit rows), and the same two through the HTTP endpoints (upload + confirm).
"""
import argparse
import csv
import io
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from openpyxl import Workbook  # noqa: E402

HEADERS = ["学校标识码", "名称", "类型", "学段", "办学性质", "地址", "联系人", "联系电话"]
STAGES = ["小学", "初中", "高中", "九年一贯制"]


def school_rows(count: int, county: str = "330106", county_name: str = "西湖区", bad: int = 0):
    """`count` rows of the template; every `bad`-th row (if any) carries one mistake."""
    for i in range(count):
        values = [f"{county[:4]}{800000 + i:06d}"[:10], f"{county_name}批量学校{i:05d}", "学校",
                  STAGES[i % len(STAGES)], "公办" if i % 5 else "民办", f"{county_name}某路 {i} 号",
                  "李老师", f"138{i:08d}"]
        if bad and i and i % bad == 0:
            mistake = (i // bad) % 3
            if mistake == 0:
                values[0] = values[0][:9]
            elif mistake == 1:
                values[3] = "大学"
            else:
                values[0] = f"{county[:4]}{800000:06d}"
        yield values


def write_file(path: Path, rows) -> None:
    """Write `rows` under the template headers as .xlsx (streamed) or .csv (UTF-8 with BOM)."""
    if path.suffix.lower() == ".csv":
        with open(path, "w", encoding="utf-8-sig", newline="") as fh:
            writer = csv.writer(fh)
            writer.writerow(HEADERS)
            writer.writerows(rows)
        return
    book = Workbook(write_only=True)
    sheet = book.create_sheet("学校信息")
    sheet.append(HEADERS)
    for values in rows:
        sheet.append(values)
    book.save(path)


def bench(rows: int, bad: int) -> None:
    """Time validate + confirm, directly and through HTTP, on a throwaway SQLite database."""
    os.environ.setdefault("YANXIU_SECRET_KEY", "bench-only")
    from yanxiu import create_app
    from yanxiu.db import database, open_database, upgrade
    from yanxiu.models import Binding, Region, School
    from yanxiu.models.account import TRAINING
    from yanxiu.services import accounts, school_import
    from yanxiu.services.school_import import BatchReport

    work = Path(tempfile.mkdtemp(prefix="yanxiu-import-bench-"))
    content_path = work / "schools.xlsx"
    started = time.perf_counter()
    write_file(content_path, school_rows(rows, bad=bad))
    content = content_path.read_bytes()
    print(f"file: {rows} rows, {len(content) / 1024:.0f} KB, "
          f"written in {time.perf_counter() - started:.2f} s")

    for label, url in (("direct", work / "direct.db"), ("http", work / "http.db")):
        db_url = f"sqlite:///{url}"
        db = open_database(db_url)
        db.connect()
        upgrade(db)
        db.close()
        app = create_app({"DATABASE_URL": db_url, "ARGON2_TIME_COST": 1, "ARGON2_MEMORY_COST": 1024,
                          "TESTING": True, "WTF_CSRF_ENABLED": False})
        database.connect(reuse_if_open=True)
        nation = Region.create(code="000000", name="全国", level="nation", path="")
        province = Region.create(code="330000", name="浙江省", level="province", parent=nation, path="330000")
        city = Region.create(code="330100", name="杭州市", level="city", parent=province, path="330000330100")
        county = Region.create(code="330106", name="西湖区", level="county", parent=city,
                               path="330000330100330106")
        account = accounts.register("bench_admin", "压测专管", "Bench@2025pw")
        binding = Binding.create(account=account, role=TRAINING, region=county)
        if label == "direct":
            t0 = time.perf_counter()
            batch = school_import.validate_upload(binding, "schools.xlsx", content)
            t1 = time.perf_counter()
            result = school_import.confirm_import(binding, batch)
            t2 = time.perf_counter()
            report = BatchReport.of(batch)
            print(f"direct: read+validate {t1 - t0:.2f} s ({len(report.valid)} valid, "
                  f"{report.invalid_count} invalid rows); confirm {t2 - t1:.2f} s "
                  f"({result.created} written); school rows now {School.select().count()}")
        else:
            client = app.test_client()
            client.post("/login", data={"username": "bench_admin", "password": "Bench@2025pw"})
            t0 = time.perf_counter()
            uploaded = client.post("/schools/import",
                                   data={"file": (io.BytesIO(content), "schools.xlsx")})
            t1 = time.perf_counter()
            preview = client.get(uploaded.headers["Location"])
            t2 = time.perf_counter()
            confirmed = client.post(uploaded.headers["Location"] + "/confirm")
            t3 = time.perf_counter()
            print(f"http:   upload {uploaded.status_code} in {t1 - t0:.2f} s; preview page "
                  f"{preview.status_code} in {t2 - t1:.2f} s; confirm {confirmed.status_code} in "
                  f"{t3 - t2:.2f} s; school rows now {School.select().count()}")
        database.close()
    print(f"(databases kept in {work})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("path", nargs="?", type=Path, help=".xlsx or .csv to write")
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--county", default="330106", help="six-digit county code for the school codes")
    parser.add_argument("--county-name", default="西湖区")
    parser.add_argument("--bad", type=int, default=0, help="every N-th row carries a mistake")
    parser.add_argument("--bench", action="store_true", help="time validate + confirm (throwaway db)")
    args = parser.parse_args()
    if args.bench:
        bench(args.rows, args.bad)
    elif args.path:
        write_file(args.path, school_rows(args.rows, args.county, args.county_name, args.bad))
        print(f"wrote {args.rows} rows to {args.path}")
    else:
        parser.error("give a path to write, or --bench")


if __name__ == "__main__":
    main()
