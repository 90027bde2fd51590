"""Enrolment and verification: from 16 kHz speech to a voiceprint, a score and a decision.

The score is the cosine similarity of the speech's embedding to the enrolled print; the decision
is ``match`` at or above the threshold: :data:`FULL_BAND_THRESHOLD` or :data:`TELEPHONE_BAND_THRESHOLD`
by the band compared, as benchmarks/voiceprint.py chose them on synthetic voices (the README says
what that does and does not say about people), unless the caller gives one.
Speech is measured after long pauses are cut (:func:`~voicebot.voiceprint.features.preprocess`),
so a caller's silence does not count towards ``min_seconds``.

A print made from a 16 kHz recording and speech heard over a G.711 call differ in band as much as
two speakers do (measured: the equal error rate went from 8-10 % to 23 %). So every enrolled
utterance keeps two embeddings — of the audio as it is, and of the audio through a G.711
channel — and speech is scored in the band it shares with the print.

Results, as a flow's ``verify_voice`` / ``enroll_voice`` states name them: ``match``,
``no_match``, ``not_enough_speech``, ``not_enrolled``; ``enrolled`` (and ``not_enough_speech``,
``failed``).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from voicebot.errors import ConfigError
from voicebot.voiceprint.encoder import SpeakerEncoder, cosine
from voicebot.voiceprint.features import RATE, Audio, from_pcm16, is_narrowband, preprocess
from voicebot.voiceprint.prints import PrintStore, Utterance, Voiceprint, check_id, now

# The lowest cosine score that matches, by the band speech and print are compared in: the
# thresholds at which benchmarks/voiceprint.py's development speakers (synthetic voices) gave 1 %
# false accepts. Real callers need their own: see the README.
FULL_BAND_THRESHOLD = 0.905
TELEPHONE_BAND_THRESHOLD = 0.925
ENROL_MIN_SECONDS = 4.0  # of speech in all enrolment files together
VERIFY_MIN_SECONDS = 2.0
MATCH, NO_MATCH, NOT_ENOUGH_SPEECH, NOT_ENROLLED = "match", "no_match", "not_enough_speech", "not_enrolled"
ENROLLED, FAILED = "enrolled", "failed"
VERIFY_RESULTS = (MATCH, NO_MATCH, NOT_ENOUGH_SPEECH, NOT_ENROLLED)
ENROLL_RESULTS = (ENROLLED, NOT_ENOUGH_SPEECH, FAILED)


class SpeechError(ConfigError):
    """The audio given cannot be enrolled or verified: silent, too short, or not audio."""


@dataclass(frozen=True)
class Speech:
    """16 kHz speech, and the audio the encoder takes from it (volume raised, long pauses cut):
    as it is (:attr:`audio`), and as an 8 kHz G.711 telephone channel would carry it
    (:attr:`narrow`; the same audio when it already came through one)."""

    pcm: np.ndarray[Any, np.dtype[np.int16]] = field(repr=False)
    source: str = "audio"

    @classmethod
    def from_pcm(cls, pcm: np.ndarray[Any, Any], source: str = "audio") -> Speech:
        """From 16 kHz int16 samples."""
        return cls(np.asarray(pcm, dtype=np.int16), source)

    @functools.cached_property
    def wideband(self) -> bool:
        return not is_narrowband(self.pcm)

    @functools.cached_property
    def audio(self) -> Audio:
        return preprocess(from_pcm16(self.pcm))

    @functools.cached_property
    def narrow(self) -> Audio:
        if not self.wideband:
            return self.audio
        from voicebot.media.frames import telephone_band

        return preprocess(from_pcm16(telephone_band(self.pcm)))

    @property
    def seconds(self) -> float:
        return len(self.audio) / RATE

    def require(self, min_seconds: float) -> Speech:
        """This speech, or :class:`SpeechError` when it is silent or shorter than ``min_seconds``."""
        if self.seconds == 0.0:
            raise SpeechError(f"{self.source}: no speech in it (silent)")
        if self.seconds < min_seconds:
            raise SpeechError(
                f"{self.source}: too short: {self.seconds:.1f} s of speech, at least {min_seconds:g} s needed"
            )
        return self


def read_speech(path: Path) -> Speech:
    """A WAV file's speech; :class:`SpeechError` for a missing file or one that is not integer
    PCM WAV (8 to 32 bits). Any sample rate and channel count are taken (resampled to 16 kHz,
    channels mixed)."""
    from voicebot.media.wav import load_wav
    from voicebot.tts.espeak import to_16k

    if not path.is_file():
        raise SpeechError(f"{path}: no such file")
    try:
        pcm, rate = load_wav(path)
    except ConfigError as exc:
        raise SpeechError(f"{path}: wrong format: {exc} (give a PCM WAV file)") from None
    if rate < 8000:
        raise SpeechError(f"{path}: wrong format: {rate} Hz is below telephone quality (8000 Hz)")
    return Speech.from_pcm(to_16k(pcm, rate), str(path))


@dataclass(frozen=True, slots=True)
class Verdict:
    """What a verification or enrolment came to; ``band`` is "full" or "telephone" when scored."""

    result: str
    score: float | None = None
    seconds: float = 0.0
    threshold: float | None = None
    band: str = ""
    error: str = ""

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"result": self.result, "seconds": round(self.seconds, 2)}
        if self.score is not None:
            out |= {"score": round(self.score, 4), "threshold": self.threshold, "band": self.band}
        if self.error:
            out["error"] = self.error
        return out


def default_threshold(full: bool) -> float:
    return FULL_BAND_THRESHOLD if full else TELEPHONE_BAND_THRESHOLD


def embed(encoder: SpeakerEncoder, speech: Speech, *, when: str = "") -> Utterance:
    """An utterance for a print: its embedding in the telephone band, and in the full band when
    the speech has one."""
    wide = encoder.embed_utterance(speech.audio) if speech.wideband else None
    return Utterance(narrow=encoder.embed_utterance(speech.narrow), wide=wide, seconds=speech.seconds, added=when)


def full_band(voiceprint: Voiceprint, speech: Speech) -> bool:
    """Whether ``speech`` is compared with the print in the full band: only when the speech and
    every enrolled utterance have it; else both are compared in the telephone band."""
    return speech.wideband and voiceprint.wideband


def score(encoder: SpeakerEncoder, voiceprint: Voiceprint, speech: Speech) -> float:
    """Cosine similarity of ``speech`` to the print, in the band they share."""
    wide = full_band(voiceprint, speech)
    return cosine(encoder.embed_utterance(speech.audio if wide else speech.narrow), voiceprint.embedding(wide=wide))


def verify(
    encoder: SpeakerEncoder,
    store: PrintStore,
    person: str,
    speech: Speech,
    *,
    min_seconds: float = VERIFY_MIN_SECONDS,
    threshold: float | None = None,
) -> Verdict:
    """Score ``speech`` against ``person``'s print: a verdict, never an exception for what the
    speech or the store lack (those are results: ``not_enrolled``, ``not_enough_speech``).
    ``threshold`` None: the default for the band compared."""
    voiceprint = store.find(check_id(person))
    if voiceprint is None:
        return Verdict(NOT_ENROLLED, seconds=speech.seconds)
    if speech.seconds < min_seconds:
        return Verdict(NOT_ENOUGH_SPEECH, seconds=speech.seconds)
    full = full_band(voiceprint, speech)
    limit = default_threshold(full) if threshold is None else threshold
    value = score(encoder, voiceprint, speech)
    return Verdict(MATCH if value >= limit else NO_MATCH, value, speech.seconds, limit, "full" if full else "telephone")


def enroll(
    encoder: SpeakerEncoder,
    store: PrintStore,
    person: str,
    speeches: list[Speech],
    *,
    add: bool = True,
) -> Voiceprint:
    """Enrol ``person`` from ``speeches`` (one utterance each), adding to their print when one
    exists and ``add`` is set, else starting a new one; returns what was stored."""
    when = now()
    utterances = [embed(encoder, s, when=when) for s in speeches]
    existing = store.find(check_id(person)) if add else None
    voiceprint = existing.adding(utterances, when=when) if existing else Voiceprint.new(person, utterances, when=when)
    store.save(voiceprint)
    return voiceprint


__all__ = [
    "ENROLL_RESULTS",
    "ENROL_MIN_SECONDS",
    "FULL_BAND_THRESHOLD",
    "TELEPHONE_BAND_THRESHOLD",
    "VERIFY_MIN_SECONDS",
    "VERIFY_RESULTS",
    "Speech",
    "SpeechError",
    "Verdict",
    "default_threshold",
    "embed",
    "enroll",
    "full_band",
    "read_speech",
    "score",
    "verify",
]
