"""Events into a flow session and actions out of it (DESIGN.md rule 4).

A call engine drives a :class:`~voicebot.flow.runtime.Session`: it performs the actions the
session returns (speak, listen, call a webhook, transfer, hang up) and feeds back what happened
as events. Everything here is a frozen, keyword-only, slotted dataclass.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

DTMF_KEYS = "0123456789*#ABCD"  # the sixteen keys of RFC 4733, as a flow names them

# --- events (caller/engine -> flow) -----------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class Utterance:
    """A final recognition result. ``confidence`` is 0..1 (1.0 when the recogniser gives none).

    ``understood`` False: the recogniser heard speech but matched none of the phrases it was
    given (a no-match); ``text`` is what it heard, for the transcript. The flow treats it as
    not understood (a reprompt), whatever the text."""

    text: str
    confidence: float = 1.0
    understood: bool = True


@dataclass(frozen=True, slots=True, kw_only=True)
class Dtmf:
    """One DTMF key: ``0``-``9``, ``*``, ``#``, ``A``-``D``."""

    digit: str


@dataclass(frozen=True, slots=True, kw_only=True)
class SilenceTimeout:
    """The caller said nothing for the ``Listen.timeout_s`` of the last listen action."""


@dataclass(frozen=True, slots=True, kw_only=True)
class WebhookResult:
    """The outcome of a :class:`Webhook` action. ``ok`` is False on timeout, refusal or non-2xx."""

    ok: bool
    data: Mapping[str, Any] | None = None
    status: int | None = None
    error: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class TransferResult:
    """Optional: tells the flow whether a :class:`Transfer` worked. ``ok=False`` resumes the flow
    at the transfer state's ``on_failure`` (or a built-in apology and hang-up)."""

    ok: bool
    reason: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class CallerHangup:
    """The caller hung up."""


VERIFY_RESULTS = ("match", "no_match", "not_enough_speech", "not_enrolled")
ENROLL_RESULTS = ("enrolled", "not_enough_speech", "failed")


@dataclass(frozen=True, slots=True, kw_only=True)
class VoiceprintResult:
    """The answer to a :class:`VerifyVoice` (``result`` in :data:`VERIFY_RESULTS`) or an
    :class:`EnrollVoice` (in :data:`ENROLL_RESULTS`). ``score``: the cosine similarity of the
    caller's speech so far to the enrolled voiceprint (verify; None when nothing was scored);
    ``seconds``: how much of the caller's speech was used; ``error``: why, when it failed."""

    result: str
    score: float | None = None
    seconds: float = 0.0
    error: str = ""


AMD_VERDICTS = ("human", "machine", "unknown")


@dataclass(frozen=True, slots=True, kw_only=True)
class AnsweredBy:
    """Answering-machine detection's verdict on an outbound call (the answer to
    :class:`DetectMachine`): ``verdict`` in :data:`AMD_VERDICTS`, decided ``at`` seconds after
    the answer, ``reason`` in words."""

    verdict: str
    at: float = 0.0
    reason: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class MachineRecording:
    """After a ``machine`` verdict: the machine's greeting is over (``after`` its beep, a
    silence, or a timeout), ``at`` seconds after the answer; a message spoken now is recorded."""

    at: float = 0.0
    after: str = ""


Event = (
    Utterance
    | Dtmf
    | SilenceTimeout
    | WebhookResult
    | TransferResult
    | VoiceprintResult
    | AnsweredBy
    | MachineRecording
    | CallerHangup
)

# --- actions (flow -> engine) -------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class Say:
    """Speak ``text`` (``ssml`` when the flow gave SSML). ``barge_in``: the caller may interrupt."""

    text: str
    ssml: str | None = None
    language: str = "en"
    voice: str | None = None
    barge_in: bool = True


@dataclass(frozen=True, slots=True, kw_only=True)
class Listen:
    """Listen for the caller. ``grammar`` is the phrase list for a grammar-constrained recogniser
    (``None``: free speech). ``dtmf`` lists the keys that mean something here; ``max_digits`` > 1
    means keys are collected into a number (ended by ``#``). Send :class:`SilenceTimeout` after
    ``timeout_s`` of silence. ``dtmf_only``: the call runs by keypad alone (the prompt said which
    keys to press); only keys are expected, so no recogniser need run."""

    grammar: tuple[str, ...] | None
    timeout_s: float
    dtmf: tuple[str, ...] = ()
    max_digits: int = 1
    state: str = ""
    language: str = "en"
    dtmf_only: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class Webhook:
    """Make an HTTP request and answer with :class:`WebhookResult` (JSON object body)."""

    url: str
    method: str = "POST"
    headers: tuple[tuple[str, str], ...] = ()
    body: Mapping[str, Any] | None = None
    timeout_s: float = 5.0
    state: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class Transfer:
    """Transfer the call (SIP REFER or a bridged INVITE) to ``uri``."""

    uri: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Hangup:
    """End the call. ``do_not_call``: the callee asked never to be called again."""

    outcome: str
    do_not_call: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class VerifyVoice:
    """Score the caller's speech so far (this call's audio, no new prompt) against the voiceprint
    enrolled as ``id``; answer with :class:`VoiceprintResult`. Fewer than ``min_seconds`` of
    speech is ``not_enough_speech``."""

    id: str
    min_seconds: float = 3.0
    state: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class EnrollVoice:
    """Enrol (or add to) the voiceprint ``id`` from the caller's speech so far in this call;
    answer with :class:`VoiceprintResult` (``enrolled``, ``not_enough_speech`` or ``failed``)."""

    id: str
    min_seconds: float = 3.0
    state: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class SetSlot:
    """A slot got a value (for logs and CRM sync; the session already holds it)."""

    name: str
    value: Any


@dataclass(frozen=True, slots=True, kw_only=True)
class DetectMachine:
    """Tell who answered this outbound call from the audio since the answer: answer with
    :class:`AnsweredBy` within ``within`` seconds of the answer, and after a ``machine`` verdict
    with :class:`MachineRecording` once its greeting is over."""

    within: float = 5.0


Action = Say | Listen | Webhook | Transfer | Hangup | SetSlot | VerifyVoice | EnrollVoice | DetectMachine


@dataclass(frozen=True, slots=True, kw_only=True)
class Turn:
    """One line of a call's history: ``who`` is ``bot``, ``caller``, ``dtmf``, ``silence``,
    ``state``, ``slot``, ``webhook``, ``voiceprint``, ``machine``, ``system``."""

    t: float
    who: str
    text: str
    state: str
    data: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True, kw_only=True)
class FlowResult:
    """What a finished (or abandoned) session produced."""

    flow: str
    outcome: str | None
    slots: Mapping[str, Any]
    final_state: str
    do_not_call: bool
    turns: int
    history: tuple[Turn, ...]
    started_at: float
    ended_at: float

    @property
    def transcript(self) -> list[tuple[str, str]]:
        """``(who, text)`` for what the bot said and what the caller said or keyed."""
        return [(t.who, t.text) for t in self.history if t.who in ("bot", "caller", "dtmf", "silence")]
