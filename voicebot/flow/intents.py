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
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

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


def score(utterance: str, phrase: str) -> float:
    """Similarity of a normalised utterance and a normalised phrase, 0.0 .. 1.0."""
    if not phrase or not utterance:
        return 0.0
    if utterance == phrase:
        return 1.0
    cjk = has_cjk(phrase)
    if cjk:
        flat = utterance.replace(" ", "")
        if len(phrase) == 1:
            # one character ("好", "네") is too common inside other words: it must stand alone as a
            # word, or the whole answer must be very short ("好啊", "对对对")
            if phrase in utterance.split() or (phrase in flat and len(flat) <= 3):
                return 0.8 + 0.2 / max(len(flat), 1)
            return 0.0
        if phrase in utterance or phrase.replace(" ", "") in flat:
            return 0.8 + 0.2 * len(phrase) / max(len(utterance), 1)
    elif f" {phrase} " in f" {utterance} ":
        return 0.8 + 0.2 * len(phrase) / max(len(utterance), 1)
    if not cjk:
        uw = utterance.split()
        ratios: list[float] = []
        for pw in phrase.split():
            best = 0.0
            for w in uw:
                if len(pw) <= 3 or len(w) <= 3:
                    r = 1.0 if w == pw else 0.0
                else:
                    r = difflib.SequenceMatcher(None, pw, w).ratio()
                best = max(best, r)
            if best < 0.75:
                return 0.0
            ratios.append(best)
        return 0.75 * sum(ratios) / len(ratios)
    pb = _bigrams(phrase)
    ub = set(_bigrams(utterance))
    if len(pb) < 2:
        return 0.0
    contained = sum(1 for b in pb if b in ub) / len(pb)
    return 0.7 * contained if contained >= 0.7 else 0.0


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
        return IntentSet(phrases=items, local=frozenset(local), threshold=threshold, synonyms=syn)

    def match(self, utterance: str) -> Match | None:
        u = apply_synonyms(normalise(utterance), self.synonyms)
        if not u:
            return None
        best: tuple[float, int, int, str, str] | None = None
        for name, phrases in self.phrases:
            for p in phrases:
                s = score(u, p)
                if s < self.threshold:
                    continue
                key = (round(s, 6), 1 if name in self.local else 0, len(p), name, p)
                if best is None or key[:3] > best[:3]:
                    best = key
        if best is None:
            return None
        return Match(intent=best[3], score=best[0], phrase=best[4])
