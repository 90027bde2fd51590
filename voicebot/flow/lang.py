"""Per-language words the flow runtime needs: built-in intents and built-in prompts.

Languages: ``en`` (English), ``ko`` (Korean), ``zh`` (Mandarin Chinese, simplified). Phrases are
short and common so that they sit well in a small ASR model's vocabulary (they double as the
recognition grammar of a listening state). Flows add their own phrases on top.
"""

from __future__ import annotations

LANGUAGES = ("en", "ko", "zh")

# intent -> language -> phrases
BUILTIN_INTENTS: dict[str, dict[str, tuple[str, ...]]] = {
    "yes": {
        "en": (
            "yes",
            "yeah",
            "yep",
            "sure",
            "correct",
            "that's right",
            "right",
            "okay",
            "ok",
            "of course",
            "absolutely",
            "yes please",
            "sounds good",
            "that works",
            "no problem",
        ),
        "ko": ("네", "예", "응", "맞아요", "맞습니다", "좋아요", "그래요", "알겠습니다", "괜찮아요"),
        "zh": ("是", "是的", "对", "对的", "好", "好的", "可以", "行", "没问题", "嗯"),
    },
    "no": {
        "en": (
            "no",
            "nope",
            "nah",
            "not really",
            "no thanks",
            "no thank you",
            "negative",
            "that's wrong",
            "incorrect",
            "i can't",
            "not now",
        ),
        "ko": ("아니요", "아니오", "아뇨", "아니", "싫어요", "안 돼요", "못 가요", "틀려요"),
        "zh": ("不", "不是", "不对", "不要", "不行", "不可以", "没有", "不用"),
    },
    "repeat": {
        "en": (
            "repeat",
            "say that again",
            "repeat that",
            "pardon",
            "what did you say",
            "come again",
            "sorry what",
            "can you repeat",
        ),
        "ko": ("다시", "다시 말해 주세요", "뭐라고요", "다시 한번", "못 들었어요"),
        "zh": ("再说一遍", "重复", "什么", "没听清", "请再说一次"),
    },
    "agent": {
        "en": (
            "agent",
            "operator",
            "human",
            "real person",
            "talk to a person",
            "speak to someone",
            "representative",
            "customer service",
        ),
        "ko": ("상담원", "상담사", "직원", "사람 바꿔 주세요", "상담원 연결"),
        "zh": ("人工", "人工服务", "客服", "转人工", "真人"),
    },
    "opt_out": {
        "en": (
            "stop calling me",
            "don't call me",
            "do not call",
            "do not call me again",
            "take me off your list",
            "remove me from your list",
            "unsubscribe",
            "stop calling",
            "never call again",
        ),
        "ko": ("전화하지 마세요", "전화 그만", "연락하지 마세요", "수신 거부", "그만 전화해"),
        "zh": ("别再打了", "不要再打电话", "不要给我打电话", "别打了", "拒绝来电"),
    },
    "abuse": {
        "en": ("shut up", "idiot", "stupid", "screw you", "go to hell", "damn you", "moron"),
        "ko": ("닥쳐", "바보", "멍청이", "꺼져", "미친"),
        "zh": ("闭嘴", "滚", "笨蛋", "傻瓜", "去死"),
    },
}

GLOBAL_INTENTS = ("opt_out", "abuse", "repeat", "agent")

# built-in prompts used by the states the compiler adds (they can be overridden in a flow)
BUILTIN_PROMPTS: dict[str, dict[str, str]] = {
    "opt_out": {
        "en": "Understood. We will not call you again. Goodbye.",
        "ko": "알겠습니다. 다시는 전화드리지 않겠습니다. 안녕히 계세요.",
        "zh": "好的，我们以后不会再给您打电话。再见。",
    },
    "abuse": {
        "en": "I'm going to end the call now. Goodbye.",
        "ko": "통화를 종료하겠습니다. 안녕히 계세요.",
        "zh": "我现在将结束通话。再见。",
    },
    "agent": {
        "en": "Please hold while I connect you to an agent.",
        "ko": "상담원에게 연결해 드리겠습니다. 잠시만 기다려 주세요.",
        "zh": "请稍等，正在为您转接人工服务。",
    },
    "no_input": {
        "en": "I'm sorry, I didn't hear anything.",
        "ko": "죄송합니다, 잘 들리지 않았어요.",
        "zh": "抱歉，我没有听到您的声音。",
    },
    "no_match": {
        "en": "Sorry, I didn't understand that.",
        "ko": "죄송합니다, 잘 이해하지 못했어요.",
        "zh": "抱歉，我没有听懂。",
    },
    "no_input_end": {
        "en": "I still can't hear you, so I'll end the call. Goodbye.",
        "ko": "계속 들리지 않아 통화를 종료하겠습니다. 안녕히 계세요.",
        "zh": "我还是听不到您的声音，将结束通话。再见。",
    },
    "no_match_end": {
        "en": "I'm sorry we couldn't sort this out. Goodbye.",
        "ko": "도와드리지 못해 죄송합니다. 안녕히 계세요.",
        "zh": "很抱歉没能帮到您。再见。",
    },
    "transfer_failed": {
        "en": "I'm sorry, nobody is available right now. Goodbye.",
        "ko": "죄송합니다, 지금은 연결할 수 없습니다. 안녕히 계세요.",
        "zh": "抱歉，现在没有人可以接听。再见。",
    },
    "error": {
        "en": "I'm sorry, something went wrong. Goodbye.",
        "ko": "죄송합니다, 문제가 발생했습니다. 안녕히 계세요.",
        "zh": "抱歉，出现了问题。再见。",
    },
    # asked when an answer was heard with low confidence; {answer} is what the bot thinks it heard
    "confirm": {
        "en": "Did you say {answer}?",
        "ko": "{answer}, 맞습니까?",
        "zh": "您是说{answer}吗？",
    },
}

WEEKDAYS: dict[str, tuple[tuple[str, ...], ...]] = {
    "en": (
        ("monday", "mon"),
        ("tuesday", "tue", "tues"),
        ("wednesday", "wed"),
        ("thursday", "thu", "thur", "thurs"),
        ("friday", "fri"),
        ("saturday", "sat"),
        ("sunday", "sun"),
    ),
    "ko": (("월요일",), ("화요일",), ("수요일",), ("목요일",), ("금요일",), ("토요일",), ("일요일",)),
    "zh": (
        ("星期一", "周一", "礼拜一"),
        ("星期二", "周二", "礼拜二"),
        ("星期三", "周三", "礼拜三"),
        ("星期四", "周四", "礼拜四"),
        ("星期五", "周五", "礼拜五"),
        ("星期六", "周六", "礼拜六"),
        ("星期天", "星期日", "周日", "周天", "礼拜天", "礼拜日"),
    ),
}

MONTHS_EN = (
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
)

RELATIVE_DAYS: dict[str, dict[str, int]] = {
    "en": {"today": 0, "tomorrow": 1, "day after tomorrow": 2, "the day after tomorrow": 2},
    "ko": {"오늘": 0, "내일": 1, "모레": 2, "내일모레": 2},
    "zh": {"今天": 0, "明天": 1, "后天": 2, "大后天": 3},
}

NEXT_WORD = {"en": ("next",), "ko": ("다음주", "다음 주"), "zh": ("下", "下个", "下周", "下星期")}
