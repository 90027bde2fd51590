"""Typed slots and the extraction of their values from what a caller said.

Types: ``yesno`` (bool), ``number`` (int or float, English, Korean and Chinese numerals),
``digits`` (a digit string: account numbers, PINs; spoken digit by digit or keyed on DTMF),
``date`` (absolute and relative dates resolved against the call's ``today``), ``enum`` (one of
fixed values, each with synonyms) and ``text`` (whatever was said).
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata

from voicebot.flow import lang
from voicebot.flow.intents import normalise

SLOT_TYPES = ("yesno", "number", "digits", "date", "enum", "text")
EXPR_TYPE = {"yesno": "bool", "number": "number", "digits": "text", "date": "date", "enum": "text", "text": "text"}

# --- English numbers -----------------------------------------------------------------------

_EN_UNITS = {
    w: i
    for i, w in enumerate(
        [
            "zero",
            "one",
            "two",
            "three",
            "four",
            "five",
            "six",
            "seven",
            "eight",
            "nine",
            "ten",
            "eleven",
            "twelve",
            "thirteen",
            "fourteen",
            "fifteen",
            "sixteen",
            "seventeen",
            "eighteen",
            "nineteen",
        ]
    )
}
_EN_UNITS.update({"oh": 0, "o": 0, "a": 1, "an": 1, "single": 1, "couple": 2})
_EN_TENS = {
    w: (i + 2) * 10
    for i, w in enumerate(["twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"])
}
_EN_SCALES = {"hundred": 100, "thousand": 1000, "million": 1_000_000}
_EN_ORD = {
    "first": 1,
    "second": 2,
    "third": 3,
    "fourth": 4,
    "fifth": 5,
    "sixth": 6,
    "seventh": 7,
    "eighth": 8,
    "ninth": 9,
    "tenth": 10,
    "eleventh": 11,
    "twelfth": 12,
    "thirteenth": 13,
    "fourteenth": 14,
    "fifteenth": 15,
    "sixteenth": 16,
    "seventeenth": 17,
    "eighteenth": 18,
    "nineteenth": 19,
    "twentieth": 20,
    "thirtieth": 30,
}
_NUM_RE = re.compile(r"\d+(?:\.\d+)?")


def _en_number(words: list[str]) -> tuple[int, int, int] | None:
    """First English number in ``words``: (value, start index, end index)."""
    i = 0
    n = len(words)
    while i < n:
        w = words[i]
        if (w in _EN_UNITS and w not in ("a", "an", "o", "single", "couple")) or w in _EN_TENS or w in _EN_ORD:
            break
        if w in ("a", "an") and i + 1 < n and words[i + 1] in _EN_SCALES:
            break
        i += 1
    else:
        return None
    start = i
    total = 0
    current = 0
    used = False
    while i < n:
        w = words[i]
        if w in _EN_UNITS and not (w in ("a", "an") and not (i + 1 < n and words[i + 1] in _EN_SCALES)):
            if used and current % 10 != 0 and w not in ("a", "an"):
                break
            current += _EN_UNITS[w]
        elif w in _EN_ORD:
            current += _EN_ORD[w]
            used = True
            i += 1
            break
        elif w in _EN_TENS:
            if used and current % 100 != 0:
                break
            current += _EN_TENS[w]
        elif w in _EN_SCALES and used:
            scale = _EN_SCALES[w]
            if scale == 100:
                current = max(current, 1) * 100
            else:
                total += max(current, 1) * scale
                current = 0
        elif w == "and" and used and i + 1 < n and (words[i + 1] in _EN_UNITS or words[i + 1] in _EN_TENS):
            pass
        else:
            break
        used = True
        i += 1
    return total + current, start, i


# --- Chinese / Korean Sino numbers -----------------------------------------------------------

_ZH_DIGITS = {
    "零": 0,
    "〇": 0,
    "一": 1,
    "幺": 1,
    "二": 2,
    "两": 2,
    "三": 3,
    "四": 4,
    "五": 5,
    "六": 6,
    "七": 7,
    "八": 8,
    "九": 9,
}
_KO_DIGITS = {
    "영": 0,
    "공": 0,
    "일": 1,
    "이": 2,
    "삼": 3,
    "사": 4,
    "오": 5,
    "육": 6,
    "륙": 6,
    "칠": 7,
    "팔": 8,
    "구": 9,
}
_ZH_UNITS = {"十": 10, "百": 100, "千": 1000}
_KO_UNITS = {"십": 10, "백": 100, "천": 1000}
_ZH_MYRIAD = {"万": 10_000, "萬": 10_000, "亿": 100_000_000}
_KO_MYRIAD = {"만": 10_000, "억": 100_000_000}


def _sino_value(run: str, digits: dict[str, int], units: dict[str, int], myriad: dict[str, int]) -> int:
    if not any(c in units or c in myriad for c in run):
        # digit by digit: 一二三 -> 123
        return int("".join(str(digits[c]) for c in run))
    total = section = num = 0
    for c in run:
        if c in digits:
            num = digits[c]
        elif c in units:
            section += (num or 1) * units[c]
            num = 0
        else:
            total += (section + num or 1) * myriad[c]
            section = num = 0
    return total + section + num


def _zh_numbers(text: str) -> list[tuple[int, int, int]]:
    chars = set(_ZH_DIGITS) | set(_ZH_UNITS) | set(_ZH_MYRIAD)
    out = []
    for m in re.finditer("[" + "".join(sorted(chars)) + "]+", text):
        run = m.group(0)
        if all(c in _ZH_MYRIAD for c in run):
            continue
        out.append((_sino_value(run, _ZH_DIGITS, _ZH_UNITS, _ZH_MYRIAD), m.start(), m.end()))
    return out


_KO_NATIVE = {
    "하나": 1,
    "한": 1,
    "둘": 2,
    "두": 2,
    "셋": 3,
    "세": 3,
    "석": 3,
    "넷": 4,
    "네": 4,
    "넉": 4,
    "다섯": 5,
    "여섯": 6,
    "일곱": 7,
    "여덟": 8,
    "아홉": 9,
    "열": 10,
    "스물": 20,
    "스무": 20,
    "서른": 30,
    "마흔": 40,
    "쉰": 50,
    "예순": 60,
    "일흔": 70,
    "여든": 80,
    "아흔": 90,
}
_KO_DETERMINERS = {"한", "두", "세", "석", "네", "넉", "스무"}
_KO_SUFFIXES = (
    "입니다",
    "이에요",
    "예요",
    "이요",
    "요",
    "개",
    "명",
    "번",
    "점",
    "살",
    "원",
    "시",
    "분",
    "일",
    "월",
    "주",
    "회",
    "장",
    "째",
    "달",
    "년",
)


def _ko_native(tok: str) -> int | None:
    """Parse a token built from native Korean numerals (e.g. 스물다섯), or None."""
    total = 0
    i = 0
    last_tens = True
    while i < len(tok):
        for w in sorted(_KO_NATIVE, key=len, reverse=True):
            if tok.startswith(w, i):
                v = _KO_NATIVE[w]
                if v < 10 and not last_tens:
                    return None
                last_tens = v >= 10
                total += v
                i += len(w)
                break
        else:
            return None
    return total


def _ko_token_number(tok: str, require_counter: bool) -> int | None:
    stem = tok
    had_suffix = False
    for _ in range(2):
        for suf in _KO_SUFFIXES:
            if stem.endswith(suf) and len(stem) > len(suf):
                stem = stem[: -len(suf)]
                had_suffix = True
                break
    m = _NUM_RE.fullmatch(stem)
    if m:
        return int(float(stem))
    if stem and all(c in _KO_DIGITS or c in _KO_UNITS or c in _KO_MYRIAD for c in stem):
        if len(stem) == 1 and stem in _KO_DIGITS and not had_suffix and require_counter:
            return None  # a lone 이/사/오/일 is far more often a word than a number
        if all(c in _KO_MYRIAD for c in stem):
            return None
        return _sino_value(stem, _KO_DIGITS, _KO_UNITS, _KO_MYRIAD)
    v = _ko_native(stem)
    if v is not None and (had_suffix or stem not in _KO_DETERMINERS):
        return v
    return None


def extract_number(text: str, language: str) -> float | int | None:
    """The first number in ``text``: digits, or numerals of the flow's language."""
    norm = normalise(text)
    raw = unicodedata.normalize("NFKC", text[:1000])
    m = _NUM_RE.search(raw)
    candidates: list[tuple[int, float | int]] = []
    if m:
        s = m.group(0)
        candidates.append((len(normalise(raw[: m.start()])), float(s) if "." in s else int(s)))
    if language == "zh" or any("\u4e00" <= c <= "\u9fff" for c in norm):
        for value, start, _ in _zh_numbers(norm):
            candidates.append((start, value))
    if language == "ko":
        offset = 0
        for tok in norm.split():
            v = _ko_token_number(tok, require_counter=True)
            if v is not None:
                candidates.append((offset, v))
                break
            offset += len(tok) + 1
    words = norm.split()
    en = _en_number(words)
    if en is not None:
        candidates.append((len(" ".join(words[: en[1]])), en[0]))
    if not candidates:
        return None
    return min(candidates, key=lambda c: c[0])[1]


_DIGIT_WORDS = {
    **{w: str(i) for w, i in _EN_UNITS.items() if i < 10 and w not in ("a", "an", "single", "couple")},
    **{c: str(v) for c, v in _ZH_DIGITS.items()},
    **{c: str(v) for c, v in _KO_DIGITS.items()},
    "하나": "1",
    "둘": "2",
    "셋": "3",
    "넷": "4",
    "다섯": "5",
    "여섯": "6",
    "일곱": "7",
    "여덟": "8",
    "아홉": "9",
}


def extract_digits(text: str) -> str | None:
    """A digit string spoken digit by digit ("four two one", "사 이 일", "四二一", "4 2 1")."""
    norm = normalise(text)
    out: list[str] = []
    for tok in norm.split():
        if tok.isdigit():
            out.append(tok)
            continue
        if tok in _DIGIT_WORDS:
            out.append(_DIGIT_WORDS[tok])
            continue
        if tok in ("double", "triple"):
            out.append(tok)
            continue
        if all(c in _ZH_DIGITS or c in _KO_DIGITS or c.isdigit() for c in tok):
            out.append("".join(c if c.isdigit() else _DIGIT_WORDS[c] for c in tok))
            continue
        if out and out[-1] not in ("double", "triple"):
            break  # digits must be contiguous
    joined: list[str] = []
    mult = 1
    for piece in out:
        if piece == "double":
            mult = 2
        elif piece == "triple":
            mult = 3
        else:
            joined.append(piece[0] * mult + piece[1:])
            mult = 1
    s = "".join(joined)
    return s or None


# --- dates -----------------------------------------------------------------------------------


def _valid(y: int, m: int, d: int) -> dt.date | None:
    try:
        return dt.date(y, m, d)
    except ValueError:
        return None


def _month_day(month: int, day: int, today: dt.date) -> dt.date | None:
    d = _valid(today.year, month, day)
    if d is not None and d < today:
        d = _valid(today.year + 1, month, day)
    return d


def date_from_keys(keys: str, today: dt.date) -> dt.date | None:
    """A date keyed on a keypad: month and day (``0314``, the next March 14 from ``today``) or
    ``YYYYMMDD``."""
    if not keys.isdigit():
        return None
    if len(keys) == 4:
        return _month_day(int(keys[:2]), int(keys[2:]), today)
    if len(keys) == 8:
        return _valid(int(keys[:4]), int(keys[4:6]), int(keys[6:]))
    return None


def extract_date(text: str, language: str, today: dt.date) -> dt.date | None:
    """A date in ``text``, resolved against ``today`` (future dates preferred)."""
    norm = normalise(text)
    flat = norm.replace(" ", "")
    m = re.search(r"(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})", text)
    if m:
        return _valid(int(m.group(1)), int(m.group(2)), int(m.group(3)))
    if language in ("ko", "zh") or any(ord(c) > 0x2E80 for c in flat):
        # 3월 14일 / 3月14日 / 三月十四号
        m2 = re.search(
            r"([0-9一二三四五六七八九十两]+|[일이삼사오육칠팔구십]+)\s*[월月]\s*"
            r"([0-9一二三四五六七八九十两]+|[일이삼사오육칠팔구십]+)\s*[일日号號]",
            flat,
        )
        if m2:
            mo = _cjk_int(m2.group(1))
            da = _cjk_int(m2.group(2))
            if mo and da:
                return _month_day(mo, da, today)
    rel = lang.RELATIVE_DAYS.get(language, {})
    for phrase in sorted(rel, key=len, reverse=True):
        hit = f" {phrase} " in f" {norm} " if language == "en" else phrase in flat
        if hit:
            if language == "zh" and phrase == "后天" and "大后天" in flat:
                continue
            if language == "ko" and phrase == "내일" and "내일모레" in flat:
                continue
            return today + dt.timedelta(days=rel[phrase])
    for idx, names in enumerate(lang.WEEKDAYS.get(language, ())):
        for name in names:
            hit = (name in norm.split()) if language == "en" else (name in flat)
            if hit:
                ahead = (idx - today.weekday()) % 7 or 7
                nxt = lang.NEXT_WORD.get(language, ())
                is_next = any(
                    (f"{w} {name}" in norm) if language == "en" else (w + name in flat or w in flat) for w in nxt
                )
                if is_next:
                    ahead = (7 - today.weekday()) + idx  # that weekday in the next calendar week
                return today + dt.timedelta(days=ahead)
    if language == "en" or not any(ord(c) > 0x2E80 for c in flat):
        words = norm.split()
        for i, w in enumerate(words):
            for mi, mname in enumerate(lang.MONTHS_EN):
                if w in (mname, mname[:3], mname[:4]):
                    day = _en_day(words[i + 1 : i + 4]) or _en_day(list(reversed(words[max(0, i - 3) : i])))
                    if day:
                        return _month_day(mi + 1, day, today)
        m3 = re.search(r"\b(\d{1,2})/(\d{1,2})\b", text)
        if m3:
            return _month_day(int(m3.group(1)), int(m3.group(2)), today)
    return None


def _en_day(words: list[str]) -> int | None:
    words = [w for w in words if w not in ("the", "of", "on")]
    if not words:
        return None
    w0 = re.sub(r"(st|nd|rd|th)$", "", words[0])
    if w0.isdigit():
        return int(w0)
    got = _en_number(words[:2])
    if got is not None and got[1] == 0:
        return got[0]
    return None


def _cjk_int(s: str) -> int | None:
    if s.isdigit():
        return int(s)
    if all(c in _ZH_DIGITS or c in _ZH_UNITS for c in s):
        return _sino_value(s, _ZH_DIGITS, _ZH_UNITS, _ZH_MYRIAD)
    if all(c in _KO_DIGITS or c in _KO_UNITS for c in s):
        return _sino_value(s, _KO_DIGITS, _KO_UNITS, _KO_MYRIAD)
    return None


# --- spoken forms --------------------------------------------------------------------------

_KO_WEEKDAY = "월화수목금토일"
_ZH_WEEKDAY = "一二三四五六日"


def spoken(value: object, language: str) -> str:
    """How a slot value is read out in a prompt."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return {"en": ("yes", "no"), "ko": ("네", "아니요"), "zh": ("是", "不是")}.get(language, ("yes", "no"))[
            0 if value else 1
        ]
    if isinstance(value, dt.date):
        if language == "ko":
            return f"{value.month}월 {value.day}일 {_KO_WEEKDAY[value.weekday()]}요일"
        if language == "zh":
            return f"{value.month}月{value.day}日星期{_ZH_WEEKDAY[value.weekday()]}"
        return f"{value.strftime('%A')}, {lang.MONTHS_EN[value.month - 1].capitalize()} {value.day}"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def grammar_words(slot_type: str, language: str) -> tuple[str, ...]:
    """Words a recogniser should expect when filling a slot of this type."""
    if slot_type in ("number", "digits"):
        if language == "ko":
            base = [
                "영",
                "공",
                "일",
                "이",
                "삼",
                "사",
                "오",
                "육",
                "칠",
                "팔",
                "구",
                "십",
                "백",
                "천",
                "만",
                "하나",
                "둘",
                "셋",
                "넷",
                "다섯",
                "여섯",
                "일곱",
                "여덟",
                "아홉",
                "열",
            ]
        elif language == "zh":
            base = list("零一二两三四五六七八九十百千万")
        else:
            base = [w for w, v in _EN_UNITS.items() if w not in ("a", "an", "o", "single", "couple")]
            if slot_type == "digits":
                base = [w for w in base if _EN_UNITS[w] < 10]
            if slot_type == "number":
                base += [*list(_EN_TENS), "hundred", "thousand", "and"]
            else:
                base += ["double", "triple"]
        return tuple(base)
    if slot_type == "date":
        words: list[str] = list(lang.RELATIVE_DAYS.get(language, {}))
        for names in lang.WEEKDAYS.get(language, ()):
            words.append(names[0])
        if language == "en":
            words += list(lang.MONTHS_EN) + list(_EN_ORD) + ["next"]
        return tuple(words)
    return ()
