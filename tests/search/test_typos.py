"""Homophone typos of head words corrected before the search (kb_service/search/typos.py), on the
real index of the project's content."""

from __future__ import annotations

import pytest


@pytest.mark.parametrize("typed, meant", [
    ("物叶费太贵了", "物业费太贵了"), ("地裤进水了", "地库进水了"), ("监空能看吗", "监控能看吗"),
    ("门尽卡丢了", "门禁卡丢了"), ("停税了", "停水了"),
])
def test_a_mistyped_head_word_is_corrected(searcher, typed, meant):
    assert searcher.postings.typos.correct(typed) == meant


@pytest.mark.parametrize("query", [
    "装修要交押金吗",          # 押金 is a word the content has: 金吗 is not 进吗
    "我的微信号被盗了怎么办",   # 盗 is in 被盗: 盗了 is not 倒了
    "半夜狗叫了一整晚",        # a kept 了 says nothing: 叫了 is not 交了
    "今天股市怎么样",          # shares no character with a head word that sounds like it
    "我想考个会计证",
])
def test_what_the_caller_said_is_left_alone(searcher, query):
    assert searcher.postings.typos.correct(query) == query


def test_the_corrected_query_finds_the_script(searcher):
    first = searcher.search("物叶费太贵了", limit=3)["results"][0]["id"]
    assert first in {"inquiry.fee-breakdown", "inquiry.fee-increase"}
    assert searcher.search("地裤进水了", limit=3)["results"][0]["id"] == "emergency.basement-flooding"
