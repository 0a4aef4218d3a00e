"""`kb fmt`: rewrite snippet and community files in canonical key order, keeping comments and
Chinese text.

The canonical order is the order of `properties` in snippet.schema.json (community.schema.json
for snippets/communities/), so the schema stays the one place that says what a file looks like.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

from ruamel.yaml.comments import CommentedMap

from kb_service.content.load import community_files, snippet_files
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


def by_schema(node, schema: dict, defs: dict):
    """Any document in the key order of its JSON Schema, recursively (objects and arrays)."""
    if "$ref" in schema:
        schema = defs[schema["$ref"].rsplit("/", 1)[-1]]
    if isinstance(node, CommentedMap) and "properties" in schema:
        props = schema["properties"]
        node = reorder(node, list(props))
        for key in list(node):
            if key in props:
                node[key] = by_schema(node[key], props[key], defs)
    elif isinstance(node, list) and isinstance(schema.get("items"), dict):
        for i, item in enumerate(node):
            node[i] = by_schema(item, schema["items"], defs)
    return node


def format_text(text: str, orders: dict[str, list[str]] | None = None, *, schema: dict | None = None) -> str:
    """One file in canonical order: a snippet by `orders`, any other document by its `schema`."""
    yaml = round_trip()
    data = yaml.load(text)
    if not isinstance(data, CommentedMap):
        return text
    out = io.StringIO()
    yaml.dump(canonical(data, orders) if schema is None else by_schema(data, schema, schema.get("$defs", {})), out)
    return out.getvalue()


def format_files(snippets_dir: Path, *, check: bool = False, only: set[Path] | None = None) -> list[Path]:
    """Format every snippet and community file (or those in `only`, resolved paths); returns the
    files that changed (or would change with check)."""
    orders = key_orders(snippets_dir / "schema" / "snippet.schema.json")
    community_schema = json.loads((snippets_dir / "schema" / "community.schema.json").read_text(encoding="utf-8"))
    jobs = [(p, {"orders": orders}) for p in snippet_files(snippets_dir)]
    jobs += [(p, {"schema": community_schema}) for p in community_files(snippets_dir)]
    if only is not None:
        jobs = [(p, how) for p, how in jobs if p.resolve() in only]
    changed = []
    for path, how in jobs:
        text = path.read_text(encoding="utf-8")
        new = format_text(text, **how)
        if new != text:
            changed.append(path)
            if not check:
                path.write_text(new, encoding="utf-8")
    return changed
