"""Staff accounts and roles (issue 17): kb staff add|list|disable|reset|role, one guard for API and
pages by role, login limits and lock-outs, events. SQLite and PostgreSQL."""

from __future__ import annotations

import subprocess
import sys

import pytest
import sqlalchemy as sa
from starlette.testclient import TestClient

from kb_service.db import staff_events
from kb_service.feedback import status
from kb_service.staff import accounts
from kb_service.web.app import create_app
from conftest import STAFF_TOKEN, freeze_limits, kb, settings_for, with_index

ROLES = ("agent", "supervisor", "editor", "admin")


@pytest.fixture
def team(built_project, database_url):
    """An app with one account per role (and one KB_STAFF_TOKENS name); {role: secret}."""
    s = settings_for(built_project, built_project / "var", KB_DATABASE_URL=database_url,
                     KB_STAFF_TOKENS=f"envuser:{STAFF_TOKEN}")
    with TestClient(create_app(s)) as c:
        freeze_limits(c)
        engine = c.app.state.services.store.engine
        secrets = {role: accounts.add(engine, f"u-{role}", role) for role in ROLES}
        c.secrets = secrets
        c.engine = engine
        yield c


def bearer(secret: str) -> dict:
    return {"authorization": f"Bearer {secret}"}


def new_entry(c, secret) -> int:
    r = c.post("/api/improvement-log", json={"type": "complaint", "content": "电梯异响"}, headers=bearer(secret))
    assert r.status_code == 201, r.text
    return r.json()["id"]


def test_cli_add_prints_a_secret_that_works_as_bearer(built_project, tmp_path):
    # a data folder as a deployment has it, with the built index (and its checked content: the
    # community check of `--community` reads that instead of parsing snippets/ again)
    env = {"KB_PROJECT_DIR": str(built_project), "KB_DATA_DIR": str(with_index(built_project, tmp_path / "var"))}
    done = kb("staff", "add", "李娜", "--role", "supervisor", env=env)
    assert done.returncode == 0, done.stderr
    secret = done.stdout.strip().splitlines()[-1].split()[-1]
    assert secret.startswith("kb_")
    listed = kb("staff", "list", env=env)
    assert "李娜\tsupervisor" in listed.stdout and secret not in listed.stdout
    assert secret not in (tmp_path / "var" / "kb.sqlite3").read_bytes().decode("latin-1")
    assert kb("staff", "add", "李娜", "--role", "agent", env=env).returncode == 1
    assert kb("staff", "add", "x", "--role", "boss", env=env).returncode == 2
    unknown = kb("staff", "add", "王芳", "--role", "agent", "--community", "no-such-place", env=env)
    assert unknown.returncode == 2 and "没有 id 为 no-such-place 的小区" in unknown.stderr
    s = settings_for(built_project, built_project / "var", KB_DATABASE_URL=f"sqlite:///{tmp_path / 'var' / 'kb.sqlite3'}")
    with TestClient(create_app(s)) as c:
        assert c.get("/api/improvement-log", headers=bearer(secret)).status_code == 200
        assert c.get("/api/improvement-log", headers=bearer(secret[:-1] + "x")).status_code == 401
        reset = kb("staff", "reset", "李娜", env=env)
        fresh = reset.stdout.strip().splitlines()[-1].split()[-1]
        assert c.get("/api/improvement-log", headers=bearer(secret)).status_code == 401
        assert c.get("/api/improvement-log", headers=bearer(fresh)).status_code == 200
        assert kb("staff", "disable", "李娜", env=env).returncode == 0
        assert c.get("/api/improvement-log", headers=bearer(fresh)).status_code == 401


def test_secrets_and_access_codes_are_stored_as_scrypt_hashes_at_the_production_cost():
    """Hashed in a fresh interpreter: this one hashes at the tests' lower cost (conftest.py). A
    stored hash is checked with the cost it names, so codes given out before a change of cost
    keep working."""
    made = subprocess.run([sys.executable, "-c", "from kb_service.staff import accounts; "
                           "from kb_service.feedback import status; "
                           "print(accounts.hash_secret('kb_abcdefghij_' + 'x' * 43)); print(status.hash_code('ABCD-EFGH-JKLM'))"],
                          capture_output=True, text=True, timeout=60, check=True)
    stored, code = made.stdout.split()
    assert stored.startswith("scrypt$16384$8$1$") and code.startswith("scrypt$4096$")
    assert accounts.verify_secret("kb_abcdefghij_" + "x" * 43, stored)
    assert not accounts.verify_secret("kb_abcdefghij_" + "y" * 43, stored)
    assert status.code_matches("abcd efgh jklm", code) and not status.code_matches("ABCD-EFGH-JKLN", code)
    assert not status.code_matches("ABCD-EFGH-JKLM", "scrypt$3$00$00")   # damaged: no match, no error


# Who may do what: (method, path or patch, roles allowed)
READS = [("/api/improvement-log", ROLES), ("/api/improvement-log/stats", ("supervisor", "admin")),
         ("/api/improvement-log/gaps", ("supervisor", "editor", "admin")),
         ("/api/improvement-log/export.csv", ("supervisor", "admin"))]


def test_api_reads_by_role(team):
    assert team.get("/api/improvement-log").status_code == 401
    for path, allowed in READS:
        for role in ROLES:
            r = team.get(path, headers=bearer(team.secrets[role]))
            assert r.status_code == (200 if role in allowed else 403), (path, role, r.text)
            if r.status_code == 403:
                body = r.json()
                assert "权限不足" in body["error"] and accounts.ROLES[role] in body["error"]


PATCHES = [
    ({"status": "triaged"}, ("agent", "supervisor", "admin")),
    ({"owner": "u-agent"}, ("agent", "supervisor", "admin")),
    ({"contacted": {"how": "phone"}}, ("agent", "supervisor", "admin")),
    ({"claim": True}, ("agent", "supervisor", "admin")),
    # issue 29: an action does not carry the other parts along with the editor's scope
    ({"action": {"what": "补充电梯话术", "kind": "script", "owner": "编辑部"}, "contacted": {"how": "phone"}},
     ("supervisor", "admin")),
    ({"action": {"what": "补充电梯话术", "kind": "script", "owner": "编辑部"}, "claim": True}, ("supervisor", "admin")),
    ({"publish": "已更换电梯导轨"}, ("supervisor", "admin")),
    ({"action": {"what": "补充电梯话术", "kind": "script", "owner": "编辑部"}}, ("editor", "supervisor", "admin")),
    ({"action": {"what": "公开改进", "kind": "page", "owner": "编辑部", "public": True}}, ("supervisor", "admin")),
]


def test_api_changes_by_role(team):
    for patch, allowed in PATCHES:
        for role in ROLES:
            entry = new_entry(team, team.secrets["supervisor"])
            r = team.patch(f"/api/improvement-log/{entry}", json=patch, headers=bearer(team.secrets[role]))
            assert r.status_code == (200 if role in allowed else 403), (patch, role, r.text)
    # Closing needs a supervisor: an agent walks the entry to followed_up and cannot close it.
    entry = new_entry(team, team.secrets["agent"])
    for state in ("triaged", "in_progress", "resolved"):
        assert team.patch(f"/api/improvement-log/{entry}", json={"status": state},
                          headers=bearer(team.secrets["agent"])).status_code == 200
    assert team.patch(f"/api/improvement-log/{entry}", json={"status": "followed_up", "satisfied": True},
                      headers=bearer(team.secrets["agent"])).status_code == 200
    assert team.patch(f"/api/improvement-log/{entry}", json={"status": "closed"},
                      headers=bearer(team.secrets["agent"])).status_code == 403
    assert team.patch(f"/api/improvement-log/{entry}", json={"status": "closed"},
                      headers=bearer(team.secrets["supervisor"])).status_code == 200
    # Editors cannot record; env-token names are supervisors.
    r = team.post("/api/improvement-log", json={"type": "complaint", "content": "x"}, headers=bearer(team.secrets["editor"]))
    assert r.status_code == 403
    assert team.get("/api/improvement-log/stats", headers=bearer(STAFF_TOKEN)).status_code == 200


def test_role_change_and_disable_take_effect_at_once(team):
    h = bearer(team.secrets["agent"])
    assert team.get("/api/improvement-log/stats", headers=h).status_code == 403
    accounts.set_role(team.engine, "u-agent", "supervisor")
    assert team.get("/api/improvement-log/stats", headers=h).status_code == 200
    accounts.disable(team.engine, "u-agent")
    assert team.get("/api/improvement-log", headers=h).status_code == 401


def login(c, secret, *, follow=False):
    return c.post("/staff/login", data={"token": secret, "next": "/staff/entries/"}, follow_redirects=follow)


def test_pages_by_role_and_login_events(team):
    r = team.get("/staff/dashboard", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/staff/login?next=")
    pages = {"/staff/entries/": ROLES, "/staff/dashboard": ("supervisor", "admin"),
             "/staff/gaps": ("supervisor", "editor", "admin"), "/staff/intake": ("agent", "supervisor", "admin")}
    for role in ROLES:
        team.cookies.clear()
        assert login(team, team.secrets[role]).status_code == 303
        for path, allowed in pages.items():
            r = team.get(path, follow_redirects=False)
            assert r.status_code == (200 if role in allowed else 403), (role, path)
            if r.status_code == 403:
                assert "权限不足" in r.text and "text/html" in r.headers["content-type"]
    team.cookies.clear()
    assert login(team, team.secrets["agent"][:-2] + "zz").status_code == 401
    with team.engine.connect() as conn:
        kinds = [(k, a) for k, a in conn.execute(sa.select(staff_events.c.kind, staff_events.c.account))]
    assert ("login", "u-admin") in kinds and ("login_failed", "u-agent") in kinds
    assert ("account_added", "u-editor") in kinds


def test_login_lock_is_per_account_and_address(team, built_project, database_url):
    secret = team.secrets["agent"]
    wrong = secret[:-3] + "abc"
    for _ in range(5):
        assert login(team, wrong).status_code == 401
    r = login(team, secret)
    assert r.status_code == 429 and "锁定" in r.text
    # The same account from another address, and another account from this one, still log in.
    s = team.app.state.settings
    with TestClient(create_app(s), client=("10.0.0.9", 1234)) as other:
        assert login(other, secret).status_code == 303
    team.cookies.clear()
    assert login(team, team.secrets["editor"]).status_code == 303


def test_forwarded_for_is_ignored_unless_from_a_trusted_proxy(built_project, database_url):
    base = dict(KB_DATABASE_URL=database_url, KB_FEEDBACK_RATE_LIMIT="2")
    untrusted = settings_for(built_project, built_project / "var", **base)
    body = {"type": "suggestion", "content": "多装几个路灯"}
    with TestClient(create_app(untrusted)) as c:
        codes = [c.post("/api/feedback", json=body, headers={"x-forwarded-for": f"203.0.113.{i}"}).status_code
                 for i in range(4)]
    assert codes == [201, 201, 429, 429]
    trusted = settings_for(built_project, built_project / "var", KB_TRUSTED_PROXIES="testclient", **base)
    with TestClient(create_app(trusted)) as c:
        codes = [c.post("/api/feedback", json=body, headers={"x-forwarded-for": f"198.51.100.{i}"}).status_code
                 for i in range(4)]
    assert codes == [201] * 4


def test_bearer_guessing_is_throttled(team):
    codes = [team.get("/api/improvement-log", headers=bearer(f"guess-{i:04d}-xxxx")).status_code for i in range(25)]
    assert codes[:20] == [401] * 20 and set(codes[20:]) == {429}
    r = team.get("/api/improvement-log", headers=bearer(team.secrets["agent"]))
    assert r.status_code == 429 and "retry-after" in r.headers


def test_only_a_supervisor_puts_a_link_on_the_public_page(team):
    """Issue 29: an editor completed a supervisor-approved public action with any pr_url, which
    then showed on 你说我改."""
    entry = new_entry(team, team.secrets["supervisor"])
    made = team.patch(f"/api/improvement-log/{entry}", headers=bearer(team.secrets["supervisor"]),
                      json={"action": {"what": "公开改进", "kind": "page", "owner": "编辑部", "public": True}})
    action = made.json()["actions"][-1]["id"]
    link = {"action_done": {"id": action, "pr_url": "https://example.invalid/pr/1"}}
    r = team.patch(f"/api/improvement-log/{entry}", json=link, headers=bearer(team.secrets["editor"]))
    assert r.status_code == 403 and "权限不足" in r.json()["error"]
    assert team.patch(f"/api/improvement-log/{entry}", json=link, headers=bearer(team.secrets["supervisor"])).status_code == 200
    # a link on an internal action is the editor's own work
    inner = team.patch(f"/api/improvement-log/{entry}", headers=bearer(team.secrets["editor"]),
                       json={"action": {"what": "内部改进", "kind": "script", "owner": "编辑部"}}).json()["actions"][-1]["id"]
    assert team.patch(f"/api/improvement-log/{entry}", headers=bearer(team.secrets["editor"]),
                      json={"action_done": {"id": inner, "pr_url": "https://example.invalid/pr/2"}}).status_code == 200


def test_owners_are_accounts_that_may_handle_the_entry(team):
    entry = new_entry(team, team.secrets["agent"])
    h = bearer(team.secrets["agent"])
    for owner in ("张三", "u-editor", "<b>x</b>"):
        r = team.patch(f"/api/improvement-log/{entry}", json={"owner": owner}, headers=h)
        assert r.status_code == 422 and r.json()["errors"][0]["field"] == "owner", (owner, r.text)
    for owner in ("u-supervisor", "envuser"):
        assert team.patch(f"/api/improvement-log/{entry}", json={"owner": owner}, headers=h).status_code == 200


def test_contacted_not_before_the_entry_existed(team):
    entry = new_entry(team, team.secrets["agent"])
    h = bearer(team.secrets["agent"])
    r = team.patch(f"/api/improvement-log/{entry}", json={"contacted": {"how": "phone", "at": "2020-01-01 09:00"}}, headers=h)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "contacted.at"
    assert team.patch(f"/api/improvement-log/{entry}", json={"contacted": {"how": "phone"}}, headers=h).status_code == 200


def test_reset_ends_the_persons_sessions(team):
    assert login(team, team.secrets["agent"]).status_code == 303
    assert team.get("/staff/entries/", follow_redirects=False).status_code == 200
    accounts.reset(team.engine, "u-agent")
    r = team.get("/staff/entries/", follow_redirects=False)
    assert r.status_code == 303 and "/staff/login" in r.headers["location"]
