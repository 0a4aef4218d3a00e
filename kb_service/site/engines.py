"""The site builders that render a staged folder (site/generate.py): MkDocs with Material, or
Zensical. Both read the same staged `mkdocs.yml`, run strict (any warning fails the build) and
write into the staged folder's `site/`.

MkDocs runs in this process; Zensical (the optional extra `zensical`) runs as its own command,
so its Rust runtime and its global configuration never live in the service's process.
"""

from __future__ import annotations

import contextlib
import importlib.util
import logging
import os
import re
import subprocess
import sys
from pathlib import Path

from kb_service.errors import ContentError, UsageError
from kb_service.settings import SITE_ENGINES as ENGINES
from kb_service.site.generate import Staged

INSTALL_HINT = {"zensical": "pip install -e '.[zensical]'（make install 已包含）",
                "mkdocs": "pip install -e .（mkdocs 是必需依赖）"}


def check(engine: str) -> None:
    """UsageError unless `engine` is known and installed."""
    if engine not in ENGINES:
        raise UsageError(f"未知的站点构建器 {engine!r}：可选 {' 或 '.join(ENGINES)}")
    if importlib.util.find_spec(engine) is None:
        raise UsageError(f"站点构建器 {engine} 没有安装：{INSTALL_HINT[engine]}")


def run(engine: str, staged: Staged) -> None:
    """Build `staged` with `engine` into `staged.output`; ContentError lists every warning."""
    check(engine)
    if engine == "mkdocs":
        run_mkdocs(staged)
    else:
        run_zensical(staged)
    if not (staged.output / "index.html").exists():
        raise ContentError(f"站点构建失败：{engine} 没有生成 index.html")


class _Collect(logging.Handler):
    def __init__(self):
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record):
        self.messages.append(record.getMessage())


def run_mkdocs(staged: Staged) -> None:
    """mkdocs build --strict, in-process."""
    os.environ.setdefault("NO_MKDOCS_2_WARNING", "1")  # keep the build output clean
    from mkdocs.commands.build import build as mkdocs_build
    from mkdocs.config import load_config
    from mkdocs.exceptions import Abort, ConfigurationError, PluginError

    collect = _Collect()
    mkdocs_log = logging.getLogger("mkdocs")
    mkdocs_log.addHandler(collect)
    mkdocs_log.propagate = False  # our own handler reports; no duplicate stderr lines
    try:
        with _chdir(staged.root), _quiet_jieba():
            config = load_config(config_file=str(staged.config), strict=True)
            mkdocs_build(config)
    except (Abort, ConfigurationError, PluginError) as exc:
        detail = collect.messages or [str(exc)]
        raise ContentError("站点构建失败（mkdocs）：\n" + "\n".join(detail)) from None
    finally:
        mkdocs_log.removeHandler(collect)
        mkdocs_log.propagate = True


_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


def run_zensical(staged: Staged) -> None:
    """zensical build --strict in a child process; its report (warnings with the offending
    Markdown line) becomes the error message."""
    env = {**os.environ, "NO_COLOR": "1", "CLICOLOR": "0", "TERM": "dumb"}
    proc = subprocess.run([sys.executable, "-m", "zensical", "build", "--strict", "--config-file", str(staged.config)],
                          cwd=staged.root, env=env, capture_output=True, text=True, encoding="utf-8", errors="replace")
    report = _ANSI.sub("", proc.stdout + proc.stderr)
    if proc.returncode != 0:
        problems = zensical_problems(report, staged)
        raise ContentError("站点构建失败（zensical）：\n" + "\n".join(problems or report.splitlines()[-20:]))


_WHERE = re.compile(r"─\[\s*(\S+?):(\d+):(\d+)\s*\]")
_SOURCE = re.compile(r"^\s*(\d+)\s*│\s?(.*)$")


def zensical_problems(report: str, staged: Staged) -> list[str]:
    """Zensical's drawn report ("Warning: page does not exist", a `╭─[ path:line:col ]` frame,
    the source line) as one line per problem. Paths are in the staged docs/, where a data block
    expanded above the line shifts its number: the quoted text finds it in docs/."""
    out: list[str] = []
    message = where = None
    for line in report.splitlines():
        text = line.strip()
        if text.startswith(("Warning:", "Error:")):
            if message:
                out.append(message)
            message, where = text.split(":", 1)[1].strip(), None
        elif message and (m := _WHERE.search(line)):
            where = f"docs/{m.group(1)}（{staged.root.name}/docs/{m.group(1)}:{m.group(2)}:{m.group(3)}）"
        elif message and where and (m := _SOURCE.match(line)):
            out.append(f"{where}: {message}：{m.group(2).strip()}")
            message = where = None
        elif text.startswith(("RuntimeError", "Error")) and not message:
            out.append(text)
    if message:
        out.append(message)
    return [line for line in out if "Aborted because --strict" not in line]


@contextlib.contextmanager
def _chdir(path: Path):
    old = Path.cwd()
    os.chdir(path)
    try:
        yield
    finally:
        os.chdir(old)


@contextlib.contextmanager
def _quiet_jieba():
    try:
        import jieba
        jieba.setLogLevel(logging.WARNING)
    except ImportError:  # pragma: no cover - jieba is a dependency
        pass
    yield
