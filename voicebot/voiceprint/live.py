"""The caller's voice during a call: frames in, voiceprint checks and enrolments out.

A call engine feeds every frame of the caller's audio (16 kHz int16, any length, 20 ms as the
media layer gives them) to :meth:`CallerVoice.feed`, which only appends to a bounded buffer and
so is safe on the event loop. When a flow's ``verify_voice`` / ``enroll_voice`` state asks,
:meth:`CallerVoice.verify` / :meth:`CallerVoice.enroll` take what the caller has said so far and
run the encoder (tens of milliseconds of CPU per second of speech) in this object's worker thread,
returning a :class:`concurrent.futures.Future` of a :class:`~voicebot.voiceprint.verify.Verdict`
(``asyncio.wrap_future`` awaits it). Neither raises for what the speech or the store lack: those
are results (``not_enough_speech``, ``not_enrolled``, ``failed`` with the reason).

The buffer keeps the newest ``max_seconds`` of audio (2 minutes: 3.8 MB); long pauses, such as
while the bot speaks, are cut before scoring, so only speech counts towards ``min_seconds``.
"""

from __future__ import annotations

import collections
import logging
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import numpy as np

from voicebot.errors import VoicebotError
from voicebot.voiceprint.encoder import SpeakerEncoder
from voicebot.voiceprint.features import RATE
from voicebot.voiceprint.prints import PrintStore
from voicebot.voiceprint.verify import (
    ENROLLED,
    FAILED,
    NOT_ENOUGH_SPEECH,
    NOT_ENROLLED,
    Speech,
    Verdict,
    enroll,
    verify,
)

log = logging.getLogger(__name__)
MAX_SECONDS = 120.0


class CallerAudio:
    """The newest ``max_seconds`` of one caller's 16 kHz audio. Pure: no threads, no clock."""

    def __init__(self, max_seconds: float = MAX_SECONDS) -> None:
        self.max_samples = int(max_seconds * RATE)
        self._frames: collections.deque[np.ndarray[Any, np.dtype[np.int16]]] = collections.deque()
        self._samples = 0

    def feed(self, frame: np.ndarray[Any, Any]) -> None:
        pcm = np.asarray(frame, dtype=np.int16).reshape(-1)
        if not pcm.size:
            return
        self._frames.append(pcm.copy())
        self._samples += pcm.size
        while self._samples - self._frames[0].size >= self.max_samples:
            self._samples -= self._frames.popleft().size

    @property
    def seconds(self) -> float:
        """Audio held (speech and silence)."""
        return self._samples / RATE

    def snapshot(self) -> np.ndarray[Any, np.dtype[np.int16]]:
        """All audio held, oldest first (at most ``max_seconds``)."""
        if not self._frames:
            return np.zeros(0, np.int16)
        return np.concatenate(list(self._frames))[-self.max_samples :]


class CallerVoice:
    """Voiceprint checks on one call's caller audio, run in a worker thread of their own."""

    def __init__(
        self,
        store: PrintStore,
        *,
        encoder: SpeakerEncoder | None = None,
        threshold: float | None = None,  # None: the default of the band compared
        max_seconds: float = MAX_SECONDS,
    ) -> None:
        self.store = store
        self.threshold = threshold
        self.audio = CallerAudio(max_seconds)
        self._encoder = encoder
        self._lock = threading.Lock()  # feed (loop thread) vs snapshot (caller of verify/enroll)
        self._pool: ThreadPoolExecutor | None = None

    def feed(self, frame: np.ndarray[Any, Any]) -> None:
        with self._lock:
            self.audio.feed(frame)

    def verify(self, person: str, min_seconds: float) -> Future[Verdict]:
        """Score the caller's speech so far against ``person``'s print."""
        return self._submit(self._verify, person, min_seconds)

    def enroll(self, person: str, min_seconds: float) -> Future[Verdict]:
        """Add the caller's speech so far to ``person``'s print (creating it)."""
        return self._submit(self._enroll, person, min_seconds)

    def close(self) -> None:
        """Wait for a check in progress, then stop the worker thread."""
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None

    # ------------------------------------------------------------------ internals
    def _submit(self, work: Any, person: str, min_seconds: float) -> Future[Verdict]:
        with self._lock:
            pcm = self.audio.snapshot()
        if self._pool is None:
            self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="voicebot-voiceprint")
        future: Future[Verdict] = self._pool.submit(work, person, min_seconds, pcm)
        return future

    def _encoder_now(self) -> SpeakerEncoder:
        if self._encoder is None:
            self._encoder = SpeakerEncoder()
        return self._encoder

    def _verify(self, person: str, min_seconds: float, pcm: np.ndarray[Any, Any]) -> Verdict:
        speech = Speech.from_pcm(pcm, "the caller")
        try:
            return verify(self._encoder_now(), self.store, person, speech, min_seconds=min_seconds,
                          threshold=self.threshold)  # fmt: skip
        except VoicebotError as exc:  # no usable print (damaged, wrong key) or no model
            log.warning("voiceprint check of %r failed: %s", person, exc)
            return Verdict(NOT_ENROLLED, seconds=speech.seconds, error=str(exc))

    def _enroll(self, person: str, min_seconds: float, pcm: np.ndarray[Any, Any]) -> Verdict:
        speech = Speech.from_pcm(pcm, "the caller")
        if speech.seconds < min_seconds:
            return Verdict(NOT_ENOUGH_SPEECH, seconds=speech.seconds)
        try:
            enroll(self._encoder_now(), self.store, person, [speech], add=True)
        except VoicebotError as exc:
            log.warning("voiceprint enrolment of %r failed: %s", person, exc)
            return Verdict(FAILED, seconds=speech.seconds, error=str(exc))
        return Verdict(ENROLLED, seconds=speech.seconds)


__all__ = ["MAX_SECONDS", "CallerAudio", "CallerVoice"]
