"""The SSML subset: breaks, prosody rate, say-as digits/telephone/date, errors."""

from __future__ import annotations

import pytest

from voicebot.errors import ConfigError
from voicebot.tts.ssml import Pause, Speech, parse_ssml, plain_segments, split_sentences


def test_plain_text_is_cut_into_sentences_with_pauses() -> None:
    assert split_sentences("Hello there. How are you?\nFine") == ["Hello there.", "How are you?", "Fine"]
    segs = plain_segments("One. Two.")
    assert segs == [Speech(text="One."), Pause(ms=250), Speech(text="Two.")]


def test_break_time_and_strength() -> None:
    segs = parse_ssml('<speak>a<break time="300ms"/>b<break time="1.5s"/>c<break strength="weak"/>d</speak>')
    assert segs == [
        Speech(text="a"),
        Pause(ms=300),
        Speech(text="b"),
        Pause(ms=1500),
        Speech(text="c"),
        Pause(ms=200),
        Speech(text="d"),
    ]


def test_fragment_without_speak_root() -> None:
    assert parse_ssml('hi <break time="100ms"/> there') == [Speech(text="hi"), Pause(ms=100), Speech(text="there")]


def test_prosody_rate_nests_and_restores() -> None:
    segs = parse_ssml('a <prosody rate="slow">b <prosody rate="50%">c</prosody></prosody> d')
    rates = [(s.text, s.rate) for s in segs if isinstance(s, Speech)]
    assert rates == [("a", 1.0), ("b", 0.8), ("c", 0.4), ("d", 1.0)]
    assert parse_ssml('<prosody rate="+20%">x</prosody>') == [Speech(text="x", rate=1.2)]


def test_say_as_english() -> None:
    (seg,) = parse_ssml('<say-as interpret-as="digits">4071</say-as>')
    assert isinstance(seg, Speech) and seg.text == "four zero seven one"
    (seg,) = parse_ssml('<say-as interpret-as="telephone">+1 555-0100</say-as>')
    assert isinstance(seg, Speech) and seg.text == "plus one, five five five, zero one zero zero"
    (seg,) = parse_ssml('<say-as interpret-as="date" format="mdy">03/05/2025</say-as>')
    assert isinstance(seg, Speech) and seg.text == "March 5th, 2025"


def test_say_as_korean() -> None:
    (seg,) = parse_ssml('번호는 <say-as interpret-as="telephone">010-1234</say-as> 입니다', language="ko")
    assert isinstance(seg, Speech) and seg.text == "번호는 공 일 공, 일 이 삼 사 입니다"
    (seg,) = parse_ssml('<say-as interpret-as="date">2025-03-05</say-as>', language="ko")
    assert isinstance(seg, Speech) and seg.text == "2025년 3월 5일"
    (seg,) = parse_ssml('<say-as interpret-as="digits">709</say-as>', language="ko-kr")
    assert isinstance(seg, Speech) and seg.text == "칠 영 구"


def test_sub_alias() -> None:
    assert parse_ssml('<sub alias="World Wide Web">WWW</sub>') == [Speech(text="World Wide Web")]


@pytest.mark.parametrize(
    ("markup", "needle"),
    [
        ("<speak><audio src='x'/></speak>", "<audio> is not supported"),
        ("<speak>unclosed", "not well-formed"),
        ('<break time="soon"/>', "300ms"),
        ('<prosody rate="warp">x</prosody>', "x-slow"),
        ('<prosody pitch="high">x</prosody>', "only the rate"),
        ('<say-as interpret-as="cardinal">5</say-as>', "digits, telephone, date"),
        ('<say-as interpret-as="date">2025-13-01</say-as>', "month 13"),
        ('<say-as interpret-as="date" format="ymd">2025-03</say-as>', "does not fit"),
        ('<say-as interpret-as="digits">abc</say-as>', "no digits"),
        ('<!DOCTYPE x [<!ENTITY a "b">]><speak>&a;</speak>', "DOCTYPE"),
        ("<sub>x</sub>", "alias"),
    ],
)
def test_bad_ssml_is_a_clear_error(markup: str, needle: str) -> None:
    with pytest.raises(ConfigError, match=needle):
        parse_ssml(markup)


def test_oversized_ssml_rejected() -> None:
    with pytest.raises(ConfigError):
        parse_ssml("a" * 20_001)
