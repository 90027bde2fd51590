"""Dialog flows: YAML graphs compiled to validated state machines, run as pure sessions.

``Flow.load(path)`` compiles (raising :class:`FlowError` with ``file:line:column``
diagnostics), ``flow.start(context)`` opens a :class:`Session`, ``session.begin()`` and
``session.handle(event)`` return actions. No I/O happens here besides reading flow files.
"""

from __future__ import annotations

from voicebot.flow.context import CalleeProfile, CallRecord, ContextStore, MemoryContextStore
from voicebot.flow.diagnostics import Diagnostic, FlowError
from voicebot.flow.events import (
    Action,
    CallerHangup,
    CallResult,
    Dtmf,
    EnrollVoice,
    Event,
    Hangup,
    Listen,
    Say,
    SetSlot,
    SilenceTimeout,
    Transfer,
    TransferResult,
    Turn,
    Utterance,
    VerifyVoice,
    VoiceprintResult,
    Webhook,
    WebhookResult,
)
from voicebot.flow.flow import Flow
from voicebot.flow.runtime import FlowStateError, Session

__all__ = [
    "Action",
    "CallRecord",
    "CallResult",
    "CalleeProfile",
    "CallerHangup",
    "ContextStore",
    "Diagnostic",
    "Dtmf",
    "EnrollVoice",
    "Event",
    "Flow",
    "FlowError",
    "FlowStateError",
    "Hangup",
    "Listen",
    "MemoryContextStore",
    "Say",
    "Session",
    "SetSlot",
    "SilenceTimeout",
    "Transfer",
    "TransferResult",
    "Turn",
    "Utterance",
    "VerifyVoice",
    "VoiceprintResult",
    "Webhook",
    "WebhookResult",
]
