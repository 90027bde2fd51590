"""Model vocabulary: OpenFst symbol tables and spelling unknown words with known pieces."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest

from voicebot.asr.vocabulary import load_vosk_vocabulary, read_fst_output_symbols, segment
from voicebot.errors import DependencyError


def _s(b: bytes) -> bytes:
    return struct.pack("<i", len(b)) + b


def _symtab(words: list[str]) -> bytes:
    out = struct.pack("<i", 2125658996) + _s(b"words") + struct.pack("<qq", len(words), len(words))
    for i, w in enumerate(words):
        out += _s(w.encode()) + struct.pack("<q", i)
    return out


def _fst(flags: int, tables: list[list[str]], props: int = 0) -> bytes:
    head = struct.pack("<i", 2125659606) + _s(b"vector") + _s(b"standard")
    head += struct.pack("<ii", 2, flags) + struct.pack("<Qqqq", props, 0, 1, 0)
    return head + b"".join(_symtab(t) for t in tables) + b"\0" * 64


def test_reads_output_symbols(tmp_path: Path) -> None:
    f = tmp_path / "G.fst"
    f.write_bytes(_fst(3, [["<eps>", "in"], ["<eps>", "취소", "해", "#0"]]))
    assert read_fst_output_symbols(f) == ["<eps>", "취소", "해", "#0"]


def test_acceptor_uses_its_one_table(tmp_path: Path) -> None:
    f = tmp_path / "G.fst"
    f.write_bytes(_fst(3, [["<eps>", "a"], ["<eps>", "a"]], props=0x10000))
    assert read_fst_output_symbols(f) == ["<eps>", "a"]


def test_model_vocabulary_drops_markers(tmp_path: Path) -> None:
    (tmp_path / "graph").mkdir()
    (tmp_path / "graph" / "Gr.fst").write_bytes(_fst(2, [["<eps>", "!SIL", "네", "#0", "<s>"]]))
    assert load_vosk_vocabulary(tmp_path) == frozenset({"네"})


def test_words_txt_wins(tmp_path: Path) -> None:
    (tmp_path / "graph").mkdir()
    (tmp_path / "graph" / "words.txt").write_text("<eps> 0\nhello 1\nworld 2\n#0 3\n", "utf-8")
    assert load_vosk_vocabulary(tmp_path) == frozenset({"hello", "world"})


def test_no_word_list(tmp_path: Path) -> None:
    assert load_vosk_vocabulary(tmp_path) is None


def test_not_an_fst(tmp_path: Path) -> None:
    f = tmp_path / "x.fst"
    f.write_bytes(b"\x00" * 40)
    with pytest.raises(DependencyError):
        read_fst_output_symbols(f)


def test_truncated_fst(tmp_path: Path) -> None:
    f = tmp_path / "x.fst"
    f.write_bytes(_fst(2, [["a", "b", "c"]])[:60])
    with pytest.raises(DependencyError):
        read_fst_output_symbols(f)


def test_segment_prefers_fewest_then_longest_first_pieces() -> None:
    vocab = {"취", "소", "해", "취소", "소해", "주세요"}
    assert segment("취소해", vocab) == ["취소", "해"]
    assert segment("주세요", vocab) == ["주세요"]
    assert segment("없음", vocab) is None


def test_segment_prefers_a_known_korean_ending() -> None:
    vocab = {"맞", "맞습", "습니다", "니다", "습"}
    assert segment("맞습니다", vocab) == ["맞", "습니다"]
    assert segment("hello", {"hel", "lo", "he", "llo"}) == ["hel", "lo"]


def test_grammar_summary_counts_and_names_the_first_words() -> None:
    from voicebot.asr.engine import Grammar

    assert Grammar(phrases=("a",), decoder_phrases=("a",)).summary() is None
    g = Grammar(
        phrases=("w1 w2", "w3", "w4 w5", "w6"),
        decoder_phrases=("w1 x", "w4 y"),
        warnings=("...",) * 6,
        unknown=("w2", "w3", "w5", "w6", "w7"),
        dropped=("w3", "w6"),
    )
    assert g.summary() == (
        "5 words not in the model's vocabulary (w2, w3, w5, w6, ...): 3 spelled with known words, "
        "2 dropped, 2 phrases can never match"
    )


def test_decoder_tokens_read_as_words() -> None:
    from voicebot.asr.vosk_engine import spoken_word

    assert [spoken_word(t) for t in ("[24]", "[삼]", "<UNK>", "네", "[", "[]")] == ["24", "삼", "", "네", "[", "[]"]
