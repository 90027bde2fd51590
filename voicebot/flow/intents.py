"""Intent matching that tolerates speech-recognition noise, for spaced and unspaced scripts.

Both the utterance and every phrase are normalised (Unicode NFKC, case folding, punctuation
removed, whitespace collapsed). A phrase then scores against an utterance by, in order:

* exact match: 1.0;
* containment as whole words (or as a substring for Chinese/Japanese/Korean text, which has no
  reliable word spaces): 0.8 + 0.2 * (phrase length / utterance length), so the most specific
  phrase wins ("no problem" beats "no");
* word-level fuzzy match: every phrase word has a similar utterance word (difflib ratio >= 0.75,
  words of three letters or fewer must match exactly): 0.75 * mean ratio;
* character bigram containment for CJK text (>= 0.7 of the phrase's bigrams appear in the
  utterance): 0.7 * containment.

The best-scoring intent above the threshold wins; ties go to the state's own intents before
global ones, then to the longer phrase.
"""

from __future__ import annotations

import difflib
import functools
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

DEFAULT_THRESHOLD = 0.6
MAX_UTTERANCE_CHARS = 1000


def is_cjk(ch: str) -> bool:
    o = ord(ch)
    return (
        0x3040 <= o <= 0x30FF  # kana
        or 0x3400 <= o <= 0x4DBF
        or 0x4E00 <= o <= 0x9FFF  # CJK unified
        or 0xAC00 <= o <= 0xD7AF  # Hangul syllables
        or 0x1100 <= o <= 0x11FF
        or 0x3130 <= o <= 0x318F
        or 0xF900 <= o <= 0xFAFF
    )


def normalise(text: str) -> str:
    """NFKC, casefold, punctuation to spaces, whitespace collapsed. Apostrophes are dropped."""
    text = unicodedata.normalize("NFKC", text[:MAX_UTTERANCE_CHARS]).casefold()
    out: list[str] = []
    for ch in text:
        if ch in "'’":
            continue
        cat = unicodedata.category(ch)
        if cat[0] in "PSZC":
            out.append(" ")
        else:
            out.append(ch)
    return " ".join("".join(out).split())


def has_cjk(text: str) -> bool:
    return any(is_cjk(c) for c in text)


def _bigrams(s: str) -> list[str]:
    s = s.replace(" ", "")
    if len(s) < 2:
        return [s] if s else []
    return [s[i : i + 2] for i in range(len(s) - 1)]


@functools.lru_cache(maxsize=65536)
def _word_ratio(a: str, b: str) -> float:
    """difflib similarity of two words, skipping the full computation when it cannot reach 0.75."""
    m = difflib.SequenceMatcher(None, a, b)
    if m.real_quick_ratio() < 0.75 or m.quick_ratio() < 0.75:
        return 0.0
    return m.ratio()


@dataclass(frozen=True, slots=True)
class _Utt:
    """An utterance prepared once per match: words, padded form, flat form, bigrams."""

    text: str
    padded: str
    words: tuple[str, ...]
    word_set: frozenset[str]
    flat: str
    bigrams: frozenset[str]

    @staticmethod
    def of(text: str) -> _Utt:
        words = tuple(text.split())
        return _Utt(text, f" {text} ", words, frozenset(words), text.replace(" ", ""), frozenset(_bigrams(text)))


@dataclass(frozen=True, slots=True)
class _Phrase:
    text: str
    cjk: bool
    words: tuple[str, ...]
    flat: str
    bigrams: tuple[str, ...]

    @staticmethod
    def of(text: str) -> _Phrase:
        return _Phrase(text, has_cjk(text), tuple(text.split()), text.replace(" ", ""), tuple(_bigrams(text)))


def score(utterance: str, phrase: str) -> float:
    """Similarity of a normalised utterance and a normalised phrase, 0.0 .. 1.0."""
    if not phrase or not utterance:
        return 0.0
    return _score(_Utt.of(utterance), _Phrase.of(phrase))


def _score(u: _Utt, p: _Phrase) -> float:
    phrase = p.text
    if u.text == phrase:
        return 1.0
    if p.cjk:
        if len(phrase) == 1:
            # one character ("好", "네") is too common inside other words: it must stand alone as a
            # word, or the whole answer must be very short ("好啊", "对对对")
            if phrase in u.word_set or (phrase in u.flat and len(u.flat) <= 3):
                return 0.8 + 0.2 / max(len(u.flat), 1)
            return 0.0
        if phrase in u.text or p.flat in u.flat:
            return 0.8 + 0.2 * len(phrase) / max(len(u.text), 1)
        if len(p.bigrams) < 2:
            return 0.0
        contained = sum(1 for b in p.bigrams if b in u.bigrams) / len(p.bigrams)
        return 0.7 * contained if contained >= 0.7 else 0.0
    if f" {phrase} " in u.padded:
        return 0.8 + 0.2 * len(phrase) / max(len(u.text), 1)
    ratios: list[float] = []
    for pw in p.words:
        if pw in u.word_set:
            ratios.append(1.0)
            continue
        if len(pw) <= 3:
            return 0.0
        best = 0.0
        for w in u.word_set:
            if len(w) > 3 and 8 * min(len(w), len(pw)) >= 3 * (len(w) + len(pw)):
                best = max(best, _word_ratio(pw, w))
        if best < 0.75:
            return 0.0
        ratios.append(best)
    return 0.75 * sum(ratios) / len(ratios)


def apply_synonyms(text: str, synonyms: Sequence[tuple[str, str]]) -> str:
    """Replace each alternative word/phrase by its canonical form (substring for CJK text)."""
    if not synonyms or not text:
        return text
    padded = f" {text} "
    for alt, canon in synonyms:
        if not alt:
            continue
        padded = padded.replace(alt, canon) if has_cjk(alt) else padded.replace(f" {alt} ", f" {canon} ")
    return " ".join(padded.split())


@dataclass(frozen=True, slots=True, kw_only=True)
class Match:
    intent: str
    score: float
    phrase: str


@dataclass(frozen=True, slots=True, kw_only=True)
class IntentSet:
    """Intents with their normalised phrases; ``local`` ones win ties against global ones."""

    phrases: tuple[tuple[str, tuple[str, ...]], ...]  # (intent, normalised phrases)
    local: frozenset[str]
    threshold: float = DEFAULT_THRESHOLD
    synonyms: tuple[tuple[str, str], ...] = ()  # (normalised alternative, canonical word)
    _prepared: tuple[tuple[str, tuple[_Phrase, ...]], ...] = field(default=(), repr=False, compare=False)

    @staticmethod
    def build(
        intents: Iterable[tuple[str, Sequence[str]]],
        local: Iterable[str],
        threshold: float = DEFAULT_THRESHOLD,
        synonyms: Iterable[tuple[str, str]] = (),
    ) -> IntentSet:
        syn = tuple(sorted(((normalise(a), normalise(c)) for a, c in synonyms), key=lambda x: -len(x[0])))
        items = tuple(
            (name, tuple(dict.fromkeys(apply_synonyms(normalise(p), syn) for p in ps if normalise(p))))
            for name, ps in intents
        )
        prepared = tuple((name, tuple(_Phrase.of(p) for p in ps)) for name, ps in items)
        return IntentSet(phrases=items, local=frozenset(local), threshold=threshold, synonyms=syn, _prepared=prepared)

    def match(self, utterance: str) -> Match | None:
        u = apply_synonyms(normalise(utterance), self.synonyms)
        if not u:
            return None
        best: tuple[float, int, int, str, str] | None = None
        utt = _Utt.of(u)
        prepared = self._prepared or tuple((n, tuple(_Phrase.of(p) for p in ps)) for n, ps in self.phrases)
        for name, phrases in prepared:
            for prep in phrases:
                p = prep.text
                s = _score(utt, prep)
                if s < self.threshold:
                    continue
                key = (round(s, 6), 1 if name in self.local else 0, len(p), name, p)
                if best is None or key[:3] > best[:3]:
                    best = key
        if best is None:
            return None
        return Match(intent=best[3], score=best[0], phrase=best[4])
