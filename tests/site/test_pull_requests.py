"""What an editor's pull request meets: the hosted workflows (valid for their host, running commands
that exist), the pre-commit hooks (fail on a changed script with a mistake, with file:line), the
owners file and the internal link check of the built site."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from ruamel.yaml import YAML

from conftest import ROOT, copy_project
from kb_service.cli import make_parser, service_paths
from kb_service.settings import Settings
from kb_service.site.linkcheck import check_site
from kb_service.web.app import routes

WORKFLOW = ROOT / ".github" / "workflows" / "pull-request.yml"
GITLAB = ROOT / ".gitlab-ci.yml"
BIN = Path(sys.executable).parent


def check_jsonschema(schema: str, path: Path) -> subprocess.CompletedProcess:
    return subprocess.run([str(BIN / "check-jsonschema"), "--builtin-schema", schema, str(path)],
                          capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("schema,path", [("vendor.github-workflows", WORKFLOW), ("vendor.gitlab-ci", GITLAB)])
def test_workflows_are_valid_for_their_host(schema, path, tmp_path):
    done = check_jsonschema(schema, path)
    assert done.returncode == 0, done.stdout + done.stderr
    # The validator does reject a mistake (a job without what it must have), so a pass means something.
    broken = tmp_path / path.name
    text = path.read_text(encoding="utf-8")
    broken.write_text(text.replace("runs-on: ubuntu-24.04", "runs_on: ubuntu-24.04", 1)
                      if "github" in schema else text.replace("expire_in: 14 days", "expire_in: [14]", 1),
                      encoding="utf-8")
    assert check_jsonschema(schema, broken).returncode != 0


def kb_commands(path: Path) -> list[list[str]]:
    """Every `kb ...` command line the workflow runs."""
    data = YAML(typ="safe", pure=True).load(path.read_text(encoding="utf-8"))
    lines = []
    for job in data.get("jobs", data).values():   # GitHub nests jobs; GitLab puts them at the top
        if not isinstance(job, dict):
            continue
        for step in job.get("steps", []):
            lines += str(step.get("run", "")).splitlines()
        lines += [str(s) for s in job.get("script", [])]
    return [shlex.split(line)[1:] for line in lines if line.strip().startswith(".venv/bin/kb ")]


@pytest.mark.parametrize("path", [WORKFLOW, GITLAB], ids=["github", "gitlab"])
def test_workflows_run_content_checks_first_with_real_commands(path):
    commands = kb_commands(path)
    assert [c[0] for c in commands][:2] == ["lint", "fmt"], "lint comes first: the quickest red mark"
    engines = {c[c.index("--engine") + 1] for c in commands if "--engine" in c}
    assert engines == {"mkdocs", "zensical"} and ["check-links"] in commands
    parser = make_parser()
    for command in commands:
        parser.parse_args(command)   # a renamed command or option fails here, not on the host
    text = path.read_text(encoding="utf-8")
    assert "make test" in text or ".ci/run" in text
    assert "requirements.lock" in text   # the venv cache is keyed on the lock file


def test_owners_cover_legal_content():
    rules = [line.split() for line in (ROOT / "CODEOWNERS").read_text(encoding="utf-8").splitlines()
             if line.strip() and not line.startswith("#")]

    def owners(path: str) -> list[str]:
        found = []
        for pattern, *who in rules:   # the last matching line wins, as on GitHub and GitLab
            p = pattern.lstrip("/")
            if pattern == "*" or path == p or (p.endswith("/") and path.startswith(p)):
                found = who
        return found

    for path in ("snippets/laws.yaml", "snippets/standards.yaml", "snippets/communities/binjiang.yaml",
                 "docs/residents/fees.md"):
        assert "@wuye-kb/compliance" in owners(path), path
        assert (ROOT / path).exists(), path
    assert owners("kb_service/web/app.py") == ["@wuye-kb/engineering"]
    assert owners("snippets/scripts/repair.intake.yaml") == ["@wuye-kb/editors"]
    template = (ROOT / ".gitlab" / "merge_request_templates" / "Default.md").read_text(encoding="utf-8")
    assert template == (ROOT / ".github" / "pull_request_template.md").read_text(encoding="utf-8")
    assert "[[law:" in template and "callers_say" in template


@pytest.fixture(scope="module")
def repo(tmp_path_factory) -> Path:
    """A copy of the content as an editor's clone: a git repository with the hooks' config and
    the project's venv where the hooks expect it."""
    if shutil.which("git") is None:
        pytest.skip("需要 git")
    repo = copy_project(tmp_path_factory.mktemp("clone") / "repo")
    shutil.copy2(ROOT / ".pre-commit-config.yaml", repo)
    (repo / ".venv").symlink_to(BIN.parent)
    (repo / ".gitignore").write_text(".venv\n", encoding="utf-8")
    git(repo, "init", "-q", "-b", "main")
    git(repo, "add", "-A")
    git(repo, "-c", "user.name=t", "-c", "user.email=t@example.invalid", "commit", "-q", "-m", "start")
    return repo


def git(repo: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["git", *args], cwd=repo, capture_output=True, text=True, check=True, timeout=60)


def pre_commit(repo: Path, *files: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PRE_COMMIT_HOME": str(repo.parent / "pre-commit-home"), "KB_PROJECT_DIR": str(repo)}
    return subprocess.run([str(BIN / "pre-commit"), "run", "--files", *files], cwd=repo, env=env,
                          capture_output=True, text=True, timeout=180)


def test_pre_commit_fails_on_a_changed_script_with_file_and_line(repo):
    path = repo / "snippets" / "scripts" / "repair.intake.yaml"
    original = path.read_text(encoding="utf-8")
    try:
        path.write_text(original.replace("commitments: [", "commitments: [repair.nonexistent, ", 1), encoding="utf-8")
        done = pre_commit(repo, "snippets/scripts/repair.intake.yaml")
        out = done.stdout + done.stderr
        assert done.returncode != 0, out
        line = next(i for i, text in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
                    if text.startswith("commitments:"))
        assert re.search(rf"snippets/scripts/repair\.intake\.yaml:{line}:\d+: .*repair\.nonexistent", out), out
        assert "kb lint" in out and "Failed" in out
    finally:
        path.write_text(original, encoding="utf-8")
    clean = pre_commit(repo, "snippets/scripts/repair.intake.yaml")
    assert clean.returncode == 0, clean.stdout + clean.stderr


def test_pre_commit_fmt_hook_names_the_unordered_file(repo):
    path = repo / "snippets" / "scripts" / "repair.intake.yaml"
    original = path.read_text(encoding="utf-8")
    try:
        lines = original.splitlines(keepends=True)
        owner = next(i for i, text in enumerate(lines) if text.startswith("owner:"))
        moved = [lines[owner]] + lines[:owner] + lines[owner + 1:]   # owner first: out of order
        path.write_text("".join(moved), encoding="utf-8")
        done = pre_commit(repo, "snippets/scripts/repair.intake.yaml")
        assert done.returncode != 0
        assert "snippets/scripts/repair.intake.yaml" in done.stdout and "kb fmt" in done.stdout
    finally:
        path.write_text(original, encoding="utf-8")


def test_lint_of_named_files_reports_them_and_counts_the_rest(repo):
    env = {**os.environ, "KB_PROJECT_DIR": str(repo)}
    standards = repo / "snippets" / "standards.yaml"
    original = standards.read_text(encoding="utf-8")
    try:
        # Renaming a commitment breaks the scripts that use it, not the file that was changed.
        standards.write_text(original.replace("- id: repair.arrival\n", "- id: repair.arrival-renamed\n", 1),
                             encoding="utf-8")
        done = subprocess.run([str(BIN / "kb"), "lint", "snippets/standards.yaml"], cwd=repo, env=env,
                              capture_output=True, text=True, timeout=120)
        assert done.returncode == 1
        assert "repair.intake.yaml" not in done.stdout          # not named: counted, not listed
        assert re.search(r"其他文件还有 \d+ 个错误", done.stderr), done.stderr
    finally:
        standards.write_text(original, encoding="utf-8")


# -- internal links of the built site ----------------------------------------------------------

def test_link_check_finds_what_a_strict_build_cannot(tmp_path):
    site = tmp_path / "site"
    (site / "a").mkdir(parents=True)
    (site / "index.html").write_text('<a href="a/">ok</a><a href="missing/">x</a><a href="tel:12345">t</a>'
                                     '<a href="https://example.invalid/">out</a>', encoding="utf-8")
    (site / "a" / "index.html").write_text('<p>\n<a href="../notices/7/">n</a>\n<img src="../img.png">'
                                           '<a href="../categories/x/">c</a></p>', encoding="utf-8")
    broken = check_site(site, ["/notices/{id}/"])
    assert [(b.page, b.line, b.target) for b in broken] == [
        ("a/index.html", 3, "../categories/x/"), ("a/index.html", 3, "../img.png"), ("index.html", 1, "missing/")]
    assert str(broken[-1]).startswith("site/index.html:1: ")


def test_built_site_has_no_broken_internal_links(built_project, tmp_path):
    settings = Settings.from_env({"KB_PROJECT_DIR": str(built_project), "KB_DATA_DIR": str(tmp_path)})
    broken = check_site(built_project / "site", service_paths(routes(settings)))
    assert broken == [], "\n".join(map(str, broken[:20]))
