"""School rules: validation, management set, optimistic edits, archive vs delete, transfer."""
import pytest

from yanxiu.models import AuditLog, Binding, PermissionCode, Region, School
from yanxiu.models.account import SCHOOL_ADMIN
from yanxiu.services import activation, audit, codes, schools
from yanxiu.services.schools import SchoolError, StaleEdit

GOOD = {"code": "3301069001", "name": "西湖区新建实验小学", "kind": "school", "stage": "小学",
        "ownership": "公办", "address": "文三路 1 号", "contact_name": "李明",
        "contact_phone": "13812345678"}


def binding_of(tree, username):
    return Binding.get(Binding.account == tree["accounts"][username])


@pytest.mark.parametrize("field,value,message", [
    ("code", "330106900", "10 位数字"), ("code", "33010690011", "10 位数字"),
    ("code", "33010690a1", "10 位数字"), ("name", "  ", "请填写名称"),
    ("stage", "幼儿园", "学段须为"), ("stage", "", "学校须填写学段"), ("kind", "培训班", "类型须为"),
    ("ownership", "合资", "公办 或 民办"), ("contact_phone", "12345", "联系电话"),
])
def test_field_rules(field, value, message):
    _, errors = schools.clean_school_fields({**GOOD, field: value})
    assert message in errors[field]


def test_institutions_take_no_stage_and_accept_chinese_kind_labels():
    clean, errors = schools.clean_school_fields({**GOOD, "kind": "教研机构", "stage": "小学"})
    assert not errors and clean["kind"] == "jiaoyan" and clean["stage"] is None
    _, errors = schools.clean_school_fields({**GOOD, "contact_phone": "0571-88001234"})
    assert not errors


def test_county_adds_a_school_with_audit(tree):
    school = schools.create_school(binding_of(tree, "xh_admin"), tree["regions"]["330106"], GOOD)
    assert school.region_path == tree["regions"]["330106"].path
    assert AuditLog.get(AuditLog.action == "school.created").target_id == str(school.id)


def test_duplicates_are_refused(tree):
    with pytest.raises(SchoolError) as err:
        schools.create_school(binding_of(tree, "xh_admin"), tree["regions"]["330106"],
                              {**GOOD, "code": "3302030001", "name": "西湖区第一小学"})
    assert "全国唯一" in err.value.errors["code"] and "同名" in err.value.errors["name"]


@pytest.mark.parametrize("username,region", [("xh_admin", "330102"), ("hz_admin", "330106"),
                                             ("school_admin", "330106"), ("operator", "330000")])
def test_adding_outside_the_management_set_is_refused(tree, username, region):
    with pytest.raises(SchoolError):
        schools.create_school(binding_of(tree, username), tree["regions"][region], GOOD)
    assert not School.select().where(School.code == GOOD["code"]).exists()


def test_province_manages_only_its_direct_schools(tree):
    from yanxiu.scope import Scope
    managed = [s.code for s in Scope.of(binding_of(tree, "zj_admin")).managed_schools()]
    assert managed == ["3300000001"]
    assert sorted(s.code for s in Scope.of(binding_of(tree, "xh_admin")).managed_schools()) == \
        ["3301060001", "3301060002"]


def test_second_of_two_concurrent_edits_is_told(tree):
    school = tree["schools"]["3301060001"]
    admin = binding_of(tree, "xh_admin")
    schools.update_school(admin, school, {"address": "新地址 1 号"}, version=1, fields=["address"])
    with pytest.raises(StaleEdit):
        schools.update_school(admin, school, {"address": "另一个地址"}, version=1, fields=["address"])
    assert School.get_by_id(school.id).address == "新地址 1 号"


def test_school_admin_edits_descriptive_fields_only(tree):
    school = tree["schools"]["3301060001"]
    updated = schools.update_school(binding_of(tree, "school_admin"), school,
                                    {"address": "学院路 2 号", "code": "9999999999"}, version=1,
                                    fields=schools.DESCRIPTIVE_FIELDS)
    assert updated.address == "学院路 2 号" and updated.code == "3301060001"


def test_school_with_an_admin_is_archived_and_restorable(tree):
    school = tree["schools"]["3301060001"]
    admin = binding_of(tree, "xh_admin")
    assert schools.remove_school(admin, school, reason="撤并") == "archived"
    assert School.get_by_id(school.id).status == "archived"
    assert Binding.get(Binding.school == school).state == "active"  # nothing lost
    schools.restore_school(admin, School.get_by_id(school.id))
    assert School.get_by_id(school.id).status == "active"


def test_empty_school_is_deleted(tree):
    admin = binding_of(tree, "xh_admin")
    school = schools.create_school(admin, tree["regions"]["330106"], GOOD)
    assert schools.remove_school(admin, school) == "deleted"
    assert not School.select().where(School.id == school.id).exists()
    assert AuditLog.select().where(AuditLog.action == "school.deleted").count() == 1


def test_a_school_with_a_code_is_archived_not_deleted(tree):
    admin = binding_of(tree, "hz_admin")
    region = tree["regions"]["330100"]
    school = schools.create_school(Binding.get(Binding.account == tree["accounts"]["hz_admin"]),
                                   region, {**GOOD, "name": "杭州市直属新校"})
    codes.issue_permission_code(admin, SCHOOL_ADMIN, school=school)
    assert schools.remove_school(admin, school) == "archived"


def test_transfer_moves_the_school_with_its_admin_and_codes(tree):
    province = binding_of(tree, "zj_admin")
    school = tree["schools"]["3301060001"]
    before_hz = activation.region_progress(tree["regions"]["330000"]).rows[0].schools
    moved = schools.transfer_school(province, school, tree["regions"]["330203"], reason="行政区划调整")
    assert (moved.id, moved.code, moved.region.code) == (school.id, "3301060001", "330203")
    assert moved.region_path == tree["regions"]["330203"].path
    rows = {r.label: r for r in activation.region_progress(tree["regions"]["330000"]).rows}
    assert rows["杭州市"].schools == before_hz - 1 and rows["宁波市"].schools == 2
    assert rows["宁波市"].schools_activated == 1  # its admin came along
    history = schools.school_history(moved)
    assert history[0].action == "转移" and "西湖区" in history[0].detail and "海曙区" in history[0].detail
    assert audit.verify_chain() == []


@pytest.mark.parametrize("username,target,who", [
    ("xh_admin", "330102", "杭州市"),   # a county cannot move schools out of itself
    ("hz_admin", "330203", "浙江省"),   # a city cannot move schools to another city
    ("school_admin", "330102", "杭州市"),
])
def test_transfer_beyond_the_jurisdiction_names_who_can(tree, username, target, who):
    school = tree["schools"]["3301060001"]
    with pytest.raises(SchoolError) as err:
        schools.transfer_school(binding_of(tree, username), school, tree["regions"][target], reason="x")
    assert who in err.value.errors["target"]
    assert School.get_by_id(school.id).region.code == "330106"


def test_city_transfers_between_its_counties(tree):
    moved = schools.transfer_school(binding_of(tree, "hz_admin"), tree["schools"]["3301060002"],
                                    tree["regions"]["330102"], reason="学区调整")
    assert moved.region.code == "330102"
    assert PermissionCode.select().count() == 0
    assert Region.get(Region.code == "330106").schools.count() == 1


def test_a_phone_saved_as_shown_masked_keeps_the_stored_number(tree):
    school = tree["schools"]["3301060001"]
    School.update(contact_phone="13812345678").where(School.id == school.id).execute()
    school = School.get_by_id(school.id)
    saved = schools.update_school(binding_of(tree, "xh_admin"), school,
                                  {**GOOD, "code": school.code, "contact_phone": "138****5678"}, school.version)
    assert saved.contact_phone == "13812345678"
    changed = schools.update_school(binding_of(tree, "xh_admin"), saved,
                                    {**GOOD, "code": school.code, "contact_phone": "13900001111"}, saved.version)
    assert changed.contact_phone == "13900001111"
