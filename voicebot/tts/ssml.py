"""The SSML subset voicebot speaks (W3C SSML 1.1 §3.2.1 say-as, §3.2.3 break, §3.2.4 prosody).

Supported: ``<speak>`` (optional root), ``<p>`` and ``<s>`` (sentence boundaries),
``<break time="300ms|1.5s" strength="none..x-strong">``, ``<prosody rate="x-slow|slow|
medium|fast|x-fast|80%|+20%|-10%">``, ``<say-as interpret-as="digits|telephone|date"
format="ymd|mdy|dmy|ym|md">``, ``<sub alias="...">``. Anything else is rejected with the
list of what is supported (a prompt that silently loses markup would be worse).

The parser turns markup into a flat list of ``Speech`` (text + rate factor) and ``Pause``
segments; engines never see markup. Plain text goes through the same path
(``plain_segments``) so both are cut into sentences, which lets the first sentence play
while the rest is still being rendered. Pure code: no I/O.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass

from voicebot.errors import ConfigError

MAX_SSML_CHARS = 20_000

_STRENGTH_MS = {"none": 0, "x-weak": 100, "weak": 200, "medium": 400, "strong": 700, "x-strong": 1200}
_RATE_WORDS = {"x-slow": 0.6, "slow": 0.8, "medium": 1.0, "default": 1.0, "fast": 1.25, "x-fast": 1.6}
SUPPORTED = ("speak", "p", "s", "break", "prosody", "say-as", "sub")
_SENTENCE_END = re.compile(r"(?<=[.!?。？！…])\s+|\n+")

_KO_DIGITS = "영일이삼사오육칠팔구"
_KO_PHONE_DIGITS = "공일이삼사오육칠팔구"
_EN_DIGITS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
_EN_MONTHS = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)


@dataclass(frozen=True, slots=True, kw_only=True)
class Speech:
    text: str
    rate: float = 1.0


@dataclass(frozen=True, slots=True, kw_only=True)
class Pause:
    ms: int


Segment = Speech | Pause


def split_sentences(text: str) -> list[str]:
    return [s.strip() for s in _SENTENCE_END.split(text) if s and s.strip()]


SENTENCE_PAUSE_MS = 250


def plain_segments(text: str, rate: float = 1.0) -> list[Segment]:
    """One ``Speech`` per sentence with a short ``Pause`` between sentences."""
    out: list[Segment] = []
    for sentence in split_sentences(text):
        if out:
            out.append(Pause(ms=SENTENCE_PAUSE_MS))
        out.append(Speech(text=sentence, rate=rate))
    return out


def _time_ms(value: str) -> int:
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*(ms|s)\s*", value)
    if not m:
        raise ConfigError(f"SSML <break time='{value}'>: write a duration like 300ms or 1.5s")
    ms = float(m.group(1)) * (1000 if m.group(2) == "s" else 1)
    if ms > 10_000:
        raise ConfigError(f"SSML <break time='{value}'>: at most 10s")
    return round(ms)


def _rate_factor(value: str) -> float:
    value = value.strip()
    if value in _RATE_WORDS:
        return _RATE_WORDS[value]
    m = re.fullmatch(r"([+-]?)(\d+(?:\.\d+)?)%", value)
    if m:
        n = float(m.group(2)) / 100
        factor = 1 + n if m.group(1) == "+" else 1 - n if m.group(1) == "-" else n
        if 0.2 <= factor <= 3.0:
            return factor
    raise ConfigError(
        f"SSML <prosody rate='{value}'>: use x-slow, slow, medium, fast, x-fast, "
        "a percentage like 80% (20%..300%) or a change like +20%"
    )


def digits(text: str, language: str) -> str:
    out = []
    for ch in text:
        if ch.isdigit():
            d = int(ch)
            out.append(_KO_DIGITS[d] if language == "ko" else _EN_DIGITS[d])
    if not out:
        raise ConfigError(f"SSML <say-as interpret-as='digits'>: '{text}' has no digits")
    return " ".join(out)


def telephone(text: str, language: str) -> str:
    groups = [g for g in re.split(r"[^0-9+]+", text) if g.strip("+")]
    if not groups:
        raise ConfigError(f"SSML <say-as interpret-as='telephone'>: '{text}' has no digits")
    spoken = []
    for g in groups:
        plus = "plus " if g.startswith("+") and language != "ko" else ""
        ds = [int(c) for c in g if c.isdigit()]
        words = [_KO_PHONE_DIGITS[d] if language == "ko" else _EN_DIGITS[d] for d in ds]
        spoken.append(plus + " ".join(words))
    return ", ".join(spoken)


def date(text: str, fmt: str, language: str) -> str:
    nums = [int(n) for n in re.findall(r"\d+", text)]
    order = fmt or "ymd"
    if not set(order) <= set("ymd") or len(order) != len(nums) or len(set(order)) != len(order):
        raise ConfigError(
            f"SSML <say-as interpret-as='date' format='{fmt or 'ymd'}'>: '{text}' does not fit the format "
            "(write 2025-03-05 with format ymd, or set format to mdy, dmy, ym, md)"
        )
    parts = dict(zip(order, nums, strict=True))
    month = parts.get("m")
    day = parts.get("d")
    if month is not None and not 1 <= month <= 12:
        raise ConfigError(f"SSML <say-as interpret-as='date'>: month {month} is not 1..12 in '{text}'")
    if day is not None and not 1 <= day <= 31:
        raise ConfigError(f"SSML <say-as interpret-as='date'>: day {day} is not 1..31 in '{text}'")
    year = parts.get("y")
    if language == "ko":
        out = []
        if year is not None:
            out.append(f"{year}년")
        if month is not None:
            out.append(f"{month}월")
        if day is not None:
            out.append(f"{day}일")
        return " ".join(out)
    words = []
    if month is not None:
        words.append(_EN_MONTHS[month - 1])
    if day is not None:
        words.append(_ordinal(day))
    head = " ".join(words)
    if year is not None:
        return f"{head}, {year}" if head else str(year)
    return head


def _ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


class _Builder:
    def __init__(self, language: str) -> None:
        self.language = language
        self.segments: list[Segment] = []
        self._text: list[str] = []
        self._rate = 1.0

    def text(self, s: str | None) -> None:
        if s:
            self._text.append(s)

    def flush(self) -> None:
        joined = " ".join("".join(self._text).split())
        self._text = []
        if joined:
            if self.segments and isinstance(self.segments[-1], Speech):
                self.segments.append(Pause(ms=SENTENCE_PAUSE_MS))
            self.segments.extend(plain_segments(joined, self._rate))

    def pause(self, ms: int) -> None:
        self.flush()
        if ms > 0:
            if self.segments and isinstance(self.segments[-1], Pause):
                ms += self.segments[-1].ms
                self.segments.pop()
            self.segments.append(Pause(ms=ms))

    def walk(self, el: ET.Element) -> None:
        tag = _local(el.tag)
        if tag not in SUPPORTED:
            raise ConfigError(
                f"SSML element <{tag}> is not supported; voicebot speaks {', '.join('<' + t + '>' for t in SUPPORTED)}"
            )
        if tag == "break":
            if "time" in el.attrib:
                self.pause(_time_ms(el.attrib["time"]))
            else:
                strength = el.attrib.get("strength", "medium")
                if strength not in _STRENGTH_MS:
                    raise ConfigError(f"SSML <break strength='{strength}'>: use one of {', '.join(_STRENGTH_MS)}")
                self.pause(_STRENGTH_MS[strength])
            self.text(el.tail)
            return
        if tag == "say-as":
            kind = el.attrib.get("interpret-as", "")
            inner = "".join(el.itertext())
            if kind == "digits":
                self.text(f" {digits(inner, self.language)} ")
            elif kind == "telephone":
                self.text(f" {telephone(inner, self.language)} ")
            elif kind == "date":
                self.text(f" {date(inner, el.attrib.get('format', ''), self.language)} ")
            else:
                raise ConfigError(f"SSML <say-as interpret-as='{kind}'>: supported are digits, telephone, date")
            self.text(el.tail)
            return
        if tag == "sub":
            if "alias" not in el.attrib:
                raise ConfigError("SSML <sub> needs an alias attribute")
            self.text(f" {el.attrib['alias']} ")
            self.text(el.tail)
            return
        if tag in {"p", "s"}:
            self.flush()
        saved = self._rate
        if tag == "prosody":
            if set(el.attrib) - {"rate"}:
                raise ConfigError("SSML <prosody>: only the rate attribute is supported")
            self.flush()
            self._rate = saved * _rate_factor(el.attrib.get("rate", "medium"))
        self.text(el.text)
        for child in el:
            self.walk(child)
        if tag in {"prosody", "p", "s"}:
            self.flush()
        self._rate = saved
        self.text(el.tail)


def parse_ssml(markup: str, *, language: str = "en") -> list[Segment]:
    """SSML (a ``<speak>`` document or a fragment) as speech and pause segments."""
    if len(markup) > MAX_SSML_CHARS:
        raise ConfigError(f"SSML longer than {MAX_SSML_CHARS} characters")
    if "<!DOCTYPE" in markup or "<!ENTITY" in markup:
        raise ConfigError("SSML with a DOCTYPE or entity declarations is not accepted")
    body = markup.strip()
    if not re.match(r"<speak[\s>]", body):
        body = f"<speak>{body}</speak>"
    try:
        root = ET.fromstring(body)
    except ET.ParseError as exc:
        raise ConfigError(f"SSML is not well-formed XML: {exc}") from exc
    builder = _Builder(language.split("-")[0].lower())
    builder.walk(root)
    builder.flush()
    return builder.segments


__all__ = [
    "SUPPORTED",
    "Pause",
    "Segment",
    "Speech",
    "date",
    "digits",
    "parse_ssml",
    "plain_segments",
    "split_sentences",
    "telephone",
]
