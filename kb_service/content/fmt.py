"""`kb fmt`: rewrite snippet files in canonical key order, keeping comments and Chinese text.

The canonical order is the order of `properties` in snippet.schema.json, so the schema stays
the one place that says what a snippet looks like.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

from ruamel.yaml.comments import CommentedMap

from kb_service.content.load import snippet_files
from kb_service.content.yamldoc import round_trip


def key_orders(schema_path: Path) -> dict[str, list[str]]:
    schema = json.loads(schema_path.read_text(encoding="utf-8"))
    defs = schema["$defs"]
    return {"top": list(schema["properties"]), "step": list(defs["step"]["properties"]),
            "avoid": list(defs["avoid"]["properties"]), "field": list(defs["field"]["properties"]),
            "computed": list(defs["field"]["properties"]["computed"]["properties"]),
            "channels": list(defs["channels"]["properties"]), "document": list(defs["document"]["properties"])}


def reorder(node: CommentedMap, order: list[str]) -> CommentedMap:
    """Same map, keys in `order` (unknown keys keep their place at the end), comments kept."""
    keys = [k for k in order if k in node] + [k for k in node if k not in order]
    if list(node) == keys:
        return node
    out = CommentedMap()
    node.copy_attributes(out)
    for k in keys:
        out[k] = node[k]
        if k in node.ca.items:
            out.ca.items[k] = node.ca.items[k]
    return out


def canonical(data: CommentedMap, orders: dict[str, list[str]]) -> CommentedMap:
    data = reorder(data, orders["top"])
    for key, part in (("steps", "step"), ("avoid", "avoid"), ("fields", "field")):
        items = data.get(key)
        if isinstance(items, list):
            for i, item in enumerate(items):
                if isinstance(item, CommentedMap):
                    items[i] = reorder(item, orders[part])
                    if part == "field" and isinstance(items[i].get("computed"), CommentedMap):
                        items[i]["computed"] = reorder(items[i]["computed"], orders["computed"])
    channels = data.get("channels")
    if isinstance(channels, CommentedMap):
        data["channels"] = channels = reorder(channels, orders["channels"])
        for name in ("notice", "letter"):
            if isinstance(channels.get(name), CommentedMap):
                channels[name] = reorder(channels[name], orders["document"])
    return data


def format_text(text: str, orders: dict[str, list[str]]) -> str:
    yaml = round_trip()
    data = yaml.load(text)
    if not isinstance(data, CommentedMap):
        return text
    out = io.StringIO()
    yaml.dump(canonical(data, orders), out)
    return out.getvalue()


def format_files(snippets_dir: Path, *, check: bool = False) -> list[Path]:
    """Format every snippet file; returns the files that changed (or would change with check)."""
    orders = key_orders(snippets_dir / "schema" / "snippet.schema.json")
    changed = []
    for path in snippet_files(snippets_dir):
        text = path.read_text(encoding="utf-8")
        new = format_text(text, orders)
        if new != text:
            changed.append(path)
            if not check:
                path.write_text(new, encoding="utf-8")
    return changed
