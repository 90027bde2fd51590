"""What the bot says about keys, in the flow's language: keypad menus and digit entry.

Used when a flow runs keypad-only (``flow.start(context, dtmf_only=True)``): every ask state
then tells the caller what to press, e.g. "Press 1 for yes, 2 for no." /
"네는 1번, 아니요는 2번 눌러 주세요." / "是请按1，不是请按2。".
"""

from __future__ import annotations

KEY_NAMES: dict[str, dict[str, str]] = {
    "en": {"*": "star", "#": "pound"},
    "ko": {"*": "별표", "#": "우물 정자"},
    "zh": {"*": "星号键", "#": "井号键"},
}

# what to say for a slot that is keyed digit by digit; {n}: the number of digits, {lo}-{hi}: the
# keys a one-key number may take
ENTRY: dict[str, dict[str, str]] = {
    "en": {
        "digits_fixed": "Key in the {n} digits.",
        "digits": "Key in the digits, then press pound.",
        "number": "Key in the number, then press pound.",
        "range": "Press a key from {lo} to {hi}.",
        "date": "Key in the month and day as four digits, for example 0 3 1 4 for March 14.",
        "any": "Press any key to go on.",
    },
    "ko": {
        "digits_fixed": "{n}자리 숫자를 눌러 주세요.",
        "digits": "숫자를 누른 다음 우물 정자를 눌러 주세요.",
        "number": "숫자를 누른 다음 우물 정자를 눌러 주세요.",
        "range": "{lo}번부터 {hi}번 중에서 눌러 주세요.",
        "date": "월과 일을 네 자리 숫자로 눌러 주세요. 예를 들어 3월 14일은 0 3 1 4입니다.",
        "any": "아무 번호나 눌러 주세요.",
    },
    "zh": {
        "digits_fixed": "请输入{n}位数字。",
        "digits": "请输入数字，然后按井号键。",
        "number": "请输入数字，然后按井号键。",
        "range": "请按{lo}到{hi}之间的数字键。",
        "date": "请用四位数字输入月和日，例如三月十四日请按0 3 1 4。",
        "any": "请按任意键继续。",
    },
}


def key_name(key: str, language: str) -> str:
    """A key as it is spoken: ``1``, ``star``, ``우물 정자``..."""
    return KEY_NAMES.get(language, KEY_NAMES["en"]).get(key, key)


def menu(items: list[tuple[str, str]], language: str) -> str:
    """One sentence offering ``(key, label)`` choices in order."""
    if not items:
        return ""
    if language == "ko":
        parts = [f"{label}{_topic(label)} {_ko_key(key)}" for key, label in items]
        return ", ".join(parts) + " 눌러 주세요."
    if language == "zh":
        return "，".join(f"{label}请按{key_name(key, 'zh')}" for key, label in items) + "。"
    return "Press " + ", ".join(f"{key_name(key, 'en')} for {label}" for key, label in items) + "."


def entry(kind: str, language: str, **numbers: int) -> str:
    """How to key a value in: ``digits_fixed`` (``n`` digits), ``digits``, ``number``, ``range``
    (one key from ``lo`` to ``hi``), ``date``, ``any``."""
    return ENTRY.get(language, ENTRY["en"])[kind].format(**numbers)


def _ko_key(key: str) -> str:
    return f"{key}번" if key.isdigit() else key_name(key, "ko")


def _topic(word: str) -> str:
    """The Korean topic particle after ``word``: 은 after a final consonant, 는 after a vowel."""
    last = word.strip()[-1:] if word.strip() else ""
    if "가" <= last <= "힣":
        return "은" if (ord(last) - ord("가")) % 28 else "는"
    return "는"
