from tests.conftest import log_in


def test_login_lands_on_workbench_showing_binding(tree, client):
    response = log_in(client, "xh_admin")
    assert response.status_code == 303
    page = client.get("/workbench")
    assert page.status_code == 200
    assert "研修专项管理员" in page.text and "西湖区" in page.text
