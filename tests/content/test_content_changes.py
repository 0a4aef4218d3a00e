"""An editor's change to a value never fails a code test.

The content-dependent test modules run again, in a separate pytest, against a copy of the project
whose standards say something else (the change docs/editors/workflow.md gives as its example:
the complaint response time). conftest.py's KB_TEST_CONTENT_ROOT points every fixture
(copy_project, built_project, the corpus the tests read) at that copy.
"""

from __future__ import annotations

import os
import subprocess
import sys

from kb_service.content.load import load_corpus

from conftest import PRISTINE, ROOT, copy_project, set_duration

# What reads commitments, deadlines, titles or pages from the content: whole modules where most
# tests do, and in the feedback API's module (mostly transitions and validation) the tests that do.
FEEDBACK = "tests/feedback/test_feedback.py::"
MODULES = ("tests/web/test_app.py", "tests/content/test_filling.py", "tests/site/test_site.py",
           "tests/web/test_midcall_api.py", "tests/feedback/test_midcall_records.py",
           FEEDBACK + "test_complaint_gets_reference_and_deadlines_from_standards",
           FEEDBACK + "test_overdue_uses_standards_deadlines",
           FEEDBACK + "test_purge_keeps_contact_details_of_claims_while_open_and_for_the_limitation_period")


def test_suite_passes_after_a_standard_changes(built_project, tmp_path):
    project = copy_project(tmp_path / "edited")
    before, _ = load_corpus(project / "snippets")
    old = before.standards["complaint.response"].duration
    new = old // 2 if old > 1 else old + 1        # 24 -> 12, as in the guide's example
    set_duration(project, "complaint.response", new)
    after, problems = load_corpus(project / "snippets")
    assert after is not None, problems
    assert after.standards["complaint.response"].duration == new

    # A session of its own: none of this worker's pytest-xdist variables (with them, conftest's
    # built_once would share a build across runs in the temporary folder's parent).
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    # The inner run builds the edited copy on this run's build of the unedited content (conftest.make_project).
    env.update(KB_TEST_CONTENT_ROOT=str(project), KB_TEST_BUILT_FROM=str(PRISTINE["project"]), NO_MKDOCS_2_WARNING="1")
    run = subprocess.run([sys.executable, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider",
                          "-m", "not postgres", *MODULES], cwd=ROOT, env=env,
                         capture_output=True, text=True, timeout=600)
    tail = "\n".join((run.stdout + run.stderr).splitlines()[-30:])
    assert run.returncode == 0, tail
    assert " passed" in run.stdout and " failed" not in run.stdout, tail
