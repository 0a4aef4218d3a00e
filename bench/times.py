"""Time input: the hand-written parser (kb_service/times.py) against jionlp, on times as staff type
them into the fill page (notices about water, power, lifts, drills; replies with a time).

    .venv/bin/python bench/times.py [--rounds 200]

jionlp is not a dependency: install it into the venv to compare (`.venv/bin/pip install jionlp`);
without it only the hand-written parser is measured. "Now" is Thursday 2026-12-03 10:00 Beijing
time. A case is right when the parser gives the expected start and end to the minute (a point in
time: its start), or refuses what does not exist (2月30日) or is not a time. Prints accuracy, the
cases each gets wrong, and the mean time per parse.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from kb_service import times  # noqa: E402

NOW = dt.datetime(2026, 12, 3, 10, 0)     # a Thursday
TODAY = NOW.date()
ERROR = "error"


def d(day: int, hour: int, minute: int = 0, month: int = 12, year: int = 2026) -> dt.datetime:
    return dt.datetime(year, month, day, hour, minute)


# (typed, expected): a (start, end) range, a datetime, or ERROR. Ranges as notices need them,
# points as replies need them; written the ways the desk writes them (spaces or none, 点/:, 至/到/-).
CASES: list[tuple[str, object]] = [
    ("明天 9:00-15:00", (d(4, 9), d(4, 15))),
    ("明天9点到下午3点", (d(4, 9), d(4, 15))),
    ("明天上午9点至下午5点", (d(4, 9), d(4, 17))),
    ("12月8日 9:00-17:00", (d(8, 9), d(8, 17))),
    ("12月8日上午9点至下午3点", (d(8, 9), d(8, 15))),
    ("12月8号 8:30-12:00", (d(8, 8, 30), d(8, 12))),
    ("2026-12-08 08:00 至 2026-12-08 18:00", (d(8, 8), d(8, 18))),
    ("2026-12-08 08:00-18:00", (d(8, 8), d(8, 18))),
    ("2026年12月8日 8:00至18:00", (d(8, 8), d(8, 18))),
    ("12/8 9:00-12:00", (d(8, 9), d(8, 12))),
    ("周六 9:00 至 15:00", (d(5, 9), d(5, 15))),
    ("周六上午9点到下午3点", (d(5, 9), d(5, 15))),
    ("星期六 9:00-15:00", (d(5, 9), d(5, 15))),
    ("本周六 8:00-12:00", (d(5, 8), d(5, 12))),
    ("这周日 14:00-16:00", (d(6, 14), d(6, 16))),
    ("下周一 9:00-17:00", (d(7, 9), d(7, 17))),
    ("下周一上午9点至11点", (d(7, 9), d(7, 11))),
    ("下星期三 13:00-17:00", (d(9, 13), d(9, 17))),
    ("下周五下午2点到4点", (d(11, 14), d(11, 16))),
    ("后天 8:00-12:00", (d(5, 8), d(5, 12))),
    ("后天上午8点至中午12点", (d(5, 8), d(5, 12))),
    ("明早8点到12点", (d(4, 8), d(4, 12))),
    ("明早8:00-10:00", (d(4, 8), d(4, 10))),
    ("今晚8点到10点", (d(3, 20), d(3, 22))),
    ("今晚 22:00-24:00", ERROR),                 # 24:00 is no time of day: write 23:59 or 次日0点
    ("今天下午2点到5点", (d(3, 14), d(3, 17))),
    ("下午2点到5点", (d(3, 14), d(3, 17))),
    ("9点到3点", (d(3, 9), d(3, 15))),
    ("9:00-15:00", (d(3, 9), d(3, 15))),
    ("12月8日 9点半到11点半", (d(8, 9, 30), d(8, 11, 30))),
    ("12月10日 22:00 至 12月11日 06:00", (d(10, 22), d(11, 6))),
    ("12月10日晚上10点至12月11日早上6点", (d(10, 22), d(11, 6))),
    ("1月5日 9:00-12:00", (d(5, 9, month=1, year=2027), d(5, 12, month=1, year=2027))),
    ("１２月８日 ９：００－１７：００", (d(8, 9), d(8, 17))),
    # points in time (replies: when we called back, when it was fixed)
    ("明天下午2点", d(4, 14)),
    ("明天 14:00", d(4, 14)),
    ("明早8点", d(4, 8)),
    ("今晚8点", d(3, 20)),
    ("明晚7点半", d(4, 19, 30)),
    ("周六上午10点", d(5, 10)),
    ("下周一 9:30", d(7, 9, 30)),
    ("12月1日 14:00", d(1, 14)),
    ("12月1日下午3点", d(1, 15)),
    ("2026-12-01 09:30", d(1, 9, 30)),
    ("昨天下午3点", ERROR),                        # not supported by the hand-written parser
    ("凌晨1点", ERROR),                            # a time without a day
    # what does not exist, or is not a time
    ("2月30日 9:00-12:00", ERROR),
    ("2月30日上午9点", ERROR),
    ("13月1日 9:00", ERROR),
    ("12月32日 9:00-10:00", ERROR),
    ("明天 25:00", ERROR),
    ("下午3点到上午9点", ERROR),
    ("尽快", ERROR),
    ("明天", ERROR),                               # a date without a time for a time field
]


RANGES = {text for text, exp in CASES if isinstance(exp, tuple) or (exp == ERROR and any(s in text for s in "至到-"))}


def ours(text: str):
    """The fill page knows the field's type: a time range (notices) or a date and time."""
    try:
        if text in RANGES:
            r = times.parse_range(text, TODAY)
            return (r.start, r.end)
        return times.parse_datetime(text, TODAY)
    except times.TimeInputError:
        return ERROR


def theirs(parse_time):
    base = time.mktime(NOW.timetuple())

    def run(text: str):
        try:
            got = parse_time(text, time_base=base)
        except Exception:    # jionlp raises ValueError for what it cannot read
            return ERROR
        span = got.get("time")
        if not isinstance(span, list) or len(span) != 2:
            return ERROR
        start, end = (dt.datetime.strptime(s, "%Y-%m-%d %H:%M:%S") for s in span)
        if got.get("type") == "time_point" or end - start < dt.timedelta(hours=1) and end.minute == 59:
            return start
        return (start, end.replace(second=0))
    return run


def right(got, expected) -> bool:
    if expected == ERROR:
        return got == ERROR
    if isinstance(expected, tuple):
        return isinstance(got, tuple) and got == expected
    return (got[0] if isinstance(got, tuple) else got) == expected


def measure(name: str, parse, rounds: int) -> None:
    wrong = [(text, parse(text)) for text, exp in CASES if not right(parse(text), exp)]
    started = time.perf_counter()
    for _ in range(rounds):
        for text, _exp in CASES:
            parse(text)
    per = (time.perf_counter() - started) / (rounds * len(CASES)) * 1000
    print(f"{name}: {len(CASES) - len(wrong)}/{len(CASES)} right, {per:.3f} ms a parse")
    for text, got in wrong:
        print(f"    wrong: {text!r} -> {got!r}")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=200)
    args = ap.parse_args()
    measure("kb_service.times", ours, args.rounds)
    try:
        started = time.perf_counter()
        import jionlp
        print(f"jionlp {jionlp.__version__}: import {time.perf_counter() - started:.2f} s")
    except ImportError:
        print("jionlp not installed: .venv/bin/pip install jionlp to compare")
        return
    measure("jionlp.parse_time", theirs(jionlp.parse_time), max(1, args.rounds // 10))


if __name__ == "__main__":
    main()
