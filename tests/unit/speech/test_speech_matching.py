"""Phrase matching: closest expected phrase or no-match, on text and weighted n-best lists."""

from __future__ import annotations

import pytest

from voicebot.asr.events import Alternative
from voicebot.asr.matching import PhraseMatcher, edit_distance, normalize, phonetic_units, similarity

PHRASES = ["네 맞습니다", "아니요", "나중에 다시 전화 주세요", "상담원 연결해 주세요", "취소해 주세요"]


def test_normalize_drops_spaces_punctuation_and_case() -> None:
    assert normalize(" Yes, Please! ") == "yesplease"
    assert normalize("취소 해 주세요.") == normalize("취소해주세요")


def test_hangul_is_compared_by_jamo() -> None:
    # 간 = ㄱ ㅏ ㄴ, 갈 = ㄱ ㅏ ㄹ: one unit apart, not a whole syllable.
    assert len(phonetic_units("간")) == 3
    assert edit_distance(phonetic_units("간"), phonetic_units("갈")) == 1
    assert len(phonetic_units("가")) == 2


def test_similarity_bounds() -> None:
    assert similarity((1, 2, 3), (1, 2, 3)) == 1.0
    assert similarity((), ()) == 1.0
    assert similarity((1, 2), (3, 4)) == 0.0


def test_word_loop_mixture_maps_to_the_intended_phrase() -> None:
    m = PhraseMatcher(PHRASES)
    got = m.match_text("아니요 다시 전화 주세요")  # measured Vosk output for the third phrase
    assert got.phrase == "나중에 다시 전화 주세요"
    assert got.runner_up is not None


def test_segmented_decoder_spelling_matches_surface_phrase() -> None:
    m = PhraseMatcher(PHRASES)
    got = m.match_text("취소 해 주세요")
    assert got.phrase == "취소해 주세요"
    assert got.similarity == 1.0


def test_unrelated_speech_is_no_match() -> None:
    m = PhraseMatcher(PHRASES)
    got = m.match_text("오늘 날씨가 정말 좋네요 감사합니다")
    assert got.phrase is None
    assert not got.matched


def test_empty_hypothesis_is_no_match() -> None:
    m = PhraseMatcher(PHRASES)
    assert m.match([]).phrase is None
    assert m.match_text("").phrase is None


def test_n_best_weights_decide() -> None:
    m = PhraseMatcher(["yes please", "no thanks"])
    alts = [Alternative(text="no please", weight=0.2), Alternative(text="yes please", weight=0.8)]
    assert m.match(alts).phrase == "yes please"
    alts = [Alternative(text="no please", weight=0.2), Alternative(text="no thanks", weight=0.8)]
    assert m.match(alts).phrase == "no thanks"


def test_confidence_drops_when_runner_up_is_close() -> None:
    clear = PhraseMatcher(["call me back", "cancel"]).match_text("call me bac")
    close = PhraseMatcher(["call me back", "call me bath"]).match_text("call me bac")
    assert clear.phrase == close.phrase == "call me back"
    assert clear.confidence > close.confidence


def test_complete_phrase_ignores_prefixes_of_longer_phrases() -> None:
    m = PhraseMatcher(["네", "네 맞습니다", "아니요"])
    assert m.complete_phrase("아니요") == "아니요"
    assert m.complete_phrase("네") is None  # the caller may be saying 네 맞습니다
    assert m.complete_phrase("네 맞습 니다") == "네 맞습니다"
    assert m.complete_phrase("아니") is None
    assert m.complete_phrase("") is None


def test_partial_missing_a_word_completes_when_the_phrase_end_is_heard() -> None:
    m = PhraseMatcher(["네 맞습니다", "아니요", "나중에 다시 전화 주세요", "상담원 연결해 주세요"])
    assert m.complete_phrase("연결해 주세요") == "상담원 연결해 주세요"
    assert m.complete_phrase("상담원 연결해") is None  # a pause before the last word
    assert m.complete_phrase("주세요") is None  # too little to tell which phrase


def test_duplicate_and_empty_phrases() -> None:
    m = PhraseMatcher(["yes", "Yes!", ""])
    assert m.phrases == ("yes",)
    with pytest.raises(ValueError):
        PhraseMatcher(["", "  "])


def test_low_similarity_needs_a_clear_lead() -> None:
    m = PhraseMatcher(["abcdefghij", "zzzzzzzzzz"], threshold=0.6, low_threshold=0.5, margin=0.15)
    got = m.match_text("abcdefxxxx")  # similarity 0.6 to the first, 0.0 to the second
    assert got.phrase == "abcdefghij"
    got = m.match_text("abcdexxxxx")  # 0.5, lead 0.5: accepted on the margin rule
    assert got.phrase == "abcdefghij"
    tight = PhraseMatcher(["abcdefghij", "abcdezzzzz"], threshold=0.6, low_threshold=0.5, margin=0.15)
    got = tight.match_text("abcdexxxxx")  # 0.5 to both: no lead, no match
    assert got.phrase is None


def test_a_prefix_phrase_ends_the_turn_early_only_when_its_extensions_mean_the_same() -> None:
    phrases = ["yes", "yes please", "no", "nothing", "nope"]
    plain = PhraseMatcher(phrases)
    assert plain.complete_phrase("yes") is None  # the caller may be saying "yes please"
    groups = {"yes": "yes", "yes please": "yes", "no": "no", "nope": "no", "nothing": "skip"}
    grouped = PhraseMatcher(phrases, groups=groups)
    assert grouped.complete_phrase("yes") == "yes"  # "yes please" means yes too
    assert grouped.complete_phrase("no") is None  # "nothing" would mean something else
    assert grouped.complete_phrase("yes please") == "yes please"
