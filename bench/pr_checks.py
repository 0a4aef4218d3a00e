"""Time from push to the first red mark for a content mistake, measured locally with the commands
the pull-request workflow runs (.github/workflows/pull-request.yml), and the pre-commit hook.

    .venv/bin/python bench/pr_checks.py [--fresh-install]

A clone of this repository gets a script with a broken commitment id. Measured:
- the pre-commit hook on that one file (what the editor meets at `git commit`);
- the workflow's steps up to the lint failure with the venv restored from the cache
  (`make install` finds its stamp: a no-op; then `kb lint`);
- with --fresh-install, the same after a cache miss (`make install` builds the venv).
The host's own overhead (runner start, checkout, cache download) is not measurable here."""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


def run(cmd: list[str], cwd: Path, env: dict | None = None) -> tuple[float, int, str]:
    start = time.perf_counter()
    done = subprocess.run(cmd, cwd=cwd, env={**os.environ, **(env or {})}, capture_output=True, text=True)
    return time.perf_counter() - start, done.returncode, done.stdout + done.stderr


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--fresh-install", action="store_true")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        clone = Path(tmp) / "clone"
        subprocess.run(["git", "clone", "-q", str(ROOT), str(clone)], check=True)
        (clone / ".venv").symlink_to(BIN.parent)
        script = clone / "snippets" / "scripts" / "repair.intake.yaml"
        script.write_text(script.read_text(encoding="utf-8").replace("commitments: [", "commitments: [repair.nonexistent, ", 1),
                          encoding="utf-8")
        env = {"KB_PROJECT_DIR": str(clone), "PRE_COMMIT_HOME": str(Path(tmp) / "pc")}
        hook, lint = [], []
        for _ in range(args.rounds):
            seconds, code, out = run([str(BIN / "pre-commit"), "run", "--files", "snippets/scripts/repair.intake.yaml"], clone, env)
            assert code != 0 and "repair.intake.yaml:" in out, out
            hook.append(seconds)
            seconds, code, out = run([str(BIN / "kb"), "lint"], clone, env)
            assert code == 1, out
            lint.append(seconds)
        print(f"pre-commit hook on one changed script (fails with file:line): median {statistics.median(hook):.2f} s, "
              f"max {max(hook):.2f} s over {args.rounds}")
        print(f"workflow to the lint failure, venv from the cache (kb lint, whole corpus): median "
              f"{statistics.median(lint):.2f} s, max {max(lint):.2f} s")
        if args.fresh_install:
            fresh = Path(tmp) / "fresh"
            subprocess.run(["git", "clone", "-q", str(ROOT), str(fresh)], check=True)
            shutil.copy2(script, fresh / "snippets" / "scripts" / "repair.intake.yaml")
            seconds, code, out = run(["make", "install"], fresh)
            assert code == 0, out[-2000:]
            lint_s, code, _ = run([str(fresh / ".venv" / "bin" / "kb"), "lint"], fresh, {"KB_PROJECT_DIR": str(fresh)})
            assert code == 1
            print(f"workflow to the lint failure after a cache miss: make install {seconds:.1f} s + kb lint {lint_s:.2f} s")


if __name__ == "__main__":
    main()
