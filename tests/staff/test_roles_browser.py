"""Login per role in Chromium (issue 17): each account's secret from `kb staff add` logs in on the
login page; each role sees the pages it may and a clear 403 on the others; the site and the staff
pages run under the Content-Security-Policy without a single violation."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from conftest import Server, fees_page, kb, settle

pytestmark = [pytest.mark.browser, pytest.mark.full_chromium]   # the contract's sign-in (#token)

PAGES = {"/staff/entries/": {"agent", "supervisor", "editor", "admin"},
         "/staff/dashboard": {"supervisor", "admin"},
         "/staff/gaps": {"supervisor", "editor", "admin"},
         "/staff/intake": {"agent", "supervisor", "admin"}}


@pytest.fixture(scope="module")
def role_server(built_project, tmp_path_factory):
    data = tmp_path_factory.mktemp("roles")
    env = {"KB_PROJECT_DIR": str(built_project), "KB_DATA_DIR": str(data),
           "KB_DATABASE_URL": f"sqlite:///{data / 'kb.sqlite3'}"}
    secrets = {}
    for role in ("agent", "supervisor", "editor", "admin"):
        done = kb("staff", "add", f"browser-{role}", "--role", role, env=env)
        assert done.returncode == 0, done.stderr
        secrets[role] = done.stdout.strip().splitlines()[-1].split()[-1]
    srv = Server(built_project, built_project / "var", {"KB_DATABASE_URL": env["KB_DATABASE_URL"]}).wait()
    srv.secrets = secrets
    yield srv
    srv.stop()


@pytest.mark.parametrize("role", ["agent", "supervisor", "editor", "admin"])
def test_login_per_role(role_server, strict_page, role):
    page = strict_page
    url = role_server.url
    violations = []
    page.on("console", lambda m: violations.append(m.text) if "Content Security Policy" in m.text else None)
    page.goto(url + "/staff/dashboard")
    assert page.url.startswith(url + "/staff/login")
    page.fill("#token", role_server.secrets[role][:-3] + "zzz")
    page.click("button[type=submit]")
    assert "令牌不正确" in page.content()
    page.fill("#token", role_server.secrets[role])
    page.click("button[type=submit]")
    page.wait_for_load_state()
    for path, allowed in PAGES.items():
        response = page.goto(url + path)
        if role in allowed:
            assert response.status == 200, (role, path)
            assert f"browser-{role}" in page.content()
        else:
            assert response.status == 403, (role, path)
            assert "权限不足" in page.content()
    assert violations == []


def test_site_pages_run_under_the_csp(role_server, strict_page):
    page = strict_page
    url = role_server.url
    violations, errors = [], []
    page.on("console", lambda m: violations.append(m.text) if "Content Security Policy" in m.text else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    for path in ("/", "/residents/fees/", "/residents/feedback/", "/residents/changes/", "/staff/lookup/"):
        page.goto(url + path)
        settle(page)
    # The fee calculator works without its old inline onsubmit handler.
    fees = fees_page(url)
    page.goto(fees)
    page.fill("#kb-fee-calculator input[name=area]", "89.5")
    expect(page.locator("#kb-fee-calculator output")).to_contain_text("合计")
    page.press("#kb-fee-calculator input[name=area]", "Enter")
    assert page.url.startswith(fees)
    assert violations == [] and errors == []
