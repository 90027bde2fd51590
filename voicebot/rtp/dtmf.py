"""DTMF as RTP telephone-events: RFC 4733 §2.3 (payload format), §2.5.1 (sending: one event
timestamp, growing duration, end packet sent three times), §2.5.2 (receiving: duplicates by
timestamp, lost end packets). Also the digit syntax of SIP INFO application/dtmf-relay.
"""

from __future__ import annotations

import struct
from collections import deque
from dataclasses import dataclass

from voicebot.errors import LocalProtocolError, RemoteProtocolError
from voicebot.rtp.events import DtmfDigit

EVENT_CODES = {**{str(i): i for i in range(10)}, "*": 10, "#": 11, "A": 12, "B": 13, "C": 14, "D": 15}
EVENT_DIGITS = {code: digit for digit, code in EVENT_CODES.items()}
END_REPEATS = 3


@dataclass(frozen=True, slots=True, kw_only=True)
class TelephoneEvent:
    """One telephone-event payload (RFC 4733 §2.3)."""

    event: int
    end: bool
    volume: int
    duration: int  # RTP timestamp units

    @classmethod
    def parse(cls, payload: bytes) -> TelephoneEvent:
        if len(payload) < 4:
            raise RemoteProtocolError(f"telephone-event payload of {len(payload)} bytes (need 4)")
        event, flags, duration = struct.unpack_from("!BBH", payload, 0)
        return cls(event=event, end=bool(flags & 0x80), volume=flags & 0x3F, duration=duration)

    def __bytes__(self) -> bytes:
        return struct.pack(
            "!BBH", self.event & 0xFF, (0x80 if self.end else 0) | (self.volume & 0x3F), min(self.duration, 0xFFFF)
        )


def normalize_digits(digits: str) -> str:
    out = digits.upper()
    bad = [c for c in out if c not in EVENT_CODES]
    if bad:
        raise LocalProtocolError(f"not DTMF digits: {''.join(bad)!r} (use 0-9, *, #, A-D)")
    return out


@dataclass(frozen=True, slots=True, kw_only=True)
class DtmfPacket:
    """A telephone-event packet to send: ``timestamp`` is the event's start timestamp."""

    payload: bytes
    timestamp_offset: int  # frames since the first frame of this event (event timestamp stays put)
    marker: bool
    end: bool


class DtmfSender:
    """Turns queued digits into one telephone-event payload per 20 ms frame (RFC 4733 §2.5.1)."""

    def __init__(self, clock_rate: int, frame_samples: int, *, volume: int = 10, gap_ms: int = 60) -> None:
        self.clock_rate = clock_rate
        self.frame_samples = frame_samples
        self.volume = volume
        self.gap_frames = max(1, gap_ms // 20)
        self._queue: deque[tuple[str, int]] = deque()
        self._digit: str | None = None
        self._target = 0
        self._duration = 0
        self._ends_sent = 0
        self._gap = 0

    def queue(self, digits: str, duration_ms: int = 100) -> None:
        if not 40 <= duration_ms <= 1000:
            raise LocalProtocolError(f"DTMF duration must be 40..1000 ms, got {duration_ms}")
        samples = min(duration_ms * self.clock_rate // 1000, 0xFFFF)
        for d in normalize_digits(digits):
            self._queue.append((d, samples))

    @property
    def active(self) -> bool:
        """True while digits (or the pause between them) own the outgoing frames."""
        return self._digit is not None or bool(self._queue) or self._gap > 0

    def next_frame(self) -> tuple[bytes, bool, bool] | None:
        """Payload for this frame as (payload, new_event, end), or None when audio may be sent.

        ``new_event`` means the caller starts a new event timestamp (and sets the marker bit).
        """
        if self._digit is None:
            if self._gap > 0:
                self._gap -= 1
                return None
            if not self._queue:
                return None
            self._digit, self._target = self._queue.popleft()
            self._duration = 0
            self._ends_sent = 0
        new_event = self._duration == 0 and self._ends_sent == 0
        end = False
        if self._duration < self._target:
            self._duration = min(self._duration + self.frame_samples, self._target)
        if self._duration >= self._target:
            end = True
            self._ends_sent += 1
        payload = bytes(
            TelephoneEvent(event=EVENT_CODES[self._digit], end=end, volume=self.volume, duration=self._duration)
        )
        if end and self._ends_sent >= END_REPEATS:
            self._digit = None
            self._gap = self.gap_frames
        return payload, new_event, end


class DtmfReceiver:
    """Telephone-event receiver: one digit per event timestamp, however many packets carry it."""

    def __init__(self, clock_rate: int, *, timeout: float = 1.0) -> None:
        self.clock_rate = clock_rate
        self.timeout = timeout
        self._current_ts: int | None = None
        self._current: TelephoneEvent | None = None
        self._last_arrival = 0.0
        self.last_arrival: float | None = None  # of any telephone-event packet
        self._reported: deque[int] = deque(maxlen=16)

    def receive(self, timestamp: int, payload: bytes, arrival: float) -> list[DtmfDigit]:
        ev = TelephoneEvent.parse(payload)
        self.last_arrival = arrival
        out: list[DtmfDigit] = []
        if timestamp in self._reported:
            return out  # retransmitted end packet or a late duplicate
        if self._current_ts is not None and timestamp != self._current_ts:
            out.extend(self._finish())  # the previous event lost its end packets
        if ev.event not in EVENT_DIGITS:
            return out  # not a DTMF digit (tones, flash): ignored
        self._current_ts = timestamp
        if self._current is None or ev.duration >= self._current.duration:
            self._current = ev
        self._last_arrival = arrival
        if ev.end:
            out.extend(self._finish())
        return out

    @property
    def deadline(self) -> float | None:
        """When :meth:`poll` reports the open event if no more of it arrives (None: none open)."""
        return None if self._current is None else self._last_arrival + self.timeout

    def poll(self, now: float) -> list[DtmfDigit]:
        """Report an event whose end packets never came once ``timeout`` has passed."""
        if self._current is not None and now - self._last_arrival > self.timeout:
            return self._finish()
        return []

    def _finish(self) -> list[DtmfDigit]:
        ev, ts = self._current, self._current_ts
        self._current = None
        self._current_ts = None
        if ev is None or ts is None:
            return []
        self._reported.append(ts)
        return [
            DtmfDigit(
                digit=EVENT_DIGITS[ev.event],
                duration_ms=round(ev.duration * 1000 / self.clock_rate),
                source="rfc4733",
            )
        ]
