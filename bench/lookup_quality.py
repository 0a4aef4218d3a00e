"""What the 话术速查 page shows first, on the query set written in the style of real calls.

    .venv/bin/python bench/lookup_quality.py [--half dev|dev2|...|dev8|dev8a|dev8b|dev9|dev9a|dev9b|dev10|dev10a|dev10b|dev11|dev11a|dev11b|dev12|dev12a|dev12b|dev13|dev13a|dev13b|dev14|dev14a|dev14b|dev15|dev15a|dev15b|dev16|dev16a|dev16b|dev17|dev17a|dev17b|dev18|dev18a|dev18b|dev19|dev19a|dev19b|dev20|dev20a|dev20b|dev21|dev21a|dev21b|dev22|dev22a|dev22b|dev23|dev23a|dev23b|dev24|dev24a|dev24b|dev25|dev25a|dev25b|unrel|unrela|unrelb|tune|heldout|all] [--picks] [--verbose]

Queries: bench/queries/calls-dev.tsv and calls-dev2.tsv (the development sets: tune on these
only; `tune` runs both), calls-dev3.tsv (a validation set: look at it to judge whether a change generalises, do not tune on it), calls-dev4..dev6.tsv (fresh sets of later rounds: dev6 is rank5's validation set), calls-dev13.tsv (rank18's fresh set: dev13a, its odd queries, is tuned on; dev13b, its even queries, is validation: aggregates only), calls-dev14.tsv (rank20's fresh set of two dangers in one call: dev14a, its odd queries, is tuned on; dev14b, its even queries, is validation: aggregates only), calls-dev15.tsv (rank21's fresh set of ordinary calls told the way the match calls none: fragments, everyday words no script uses, situations described without naming them, with unrelated questions in the same style: dev15a, its odd queries, is tuned on; dev15b, its even queries, is validation: aggregates only), calls-dev18.tsv (rank24's fresh set of keywords and fragments agents type mid-call, with unrelated fragments in the same style: dev18a, its odd queries, is tuned on; dev18b, its even queries, is validation: aggregates only) calls-dev21.tsv (rank27's fresh set of emergencies in words the danger lexicon had not seen, with calm near-misses: dev21a, its odd queries, is tuned on; dev21b, its even queries, is validation: aggregates only), calls-dev22.tsv (rank28's fresh set of calls between scripts that look alike: dev22a, its odd queries, is tuned on; dev22b, its even queries, is validation: aggregates only), calls-dev25.tsv (rank31's fresh set of long angry complaints told as stories, inquiries that say 投诉 in passing, emergencies told as complaints and complaints about other businesses: dev25a, its odd queries, is tuned on; dev25b, its even queries, is validation: aggregates only) and calls-heldout.tsv (never tuned on; report its aggregates only). Builds the search index from the working tree into a temporary directory and
searches in process, then applies the page's rule (docs/assets/javascripts/lookup.js): the
answer's results in their order, the general scripts (snippets/lookup.yaml) after them; only
when the match is `none` do the general scripts come first, under "没有专门的话术。".

Reports, per half: the page's first option right (answerable queries), every emergency first,
unrelated queries told 没有专门的话术 (match none), calm queries (not written as emergencies, no emergency
script acceptable) whose first option is an emergency script (calm_emergency_first: a false alarm) and
of those, the ones shown with the red 紧急 badge (calm_as_emergency), recall@1 and @3 of the search itself, and the
in-process search time (p50/p95). `--picks` replays the development half as agents' picks (each
query picked PICK_TIMES times with its first acceptable id) and scores the held-out half with them.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from kb_service.content.load import require_corpus  # noqa: E402
from kb_service.content.lookup import load as load_lookup  # noqa: E402
from kb_service.search import picks as picks_mod  # noqa: E402
from kb_service.search.engine import Searcher, build_index  # noqa: E402
from measure import pct  # noqa: E402

PICK_TIMES = 3
# calls-dev2.tsv: a second development set, written when the first was nearly saturated (issue 23)
HALVES = {"dev": ["calls-dev.tsv"], "dev2": ["calls-dev2.tsv"], "tune": ["calls-dev.tsv", "calls-dev2.tsv"],
          # calls-dev3.tsv: a validation set (issue 23, rank3): judge whether a change generalises, tune on dev+dev2
          "dev3": ["calls-dev3.tsv"],
          # calls-dev4.tsv: written fresh before rank4's tuning (issue 23): the validation set then; tune on dev..dev3
          "dev4": ["calls-dev4.tsv"],
          # calls-dev5.tsv (tuning) and calls-dev6.tsv (validation: never tuned on), both written fresh before
          # rank5's tuning (issue 23): dev..dev4 had become too familiar to say how new phrasings fare
          "dev5": ["calls-dev5.tsv"], "dev6": ["calls-dev6.tsv"],
          # calls-dev7.tsv: written by the lead in session 9 before rank6's results, a check for what
          # rank6 tuned (its weights were chosen on dev..dev5 and confirmed on dev6); never tuned on
          "dev7": ["calls-dev7.tsv"],
          # calls-dev8.tsv: written fresh by rank7 before its tuning (issue 23). dev8a (odd lines of the file,
          # counting the header as line 1's predecessor: the 1st, 3rd, ... query) is tuned on; dev8b (the
          # even queries) is a second validation set next to dev6: aggregates only
          "dev8": ["calls-dev8.tsv"], "dev8a": ["calls-dev8.tsv:odd"], "dev8b": ["calls-dev8.tsv:even"],
          # calls-dev9.tsv: written fresh by rank8 before its tuning (issue 23), weighted toward emergencies told
          # in plain words (some with two dangers in one sentence), calm near-misses and unrelated questions.
          # dev9a (odd queries) is tuned on; dev9b (even queries) is a validation set: aggregates only
          "dev9": ["calls-dev9.tsv"], "dev9a": ["calls-dev9.tsv:odd"], "dev9b": ["calls-dev9.tsv:even"],
          # calls-dev10.tsv: written fresh by rank9 before its tuning (issue 23): long spoken sentences with
          # fillers, emergencies in plain words (ten with two dangers, the first by danger.yaml's order),
          # calm near-misses, typos, pinyin and unrelated questions. dev10a (odd queries) is tuned on;
          # dev10b (even queries) is a validation set: aggregates only
          "dev10": ["calls-dev10.tsv"], "dev10a": ["calls-dev10.tsv:odd"], "dev10b": ["calls-dev10.tsv:even"],
          # calls-dev11.tsv: written fresh by rank12 before its tuning (issue 23), from the script titles only: long
          # spoken sentences with fillers and self-introductions, 45 emergencies in plain words (lift, gas, smoke, burst
          # pipe, flooding, fights, falling objects, collapse, nobody seen for days), 7 calm near-misses, homophone
          # typos, pinyin and 15 unrelated questions. dev11a (odd queries) is tuned on; dev11b (even) is validation
          "dev11": ["calls-dev11.tsv"], "dev11a": ["calls-dev11.tsv:odd"], "dev11b": ["calls-dev11.tsv:even"],
          # calls-dev12.tsv: written fresh by rank17 before its tuning (issue 23), from the script titles and the danger
          # lexicon's ids only: 98 emergencies in plain spoken words covering every emergency script the lexicon maps to
          # (eleven with two dangers, the first by danger.yaml's order), 30 calm near-misses that must not get the 紧急
          # badge (past incidents, drills, 年检, 燃气费, fire extinguishers, 没着火), 32 ordinary calls and 10 unrelated
          # questions. dev12a (odd queries) is tuned on; dev12b (even) is a validation set: aggregates only
          "dev12": ["calls-dev12.tsv"], "dev12a": ["calls-dev12.tsv:odd"], "dev12b": ["calls-dev12.tsv:even"],
          # calls-dev13.tsv: written fresh by rank18 before its tuning (issue 23), from the scripts' titles and summaries
          # only, every one of the 78 scripts at least once: northern and southern colloquial words, voice-input
          # homophones, 2-5 character fragments typed mid-call, long sentences with a second topic in passing, tenants,
          # elderly callers and shop owners, 15 emergencies in plain words and 15 unrelated questions. dev13a (odd
          # queries) is tuned on; dev13b (even queries) is a validation set: aggregates only
          "dev13": ["calls-dev13.tsv"], "dev13a": ["calls-dev13.tsv:odd"], "dev13b": ["calls-dev13.tsv:even"],
          # calls-dev14.tsv: written fresh by rank20 before its tuning (issue 23), on which emergency comes first when a call
          # names two situations: 61 calls with two at once (a lift stopped in a power cut with someone inside, smoke and
          # someone fainted, a fight and someone bleeding, water through a light fitting, gas and a neighbour not answering),
          # the script for the danger to a person happening now first (a second id only where both are as urgent), 30 single
          # emergencies told with a calm opening (我就是问一下啊), 20 calm calls naming an emergency in passing (a past one,
          # a drill, 万一) and 10 unrelated questions. dev14a (odd queries) is tuned on; dev14b (even) is validation
          "dev14": ["calls-dev14.tsv"], "dev14a": ["calls-dev14.tsv:odd"], "dev14b": ["calls-dev14.tsv:even"],
          # calls-dev15.tsv: written fresh by rank21 before its tuning (issue 23), from the scripts' titles and summaries only,
          # on answerable calls the match tends to call `none`: 105 ordinary calls (fragments typed mid-call, everyday words no
          # script uses such as 散热的铁片 or 吞云吐雾, situations described without naming them), 45 unrelated questions in the
          # same spoken style (ID cards, schools, hospitals, taxes, shops, weather, phone bills, buses) that must stay none and
          # 11 emergencies. dev15a (odd queries) is tuned on; dev15b (even) is a validation set: aggregates only
          "dev15": ["calls-dev15.tsv"], "dev15a": ["calls-dev15.tsv:odd"], "dev15b": ["calls-dev15.tsv:even"],
          # calls-dev16.tsv: written fresh by rank22 before its tuning (issue 23), from the scripts' titles and summaries only:
          # 111 emergencies told the way people say them on the phone, 10 or 11 for each of the 11 danger scripts (long
          # rambling calls, fragments typed mid-call, dialect, typos and homophones, pinyin, a second calm topic in the same
          # call, the danger described without its keyword), 52 calm near-misses using danger words (a past fire, 燃气费,
          # a drill notice, 年审, a lift that often breaks, 7 for emergency.after-action) and 15 unrelated questions.
          # dev16a (odd queries) is tuned on; dev16b (even) is a validation set: aggregates only
          "dev16": ["calls-dev16.tsv"], "dev16a": ["calls-dev16.tsv:odd"], "dev16b": ["calls-dev16.tsv:even"],
          # calls-dev17.tsv: written fresh by rank23 before its tuning (issue 23), from the scripts' titles and summaries only,
          # on calls whose purpose and topic pull apart: 151 calls where a process (a complaint about a staff member,
          # compensation, a 12345/media/court threat, repair progress, how to report a repair, a line on the bill, an angry
          # caller wanting the manager, refusing to pay, a repeat complaint) names a topic in passing, or a topic call names
          # a process word in passing (投诉, 赔, 维修), 25 of them ordinary single-topic calls; 15 emergencies in plain words
          # (some with 投诉/赔/经理 in passing) and 15 unrelated questions (some with 投诉/赔偿/进度). dev17a (odd queries)
          # is tuned on; dev17b (even) is a validation set: aggregates only
          "dev17": ["calls-dev17.tsv"], "dev17a": ["calls-dev17.tsv:odd"], "dev17b": ["calls-dev17.tsv:even"],
          # calls-dev19.tsv: written fresh by rank25 before its tuning (issue 23), from the scripts' titles and summaries only:
          # 84 unrelated questions a caller might put to the hotline that share everyday words with property topics (a bus
          # route, a hospital's hours, tax, schooling, a phone bill, weather, restaurants, a courier firm's own number, an
          # agency letting a flat, vegetable prices, the 居委会's own business), long and spoken or terse fragments; 75
          # answerable calls that look like them; 15 emergencies in plain words. dev19a (odd queries) is tuned on; dev19b
          # (even) is a validation set: aggregates only
          "dev19": ["calls-dev19.tsv"], "dev19a": ["calls-dev19.tsv:odd"], "dev19b": ["calls-dev19.tsv:even"],
          # calls-dev20.tsv: written fresh by rank26 before its tuning (issue 23), from the scripts' ids, titles and summaries
          # only: 2-3 calls for each of the 78 scripts as a resident would put them, without the script's keywords (long spoken
          # sentences with fillers, emotions and self-introductions, fragments agents type, homophone typos, full pinyin,
          # tenants), 20 emergencies in plain words and 16 unrelated questions. dev20a (odd queries) is tuned on; dev20b
          # (even) is a validation set: aggregates only
          "dev20": ["calls-dev20.tsv"], "dev20a": ["calls-dev20.tsv:odd"], "dev20b": ["calls-dev20.tsv:even"],
          # calls-dev23.tsv: written fresh by rank29 before its tuning (issue 23), from the scripts' ids, titles and summaries
          # only: plain everyday sentences of 6-20 characters as a resident says them on the phone, little filler, each naming
          # the situation in the resident's own words (2 for each of the 78 scripts), 15 emergencies in plain words, 15 calm
          # near-misses that mention an emergency topic (a notice, a past event, a rule) and 15 unrelated questions. dev23a
          # (odd queries) is tuned on; dev23b (even) is a validation set: aggregates only
          "dev23": ["calls-dev23.tsv"], "dev23a": ["calls-dev23.tsv:odd"], "dev23b": ["calls-dev23.tsv:even"],
          # calls-dev24.tsv: written fresh by rank30 before its tuning (issue 23), from the scripts' ids, titles and summaries
          # only, on the styles the validation halves miss most: 70 calm calls that mention an emergency topic (a planned cut,
          # a past event, a drill, a rule, an inspection, a fee, a notice), 35 calls in dialect (northern, Sichuan, Cantonese,
          # Shanghainese), 35 fragments agents type, 10 emergencies in dialect and 10 unrelated questions. dev24a (odd
          # queries) is tuned on; dev24b (even) is a validation set: aggregates only
          "dev24": ["calls-dev24.tsv"], "dev24a": ["calls-dev24.tsv:odd"], "dev24b": ["calls-dev24.tsv:even"],
          # calls-dev25.tsv: written fresh by rank31 before its tuning (issue 23), from the complaint scripts' ids, titles,
          # summaries and applies_when only: 143 long angry spoken complaints, 4-5 for each of the 29 complaint.* scripts (a
          # story with a second topic named in passing, emotions, fillers, a few typos such as 保沽/垃级/电悌/物叶费), 10
          # inquiries that say 投诉 in passing (我不是要投诉啊 就是想问...), 8 emergencies told as complaints (我要投诉你们电梯
          # 我现在就被关在里面) and 8 complaints about a shop, a bank, a hospital... that property management does not handle.
          # dev25a (odd queries) is tuned on; dev25b (even) is a validation set: aggregates only
          "dev25": ["calls-dev25.tsv"], "dev25a": ["calls-dev25.tsv:odd"], "dev25b": ["calls-dev25.tsv:even"],
          # calls-dev21.tsv: written fresh by rank27 before its tuning (issue 23), from the emergency scripts' ids, titles and
          # summaries only, before reading danger.yaml's word lists: 114 emergencies in words the lexicon may not have seen,
          # about 10 for each of the 11 danger scripts (a neighbour or passer-by reporting, the danger at the end of a long
          # story, typos inside the danger word such as 着伙/漏汽/电悌/煤汽, full pinyin, Cantonese and northern dialect,
          # children and elderly callers, understatement such as 好像有点烟味, the danger asked as a question), 58 calm
          # near-misses that must not open on an emergency script (past events, notices, fees, drills, rules, a hypothetical
          # 我怕着火) and 12 unrelated questions. dev21a (odd queries) is tuned on; dev21b (even) is validation: aggregates only
          "dev21": ["calls-dev21.tsv"], "dev21a": ["calls-dev21.tsv:odd"], "dev21b": ["calls-dev21.tsv:even"],
          # calls-dev18.tsv: written fresh by rank24 before its tuning (issue 23), from the scripts' titles and summaries only,
          # on what agents type while the resident is still talking: 1-4 keywords or a broken fragment (钥匙 锁屋里, 车牌 识别
          # 不出来), several topics at once (停水 物业费 投诉), homophone typos (物叶费, 电悌), full pinyin, colloquial words no
          # script uses (电表走得飞快, 小强 到处爬), 11 emergencies as fragments and 44 unrelated fragments in the same terse
          # style (身份证 补办, 社保 查询) that must stay none. dev18a (odd queries) is tuned on; dev18b (even) is validation
          "dev18": ["calls-dev18.tsv"], "dev18a": ["calls-dev18.tsv:odd"], "dev18b": ["calls-dev18.tsv:even"],
          # calls-dev22.tsv: written fresh by rank28 before its tuning (issue 23), from the scripts' titles, summaries and
          # applies_when only, on the pairs whose first answer the tuning halves confused and pairs the titles make alike: a
          # sudden water cut / a planned one / a burst pipe / a leak from upstairs / rain through a window; a neighbour's or a
          # renovation's noise / plant noise / asking the renovation hours; a taken space / the barrier and its fee / renting
          # a space; a repair / its progress / how to report / what it costs; how the fee is counted / a rise / refusing / arrears /
          # legal steps; a lift that keeps failing / its maintenance notice / stopped today; cooking fumes / smoking / bins /
          # butts thrown down; staff attitude / the gate / cleaning; compensation; cards, faces, keys; moving, selling. 183
          # calls (spoken, fragments, pinyin, typos), 11 emergencies in plain words and 11 unrelated questions. dev22a (odd
          # queries) is tuned on; dev22b (even) is a validation set: aggregates only
          "dev22": ["calls-dev22.tsv"], "dev22a": ["calls-dev22.tsv:odd"], "dev22b": ["calls-dev22.tsv:even"],
          # unrelated-probe.tsv: written fresh by rank10 before its tuning (issue 23): 64 questions a caller might put
          # to the hotline that no script answers (school, hospital, taxes, a bus, the weather, stocks...) and 34
          # near-misses in the same spoken style that do have one. unrela (odd queries) is tuned on; unrelb (even
          # queries) is a validation set: aggregates only
          "unrel": ["unrelated-probe.tsv"], "unrela": ["unrelated-probe.tsv:odd"], "unrelb": ["unrelated-probe.tsv:even"],
          "heldout": ["calls-heldout.tsv"], "all": ["calls-dev.tsv", "calls-dev2.tsv", "calls-dev3.tsv", "calls-dev4.tsv",
                  "calls-dev5.tsv", "calls-dev6.tsv", "calls-dev7.tsv", "calls-dev8.tsv", "calls-dev9.tsv", "calls-dev10.tsv",
                  "calls-dev11.tsv", "calls-dev12.tsv", "calls-dev13.tsv", "calls-dev14.tsv", "calls-dev15.tsv", "calls-dev16.tsv", "calls-dev17.tsv", "calls-dev18.tsv", "calls-dev19.tsv", "calls-dev20.tsv", "calls-dev21.tsv", "calls-dev22.tsv", "calls-dev23.tsv", "calls-dev24.tsv", "calls-dev25.tsv", "calls-heldout.tsv"]}


def read(name: str) -> list[tuple[str, str, list[str]]]:
    """The queries of a file; `name:odd` / `name:even` keep the 1st, 3rd, ... / 2nd, 4th, ... query only."""
    name, _, part = name.partition(":")
    rows = []
    for line in (ROOT / "bench/queries" / name).read_text(encoding="utf-8").splitlines()[1:]:
        if line.strip():
            q, style, ids = line.split("\t")
            rows.append((q, style, [] if ids.strip() == "-" else ids.split()))
    if part:
        rows = rows[0 if part == "odd" else 1::2]
    return rows


OLD_PAGE = False   # --old-page: the rule before issue 23 (general scripts first unless strong)


def page_first(answer: dict, fallbacks: tuple[str, ...]) -> str | None:
    """The id of the first option lookup.js shows for this answer."""
    general_first = answer["match"] != "strong" if OLD_PAGE else answer["match"] == "none"
    if general_first or not answer["results"]:
        return fallbacks[0] if fallbacks else None
    return answer["results"][0]["id"]


def score(searcher, rows, fallbacks, picks=None, verbose=False) -> dict:
    answerable = first_ok = emerg = emerg_ok = emerg_any = emerg_top2 = unrel = unrel_ok = r1 = r3 = 0
    calm = calm_first = calm_red = 0   # calm queries / of them, the page opened on an emergency script / with a 紧急 badge
    times = []
    for q, style, ids in rows:
        started = time.perf_counter()
        answer = searcher.search(q, limit=8)
        times.append((time.perf_counter() - started) * 1000)
        if picks is not None:
            answer = picks_mod.apply(answer, picks.lookup(q))
        got = [r["id"] for r in answer["results"]]
        first = page_first(answer, fallbacks)
        if style != "emergency" and not any(i in searcher.urgent for i in ids):
            calm += 1
            red = answer["match"] != "none" and bool(answer["results"]) and bool(answer["results"][0].get("emergency"))
            calm_red += red
            calm_first += first in searcher.urgent
            if verbose and first in searcher.urgent:
                print(f"  ! [{style}] {q!r}: opens on {first}{' (紧急)' if red else ''}, want {ids or 'none'}")
        if not ids:
            unrel += 1
            ok = answer["match"] == "none"
            unrel_ok += ok
        else:
            answerable += 1
            ok = first in ids
            first_ok += ok
            r1 += bool(got[:1]) and got[0] in ids
            r3 += any(i in ids for i in got[:3])
            if style == "emergency":
                emerg += 1
                emerg_ok += ok
                # the page opens on an emergency script (red badge) / the right one is at most second
                emerg_any += bool(first) and first.startswith("emergency.")
                emerg_top2 += first in ids or any(i in ids for i in got[:2])
        if verbose and not ok:
            print(f"  ✗ [{style}] {q!r}: first {first} ({answer['match']}), top3 {got[:3]}, want {ids or 'none'}")
    return {"queries": len(rows), "answerable": answerable,
            "page_first": first_ok / max(answerable, 1), "emergency_first": f"{emerg_ok}/{emerg}",
            "emergency_opens_page": f"{emerg_any}/{emerg}", "emergency_in_first_two": f"{emerg_top2}/{emerg}",
            "unrelated_none": f"{unrel_ok}/{unrel}", "calm_emergency_first": f"{calm_first}/{calm}", "calm_as_emergency": f"{calm_red}/{calm}", "recall@1": r1 / max(answerable, 1),
            "recall@3": r3 / max(answerable, 1), "p50_ms": pct(times, 50), "p95_ms": pct(times, 95)}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--half", choices=tuple(HALVES), default="all")
    ap.add_argument("--picks", action="store_true", help="replay the dev half as picks, score the held-out half")
    ap.add_argument("--verbose", action="store_true")
    ap.add_argument("--old-page", action="store_true", help="the page's rule before issue 23, for the baseline")
    args = ap.parse_args(argv)
    global OLD_PAGE
    OLD_PAGE = args.old_page
    corpus = require_corpus(ROOT / "snippets")
    fallbacks = load_lookup(ROOT / "snippets", set(corpus.scripts)).fallbacks
    with tempfile.TemporaryDirectory() as tmp:
        build_index(corpus, ROOT / "docs", Path(tmp))
        searcher = Searcher.open(Path(tmp), corpus)
        for _ in range(3):  # warm caches (jieba, pinyin) as a running service has them
            for q, _s, _i in read("calls-dev.tsv"):
                searcher.search(q, limit=8)
        for name in HALVES[args.half]:
            print(f"== {name}")
            print(score(searcher, read(name), fallbacks, verbose=args.verbose))
        if args.picks:
            book = picks_mod.PickBook()
            for q, _style, ids in read("calls-dev.tsv"):
                for _ in range(PICK_TIMES):
                    if ids:
                        book.add(q, ids[0])
            print("== calls-heldout.tsv with the dev half replayed as picks")
            print(score(searcher, read("calls-heldout.tsv"), fallbacks, picks=book, verbose=args.verbose))
            # the same phrasings asked again (a frequent question): what the picks are for
            print("== calls-dev.tsv asked again after its own picks")
            print(score(searcher, read("calls-dev.tsv"), fallbacks, picks=book, verbose=args.verbose))
    return 0


if __name__ == "__main__":
    sys.exit(main())
