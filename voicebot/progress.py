"""What happens on a call, as it happens: the events a :class:`~voicebot.call.Call` reports to
its observers (``call.observe(callback)``), for live progress on a terminal, logs or metrics.

Frozen, slotted, keyword-only dataclasses (DESIGN.md rule 4). ``at`` is the event-loop time
(seconds) at which it happened; ``Call.started_at`` is the same clock's instant at which the
call was created, so ``event.at - call.started_at`` is the time into the call.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True, kw_only=True)
class CallEvent:
    at: float


@dataclass(frozen=True, slots=True, kw_only=True)
class Ringing(CallEvent):
    """A provisional response arrived for our INVITE (180, 183), or we sent 180."""

    status: int


@dataclass(frozen=True, slots=True, kw_only=True)
class Answered(CallEvent):
    """The call is up; ``codec`` is the negotiated audio codec and ``ptime`` the packet time (ms)
    we send with (both None without media)."""

    codec: str | None
    ptime: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class BotSaid(CallEvent):
    """A prompt started playing (``text`` is what is spoken, or the file name played)."""

    text: str


@dataclass(frozen=True, slots=True, kw_only=True)
class PromptAudio(CallEvent):
    """A prompt's first audio was queued for sending. ``synthesis``: seconds from asking for
    the speech to its first audio (None for a played file); ``turn_latency``: seconds from the
    end of the caller's speech, when the prompt answers a turn (None otherwise)."""

    synthesis: float | None = None
    turn_latency: float | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class CallerSaid(CallEvent):
    """An utterance was recognised (``at``: its final result was ready). ``phrase``: the
    expected phrase it matched (or None); ``speech_end`` and ``endpointed``: the media times at
    which the caller stopped talking and the endpointer decided the turn was over;
    ``understood`` False: the recogniser matched none of the expected phrases (a no-match)."""

    text: str
    phrase: str | None
    confidence: float
    speech_end: float
    endpointed: float | None = None
    understood: bool = True


@dataclass(frozen=True, slots=True, kw_only=True)
class DigitPressed(CallEvent):
    """A key the caller pressed; ``source`` is "rfc4733" or "info" (SIP INFO)."""

    digit: str
    source: str = "rfc4733"
    duration_ms: int = 0


@dataclass(frozen=True, slots=True, kw_only=True)
class BargedIn(CallEvent):
    """The caller spoke (or keyed) over a prompt, which was cut short."""

    onset: float
    by: str  # "speech" / "dtmf"


@dataclass(frozen=True, slots=True, kw_only=True)
class Transfer(CallEvent):
    """A blind transfer to ``target``; ``status`` is None when it starts, the final status after."""

    target: str
    status: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class MachineDetection(CallEvent):
    """Answering-machine detection on an outbound call: ``what`` is the verdict (``human``,
    ``machine``, ``unknown``), ``beep`` (a tone was heard) or ``greeting over`` (after a machine
    verdict: the moment its message is recorded); ``detail`` says why or what; ``seconds``: for
    a verdict, how long after the answer it came."""

    what: str
    detail: str = ""
    seconds: float | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Ended(CallEvent):
    status: int
    reason: str
    ended_by: str | None


__all__ = [
    "Answered",
    "BargedIn",
    "BotSaid",
    "CallEvent",
    "CallerSaid",
    "DigitPressed",
    "Ended",
    "MachineDetection",
    "PromptAudio",
    "Ringing",
    "Transfer",
]
