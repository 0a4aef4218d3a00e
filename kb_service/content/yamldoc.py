"""YAML documents that remember where every value came from, for `path:line:col` messages."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.constructor import DuplicateKeyError
from ruamel.yaml.error import MarkedYAMLError


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


def load(path: Path, root: Path | None = None) -> YamlDoc:
    """Parse one file; syntax errors become a Problem instead of an exception."""
    display = display_path(path, root)
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        return YamlDoc(path, display, None, [Problem(display, 1, 1, f"文件不是 UTF-8 编码：{exc.reason}")])
    try:
        data = round_trip().load(text)
    except DuplicateKeyError as exc:
        mark = exc.problem_mark
        return YamlDoc(path, display, None, [
            Problem(display, mark.line + 1, mark.column + 1, f"重复的键：{_first_line(exc.problem)}")])
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        return YamlDoc(path, display, None, [
            Problem(display, line, col, f"YAML 语法错误：{_first_line(exc.problem or exc.context)}")])
    return YamlDoc(path, display, data)


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
