"""YAML documents that remember where every value came from, for `path:line:col` messages."""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.constructor import DuplicateKeyError
from ruamel.yaml.error import MarkedYAMLError, YAMLError


@dataclass(frozen=True, order=True)
class Problem:
    path: str
    line: int  # 1-based
    col: int  # 1-based
    message: str
    severity: str = "error"

    def __str__(self) -> str:
        prefix = "warning: " if self.severity == "warning" else ""
        return f"{self.path}:{self.line}:{self.col}: {prefix}{self.message}"


def round_trip() -> YAML:
    yaml = YAML()
    yaml.preserve_quotes = True
    yaml.width = 4096  # never fold long Chinese lines
    yaml.indent(mapping=2, sequence=4, offset=2)
    return yaml


@dataclass
class YamlDoc:
    path: Path
    display: str  # path as shown in messages (relative to the project)
    data: Any
    problems: list[Problem] = field(default_factory=list)
    text: str = ""   # the source, to point inside a multi-line value

    def where(self, keys: tuple | list = (), *, on_key: bool = False) -> tuple[int, int]:
        """(line, col), 1-based, of the value at `keys` (or of its key), nearest known ancestor."""
        node, best = self.data, (1, 1)
        for i, key in enumerate(keys):
            last = i == len(keys) - 1
            try:
                if isinstance(node, CommentedMap) and key in node:
                    line, col = node.lc.key(key) if (on_key and last) else node.lc.value(key)
                    best = (line + 1, col + 1)
                    node = node[key]
                elif isinstance(node, CommentedSeq) and isinstance(key, int) and key < len(node):
                    line, col = node.lc.item(key)
                    best = (line + 1, col + 1)
                    node = node[key]
                else:
                    break
            except (KeyError, TypeError, IndexError):
                break
        return best

    def problem(self, keys, message: str, *, severity: str = "error", on_key: bool = False) -> Problem:
        line, col = self.where(keys, on_key=on_key)
        return Problem(self.display, line, col, message, severity)

    def where_in(self, keys: tuple | list, offset: int) -> tuple[int, int]:
        """(line, col), 1-based, of character `offset` of the text value at `keys`: inside a
        `body: |` block that is the line of the character, not the `body:` line."""
        line, col = self.where(keys)
        value = self.data
        try:
            for key in keys:
                value = value[key]
        except (KeyError, IndexError, TypeError):
            return line, col
        source = self.text.split("\n")
        if not isinstance(value, str) or not 0 < line <= len(source):
            return line, col
        head = value[:offset]
        if source[line - 1][col - 1:col] in ("|", ">"):
            # block scalar: the text starts on the next line, at the block's indentation
            rows = head.count("\n")
            body = [i for i in range(line, len(source)) if source[i].strip()]
            if not body:
                return line, col
            indent = len(source[body[0]]) - len(source[body[0]].lstrip())
            return line + 1 + rows, indent + len(head) - (head.rfind("\n") + 1) + 1
        if "\n" in head:
            return line, col      # a folded plain scalar: its own line is the best we know
        quoted = source[line - 1][col - 1:col] in ("'", '"')
        return line, col + len(head) + (1 if quoted else 0)

    def problem_at(self, keys, offset: int, message: str, *, severity: str = "error") -> Problem:
        line, col = self.where_in(keys, offset)
        return Problem(self.display, line, col, message, severity)


def load(path: Path, root: Path | None = None) -> YamlDoc:
    """Parse one file; syntax errors become a Problem (in Chinese, at the line where the mistake
    is) instead of an exception."""
    display = display_path(path, root)
    raw = path.read_bytes()
    key = (display, hashlib.sha1(raw).digest())
    if key in _PARSED:
        # Same place in a project, same bytes: the same document (nothing downstream changes the
        # parsed data), under this file's own path; a copy of the project parses nothing again.
        return replace(_PARSED[key], path=path)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        return YamlDoc(path, display, None, [Problem(display, 1, 1, f"文件不是 UTF-8 编码：{exc.reason}")])
    if len(_PARSED) > 2000:
        _PARSED.clear()
    _PARSED[key] = doc = parse(path, display, text)
    return doc


# Parsed documents by content: the preview (kb serve --reload) re-reads every file after an edit,
# and round-trip parsing is the slow part of loading, so only the edited file is parsed again.
# Keyed by the path shown in messages (relative to the project), so problems stay right.
_PARSED: dict[tuple, "YamlDoc"] = {}


def parse(path: Path, display: str, text: str) -> YamlDoc:
    try:
        data = round_trip().load(text)
    except MarkedYAMLError as exc:
        line, col, message = syntax_problem(text, exc)
        return YamlDoc(path, display, None, [Problem(display, line, col, message)], text)
    except (YAMLError, ValueError, TypeError) as exc:   # e.g. `!!int x`: a tag the value does not fit
        return YamlDoc(path, display, None, [Problem(display, 1, 1, f"{GENERIC}（解析器说：{_first_line(str(exc))}）")], text)
    return YamlDoc(path, display, data, [], text)


# -- syntax errors a person can act on --------------------------------------------------------

TAB_MESSAGE = "请用空格缩进，不要用 Tab"
GENERIC = "YAML 格式有误：请检查这一行和上一行的缩进、冒号和引号"
COLON_MESSAGE = "冒号要用半角 : 并在后面加空格"
# A line that starts a mapping key but whose colon is full-width (`say：`) or has no space after it.
BAD_COLON = re.compile(r"^(\s*(?:-\s+)?)([A-Za-z_][A-Za-z0-9_-]*)\s*(：|:(?=[^\s:]))")
KEY_ONLY = re.compile(r"^\s*(?:-\s+)?[A-Za-z_][A-Za-z0-9_-]*\s*$")


def syntax_problem(text: str, exc: MarkedYAMLError) -> tuple[int, int, str]:
    """(line, col, message), 1-based, for a parser error: what is wrong and how to fix it."""
    problem, context = exc.problem or "", exc.context or ""
    pm, cm = exc.problem_mark, exc.context_mark
    lines = text.split("\n")
    last = pm.line if pm else len(lines) - 1
    # Tabs and wrong colons cause errors one or more lines later: find the line itself.
    for i, line in enumerate(lines[:last + 1]):
        indent = len(line) - len(line.lstrip(" \t"))
        if "\t" in line[:indent] or (i == last and "'\\t'" in problem):
            return i + 1, (line.index("\t") + 1 if "\t" in line else 1), f"缩进里有 Tab 字符：{TAB_MESSAGE}"
    for i in range(last, max(-1, last - 3), -1):
        m = BAD_COLON.match(lines[i]) if i < len(lines) else None
        if m and not _in_block_scalar(lines, i):
            what = "后面是全角冒号“：”" if m.group(3) == "：" else "的冒号后面缺少空格"
            return i + 1, m.start(3) + 1, f"键 {m.group(2)} {what}：{COLON_MESSAGE}"
    if isinstance(exc, DuplicateKeyError):
        key = problem.split('"')[1] if '"' in problem else ""
        return _at(pm, f"键 {key!r} 在同一层出现了两次：请删掉或合并其中一个")
    if problem.startswith("expected <block end>") and "<scalar>" in problem and pm and re.search(
            r"['\"]", lines[pm.line][:pm.column]):
        return _at(pm, "引号后面还有文字：引号要括住整个值（或者去掉引号）")
    if problem.startswith("expected <block end>"):
        return _at(pm, "缩进不对：这一行和上面同一层的键没有对齐，请用空格对齐（每深一层多 2 个空格）")
    if problem == "mapping values are not allowed here" and pm:
        before = lines[pm.line][:pm.column]
        if KEY_ONLY.match(before):
            start = len(before) - len(before.lstrip())
            return pm.line + 1, start + 1, ("缩进不对：这一行比上一行多缩进了，同一层的键要对齐"
                                            "（请用空格，每深一层多 2 个空格）")
        return _at(pm, "值里有“冒号加空格”：请把整个值用引号括起来，或改用中文冒号“：”")
    if problem.startswith("could not find expected ':'"):
        return _at(cm or pm, f"这一行缺少键后面的冒号：写成“键: 值”，{COLON_MESSAGE}")
    if "quoted scalar" in context:
        return _at(cm or pm, "引号没有结束：从这里开始的引号要在这个值的末尾用同样的引号闭合")
    if "flow sequence" in context or "flow mapping" in context:
        bracket = "[ ]" if "sequence" in context else "{ }"
        return _at(cm or pm, f"括号 {bracket} 没有正确结束：请检查逗号（用半角 ,）和右括号")
    if "another document" in problem:
        return _at(pm, "一个文件里只能有一份内容：请删掉这一行的 ---（以及它后面多出来的内容）")
    token = re.search(r"found character '(.)' that cannot start any token", problem)
    if token or problem.startswith("found undefined alias"):
        char = token.group(1) if token else "*"
        return _at(pm, f"值不能以“{char}”开头：请把整个值用引号括起来")
    return _at(pm or cm, f"{GENERIC}（解析器说：{_first_line(problem or context)}）")


def _at(mark, message: str) -> tuple[int, int, str]:
    return (mark.line + 1, mark.column + 1, message) if mark else (1, 1, message)


def _in_block_scalar(lines: list[str], i: int) -> bool:
    """Is line i inside a `|` or `>` block (where `标题：` is just text)?"""
    indent = len(lines[i]) - len(lines[i].lstrip())
    for j in range(i - 1, -1, -1):
        line = lines[j]
        if not line.strip():
            continue
        own = len(line) - len(line.lstrip())
        if own < indent:
            return bool(re.search(r":\s*[|>][-+0-9]*\s*(#.*)?$", line))
    return False


def to_plain(node: Any) -> Any:
    """ruamel's commented containers -> dict/list/str; dates become ISO strings (JSON Schema sees text)."""
    if isinstance(node, dict):
        return {str(k): to_plain(v) for k, v in node.items()}
    if isinstance(node, list):
        return [to_plain(v) for v in node]
    if isinstance(node, (dt.date, dt.datetime)):
        return node.isoformat()
    if isinstance(node, str):
        return str(node)  # drop ruamel's ScalarString subclasses
    return node


def display_path(path: Path, root: Path | None) -> str:
    if root is not None:
        try:
            return path.resolve().relative_to(root.resolve()).as_posix()
        except ValueError:
            pass
    return str(path)


def _first_line(text: str | None) -> str:
    return (text or "").strip().splitlines()[0] if text else "无法解析"
