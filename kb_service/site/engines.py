"""The site builders that render a staged folder (site/generate.py): MkDocs with Material, or
Zensical. Both read the same staged `mkdocs.yml`, run strict (any warning fails the build) and
write into the staged folder's `site/`.

MkDocs runs in this process; Zensical (the optional extra `zensical`) runs as its own command,
so its Rust runtime and its global configuration never live in the service's process. For the
preview, MkDocs can also rebuild only the changed pages of the previous output (`run_dirty`,
site/incremental.py).
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
from kb_service.site import incremental
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
    """Build `staged` with `engine` into `staged.output` (a full build); ContentError lists every
    warning. The output and its state stay in the staged folder for a later dirty build."""
    check(engine)
    incremental.clear_state(staged)   # until this build has succeeded, nothing to build on
    if engine == "mkdocs":
        _run_recorded(staged, incremental.DirtyBuild(dirty=False), {})
    else:
        run_zensical(staged)
        incremental.write_state(staged, engine)
    if not (staged.output / "index.html").exists():
        incremental.clear_state(staged)
        raise ContentError(f"站点构建失败：{engine} 没有生成 index.html")


def run_dirty(staged: Staged) -> list[str] | None:
    """MkDocs only, on the output of a previous build of `staged` (the caller checked
    incremental.full_build_reason): re-render the pages whose staged source changed. Returns them
    (src uris), or None when one of them changed its title or front matter: then the caller
    makes a full build."""
    known = (incremental.read_state(staged) or {}).get("pages") or {}
    plugin = incremental.DirtyBuild(dirty=True, changed=incremental.changed_pages(staged), known=known)
    incremental.clear_state(staged)
    _run_recorded(staged, plugin, known)
    return None if plugin.nav_changed else sorted(plugin.pages)


def _run_recorded(staged: Staged, plugin: incremental.DirtyBuild, known: dict) -> None:
    try:
        run_mkdocs(staged, plugin)
    finally:
        # Strict mode fails a build after its whole output is written: that output is kept as a
        # base, so the edit that fixes the warning re-renders only its own pages.
        if plugin.finished and not plugin.nav_changed:
            incremental.write_state(staged, "mkdocs", {**known, **plugin.pages})


class _Collect(logging.Handler):
    def __init__(self):
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record):
        self.messages.append(record.getMessage())


def run_mkdocs(staged: Staged, plugin: incremental.DirtyBuild | None = None) -> None:
    """mkdocs build --strict, in-process; `plugin` (site/incremental.py) is added to the loaded
    configuration, and when it is a dirty one the build is `mkdocs build --dirty`."""
    os.environ.setdefault("NO_MKDOCS_2_WARNING", "1")  # keep the build output clean
    from mkdocs.commands.build import build as mkdocs_build
    from mkdocs.config import load_config
    from mkdocs.exceptions import Abort, ConfigurationError, PluginError

    dirty = plugin is not None and plugin.dirty
    collect = _Collect()
    mkdocs_log = logging.getLogger("mkdocs")
    mkdocs_log.addHandler(collect)
    mkdocs_log.propagate = False  # our own handler reports; no duplicate stderr lines
    drop = incremental.DropDirtyWarning()
    logging.getLogger("mkdocs.commands.build").addFilter(drop)
    try:
        with _chdir(staged.root), _quiet_jieba():
            config = load_config(config_file=str(staged.config), strict=True)
            if plugin is not None:
                config.plugins["kb-incremental"] = plugin
            mkdocs_build(config, dirty=dirty)
    except (Abort, ConfigurationError, PluginError) as exc:
        detail = collect.messages or [str(exc)]
        raise ContentError("站点构建失败（mkdocs）：\n" + "\n".join(detail)) from None
    finally:
        logging.getLogger("mkdocs.commands.build").removeFilter(drop)
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
