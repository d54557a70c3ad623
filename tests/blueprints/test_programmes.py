"""研修项目管理 pages: who creates and changes which programmes, the forms, the recompute."""
from tests.conftest import form_post
from yanxiu.models import AuditLog, Course, Programme, RegionProgress, Region
from yanxiu.services import records

GOOD = {"name": "2025年暑期教师研修", "kind": "summer", "start_date": "2025-07-01",
        "end_date": "2025-08-31", "minutes_per_hour": "45", "required_hours": "10"}


def create(client, **overrides):
    return form_post(client, "/programmes/new", GOOD | overrides)


def test_operator_creates_a_national_programme_and_adds_courses(login_as, tree):
    client = login_as("operator")
    response = create(client, audience=["小学", "初中"])
    assert response.status_code == 303
    programme = Programme.get()
    assert programme.region_id is None and programme.audience == "小学,初中"
    page = client.get(response.headers["Location"])
    assert "还没有课程" in page.text and "全国" in page.text
    added = form_post(client, f"/programmes/{programme.id}/courses",
                      {"name": "师德修养", "minutes": "90", "max_hours": "2"})
    assert added.status_code == 303
    page = client.get(f"/programmes/{programme.id}")
    assert "师德修养" in page.text and "课程（1）" in page.text
    assert AuditLog.select().where(AuditLog.action.in_(["programme.created", "course.created"])).count() == 2


def test_invalid_input_comes_back_with_reasons_and_values(login_as, tree):
    client = login_as("operator")
    response = create(client, name="", end_date="2025-06-01", minutes_per_hour="abc")
    assert response.status_code == 422
    assert "请填写项目名称" in response.text and "结束日期不能早于开始日期" in response.text
    assert "每学时分钟数须为整数" in response.text and 'value="abc"' in response.text
    assert Programme.select().count() == 0


def test_course_errors_keep_the_course_form(login_as, tree):
    client = login_as("operator")
    create(client)
    programme = Programme.get()
    response = form_post(client, f"/programmes/{programme.id}/courses", {"name": "", "minutes": "-1",
                                                                          "max_hours": "x"})
    assert response.status_code == 422
    assert "课程名称须为" in response.text and "课程时长（分钟）须在" in response.text
    assert Course.select().count() == 0


def test_a_province_creates_a_provincial_programme_that_other_provinces_do_not_see(login_as, tree):
    zj = login_as("zj_admin")
    assert create(zj, name="浙江省专题研修", kind="topic").status_code == 303
    programme = Programme.get()
    assert programme.region.code == "330000"
    assert "浙江省专题研修" in login_as("hz_admin").get("/programmes").text
    js = login_as("js_admin")
    assert "浙江省专题研修" not in js.get("/programmes").text
    assert js.get(f"/programmes/{programme.id}").status_code == 404
    assert js.get(f"/programmes/{programme.id}/edit").status_code == 404


def test_cities_counties_and_schools_create_nothing(login_as, tree):
    for username in ("hz_admin", "xh_admin"):
        client = login_as(username)
        assert client.get("/programmes/new").status_code == 404
        assert "新建研修项目" not in client.get("/programmes").text
    assert login_as("school_admin").get("/programmes").status_code == 404
    assert login_as("teacher").get("/programmes").status_code == 404


def test_a_national_programme_is_read_only_for_a_province(login_as, tree):
    create(login_as("operator"))
    programme = Programme.get()
    zj = login_as("zj_admin")
    assert "修改项目规则" not in zj.get(f"/programmes/{programme.id}").text
    assert zj.get(f"/programmes/{programme.id}/edit").status_code == 404
    assert form_post(zj, f"/programmes/{programme.id}/courses",
                     {"name": "x", "minutes": "1", "max_hours": "1"}).status_code == 404


def test_changing_the_rule_recomputes_and_a_stale_edit_is_refused(login_as, tree, teachers):
    client = login_as("operator")
    create(client, required_hours="1")
    programme = Programme.get()
    form_post(client, f"/programmes/{programme.id}/courses", {"name": "课一", "minutes": "90", "max_hours": "2"})
    course = Course.get()
    records.ingest([{"external_id": "a", "teacher": {"account": "teacher"}, "programme": programme.id,
                     "course": course.id, "minutes": 60, "occurred_at": "2025-07-10T10:00:00+08:00"}])
    nation = Region.get(Region.code == "000000")

    def completed():
        return RegionProgress.get((RegionProgress.region == nation) & (RegionProgress.programme == programme)).completed

    assert completed() == 1
    edit = client.get(f"/programmes/{programme.id}/edit")
    assert 'value="2025-07-01"' in edit.text
    saved = form_post(client, f"/programmes/{programme.id}/edit", GOOD | {"required_hours": "2", "version": "1"})
    assert saved.status_code == 303
    assert completed() == 0
    stale = form_post(client, f"/programmes/{programme.id}/edit", GOOD | {"required_hours": "1", "version": "1"})
    assert stale.status_code == 422 and "已被他人修改" in stale.text
    assert completed() == 0


def test_dates_outside_the_calendar_window_are_refused_not_a_crash(login_as, tree, teachers):
    """Found by the fuzz tests: a rule change to 0001-01-01 (or 9999-12-31) overflowed the
    programme's UTC window in the recompute (a 500); such dates are refused with a reason."""
    client = login_as("operator")
    create(client)
    programme = Programme.get()
    form_post(client, f"/programmes/{programme.id}/courses", {"name": "课一", "minutes": "90", "max_hours": "2"})
    records.ingest([{"external_id": "a", "teacher": {"account": "teacher"}, "programme": programme.id,
                     "course": Course.get().id, "minutes": 60, "occurred_at": "2025-07-10T10:00:00+08:00"}])
    for dates in ({"start_date": "0001-01-01"}, {"end_date": "9999-12-31"}):
        response = form_post(client, f"/programmes/{programme.id}/edit", GOOD | dates | {"version": "1"})
        assert response.status_code == 422 and "须在 2000-01-01 至 2099-12-31 之间" in response.text
        assert str(Programme.get().start_date) == "2025-07-01" and str(Programme.get().end_date) == "2025-08-31"
    assert create(client, name="远古项目", start_date="1999-12-31").status_code == 422


def test_a_version_past_64_bits_is_a_stale_edit_not_a_crash(login_as, tree):
    """Found by the fuzz tests: such a version overflowed the database driver (a 500)."""
    client = login_as("operator")
    create(client)
    programme = Programme.get()
    response = form_post(client, f"/programmes/{programme.id}/edit",
                         GOOD | {"name": "改名", "version": "99999999999999999999"})
    assert response.status_code == 422 and "已被他人修改" in response.text
    assert Programme.get().name == GOOD["name"]
