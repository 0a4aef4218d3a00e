"""Content loading: snippets/ (site settings, communities, standards, laws, scripts, templates) into one Corpus.

The linter, the site generation and the service all call `load_corpus`, so there is one reading
of the content and one set of rules (checks.py) behind all three.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from kb_service.content import yamldoc
from kb_service.content.checks import check_communities, check_documents, schema_problems, validator
from kb_service.content.model import (
    Community,
    Corpus,
    FeedbackConfig,
    Law,
    Site,
    Standard,
    Tone,
    make_snippet,
)
from kb_service.content.yamldoc import Problem, YamlDoc
from kb_service.errors import ContentError


def community_files(snippets_dir: Path) -> list[Path]:
    return sorted((snippets_dir / "communities").glob("*.yaml"))


def snippet_files(snippets_dir: Path) -> list[Path]:
    return sorted((snippets_dir / "scripts").glob("*.yaml")) + sorted(
        (snippets_dir / "templates").glob("*.yaml"))


def load_documents(snippets_dir: Path, root: Path | None = None) -> dict[str, Any]:
    """Every YAML file of the content, parsed with positions (no validation yet)."""
    root = root or snippets_dir.parent

    def one(name: str) -> YamlDoc:
        path = snippets_dir / name
        if not path.exists():
            disp = yamldoc.display_path(path, root)
            return YamlDoc(path, disp, None, [Problem(disp, 1, 1, f"缺少文件 {name}")])
        return yamldoc.load(path, root)

    return {
        "site": one("site.yaml"),
        "standards": one("standards.yaml"),
        "tone": one("tone.yaml"),
        "feedback": one("feedback.yaml"),
        "laws": one("laws.yaml") if (snippets_dir / "laws.yaml").exists() else None,
        "snippets": [yamldoc.load(p, root) for p in snippet_files(snippets_dir)],
        "communities": [yamldoc.load(p, root) for p in community_files(snippets_dir)],
    }


def load_corpus(snippets_dir: Path, *, today: dt.date | None = None) -> tuple[Corpus | None, list[Problem]]:
    """Load and check everything. Returns (corpus or None when there are errors, all problems)."""
    docs = load_documents(snippets_dir)
    problems = checked(docs, snippets_dir, today or dt.date.today())
    if any(p.severity == "error" for p in problems):
        return None, problems
    plain = {k: (yamldoc.to_plain(v.data) if isinstance(v, YamlDoc) else v) for k, v in docs.items()
             if k not in ("snippets", "communities")}
    plain["laws"] = plain["laws"] or {"laws": []}
    plain["snippets"] = [{"path": doc.display, "data": yamldoc.to_plain(doc.data)} for doc in docs["snippets"]]
    plain["communities"] = [{"path": doc.display, "data": yamldoc.to_plain(doc.data)} for doc in docs["communities"]]
    corpus = corpus_from_plain(snippets_dir.parent, plain)
    corpus.warnings = [p for p in problems if p.severity != "error"]
    return corpus, problems


_LAST_CHECK: dict[tuple, list[Problem]] = {}


def checked(docs: dict[str, Any], snippets_dir: Path, today: dt.date) -> list[Problem]:
    """check_documents, remembered for the last set of texts: the preview checks the content and
    then the site build checks the same files again (Problems are immutable, so sharing is safe)."""
    every = [d for k in sorted(docs) for d in (docs[k] if isinstance(docs[k], list) else [docs[k]])]
    key = (str(snippets_dir.resolve()), today,
           tuple((d.display, hash(d.text), tuple(d.problems)) for d in every if d is not None))
    if key not in _LAST_CHECK:
        _LAST_CHECK.clear()
        _LAST_CHECK[key] = check_documents(docs, snippets_dir, today=today)
    return list(_LAST_CHECK[key])


def corpus_from_plain(root: Path, plain: dict[str, Any]) -> Corpus:
    """Checked content as plain data (see load_corpus) -> Corpus. Also used for the snapshot that
    `kb build` stores beside the index, so the service starts without re-parsing the YAML."""
    standards = {s["id"]: Standard(**s) for s in plain["standards"]["standards"]}
    snippets = {item["data"]["id"]: make_snippet(item["data"], item["path"]) for item in plain["snippets"]}
    laws = {item["id"]: Law(**item) for item in (plain.get("laws") or {"laws": []})["laws"]}
    communities = {c.id: c for c in sorted((Community.from_data(item["data"], item["path"])
                                            for item in plain.get("communities", [])), key=lambda c: c.id)}
    return Corpus(root, Site.from_data(plain["site"]), standards, snippets,
                  Tone(**plain["tone"]), feedback=FeedbackConfig.from_data(plain["feedback"], standards),
                  source=plain, laws=laws, communities=communities)


def load_communities(snippets_dir: Path, cache: dict | None = None) -> tuple[dict[str, Community] | None, list[Problem]]:
    """Only snippets/communities/ (and site.yaml for the default), checked by the same rules: what
    the running service reloads when a community file changes. None when there are errors.
    `cache` (path -> ((mtime, size), parsed file, its schema problems)), kept by the caller, spares
    re-reading and re-validating the files that did not change: with 200 communities an edit
    costs one file plus the cross-file rules."""
    root = snippets_dir.parent
    schema = validator(snippets_dir / "schema", "community")
    docs, problems = [], []
    for path in community_files(snippets_dir):
        stat = path.stat()
        key = (stat.st_mtime_ns, stat.st_size)
        if cache is not None and path in cache and cache[path][0] == key:
            _, doc, found = cache[path]
        else:
            doc = yamldoc.load(path, root)
            found = doc.problems or list(schema_problems(doc, schema))
            if cache is not None:
                cache[path] = (key, doc, found)
        docs.append(doc)
        problems += found
    site = yamldoc.load(snippets_dir / "site.yaml", root)
    problems += site.problems
    if not problems:
        problems = check_communities(docs, site, snippets_dir)
    if any(p.severity == "error" for p in problems):
        return None, problems
    found_all = sorted((Community.from_data(yamldoc.to_plain(d.data), d.display) for d in docs), key=lambda c: c.id)
    return {c.id: c for c in found_all}, problems


def require_corpus(snippets_dir: Path) -> Corpus:
    corpus, problems = load_corpus(snippets_dir)
    if corpus is None:
        errors = [p for p in problems if p.severity == "error"]
        raise ContentError(f"内容检查发现 {len(errors)} 个错误，请先运行 kb lint 查看并修正", errors)
    return corpus
