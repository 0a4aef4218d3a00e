"""Homophone typos of head words corrected before the search (kb_service/search/typos.py), on the
real index of the project's content."""

from __future__ import annotations

import pytest


@pytest.mark.parametrize("typed, meant", [
    ("物叶费太贵了", "物业费太贵了"), ("地裤进水了", "地库进水了"), ("监空能看吗", "监控能看吗"),
    ("门尽卡丢了", "门禁卡丢了"), ("停税了", "停水了"),
    # kept when jieba's dictionary is asked too (rank19): no word typed, a common one meant
    ("停车为被占了", "停车位被占了"), ("拉圾没人收", "垃圾没人收"), ("我的快第到了", "我的快递到了"),
    ("电题卡住了", "电梯卡住了"), ("我要头诉", "我要投诉"), ("车味被占了", "车位被占了"),
    ("装秀太吵了", "装修太吵了"), ("厨房里蟑郎很多", "厨房里蟑螂很多"),
    # 燃起 is a word as common as 燃气, but the content has both 燃气 and 气味: 燃气味
    ("燃起味好重", "燃气味好重"),
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


@pytest.mark.parametrize("query", [
    # common words that sound like a head word, rewritten before rank19 (bench/typo_corrections.py)
    "大人和孩子都在家",          # 大人 is not 打人 (an alias of the neighbour dispute)
    "大人孩子都吓坏了",
    "我家孩子要高考了",          # 高考 is not 告考
    "从窗台上吊下来一根绳子",     # hung down: not 上调 (a fee increase)
    "杯子里的水有沉淀",          # 杯子 is not 被子
    "原来房主搬走了",            # 原来 房主, not 来访
    "需要开证明吗",              # a question, not 明码
    "车门被划了一长道口子",       # 一长道 is not 一章
    "公积金能交物业费吗",         # 公积金 is not 基金
    "提前接点水",                # a little water, not 接电
    "看着不像好人",              # 不像 is not 不想: 不 says nothing
    "洗澡水漏下来了",            # 漏下来 is not 楼下来
])
def test_a_common_word_is_no_typo(searcher, query):
    assert searcher.postings.typos.correct(query) == query


def test_the_dictionary_total_is_jiebas():
    """The probabilities are jieba's: its dictionary's frequencies over their sum."""
    from pathlib import Path

    import jieba

    from kb_service.search import typos
    with open(Path(jieba.__file__).parent / "dict.txt", encoding="utf-8") as f:
        assert sum(int(line.split()[1]) for line in f) == typos.JIEBA_TOTAL


def test_the_corrected_query_finds_the_script(searcher):
    first = searcher.search("物叶费太贵了", limit=3)["results"][0]["id"]
    assert first in {"inquiry.fee-breakdown", "inquiry.fee-increase"}
    assert searcher.search("地裤进水了", limit=3)["results"][0]["id"] == "emergency.basement-flooding"
