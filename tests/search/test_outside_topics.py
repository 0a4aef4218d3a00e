"""Issue 23: questions about what property management does not handle (snippets/outside.yaml) are
told 没有专门的话术 (match none); the lexicon's lint; real scripts and emergencies keep their place."""

from __future__ import annotations

import re

from kb_service.content import danger, outside
from kb_service.content.checks import load_settings_file
from kb_service.content.load import require_corpus
from kb_service.search import textproc

from conftest import ROOT, lint_problems_of, project_with_snippets_file


OUTSIDE = ["我社保断了两个月 现在补交还能报销吗", "医保卡在外地能直接刷吗", "公积金贷款买房首付几成",
           "护照过期了去哪里办", "我的驾照要到期了 换证要体检吗", "去泰国要不要办签证", "个税怎么退",
           "最近股票能不能买", "这个理财产品靠谱吗", "话费怎么扣了这么多", "这个小区划片是哪个学校",
           "儿科挂号要提前几天", "帮孩子取个名字",
           # rank25: shops' and hospitals' hours, buses, schooling, papers, prices, couriers, agencies, weather
           "市一院 周六上午 看不看门诊", "附近哪家药店晚上还开门", "28路 末班 几点走", "孩子明年上初中 对口的是哪个中学",
           "身份证快到期了 换证去哪", "猪肉又涨了 现在几块一斤", "顺丰的客服电话是多少", "中介费一般收几个点",
           "居委会 换届选举 去哪投票", "明天会不会下雨啊",
           "附近有没有修自行车的", "附近哪里有卖海鲜的"]
# What property management does handle, said with a word near one of the lexicon's
PROPERTY = ["物业费能刷信用卡吗", "欠物业费会影响征信吗", "维修基金怎么查", "快递柜满了", "停车费多少钱一个月",
            "我在小区里捡到一本护照 交给谁", "孩子上小学了 放学回来楼上装修吵得写不了作业",
            "车在停车场被刮了 要拍驾驶证给保险吗", "我退休金不高 物业费能不能少交点",
            "有人把广告挂在5号楼外墙上了", "办业主变更要带结婚证吗",
            # rank25: the same words said about the estate
            "明天台风 要降温了 阳台东西要收吗", "狗把我咬了 哪个门诊能打狂犬疫苗", "电动车没上牌 能进小区充电吗",
            "二手车停我车位上三天了", "楼下超市一大早开门卸货 吵死了", "在小区捡到一张公交卡",
            "养老金都不涨 物业费倒年年涨", "中介说要物业开个结清证明", "我家保姆忘带钥匙 进不去门",
            "楼下开了个舞蹈班 天天放音乐", "孩子写英语作业 楼上一直在砸东西",
            "附近有没有能充电瓶车的地方", "附近有快递驿站吗", "小区附近有没有开锁的师傅", "附近哪个工地 晚上还在施工 吵死了",
            "附近的饭店油烟太大 窗户都不敢开", "最近的饭店油烟越来越大", "附近的学校一放学 孩子在小区里吵翻天",
            "楼下超市营业到半夜 吵得睡不着", "小区里违章停车 你们罚款吗", "开店装修 要先办营业执照吗", "换手机了 门禁app登不上"]


def test_the_lexicon_names_outside_topics_and_leaves_property_questions_alone():
    corpus = require_corpus(ROOT / "snippets")
    lexicon, problems = outside.check(ROOT / "snippets", corpus.snippets)
    assert problems == []
    for query in OUTSIDE:
        assert lexicon.hit(textproc.normalize(query)), query
    for query in PROPERTY:
        assert not lexicon.hit(textproc.normalize(query)), query


def test_lint_reports_a_bad_pattern_and_a_word_a_script_uses_at_its_line(tmp_path):
    project = project_with_snippets_file(tmp_path / "p", "outside.yaml", (
        "topics:\n"
        "  - topic: 社保\n"
        "    words: [话费, '社保(']\n"
        "  - topic: 投资\n"
        "    words:\n"
        "      - 股票\n"
        "      - 物业费\n"))
    mine = lint_problems_of(project, "outside.yaml")
    assert any(p.startswith("snippets/outside.yaml:3:") and "不是有效的正则表达式" in p for p in mine), mine
    assert any(p.startswith("snippets/outside.yaml:7:") and "“物业费”出现在" in p for p in mine), mine
    assert len(mine) == 2, mine
    # a lexicon with a problem is not half used: the search would say none for 物业费 questions
    corpus = require_corpus(project / "snippets")
    assert outside.load(project / "snippets", corpus.snippets) is outside.EMPTY


def test_an_outside_question_is_none(searcher, monkeypatch):
    query = "你好 我公积金贷款的月供这个月扣了两次 找谁退"
    assert searcher.search(query, limit=8)["match"] == "none"
    # the lexicon is what decides: without it shared words make some script look related. (Not the
    # question above: its 公积金 was read as 公基金 (维修基金) until rank19 kept a common word from
    # being corrected, and it is told none even without the lexicon now.)
    query = "我社保断了两个月 现在补交还能报销吗"
    assert searcher.search(query, limit=8)["match"] == "none"
    monkeypatch.setattr(searcher, "outside", outside.EMPTY)
    assert searcher.search(query, limit=8)["match"] == "weak"


def test_a_near_miss_keeps_its_script_first(searcher):
    for query, sid in [("我在小区里捡到一本护照 交给谁", "inquiry.lost-and-found"),
                       ("孩子上小学了 每天放学回来楼上装修吵得写不了作业", "complaint.noise")]:
        r = searcher.search(query, limit=8)
        assert r["match"] != "none" and r["results"][0]["id"] == sid, (query, r["match"], r["results"][:1])


def test_an_emergency_said_with_an_outside_word_is_still_first(searcher):
    r = searcher.search("社保卡丢了 家里还闻到好大一股煤气味", limit=8)
    assert r["match"] == "strong" and r["results"][0]["id"] == "emergency.gas-leak"
    assert r["results"][0]["emergency"] is True


def test_a_strong_match_on_the_rest_of_an_outside_question_is_none(searcher):
    # 社保卡丢了…补办 is strong on the access card (卡丢了, 补办 in its head) but 社保卡 is no script's
    for query in ["社保卡丢了去哪里补办", "居委会 换届选举 去哪投票"]:
        assert searcher.search(query, limit=8)["match"] == "none", query
    # a script that covers all of a query stays strong whatever the lexicon says
    r = searcher.search("门禁卡丢了怎么补办", limit=8)
    assert r["match"] == "strong" and r["results"][0]["id"] == "inquiry.access-card"


def test_the_index_by_first_character_finds_what_the_whole_alternation_finds():
    corpus = require_corpus(ROOT / "snippets")
    lexicon = outside.load(ROOT / "snippets", corpus.snippets)
    assert lexicon.by_first
    _doc, data, _problems = load_settings_file(ROOT / "snippets", outside.FILE, outside.SCHEMA)
    whole = re.compile("|".join(f"(?:{w})" for topic in data["topics"] for w in topic["words"]))
    queries = [*OUTSIDE, *PROPERTY, "银行转账手续费多少", "转账手续费怎么算", "喂 28路几点到", "明天会不会下雨啊",
               "明天会不会下雨 我家窗户要不要关"]
    for query in queries:
        flat = textproc.normalize(query)
        assert lexicon.hit(flat) == (whole.search(flat.replace(" ", "")) is not None), query


def test_no_outside_word_is_said_in_an_answerable_call_of_the_query_sets():
    # With the lexicon able to overrule a strong match too (rank25), a word said in passing in a
    # property call would cost its right answer; the development sets' answerable calls are the
    # nearest thing to such calls (the held-out set is not read here: it is for aggregates only).
    # An emergency the danger lexicon finds is exempt: its script is strong and first whatever the
    # outside lexicon says (a long story with 菜价又涨了 before 电梯停住了 门也打不开, dev21).
    corpus = require_corpus(ROOT / "snippets")
    lexicon = outside.load(ROOT / "snippets", corpus.snippets)
    dangers = danger.load(ROOT / "snippets", corpus.scripts)
    said = []
    for path in sorted((ROOT / "bench" / "queries").glob("*.tsv")):
        if "heldout" in path.name:
            continue
        for line in path.read_text(encoding="utf-8").splitlines()[1:]:
            if line.strip():
                query, _style, ids = line.split("\t")
                flat = textproc.normalize(query)
                if ids.strip() != "-" and lexicon.hit(flat) and not dangers.match(flat):
                    said.append((path.name, query))
    assert said == []
