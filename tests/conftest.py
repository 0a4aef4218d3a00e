"""Shared fixtures: a copy of the real content built once, real apps, real servers, real browsers."""

from __future__ import annotations

import base64
import contextlib
import fcntl
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from api_schema import check_responses
from kb_service.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
CONTENT = ("mkdocs.yml", "docs", "snippets", "overrides")
# The content the tests run against: the repository's own, or (KB_TEST_CONTENT_ROOT) a copy with
# edited values, to show that an editor's change never fails a test (tests/content/test_content_changes.py).
CONTENT_ROOT = Path(os.environ.get("KB_TEST_CONTENT_ROOT") or ROOT).resolve()
# Debian's Chromium, the browser outside checks drive the contract's page hooks in; and Debian's
# build of the same Chromium as the old headless shell (package chromium-headless-shell, the kind
# Playwright itself runs headless tests in), which costs a quarter less CPU a page load here
# (bench/README.md, session 11). Browser tests run in the shell when it is installed, except those
# marked full_chromium: the contract's flows (sign-in, the lookup, the F2 call record) run in both.
CHROMIUM = Path("/usr/bin/chromium")
HEADLESS_SHELL = Path("/usr/bin/chromium-headless-shell")
LAUNCH_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
               "--disable-sync", "--no-first-run", "--disable-quic"]
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")

# The apps the tests run in this process hash staff secrets and residents' access codes with scrypt
# at a lower work factor than production (2**10 and 2**8 instead of 2**14 and 2**12), as Django
# advises for its password hasher in tests: the same code, and every stored hash names its own
# cost, which is what a check uses. At the production cost, in-process hashing was about 18 s of the
# suite's CPU (bench/README.md, session 13). `kb serve` and `kb staff` started by the tests hash at
# the production cost; test_accounts checks that cost in a fresh interpreter.
from kb_service.feedback import status as _status  # noqa: E402
from kb_service.staff import accounts as _accounts  # noqa: E402

_accounts.SCRYPT["n"] = 2 ** 10
_status.SCRYPT["n"] = 2 ** 8


def copy_project(dest: Path) -> Path:
    dest.mkdir(parents=True, exist_ok=True)
    for name in CONTENT:
        src = CONTENT_ROOT / name
        if src.is_dir():
            shutil.copytree(src, dest / name)
        elif src.exists():
            shutil.copy2(src, dest / name)
    return dest


def project_with_snippets_file(dest: Path, name: str, text: str) -> Path:
    """A copy of the content (copy_project) in which snippets/<name> says `text`: a lexicon or
    settings file with the mistakes a lint test looks for."""
    project = copy_project(dest)
    (project / "snippets" / name).write_text(text, encoding="utf-8")
    return project


def lint_problems_of(project: Path, name: str) -> list[str]:
    """`kb lint`'s problems in snippets/<name> of a copied project, as the editor reads them."""
    from kb_service.content.lint import lint

    return [str(p) for p in lint(settings_for(project, project / "var")) if p.path == f"snippets/{name}"]


def set_duration(project: Path, standard_id: str, duration: int) -> None:
    """An editor's change to one commitment's duration in a copied project's standards.yaml,
    made as text so comments and layout stay as the editor left them."""
    path = project / "snippets" / "standards.yaml"
    text = path.read_text(encoding="utf-8")
    start = text.index(f"- id: {standard_id}\n")
    at = text.index("duration: ", start)
    end = text.index("\n", at)
    path.write_text(text[:at] + f"duration: {duration}" + text[end:], encoding="utf-8")


def keep_one_community(project: Path) -> str:
    """Reduce a copied project to its default community (the one-community configuration: no
    selector, no `community` field needed). Returns that community's id."""
    from ruamel.yaml import YAML

    # site.yaml's default_community, else the first by id (Corpus.default_community), read without
    # loading and checking the whole content (seconds, once per build of this configuration)
    site = YAML(typ="safe", pure=True).load((project / "snippets" / "site.yaml").read_text(encoding="utf-8"))
    files = sorted((project / "snippets" / "communities").glob("*.yaml"))
    keep = site.get("default_community") or files[0].stem
    for path in files:
        if path.stem != keep:
            path.unlink()
    return keep


def settings_for(project: Path, data: Path, **env) -> Settings:
    base = {"KB_PROJECT_DIR": str(project), "KB_DATA_DIR": str(data), "KB_FEEDBACK_RATE_LIMIT": "0"}
    return Settings.from_env({**base, **env})


def make_project(project: Path) -> None:
    """`kb build` on a copy of the real content in the one-community configuration, its output kept.

    In the run tests/content/test_content_changes.py starts (KB_TEST_BUILT_FROM: the outer run's
    build of the unedited content), the edited content goes onto a copy of that build and is built
    as `kb serve` builds after an edit: only the pages the edit shows up on are rendered again
    (build.update_site, which test_site_incremental checks against a full build file by file)."""
    base = os.environ.get("KB_TEST_BUILT_FROM")
    if base:
        from kb_service.build import build

        shutil.copytree(base, project, symlinks=True)
        for name in CONTENT:
            shutil.rmtree(project / name, ignore_errors=True)
            (project / name).unlink(missing_ok=True)
        copy_project(project)
        keep_one_community(project)
        report = build(settings_for(project, project / "var"), force=False)
        (project / ".kb-build-output.json").write_text(json.dumps(
            {"returncode": 0, "stdout": report.summary(), "stderr": ""}), encoding="utf-8")
        return
    copy_project(project)
    keep_one_community(project)
    done = kb("build", env={"KB_PROJECT_DIR": str(project), "KB_DATA_DIR": str(project / "var")}, timeout=600)
    (project / ".kb-build-output.json").write_text(json.dumps(
        {"returncode": done.returncode, "stdout": done.stdout, "stderr": done.stderr}), encoding="utf-8")


def make_multi(project: Path) -> None:
    """The real content with every shipped community, built."""
    from kb_service.build import build

    copy_project(project)
    build(settings_for(project, project / "var"))


def make_zensical(project: Path) -> None:
    """The real content built with Zensical instead of MkDocs: a copy of the multi build (its
    inputs are the same), rebuilt with the other engine. Only the site is stale, so `kb build`
    keeps the search index the copy came with, as it would for an editor switching engines."""
    from kb_service.build import build

    multi = project.parent / "built-multi"
    with open(f"{multi}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        build_shared("multi", multi)
        shutil.copytree(multi, project, symlinks=True)
    (project / ".built").unlink()
    report = build(settings_for(project, project / "var", KB_SITE_ENGINE="zensical"), force=False)
    assert report.site_built and not report.index_built and report.engine == "zensical"


MAKERS = {"project": make_project, "multi": make_multi, "zensical": make_zensical}
PRISTINE: dict[str, Path] = {}


def build_shared(name: str, shared: Path) -> None:
    """MAKERS[name] into `shared` unless it is there already; the caller holds shared's lock."""
    if not (shared / ".built").exists():
        shutil.rmtree(shared, ignore_errors=True)
        MAKERS[name](shared)
        (shared / ".built").touch()


def built_once(tmp_path_factory, name: str) -> Path:
    """A project MAKERS[name] builds once per test run, into a folder nothing writes to after
    (under pytest-xdist, which make test runs with two workers, into a folder all workers share,
    under a file lock: the first to get the lock builds, or pytest_sessionstart below started a
    builder for it already). Each caller gets its own copy, so nothing one writes (databases in
    var/) reaches another; copy_built makes more."""
    if "PYTEST_XDIST_WORKER" in os.environ:
        shared = tmp_path_factory.getbasetemp().parent / f"built-{name}"
    else:
        shared = tmp_path_factory.getbasetemp() / f"built-{name}"
    with open(f"{shared}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        build_shared(name, shared)
    PRISTINE[name] = shared
    return copy_built(name, tmp_path_factory.mktemp(name))


def with_index(built_project: Path, data: Path) -> Path:
    """A data folder (a server's, a node's) holding the search index kb build made for
    built_project: the same inputs give the same index, so a server started on it builds none."""
    shutil.copytree(built_project / "var" / "index", data / "index")
    return data


def copy_built(name: str, dest: Path) -> Path:
    """A fresh copy of a project built_once built (site, search index, staged pages; file times
    kept, so `kb build` and `kb serve` find nothing stale), without what tests wrote since."""
    shutil.copytree(PRISTINE[name], dest, symlinks=True, dirs_exist_ok=True)
    return dest


_BUILDERS: list[subprocess.Popen] = []


@pytest.hookimpl(tryfirst=True)
def pytest_sessionstart(session):
    """In the pytest-xdist controller: start the shared builds at once, side by side, each in its
    own process holding its lock (taken here, before any worker can ask), so that no worker waits
    idle for a build another worker is doing and the builds overlap the workers' start."""
    config = session.config
    if hasattr(config, "workerinput") or not getattr(config.option, "numprocesses", None):
        return
    base = config._tmp_path_factory.getbasetemp()
    for name in MAKERS:
        lock = open(base / f"built-{name}.lock", "w")
        fcntl.flock(lock, fcntl.LOCK_EX)
        code = f"import conftest; conftest.build_shared({name!r}, conftest.Path({str(base / f'built-{name}')!r}))"
        # The child inherits the locked file: the lock is released when it exits, never before.
        _BUILDERS.append(subprocess.Popen([sys.executable, "-c", code], cwd=Path(__file__).parent,
                                          pass_fds=(lock.fileno(),), stdout=subprocess.DEVNULL))
        lock.close()


def pytest_sessionfinish(session):
    for builder in _BUILDERS:
        builder.wait()


@pytest.fixture(scope="session")
def cli_build(tmp_path_factory) -> subprocess.CompletedProcess:
    """`kb build` run once per session on a copy of the real docs/ and snippets/ in the
    one-community configuration (a company with one project; several communities:
    tests/test_communities_*.py). Its output is what tests/test_cli.py checks; `.project` is the
    built copy."""
    project = built_once(tmp_path_factory, "project")
    out = json.loads((project / ".kb-build-output.json").read_text(encoding="utf-8"))
    result = subprocess.CompletedProcess(["kb", "build"], out["returncode"], out["stdout"], out["stderr"])
    assert result.returncode == 0, result.stdout + result.stderr
    result.project = project
    return result


@pytest.fixture(scope="session")
def built_project(cli_build) -> Path:
    """The real docs/ and snippets/, copied and built once per test session (by `kb build`)."""
    return cli_build.project


@pytest.fixture(scope="session")
def multi_project(tmp_path_factory) -> Path:
    """The real content with every shipped community (several: selectors, required community),
    built once per session for the tests that need it."""
    return built_once(tmp_path_factory, "multi")


@pytest.fixture(scope="session")
def zensical_project(tmp_path_factory) -> Path:
    """The real content built with Zensical (tests/site/test_site_engines.py)."""
    pytest.importorskip("zensical", reason="pip install -e '.[zensical]'（make install 已包含）")
    return built_once(tmp_path_factory, "zensical")


@pytest.fixture
def settings(built_project, tmp_path) -> Settings:
    return settings_for(built_project, tmp_path / "var")


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory) -> Path:
    """An empty SQLite database with every migration applied, made once per worker: a test's
    database starts as a copy (migrating a new file for each of some 300 tests cost more than many
    of the tests; tests marked fresh_schema, those of the migrations, get a new file instead)."""
    from kb_service import db

    path = tmp_path_factory.mktemp("sqlite-template") / "kb.sqlite3"
    db.connect(f"sqlite:///{path}").dispose()
    return path


def empty_sqlite(template: Path, folder: Path) -> str:
    """The URL of a new, empty, migrated database in `folder` (a copy of sqlite_template)."""
    shutil.copyfile(template, folder / "kb.sqlite3")
    return f"sqlite:///{folder / 'kb.sqlite3'}"


@pytest.fixture
def client(built_project, tmp_path, sqlite_template):
    from starlette.testclient import TestClient

    from kb_service.web.app import create_app

    # The index lives in the built project's data dir; the database in a fresh tmp_path.
    s = settings_for(built_project, built_project / "var", KB_DATABASE_URL=empty_sqlite(sqlite_template, tmp_path))
    with TestClient(create_app(s)) as c:
        check_responses(c)
        yield c


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def kb(*args: str, env: dict | None = None, cwd: Path | None = None, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "kb_service.cli", *args], capture_output=True, text=True,
                          env={**os.environ, **(env or {})}, cwd=cwd, timeout=timeout)


class Server:
    """`kb serve` in its own process; `args` for more options (`--reload`, `--workers 2`)."""

    def __init__(self, project: Path, data: Path, env: dict | None = None, args: tuple[str, ...] = ()):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {**os.environ, "KB_PROJECT_DIR": str(project), "KB_DATA_DIR": str(data),
                    "KB_FEEDBACK_RATE_LIMIT": "0", **(env or {})}
        self.proc = subprocess.Popen([sys.executable, "-m", "kb_service.cli", "serve", *args, "--port", str(self.port)],
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=self.env)

    def wait(self, timeout: float = 180, probe: str = "/api/health") -> "Server":
        """Until `probe` answers 200 (`/api/ready`: also the index and the database)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"kb serve exited: {self.proc.stdout.read()}")
            try:
                if httpx.get(self.url + probe, timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise TimeoutError("kb serve did not become ready")

    def kill(self) -> None:
        """SIGKILL: no shutdown handlers run, as in a crash or an OOM kill."""
        self.proc.kill()
        self.proc.wait()
        self.proc.stdout.close()

    def stop(self) -> str:
        self.proc.terminate()
        try:
            out, _ = self.proc.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            out, _ = self.proc.communicate()
        return out


@pytest.fixture(scope="session")
def server(built_project):
    srv = Server(built_project, built_project / "var").wait()
    yield srv
    srv.stop()


def staff_server(project: Path, data: Path, tokens: str) -> Server:
    """A running `kb serve` on a built project, with KB_STAFF_TOKENS `tokens` (`name:secret`) and
    its own SQLite database in `data` (a module's own staff, entries and picks)."""
    return Server(project, project / "var", {"KB_STAFF_TOKENS": tokens,
                                             "KB_DATABASE_URL": f"sqlite:///{data / 'kb.sqlite3'}"}).wait()


@pytest.fixture(scope="module")
def searcher(built_project):
    """The real index of the built project, opened once per module."""
    from kb_service.content.load import require_corpus
    from kb_service.search.engine import Searcher

    s = Searcher.open(built_project / "var" / "index", require_corpus(built_project / "snippets"))
    yield s
    s.close()


def top(searcher, q: str, n: int = 3) -> list[str]:
    return [r["id"] for r in searcher.search(q, limit=n)["results"]]


def need_chromium() -> None:
    if not CHROMIUM.exists():
        message = "需要 Debian 的 chromium：apt-get install -y chromium chromium-headless-shell fonts-noto-cjk"
        if IN_CI:
            pytest.fail(message + "（CI=true 时不允许跳过）")
        pytest.skip(message)


@pytest.fixture(scope="session")
def _browsers():
    """Chromium executable -> a browser launched from it, at most once per worker, when first asked for."""
    need_chromium()
    from playwright.sync_api import sync_playwright

    launched: dict[Path, object] = {}

    def launch(executable: Path):
        if executable not in launched:
            launched[executable] = p.chromium.launch(executable_path=str(executable), headless=True, args=LAUNCH_ARGS)
        return launched[executable]

    with sync_playwright() as p:
        yield launch
        for b in launched.values():
            b.close()


@pytest.fixture
def browser(_browsers, request):
    """The headless shell, or /usr/bin/chromium for a test marked full_chromium (and where the
    shell is not installed)."""
    full = request.node.get_closest_marker("full_chromium") is not None or not HEADLESS_SHELL.exists()
    return _browsers(CHROMIUM if full else HEADLESS_SHELL)


def fees_page(url: str) -> str:
    """The default community's fees page: the fee table and the calculator live there."""
    listing = httpx.get(url + "/api/communities", timeout=10).json()
    default = next(c for c in listing["communities"] if c["id"] == listing["default"])
    return url + default["url"] + "fees/"


_EMPTY_SEARCH_INDEX: dict[str, str] = {}


def _without_site_search(pg) -> None:
    """Answer the page's requests for the site's search index with its settings but no documents:
    Material's search worker builds its index from this file on every page load (about 0.6 s of
    CPU for the 2.5 MB index), which only the tests marked site_search use. Through the DevTools
    protocol and for this one file: Playwright's page.route would turn off the HTTP cache for
    every request (every page would load and compile the site's scripts again)."""
    cdp = pg.context.new_cdp_session(pg)

    def paused(event) -> None:
        url = event["request"]["url"]
        if url not in _EMPTY_SEARCH_INDEX:
            index = httpx.get(url, timeout=10)
            if index.status_code != 200:  # a test's own route serves it (a proxy): left to that
                cdp.send("Fetch.continueRequest", {"requestId": event["requestId"]})
                return
            _EMPTY_SEARCH_INDEX[url] = base64.b64encode(json.dumps({**index.json(), "docs": []}).encode()).decode()
        cdp.send("Fetch.fulfillRequest", {
            "requestId": event["requestId"], "responseCode": 200, "body": _EMPTY_SEARCH_INDEX[url],
            "responseHeaders": [{"name": "Content-Type", "value": "application/json"}]})

    cdp.on("Fetch.requestPaused", paused)
    cdp.send("Fetch.enable", {"patterns": [{"urlPattern": "*/search/search_index.json"}]})


# One page per kind of context, per worker, reused by test after test: a new page costs Chromium
# a renderer process (about a quarter of a core-second, more than loading most pages), and about
# a hundred tests open one. Between tests the page is put back as new: its routes, the listeners
# a test added, the viewport and media emulation, cookies and every origin's web storage (the
# service and the site keep nothing else in the browser).
_PAGES: dict[tuple, object] = {}


def _origin(url: str) -> str:
    """http://127.0.0.1:8000/a/b -> http://127.0.0.1:8000"""
    return "/".join(url.split("/", 3)[:3])


def _fresh_page(browser, site_search: bool, context_options: dict):
    key = (id(browser), site_search, repr(sorted(context_options.items())))
    pg = _PAGES.pop(key, None)
    if pg is not None and not pg.is_closed() and not pg.in_use:
        _PAGES[key] = pg
        return pg
    if pg is not None:   # never put back (a test's loop body raised, or the page broke): a new one
        with contextlib.suppress(Exception):
            pg.context.close()
    pg = browser.new_context(locale="zh-CN", **context_options).new_page()
    if not site_search:
        _without_site_search(pg)
    pg.outside, pg.origins, pg.pending = [], set(), set()

    def on_request(r) -> None:
        url = r.url
        if url.startswith("http://127.0.0.1"):
            pg.origins.add(_origin(url))
        elif not url.startswith(("data:", "blob:", "about:")):
            pg.outside.append(url)
        pg.pending.add(r)

    pg.on("request", on_request)
    pg.on("requestfinished", lambda r: pg.pending.discard(r))
    pg.on("requestfailed", lambda r: pg.pending.discard(r))
    pg.initial_viewport, pg.in_use = pg.viewport_size, False
    pg.scripts = context_options.get("java_script_enabled", True)
    _PAGES[key] = pg
    return pg


def _listeners(pg) -> dict[str, list]:
    impl = pg._impl_obj    # the event emitter under Playwright's sync wrapper
    return {event: list(impl.listeners(event)) for event in impl.event_names()}


def _reset(pg, listeners: dict[str, list]) -> None:
    """The page as _fresh_page made it: what the test added is gone, what the site stored too."""
    impl = pg._impl_obj
    for event in impl.event_names():
        for listener in impl.listeners(event):
            if listener not in listeners.get(event, []):
                impl.remove_listener(event, listener)
    pg.unroute_all(behavior="ignoreErrors")
    if pg.scripts:   # without JavaScript the site stored nothing; sessionStorage is the tab's own
        here = _origin(pg.url)
        for origin in sorted(pg.origins, key=lambda o: o != here):   # where the test ended: no load
            if origin != here:
                pg.goto(origin + "/api/health")
            pg.evaluate("() => { localStorage.clear(); sessionStorage.clear(); }")
    pg.goto("about:blank")
    if pg.viewport_size != pg.initial_viewport:
        pg.set_viewport_size(pg.initial_viewport)
    pg.emulate_media(media="null")
    pg.context.clear_cookies()
    pg.outside.clear(), pg.origins.clear(), pg.pending.clear()


def local_only_page(browser, *, site_search: bool = False, **context_options):
    """A page as new (see _PAGES); fails the test if anything was requested outside 127.0.0.1.
    Its `pending` holds the requests not answered yet (settle waits for them). Without
    `site_search` (the marker of that name), the site's search has no documents."""
    pg = _fresh_page(browser, site_search, context_options)
    listeners, pg.in_use = _listeners(pg), True
    yield pg
    outside = list(pg.outside)
    try:
        _reset(pg, listeners)
        pg.in_use = False
    except Exception:
        # Not the test's failure (a server the test stopped cannot be loaded to clear its storage):
        # in_use stays set, so the next test gets a new context and nothing of this one.
        with contextlib.suppress(Exception):
            pg.context.close()
    assert not outside, f"页面请求了外部地址：{outside}"


def settle(page) -> None:
    """Until every request the loaded page has made is answered: what wait_for_load_state
    ("networkidle") is for, without its fixed half second of quiet on every page."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    page.wait_for_load_state("load")
    deadline = time.monotonic() + 15     # a request held open (a long poll) ends the wait here
    while page.pending and time.monotonic() < deadline:
        try:
            page.wait_for_event("requestfinished", timeout=1000)
        except PlaywrightTimeout:
            pass    # a request that failed instead: `pending` has dropped it


def wants_site_search(request) -> bool:
    return request.node.get_closest_marker("site_search") is not None


# bypass_csp: Playwright's wait_for_function evaluates a string, which the site's CSP (no eval)
# refuses; tests/staff/test_roles_browser.py checks the pages under the real policy.
@pytest.fixture
def page(browser, request):
    # Functional tests poll with wait_for_function, which Playwright evaluates as a string: the
    # site's CSP (no 'unsafe-eval') would refuse it. The CSP itself is tested on its own pages
    # without this bypass (tests/web/test_hardening.py, tests/web/test_residents_browser.py).
    yield from local_only_page(browser, bypass_csp=True, site_search=wants_site_search(request))


@pytest.fixture
def clipboard_page(browser):
    """Like `page`, but the context may read and write the clipboard."""
    yield from local_only_page(browser, bypass_csp=True, permissions=["clipboard-read", "clipboard-write"])


@pytest.fixture
def strict_page(browser, request):
    """A page under the site's real Content-Security-Policy."""
    yield from local_only_page(browser, site_search=wants_site_search(request))


# -- databases ----------------------------------------------------------------------------------

# -- the staff lookup page and signing in, in Chromium ---------------------------------------------

LOOKUP_OPTIONS = "#kb-lookup-results [role=option]"


def lookup_ready(page, url: str | None = None) -> None:
    """Open the staff lookup page (when `url` is given) and wait until its search box has the focus."""
    if url is not None:
        page.goto(url + "/staff/lookup/")
    page.wait_for_function("document.activeElement && document.activeElement.id === 'kb-lookup-q'", timeout=10000)


def lookup_type(page, query: str) -> None:
    """Type into the lookup and wait until the results shown are the ones for `query`."""
    page.keyboard.type(query)
    page.wait_for_function(f"document.getElementById('kb-lookup-results').dataset.query === {query!r}", timeout=10000)


def open_script(page, url: str, query: str, script_id: str) -> None:
    """On the lookup page: type `query`, wait until `script_id` is the first option, open it."""
    lookup_ready(page, url)
    page.keyboard.type(query)
    page.wait_for_function(f"document.querySelector('{LOOKUP_OPTIONS}') && "
                           f"document.querySelector('{LOOKUP_OPTIONS}').dataset.id === '{script_id}'", timeout=10000)
    page.keyboard.press("Enter")
    page.locator("#kb-lookup-detail .kb-lookup-say").first.wait_for(timeout=10000)


def sign_in(page, url: str, token: str, then: str = "/staff/entries/") -> None:
    """Through the sign-in form, asked for with next=`then`; back on `then` afterwards."""
    page.goto(url + "/staff/login?next=" + then)
    page.fill("#token", token)
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(re.escape(url + then) + r"(\?.*)?$"), timeout=10000)


STAFF_TOKEN = "test-staff-token-0001"
STAFF = {"authorization": f"Bearer {STAFF_TOKEN}"}
POSTGRES_URL = os.environ.get("KB_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


def need_postgres() -> None:
    import sqlalchemy as sa

    try:
        engine = sa.create_engine(POSTGRES_URL)
        with engine.connect():
            pass
        engine.dispose()
    except Exception as exc:  # any failure to connect means: no usable server here
        message = f"需要 PostgreSQL（{POSTGRES_URL}）：{type(exc).__name__}"
        if IN_CI:
            pytest.fail(message + "（CI=true 时不允许跳过）")
        pytest.skip(message)


def _schema_url(schema: str) -> str:
    """The test database URL working in `schema`. Commits do not wait for PostgreSQL's WAL flush
    (synchronous_commit=off, this session only): a killed service process still loses nothing it
    acknowledged, and the run does not sit in fsync waits on this machine's disk."""
    sep = "&" if "?" in POSTGRES_URL else "?"
    return f"{POSTGRES_URL}{sep}options=-csearch_path%3D{schema}%20-csynchronous_commit%3Doff"


def _create_schema(admin, prefix: str = "kbtest") -> str:
    import uuid

    schema = f"{prefix}_{uuid.uuid4().hex[:12]}"
    with admin.begin() as conn:
        conn.exec_driver_sql(f"CREATE SCHEMA {schema}")
    return schema


def _drop_schema(admin, schema: str) -> None:
    with admin.begin() as conn:
        conn.exec_driver_sql(f"DROP SCHEMA IF EXISTS {schema} CASCADE")


def _admin_engine():
    """The tests' own connection for creating, emptying and dropping schemas (no WAL flush wait,
    as in _schema_url)."""
    import sqlalchemy as sa

    return sa.create_engine(POSTGRES_URL, connect_args={"options": "-csynchronous_commit=off"})


@contextlib.contextmanager
def postgres_schema(prefix: str = "kbtest"):
    """A new, empty schema of its own (dropped after) and the database URL that works in it."""
    need_postgres()
    admin = _admin_engine()
    schema = _create_schema(admin, prefix)
    try:
        yield _schema_url(schema)
    finally:
        _drop_schema(admin, schema)
        admin.dispose()


@pytest.fixture(scope="session")
def reused_schema():
    """One migrated PostgreSQL schema per worker; each call empties it (every row out, every id
    counter back to 1, the migrations still applied) and returns its name: creating, migrating
    and dropping a schema for each of about 150 tests cost more than the tests."""
    import sqlalchemy as sa

    from kb_service import db

    admin = _admin_engine()
    made: list[str] = []
    empty: list[str] = []        # the statements that empty it, sent as one batch

    def emptied() -> str:
        if not made:
            made.append(_create_schema(admin))
            db.connect(_schema_url(made[0])).dispose()     # migrated once
        schema = made[0]
        with admin.begin() as conn:
            if not empty:
                seqs = conn.scalars(sa.text("SELECT sequencename FROM pg_sequences WHERE schemaname = :s"),
                                    {"s": schema})
                empty.append("".join([*(f"DELETE FROM {schema}.{t.name};"        # children before their parents
                                        for t in reversed(db.metadata.sorted_tables)),
                                      *(f"ALTER SEQUENCE {schema}.{seq} RESTART;" for seq in seqs)]))
            conn.exec_driver_sql(empty[0])
        return schema

    yield emptied
    if made:
        _drop_schema(admin, made[0])
    admin.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request, tmp_path, reused_schema, sqlite_template):
    """Each test gets an empty database: a SQLite file in tmp_path, or on PostgreSQL the worker's
    schema emptied (a test marked fresh_schema gets a new, unmigrated file or schema of its own)."""
    fresh = request.node.get_closest_marker("fresh_schema") is not None
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'kb.sqlite3'}" if fresh else empty_sqlite(sqlite_template, tmp_path)
        return
    need_postgres()
    if not fresh:
        yield _schema_url(reused_schema())
        return
    with postgres_schema() as url:
        yield url


@pytest.fixture
def multi_app(multi_project, database_url):
    """A TestClient on the project with every shipped community, on each database."""
    from starlette.testclient import TestClient

    from kb_service.web.app import create_app

    s = settings_for(multi_project, multi_project / "var", KB_DATABASE_URL=database_url,
                     KB_STAFF_TOKENS=f"tester:{STAFF_TOKEN}")
    with TestClient(create_app(s)) as c:
        yield c


@pytest.fixture
def app_settings(built_project, database_url) -> Settings:
    return settings_for(built_project, built_project / "var", KB_DATABASE_URL=database_url,
                        KB_STAFF_TOKENS=f"tester:{STAFF_TOKEN}")


@pytest.fixture
def db_client(app_settings):
    """The real app on the parametrized database (SQLite and PostgreSQL), with a staff token."""
    from starlette.testclient import TestClient

    from kb_service.web.app import create_app

    with TestClient(create_app(app_settings)) as c:
        check_responses(c)
        yield freeze_limits(c)


# Midday UTC, 30 s into a minute: far from the minute and day boundaries where the shared limiter's
# sliding estimate starts to discount the previous window (a test crossing one saw a 20th guess pass).
FROZEN_LIMITS_TIME = 20834 * 86400 + 12 * 3600 + 30


def freeze_limits(client):
    """Stop the app's shared limiter clock, so counts that tests assert never slide out of a window."""
    client.app.state.services.limits.clock = lambda: FROZEN_LIMITS_TIME
    return client


# The longest modules first (make test runs with --no-loadscope-reorder, so pytest-xdist hands
# whole files to its two workers in this order, not by number of tests): a long file started last
# would leave the other worker idle at the end. content_changes comes first as it needs none of the
# shared builds, which the controller starts at the same time (pytest_sessionstart above).
# Seconds measured on the two-core machine, in order: 43 70 54 49 49 29 29 26 21 21 19 19 18 17 16 15 14 14.
# test_openapi first since schemathesis runs all phases on both databases (about 2.5 min); the
# session-7 modules after the known long ones (not yet ranked by measurement: bench/README.md).
LONG_MODULES = ("test_openapi", "test_content_changes", "test_residents_browser", "test_site_engines", "test_feedback",
                "test_feedback_page", "test_site_incremental", "test_accounts", "test_preview",
                "test_staff_views", "test_fuzz", "test_roles_browser", "test_browser", "test_fill_page",
                "test_lookup_page", "test_durability", "test_cluster", "test_communities_browser",
                "test_outage", "test_lookup_first", "test_desk_browser", "test_desk_communities", "test_inputs",
                "test_feedback_status", "test_privacy")


def pytest_collection_modifyitems(session, config, items):
    def rank(item) -> int:
        name = item.module.__name__.rsplit(".", 1)[-1] if item.module else ""
        return LONG_MODULES.index(name) if name in LONG_MODULES else len(LONG_MODULES)
    items.sort(key=rank)  # stable: the order inside a module is kept
