"""区域管理 tree: lazy levels, fragment vs page, scoping, search, school pages."""
import re

import pytest

from yanxiu.models import Region, School

HX = {"HX-Request": "true"}


def names(html: str) -> list[str]:
    return re.findall(r'<span class="name">([^<]+)</span>', html)


def test_tree_page_shows_own_subtree_with_counts(login_as):
    page = login_as("zj_admin").get("/regions")
    assert page.status_code == 200
    assert "<html" in page.text and "区域管理" in page.text
    assert names(page.text) == ["杭州市", "宁波市", "直属学校和机构"]
    # 杭州市: two counties and three schools over its subtree
    assert "2 个下级 · 3 所学校(机构)" in page.text
    assert "江苏省" not in page.text and "南京市" not in page.text


def test_node_expands_one_level_as_fragment_for_htmx(login_as):
    client = login_as("zj_admin")
    fragment = client.get("/regions/330100", headers=HX)
    assert fragment.status_code == 200
    assert "<html" not in fragment.text and "<header" not in fragment.text
    assert names(fragment.text) == ["上城区", "西湖区"]
    assert "西湖区第一小学" not in fragment.text  # schools are a further level
    assert fragment.headers["Vary"].count("HX-Request") == 1


def test_same_node_url_without_htmx_is_the_full_page(login_as):
    client = login_as("zj_admin")
    page = client.get("/regions/330100")
    assert page.status_code == 200
    assert "<html" in page.text and "区域管理" in page.text
    assert names(page.text)[:2] == ["上城区", "西湖区"]
    crumbs = re.search(r'<nav class="crumbs".*?</nav>', page.text, re.S).group(0)
    assert "浙江省" in crumbs and "杭州市" in crumbs and "全国" not in crumbs


def test_boosted_request_gets_the_full_page(login_as):
    page = login_as("zj_admin").get("/regions/330100", headers={**HX, "HX-Boosted": "true"})
    assert "<html" in page.text


@pytest.mark.parametrize("username,code", [
    ("xh_admin", "330102"),   # sibling county
    ("xh_admin", "330100"),   # own parent
    ("hz_admin", "330200"),   # sibling city
    ("zj_admin", "320000"),   # another province
    ("zj_admin", "320102"),   # a county of another province
    ("nb_admin", "330106"),
])
@pytest.mark.parametrize("suffix", ["", "/schools"])
@pytest.mark.parametrize("htmx", [False, True])
def test_node_outside_subtree_is_404(login_as, username, code, suffix, htmx):
    response = login_as(username).get(f"/regions/{code}{suffix}", headers=HX if htmx else {})
    assert response.status_code == 404
    main = re.search(r"<main>.*</main>", response.text, re.S).group(0)
    assert Region.get(Region.code == code).name not in main


def test_unknown_code_is_404(login_as):
    assert login_as("operator").get("/regions/999999").status_code == 404


def test_county_admin_sees_its_schools_lazily(login_as):
    client = login_as("xh_admin")
    page = client.get("/regions")
    assert "学校和机构" in page.text and "2 所" in page.text
    assert "西湖区第一小学" not in page.text
    fragment = client.get("/regions/330106/schools", headers=HX)
    assert fragment.status_code == 200 and "<html" not in fragment.text
    assert sorted(names(fragment.text)) == sorted(["西湖区第一小学", "西湖区文新中学"])
    assert "3301060001" in fragment.text


def test_school_pages_paginate_with_and_without_htmx(login_as, tree):
    region = tree["regions"]["330106"]
    School.insert_many([
        {"code": f"33010690{i:02d}", "name": f"西湖区测试学校{i:02d}", "region": region.id,
         "region_path": region.path, "stage": "小学"} for i in range(60)]).execute()
    client = login_as("xh_admin")
    first = client.get("/regions/330106/schools", headers=HX)
    assert len(names(first.text)) == 50
    assert "/regions/330106/schools?page=2" in first.text and "加载更多" in first.text
    second = client.get("/regions/330106/schools?page=2", headers=HX)
    assert len(names(second.text)) == 12 and "加载更多" not in second.text
    full = client.get("/regions/330106/schools?page=2")
    assert "<html" in full.text and "第 2 / 2 页" in full.text and "上一页" in full.text
    assert client.get("/regions/330106/schools?page=99").status_code == 200


def test_archived_schools_are_not_listed_or_counted(login_as, tree):
    School.update(status="archived").where(School.code == "3301060002").execute()
    client = login_as("xh_admin")
    assert "1 所" in client.get("/regions").text
    assert names(client.get("/regions/330106/schools", headers=HX).text) == ["西湖区第一小学"]


def test_search_finds_only_inside_scope(login_as):
    client = login_as("zj_admin")
    page = client.get("/regions?q=区")
    assert page.status_code == 200 and "<html" in page.text
    found = re.findall(r'<li><a href="/regions/(\d+)">', page.text)
    assert sorted(found) == ["330102", "330106", "330203"]
    fragment = client.get("/regions?q=330106", headers=HX)
    assert "<html" not in fragment.text and "/regions/330106" in fragment.text
    assert "没有找到" in client.get("/regions?q=玄武").text  # 玄武区 lies in 江苏


def test_clearing_search_restores_tree_fragment(login_as):
    fragment = login_as("zj_admin").get("/regions?q=", headers=HX)
    assert names(fragment.text) == ["杭州市", "宁波市", "直属学校和机构"]
    assert 'class="node-title"' in fragment.text


def test_operator_sees_every_province(login_as):
    page = login_as("operator").get("/regions")
    assert names(page.text) == ["北京市", "江苏省", "浙江省"]


def test_municipality_districts_hang_on_the_province(login_as):
    fragment = login_as("operator").get("/regions/110000", headers=HX)
    assert names(fragment.text) == ["东城区"]


@pytest.mark.parametrize("username", ["school_admin", "teacher"])
def test_tree_is_not_for_school_admins_or_teachers(login_as, username):
    assert login_as(username).get("/regions").status_code == 404
    assert login_as(username).get("/regions/330106").status_code == 404


def test_anonymous_is_sent_to_login(client, tree):
    response = client.get("/regions/330100")
    assert response.status_code == 302 and "/login" in response.headers["Location"]
