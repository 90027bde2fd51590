"""The flow file's vocabulary: the keys each section may hold and the compiler's defaults.

One table per place in a flow file (top level, a slot, an intent, each kind of state, a
conversation script), so that an unknown key gets a "did you mean" against the right list.
``docs/flow.schema.json`` describes the same keys for editors.
"""

from __future__ import annotations

import re

from voicebot.flow import expr as ex

TOP_KEYS = (
    "flow",
    "description",
    "language",
    "voice",
    "asr",
    "agent",
    "defaults",
    "max_turns",
    "include",
    "slots",
    "intents",
    "synonyms",
    "global",
    "prompts",
    "answering_machine",
    "start",
    "states",
    "tests",
)
INCLUDE_KEYS = ("description", "slots", "intents", "synonyms", "prompts", "states")
SUBFLOW_KEYS = (
    "flow",
    "returns",
    "description",
    "language",
    "include",
    "slots",
    "intents",
    "synonyms",
    "prompts",
    "start",
    "states",
    "tests",
)
COMMON_STATE_KEYS = ("say", "ssml", "set", "description", "barge_in")
KIND_KEYS: dict[str, tuple[str, ...]] = {
    "ask": (
        "ask",
        "reprompt",
        "slot",
        "on",
        "next",
        "dtmf",
        "timeout",
        "no_input",
        "no_match",
        "grammar",
        "global",
        "min_confidence",
        "confirm_below",
    ),
    "branch": ("branch",),
    "webhook": ("webhook", "next", "on_error"),
    "verify_voice": ("verify_voice", "on"),
    "enroll_voice": ("enroll_voice", "next", "on_failure"),
    "transfer": ("transfer", "on_failure"),
    "hangup": ("hangup",),
    "subflow": ("subflow", "on", "next"),
    "return": ("return",),
    "say": ("next",),
}
MAIN_KEYS = ("ask", "branch", "webhook", "verify_voice", "enroll_voice", "transfer", "hangup", "subflow", "return")
ALL_STATE_KEYS = tuple(sorted({k for ks in KIND_KEYS.values() for k in ks} | set(COMMON_STATE_KEYS)))
SLOT_KEYS = (
    "type",
    "values",
    "min",
    "max",
    "length",
    "min_length",
    "max_length",
    "default",
    "required",
    "description",
)
INTENT_KEYS = ("phrases", "dtmf", "description")
LIMIT_KEYS = ("limit", "goto", "say")
WEBHOOK_KEYS = ("url", "method", "headers", "body", "timeout", "save")
VERIFY_VOICE_KEYS = ("id", "min_seconds", "score")
ENROLL_VOICE_KEYS = ("id", "min_seconds")
VOICE_SCORE_SLOT = "voice_score"  # where verify_voice puts the score unless 'score:' names a slot
DEFAULT_VOICE_SECONDS = 3.0
MACHINE_KEYS = ("on_machine", "within")
ANSWERED_BY_SLOT = "answered_by"  # the verdict: human / machine / unknown
DEFAULT_MACHINE_WITHIN = 5.0
ASR_KEYS = ("mode", "min_confidence", "confirm_below", "match_threshold")
DEFAULT_KEYS = ("timeout", "no_input", "no_match", "barge_in")
SCRIPT_KEYS = (
    "name", "context", "profile", "today", "dtmf_only", "answered_by", "accept_confidence", "turns", "expect",
    "webhooks", "voices",
)  # fmt: skip
PROFILE_KEYS = ("calls", "last_outcome", "do_not_call")
TURN_INPUT_KEYS = ("caller", "confidence", "dtmf", "silence", "hangup", "transfer_fails")
TURN_CHECK_KEYS = ("state", "says", "slots", "outcome", "ended")
EXPECT_KEYS = ("state", "slots", "outcome", "do_not_call", "says")
PROFILE_FIELDS = {"profile.calls": ex.NUMBER, "profile.last_outcome": ex.STR, "profile.do_not_call": ex.BOOL}
NAME_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
OUTCOME_RE = re.compile(r"[a-z][a-z0-9_]*\Z")
DEFAULT_TIMEOUT = 5.0
DEFAULT_LIMIT = 3
DEFAULT_MAX_TURNS = 60
BUILTIN_STATES = {
    "_opt_out": ("opt_out", "opted_out"),
    "_abuse": ("abuse", "abusive"),
    "_agent": ("agent", "transferred"),
    "_no_input_end": ("no_input_end", "no_input"),
    "_no_match_end": ("no_match_end", "no_match"),
    "_transfer_failed": ("transfer_failed", "transfer_failed"),
    "_error": ("error", "error"),
    "_max_turns": ("no_match_end", "max_turns"),
}
