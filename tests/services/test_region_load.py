"""Loading the national region list (SPEC §1): the bundled file, re-imports of newer lists,
malformed files, municipalities, and the `flask regions load` command."""
import csv
import json
from collections import Counter

import pytest
from peewee import fn

from tests.fixture_tree import REGIONS, write_region_csv
from yanxiu.models import AuditLog, Region, School
from yanxiu.models.region import NATION_CODE
from yanxiu.services.regions import bundled_region_file, load_regions

MUNICIPALITIES = {"110000": "北京市", "120000": "天津市", "310000": "上海市", "500000": "重庆市"}


def bundled_rows() -> list[dict]:
    with open(bundled_region_file(), encoding="utf-8-sig", newline="") as fh:
        return list(csv.DictReader(fh))


def snapshot() -> dict:
    """code → (id, name, level, parent code, path) of every region in the database."""
    regions = list(Region.select())
    code_of = {r.id: r.code for r in regions}
    return {r.code: (r.id, r.name, r.level, code_of.get(r.parent_id), r.path) for r in regions}


def assert_paths_consistent():
    regions = {r.id: r for r in Region.select()}
    for region in regions.values():
        if region.code == NATION_CODE:
            assert region.parent_id is None and region.path == ""
            continue
        parent = regions[region.parent_id]
        assert region.path == parent.path + region.code, region.code
    for school in School.select():
        assert school.region_path == regions[school.region_id].path, school.code


# ---------------------------------------------------------------- the bundled file

def test_bundled_file_is_the_national_list_without_hk_macao_taiwan():
    rows = bundled_rows()
    levels = Counter(r["level"] for r in rows)
    assert levels == {"province": 31, "city": 333, "county": 2975}
    codes = [r["code"] for r in rows]
    assert len(codes) == len(set(codes)), "duplicate codes"
    assert all(len(c) == 6 and c.isdigit() for c in codes)
    assert not [c for c in codes if c[:2] in ("71", "81", "82")]
    assert not [r for r in rows if any(w in r["name"] for w in ("香港", "澳门", "台湾"))]
    known = set(codes)
    for row in rows:
        if row["level"] == "province":
            assert row["parent_code"] == ""
        else:
            assert row["parent_code"] in known, row
    # no meaningless 市辖区 / 县 / 省直辖县级行政区划 nodes
    assert not [r for r in rows if r["name"] in ("市辖区", "县") or "直辖" in r["name"]]


def test_bundled_file_has_every_province_level_unit():
    provinces = {r["code"] for r in bundled_rows() if r["level"] == "province"}
    assert {"110000", "310000", "330000", "440000", "500000", "540000", "650000"} <= provinces


# ---------------------------------------------------------------- loading it

@pytest.fixture
def national(app):
    report = load_regions()
    assert not report.errors, report.errors
    return report


def test_loading_the_bundled_list_into_an_empty_database(national):
    assert len(national.added) == 31 + 333 + 2975
    levels = Counter(level for (level,) in Region.select(Region.level).tuples())
    assert levels == {"nation": 1, "province": 31, "city": 333, "county": 2975}
    root = Region.get(Region.code == NATION_CODE)
    assert root.name == "全国" and root.parent_id is None
    assert_paths_consistent()
    # every province hangs on the root, every city on a province, every county on a city or
    # (municipalities, 省直辖 counties) directly on a province
    by_id = {r.id: r for r in Region.select()}
    allowed = {"province": {"nation"}, "city": {"province"}, "county": {"province", "city"}}
    for region in by_id.values():
        if region.parent_id:
            assert by_id[region.parent_id].level in allowed[region.level], region.code


def test_loading_twice_changes_nothing(national):
    before = snapshot()
    audit_rows = AuditLog.select().count()
    report = load_regions()
    assert report.errors == [] and report.added == [] and report.renamed == [] \
        and report.moved == []
    assert not report.changed
    assert report.unchanged == 31 + 333 + 2975
    assert snapshot() == before  # same ids, names, parents, paths
    assert Region.select().count() == len(before) == 3340
    assert AuditLog.select().count() == audit_rows
    duplicated = (Region.select(Region.code).group_by(Region.code)
                  .having(fn.COUNT(Region.id) > 1).count())
    assert duplicated == 0


def test_municipality_districts_hang_directly_on_the_municipality(national):
    for code, name in MUNICIPALITIES.items():
        city = Region.get(Region.code == code)
        assert city.name == name and city.level == "province"
        children = list(Region.select().where(Region.parent == city))
        assert children, name
        assert {c.level for c in children} == {"county"}, name
        assert all(c.path == city.path + c.code for c in children)
    dongcheng = Region.get(Region.code == "110101")
    assert dongcheng.name == "东城区" and dongcheng.parent.code == "110000"
    assert dongcheng.path == "110000110101"
    assert not Region.select().where(Region.name.in_(["市辖区", "县"])).exists()


def test_prefecture_cities_without_counties(national):
    for code, name in (("441900", "东莞市"), ("442000", "中山市"), ("460400", "儋州市")):
        city = Region.get(Region.code == code)
        assert (city.name, city.level, city.parent.code) == (name, "city", code[:2] + "0000")
        assert not Region.select().where(Region.parent == city).exists(), name


def test_a_large_city_has_its_counties(national):
    hangzhou = Region.get(Region.code == "330100")
    names = {r.name for r in Region.select().where(Region.parent == hangzhou)}
    assert {"上城区", "西湖区", "滨江区", "萧山区", "桐庐县", "淳安县", "建德市"} <= names


def test_bundled_list_loads_on_top_of_the_fixture_tree(tree):
    """The fixture tree uses real codes; the national list completes it without duplicates."""
    ids = {code: region.id for code, region in tree["regions"].items()}
    report = load_regions()
    assert not report.errors and not report.renamed and not report.moved
    assert Region.select().count() == 3340
    assert {c: Region.get(Region.code == c).id for c in ids} == ids
    assert_paths_consistent()


def test_a_short_list_loaded_into_the_full_tree_touches_only_its_rows(tree, tmp_path):
    """A province's own short list (one rename) on top of the national tree: the 3,300 regions
    it does not mention keep their parents and paths, and the load stays quick (the tree
    repair looks parents up by id instead of scanning the whole tree for each region)."""
    import time

    assert not load_regions().errors
    before = snapshot()
    started = time.perf_counter()
    report = load_regions(write_region_csv(
        newer({"330106": ("西湖新区", "county", "330100")}), tmp_path))
    elapsed = time.perf_counter() - started
    assert not report.errors and report.renamed == [("330106", "西湖区", "西湖新区")]
    assert report.added == [] and report.moved == []
    after = snapshot()
    changed = {code for code in before if before[code] != after[code]}
    assert changed == {"330106"}
    assert after["330106"][1] == "西湖新区" and after["330106"][0] == before["330106"][0]
    assert_paths_consistent()
    assert elapsed < 5, f"a 11-row list took {elapsed:.1f}s to load into the national tree"


# ---------------------------------------------------------------- newer lists

def newer(changes: dict | None = None, extra: list | None = None, drop: set | None = None):
    """The fixture list with some rows changed: {code: (name, level, parent)}."""
    rows = []
    for code, name, level, parent in REGIONS:
        if drop and code in drop:
            continue
        if changes and code in changes:
            name, level, parent = changes[code]
        rows.append((code, name, level, parent))
    return rows + (extra or [])


def test_a_renamed_region_keeps_its_id_and_history(tree, tmp_path):
    xihu = tree["regions"]["330106"]
    before = Region.select().count()
    report = load_regions(write_region_csv(
        newer({"330106": ("西湖新区", "county", "330100")},
              extra=[("330108", "滨江区", "county", "330100")]), tmp_path))
    assert not report.errors
    assert report.renamed == [("330106", "西湖区", "西湖新区")]
    assert report.added == ["330108"]
    renamed = Region.get(Region.code == "330106")
    assert renamed.id == xihu.id and renamed.name == "西湖新区"
    assert renamed.path == xihu.path
    # schools and admins on it stay where they were
    assert School.get(School.code == "3301060001").region_id == xihu.id
    entry = AuditLog.get(AuditLog.action == "region.renamed")
    assert entry.target_id == "330106"
    assert json.loads(entry.before) == {"name": "西湖区"}
    assert json.loads(entry.after) == {"name": "西湖新区"}
    assert entry.scope_path == xihu.path
    binjiang = Region.get(Region.code == "330108")
    assert binjiang.parent.code == "330100" and binjiang.path == "330000330100330108"
    assert Region.select().count() == before + 1

    again = load_regions(write_region_csv(
        newer({"330106": ("西湖新区", "county", "330100")},
              extra=[("330108", "滨江区", "county", "330100")]), tmp_path))
    assert not again.changed
    assert AuditLog.select().where(AuditLog.action == "region.renamed").count() == 1
    assert Region.select().where(Region.code == "330108").count() == 1


def test_a_renamed_region_shows_its_new_name_to_admins(tree, login_as, tmp_path):
    load_regions(write_region_csv(newer({"330106": ("西湖新区", "county", "330100")}), tmp_path))
    page = login_as("hz_admin").get("/regions/330100")
    assert "西湖新区" in page.text and "西湖区第一小学" not in page.text


def test_regions_missing_from_a_newer_list_are_kept(tree, tmp_path):
    report = load_regions(write_region_csv(newer(drop={"330203"}), tmp_path))
    assert not report.errors and not report.changed
    haishu = Region.get(Region.code == "330203")
    assert haishu.parent.code == "330200"
    assert School.get(School.code == "3302030001").region_id == haishu.id


def test_moving_a_county_to_another_city_moves_its_schools(tree, login_as, tmp_path):
    xihu = tree["regions"]["330106"]
    report = load_regions(write_region_csv(
        newer({"330106": ("西湖区", "county", "330200")}), tmp_path))
    assert not report.errors
    assert report.moved == ["330106"]
    moved = Region.get(Region.code == "330106")
    assert moved.id == xihu.id and moved.parent.code == "330200"
    assert moved.path == "330000330200330106"
    for code in ("3301060001", "3301060002"):
        assert School.get(School.code == code).region_path == "330000330200330106"
    assert_paths_consistent()
    # the admins see the new tree: 宁波 now holds 西湖区, 杭州 no longer does
    assert login_as("nb_admin").get("/regions/330106").status_code == 200
    assert login_as("hz_admin").get("/regions/330106").status_code == 404
    # the county's own admin keeps its binding (same region row)
    assert login_as("xh_admin").get("/regions/330106").status_code == 200


def test_moving_a_city_moves_its_whole_subtree(tree, tmp_path):
    report = load_regions(write_region_csv(
        newer({"330200": ("宁波市", "city", "320000")}), tmp_path))
    assert not report.errors and report.moved == ["330200"]
    assert Region.get(Region.code == "330200").path == "320000330200"
    assert Region.get(Region.code == "330203").path == "320000330200330203"
    assert School.get(School.code == "3302030001").region_path == "320000330200330203"
    # untouched branches keep their paths
    assert Region.get(Region.code == "330106").path == "330000330100330106"
    assert_paths_consistent()
    # a second load of the same list changes nothing further
    assert not load_regions(write_region_csv(
        newer({"330200": ("宁波市", "city", "320000")}), tmp_path)).changed


def test_a_promoted_region_that_moves_takes_its_new_children_along(tree, tmp_path):
    """西湖区 becomes a city of 江苏省 and 上城区 (created before it, so a lower id) moves
    under it in the same list: the child's path must be built from the parent's new path."""
    report = load_regions(write_region_csv(newer({
        "330106": ("西湖市", "city", "320000"),
        "330102": ("上城区", "county", "330106")}), tmp_path))
    assert not report.errors, report.errors
    assert sorted(report.moved) == ["330102", "330106"]
    assert Region.get(Region.code == "330106").path == "320000330106"
    assert Region.get(Region.code == "330102").path == "320000330106330102"
    assert School.get(School.code == "3301020001").region_path == "320000330106330102"
    assert_paths_consistent()
    assert not load_regions(write_region_csv(newer({
        "330106": ("西湖市", "city", "320000"),
        "330102": ("上城区", "county", "330106")}), tmp_path)).changed


def test_a_county_promoted_to_a_city_level_change(tree, tmp_path):
    report = load_regions(write_region_csv(
        newer({"110101": ("东城区", "city", "110000")}), tmp_path))
    assert not report.errors
    region = Region.get(Region.code == "110101")
    assert region.level == "city" and region.path == "110000110101"


# ---------------------------------------------------------------- malformed files

def _bad_file(tmp_path, rows):
    return write_region_csv(rows, tmp_path)


@pytest.mark.parametrize("rows,expected", [
    ([("330000", "浙江省", "province", ""), ("33010X", "杭州市", "city", "330000")],
     ["第 3 行", "33010X", "6 位数字"]),
    ([("330000", "浙江省", "province", ""), ("3301", "杭州市", "city", "330000")],
     ["第 3 行", "6 位数字"]),
    ([("330000", "浙江省", "province", ""), ("330100", "杭州市", "city", "339900")],
     ["330100", "339900", "不在列表中"]),
    ([("330000", "浙江省", "province", ""), ("330100", "杭州市", "city", "330000"),
      ("330100", "杭州市", "city", "330000")],
     ["第 4 行", "330100", "重复"]),
    ([("330000", "浙江省", "province", ""), ("330100", "", "city", "330000")],
     ["第 3 行", "名称"]),
    ([("330000", "浙江省", "province", ""), ("330100", "杭州市", "town", "330000")],
     ["第 3 行", "级别"]),
    ([("000000", "全国", "province", "")], ["第 2 行"]),
])
def test_malformed_file_is_refused_with_row_level_errors(app, tmp_path, rows, expected):
    report = load_regions(_bad_file(tmp_path, rows))
    assert report.errors
    text = "\n".join(report.errors)
    for piece in expected:
        assert piece in text, text
    assert not report.changed
    assert Region.select().count() == 0, "a refused file wrote rows"


def test_unknown_parent_error_names_the_row(app, tmp_path):
    report = load_regions(_bad_file(tmp_path, [
        ("330000", "浙江省", "province", ""), ("330100", "杭州市", "city", "339900")]))
    assert any("第 3 行" in e for e in report.errors), report.errors


@pytest.mark.parametrize("rows", [
    # a county under a county listed after it
    [("330000", "浙江省", "province", ""), ("330100", "杭州市", "city", "330000"),
     ("330102", "上城区", "county", "330199"), ("330199", "某县", "county", "330100")],
    # a province under a city
    [("330000", "浙江省", "province", ""), ("330100", "杭州市", "city", "330000"),
     ("320000", "江苏省", "province", "330100")],
    # a city under itself
    [("330000", "浙江省", "province", ""), ("330100", "杭州市", "city", "330100")],
])
def test_parent_must_be_a_higher_level(app, tmp_path, rows):
    report = load_regions(_bad_file(tmp_path, rows))
    assert report.errors and any("级" in e for e in report.errors), report.errors
    assert Region.select().count() == 0


def test_every_error_is_reported_at_once(app, tmp_path):
    report = load_regions(_bad_file(tmp_path, [
        ("330000", "浙江省", "province", ""), ("33010X", "杭州市", "city", "330000"),
        ("330200", "宁波市", "city", "330000"), ("330200", "宁波市", "city", "330000"),
        ("330300", "温州市", "city", "339900")]))
    assert len(report.errors) == 3, report.errors


def test_a_malformed_file_leaves_an_existing_tree_untouched(tree, tmp_path):
    before = snapshot()
    report = load_regions(_bad_file(tmp_path, newer(
        {"330106": ("西湖新区", "county", "330100")},
        extra=[("330108", "滨江区", "county", "330100"), ("330108", "滨江区", "county", "330100")])))
    assert report.errors
    assert snapshot() == before
    assert not AuditLog.select().where(AuditLog.action == "region.renamed").exists()


def test_a_gbk_encoded_file_is_refused_in_chinese(app, tmp_path):
    """Spreadsheets on Chinese Windows save CSV as GBK: say so instead of crashing."""
    path = tmp_path / "regions.csv"
    path.write_bytes("code,name,level,parent_code\n330000,浙江省,province,\n".encode("gbk"))
    report = load_regions(path)
    assert report.errors and "UTF-8" in report.errors[0]
    assert Region.select().count() == 0


def test_a_file_without_the_expected_header_is_refused(app, tmp_path):
    path = tmp_path / "regions.csv"
    path.write_text("代码,名称\n330000,浙江省\n", encoding="utf-8")
    report = load_regions(path)
    assert report.errors
    assert Region.select().count() == 0


def test_an_empty_file_is_refused(app, tmp_path):
    path = tmp_path / "regions.csv"
    path.write_text("code,name,level,parent_code\n", encoding="utf-8")
    report = load_regions(path)
    assert report.errors
    assert Region.select().count() == 0


# ---------------------------------------------------------------- the command

def test_cli_loads_the_bundled_list_and_reports_counts(runner):
    result = runner.invoke(args=["regions", "load"])
    assert result.exit_code == 0, result.output
    assert "added 3339" in result.output
    assert Region.select().count() == 3340
    again = runner.invoke(args=["regions", "load"])
    assert again.exit_code == 0
    assert "added 0, renamed 0, moved 0, unchanged 3339" in again.output


def test_cli_loads_a_given_file(runner, tmp_path):
    result = runner.invoke(args=["regions", "load", str(write_region_csv(REGIONS, tmp_path))])
    assert result.exit_code == 0, result.output
    assert f"added {len(REGIONS)}" in result.output


def test_cli_refuses_a_bad_file_with_a_nonzero_exit(runner, tmp_path):
    path = write_region_csv([("330000", "浙江省", "province", ""),
                             ("33010X", "杭州市", "city", "330000")], tmp_path)
    result = runner.invoke(args=["regions", "load", str(path)])
    assert result.exit_code != 0
    assert "第 3 行" in result.output
    assert "Traceback" not in result.output
    assert Region.select().count() == 0


def test_cli_refuses_a_missing_file(runner, tmp_path):
    result = runner.invoke(args=["regions", "load", str(tmp_path / "nope.csv")])
    assert result.exit_code != 0
    assert Region.select().count() == 0


def test_codes_issued_in_a_moved_region_follow_it(tree, tmp_path):
    """权限码 lists are range queries on a copy of the path: a move must carry them along."""
    from yanxiu.models import Binding
    from yanxiu.models.account import SCHOOL_ADMIN, SUPER
    from yanxiu.services.codes import codes_issued_in_scope, issue_permission_code

    hz_super = Binding.create(account=tree["accounts"]["hz_admin"], role=SUPER,
                              region=tree["regions"]["330100"])
    xh = Binding.get(Binding.account == tree["accounts"]["xh_admin"])
    county = issue_permission_code(hz_super, SUPER, region=tree["regions"]["330106"]).code
    school = issue_permission_code(xh, SCHOOL_ADMIN, school=tree["schools"]["3301060001"]).code
    load_regions(write_region_csv(newer({"330106": ("西湖区", "county", "330200")}), tmp_path))
    ningbo = {c.id for c in codes_issued_in_scope("330000330200")}
    hangzhou = {c.id for c in codes_issued_in_scope("330000330100")}
    assert {county.id, school.id} <= ningbo
    assert not {county.id, school.id} & hangzhou
