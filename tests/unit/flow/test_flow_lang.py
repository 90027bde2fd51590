"""Intent matching (noise-tolerant, CJK without spaces) and slot extraction in en/ko/zh."""

from __future__ import annotations

import datetime as dt

import pytest

from voicebot.flow.intents import IntentSet, normalise, score
from voicebot.flow.lang import BUILTIN_INTENTS
from voicebot.flow.slots import extract_date, extract_digits, extract_number, spoken


def iset(lang: str, local: tuple[str, ...] = ("yes", "no"), synonyms: tuple[tuple[str, str], ...] = ()) -> IntentSet:
    names = ("yes", "no", "repeat", "agent", "opt_out", "abuse")
    return IntentSet.build(((n, BUILTIN_INTENTS[n][lang]) for n in names), local=local, synonyms=synonyms)


def test_normalise() -> None:
    assert normalise("  Yes!!  That's RIGHT. ") == "yes thats right"
    assert normalise("ＡＢＣ，好的。") == "abc 好的"


@pytest.mark.parametrize(
    ("lang", "text", "intent"),
    [
        ("en", "yes", "yes"),
        ("en", "uh yeah sure", "yes"),
        ("en", "yes, no problem", "yes"),
        ("en", "no", "no"),
        ("en", "nope not really", "no"),
        ("en", "please stop calling me", "opt_out"),
        ("en", "stop colling me", "opt_out"),  # recognition noise
        ("en", "can I talk to a real person", "agent"),
        ("en", "sorry what", "repeat"),
        ("en", "shut up", "abuse"),
        ("ko", "네", "yes"),
        ("ko", "네 맞아요", "yes"),
        ("ko", "아니요 괜찮습니다", "no"),
        ("ko", "전화하지 마세요", "opt_out"),
        ("ko", "앞으로 전화하지 마세요", "opt_out"),
        ("ko", "상담원 연결해 주세요", "agent"),
        ("zh", "好的", "yes"),
        ("zh", "不是", "no"),
        ("zh", "以后不要再打电话了", "opt_out"),
        ("zh", "我要转人工", "agent"),
        ("zh", "没听清再说一遍", "repeat"),
    ],
)
def test_matches(lang: str, text: str, intent: str) -> None:
    m = iset(lang).match(text)
    assert m is not None and m.intent == intent, m


@pytest.mark.parametrize(
    ("lang", "text"), [("en", "purple elephant"), ("en", "now"), ("ko", "배고파요"), ("zh", "天气很好")]
)
def test_nonsense_does_not_match(lang: str, text: str) -> None:
    assert iset(lang).match(text) is None


def test_synonyms() -> None:
    s = IntentSet.build([("book", ["book an appointment"])], local=["book"], synonyms=[("booking", "appointment")])
    m = s.match("i want to book a booking")
    assert m is None or m.intent == "book"
    assert s.match("book an booking") is not None


def test_score_prefers_specific_phrase() -> None:
    assert score("yes no problem", "no problem") > score("yes no problem", "no")


@pytest.mark.parametrize(
    ("text", "lang", "want"),
    [
        ("twenty three", "en", 23),
        ("a hundred and five", "en", 105),
        ("I'd say five", "en", 5),
        ("it was 42", "en", 42),
        ("two thousand twenty six", "en", 2026),
        ("3.5", "en", 3.5),
        ("삼십오", "ko", 35),
        ("스물다섯 명", "ko", 25),
        ("열두 개요", "ko", 12),
        ("다섯", "ko", 5),
        ("三十五", "zh", 35),
        ("一百零五", "zh", 105),
        ("两个", "zh", 2),
        ("我打五分", "zh", 5),
        ("一万二千", "zh", 12000),
    ],
)
def test_numbers(text: str, lang: str, want: float) -> None:
    assert extract_number(text, lang) == want


@pytest.mark.parametrize(("text", "lang"), [("yes", "en"), ("이거요", "ko"), ("好的", "zh")])
def test_no_number(text: str, lang: str) -> None:
    assert extract_number(text, lang) is None


@pytest.mark.parametrize(
    ("text", "want"),
    [
        ("four two one one", "4211"),
        ("oh five five", "055"),
        ("double five three", "553"),
        ("1 2 3 4", "1234"),
        ("my pin is 1234", "1234"),
        ("사 이 일 일", "4211"),
        ("四二一一", "4211"),
        ("幺二三", "123"),
        ("hello", None),
    ],
)
def test_digits(text: str, want: str | None) -> None:
    assert extract_digits(text) == want


TODAY = dt.date(2026, 11, 26)  # a Thursday


@pytest.mark.parametrize(
    ("text", "lang", "want"),
    [
        ("tomorrow", "en", "2026-11-27"),
        ("the day after tomorrow", "en", "2026-11-28"),
        ("friday", "en", "2026-11-27"),
        ("thursday", "en", "2026-12-03"),
        ("next friday", "en", "2026-12-04"),
        ("March 3rd", "en", "2027-03-03"),
        ("the 14th of march", "en", "2027-03-14"),
        ("december first", "en", "2026-12-01"),
        ("12/30", "en", "2026-12-30"),
        ("2027-01-05", "en", "2027-01-05"),
        ("내일", "ko", "2026-11-27"),
        ("모레요", "ko", "2026-11-28"),
        ("금요일에 주세요", "ko", "2026-11-27"),
        ("다음주 월요일", "ko", "2026-11-30"),
        ("12월 3일", "ko", "2026-12-03"),
        ("明天", "zh", "2026-11-27"),
        ("后天", "zh", "2026-11-28"),
        ("大后天", "zh", "2026-11-29"),
        ("下周一", "zh", "2026-11-30"),
        ("三月十四号", "zh", "2027-03-14"),
        ("12月3日", "zh", "2026-12-03"),
    ],
)
def test_dates(text: str, lang: str, want: str) -> None:
    got = extract_date(text, lang, TODAY)
    assert got is not None and got.isoformat() == want


def test_no_date() -> None:
    assert extract_date("whenever", "en", TODAY) is None
    assert extract_date("February 30", "en", TODAY) is None


def test_spoken_forms() -> None:
    d = dt.date(2026, 1, 8)
    assert spoken(d, "en") == "Thursday, January 8"
    assert spoken(d, "ko") == "1월 8일 목요일"
    assert spoken(d, "zh") == "1月8日星期四"
    assert spoken(True, "ko") == "네"
    assert spoken(5.0, "en") == "5"
