"""激活进度 figures against an independent count over the fixture tree."""
import random

from yanxiu.models import Binding, Region, School
from yanxiu.models.account import SCHOOL_ADMIN, SUPER
from yanxiu.services import accounts, activation, codes


def oracle(region: Region) -> dict[str, tuple[int, int]]:
    """(schools, schools with an active admin) per direct child, by walking parents in Python."""
    parent_of = {r.id: r.parent_id for r in Region.select()}
    admins = {b.school_id for b in Binding.select().where(
        (Binding.role == SCHOOL_ADMIN) & (Binding.state == "active"))}
    figures = {}
    for school in School.select().where(School.status == "active"):
        node = school.region_id
        while node is not None and parent_of.get(node) != region.id and node != region.id:
            node = parent_of.get(node)
        if node is None:
            continue
        key = "direct" if node == region.id else Region.get_by_id(node).code
        total, active = figures.get(key, (0, 0))
        figures[key] = (total + 1, active + (school.id in admins))
    return figures


def figures(progress) -> dict[str, tuple[int, int]]:
    return {(r.region.code if r.region else "direct"): (r.schools, r.schools_activated)
            for r in progress.rows if r.schools}


def test_province_rows_totals_and_rate(tree):
    progress = activation.region_progress(tree["regions"]["330000"])
    rows = {r.label: r for r in progress.rows}
    assert list(rows) == ["杭州市", "宁波市", "浙江省直属学校和机构"]
    assert (rows["杭州市"].schools, rows["杭州市"].schools_activated) == (3, 2)
    assert rows["杭州市"].super_activated is False
    assert (rows["杭州市"].training_active, rows["宁波市"].training_active) == (1, 1)
    t = progress.totals
    assert (t.sub_regions, t.supers_activated, t.schools, t.schools_activated) == (2, 0, 5, 2)
    assert t.rate == 0.4
    assert figures(progress) == oracle(tree["regions"]["330000"])


def test_super_activation_and_issued_codes_count(tree):
    zj_super = Binding.get(Binding.account == tree["accounts"]["zj_super"])
    issued = codes.issue_permission_code(zj_super, SUPER, region=tree["regions"]["330100"])
    codes.issue_permission_code(zj_super, "training", region=tree["regions"]["330000"])
    codes.redeem_code(accounts.register("hzsuper", "杭州超管", "Test@2025pw"), issued.plain)
    progress = activation.region_progress(tree["regions"]["330000"])
    hangzhou = progress.rows[0]
    assert hangzhou.super_name == "杭州超管" and progress.totals.supers_activated == 1
    national = activation.region_progress(tree["regions"]["000000"])
    assert [r.label for r in national.rows] == ["北京市", "江苏省", "浙江省"]


def test_only_inactive_keeps_totals_of_the_whole_region(tree):
    progress = activation.region_progress(tree["regions"]["330100"], only_inactive=True)
    assert [r.label for r in progress.rows] == ["上城区", "西湖区"]  # no super admins anywhere
    assert progress.totals.schools == 3
    schools = list(activation.school_activations(tree["regions"]["330106"], only_inactive=True))
    assert schools == []
    listed = list(activation.school_activations(tree["regions"]["330106"]))
    assert {s.admin_name for s in listed} == {"西湖校管", "多身份"}
    assert all(s.activated_at is not None for s in listed)


def test_random_activations_match_the_oracle(tree):
    rng = random.Random(7)
    region = tree["regions"]["330106"]
    School.insert_many([{"code": f"33010680{i:02d}", "name": f"西湖区随机学校{i}", "region": region.id,
                         "region_path": region.path, "stage": "小学"} for i in range(40)]).execute()
    admin = accounts.register("bulkadmin", "批量管理员", "Test@2025pw")
    for school in School.select().where(School.code.startswith("33010680")):
        if rng.random() < 0.45:
            Binding.create(account=admin, role=SCHOOL_ADMIN, school=school)
    for code in ("330000", "330100"):
        assert figures(activation.region_progress(tree["regions"][code])) == oracle(tree["regions"][code])


def test_tables_match_what_the_page_shows(tree):
    progress = activation.region_progress(tree["regions"]["330000"])
    rows = activation.progress_table(progress)
    assert rows[0] == ["杭州市", "未激活", "1/0", 3, 2, "66.7%"]
    assert rows[-1] == ["合计", "0/2 已激活", "2/0", 5, 2, "40.0%"]
    School.update(contact_phone="13812345678").execute()
    table = activation.school_table(activation.school_activations(tree["regions"]["330102"]))
    assert table == [["上城区胜利小学", "3301020001", "学校", "—", "138****5678", "未激活"]]
