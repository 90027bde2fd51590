"""Speech onset on the far end's packets as they arrive, for barge-in.

The caller's audio reaches the bot's ears only at its playout time: the jitter buffer holds
each packet for its playout delay (tens of milliseconds on loopback, more once a loaded machine
has made the buffer grow), and a barge-in decided on that audio waits for it. An
:class:`OnsetWatch` hears the same packets the moment they arrive instead: it decodes each
with a decoder of its own (the playout path's decoder state is left alone), cuts the audio
into 20 ms frames at the VAD's rate, asks the VAD, and feeds a
:class:`~voicebot.media.endpoint.BargeInDetector`. The detector's rule is unchanged
(``start_frames`` speech frames in a row); only the wait for playout goes.

The VAD may run at the line's own rate (a call's ``Voice`` gives G.711 lines an 8 kHz VAD):
WebRTC VAD works at 8 kHz inside whatever rate it is given, so resampling 8 kHz packets to
16 kHz for it would only be undone again. With a VAD at another rate the audio is resampled to
that rate.

What counts as speech is stricter than the VAD alone, because a false barge-in cuts a prompt
for nothing: a frame is speech when the VAD says so *and* it is not quiet (``Vad.
is_speech_not_quiet``: the VAD's hangover after a click or a short knock, and a quiet line's
hiss, are under -50 dBFS), and only once the VAD has heard ``SETTLE_FRAMES`` frames (WebRTC
VAD calls the first few frames of any noise speech while its noise estimate starts from
nothing). A cough of 100 ms or more still counts, as it would on the playout path.

Times are passed in: a frame's time is when its packet arrived, less the audio that came after
it in that packet (so a 20 ms packet's frame ends when it arrived). Packets are heard in
arrival order; a lost one leaves no frame (this path decides only *whether* the caller speaks;
what they said is recognised from the played-out audio, with concealment and reordering done).
"""

from __future__ import annotations

from voicebot.media.endpoint import BargeIn, BargeInConfig, BargeInDetector
from voicebot.media.frames import FRAME_MS, FRAME_SECONDS, SampleFifo
from voicebot.media.vad import Vad
from voicebot_codecs import CodecError, Resampler
from voicebot_codecs.base import Codec

SETTLE_FRAMES = 5  # frames (100 ms) a watch's VAD hears before its decisions count

class OnsetWatch:
    """Decodes arriving packets of ``codec`` and says when the far end starts speaking."""

    def __init__(self, codec: Codec, vad: Vad, config: BargeInConfig | None = None) -> None:
        self.codec = codec
        self.vad = vad
        self._decoder = codec.decoder()
        self._rate = vad.sample_rate
        self._frame = self._rate * FRAME_MS // 1000
        self._resampler = Resampler(codec.sample_rate, self._rate) if codec.sample_rate != self._rate else None
        self._fifo = SampleFifo()
        self.detector = BargeInDetector(config)
        self.decode_errors = 0
        self.frames = 0  # frames heard so far

    def feed(self, payload: bytes, *, arrival: float) -> BargeIn | None:
        """One audio packet's payload, received at ``arrival``; the barge-in once speech is confirmed."""
        try:
            pcm = self._decoder.decode(payload)
        except CodecError:
            self.decode_errors += 1
            return None
        self._fifo.push(self._resampler.process(pcm) if self._resampler is not None else pcm)
        while len(self._fifo) >= self._frame:
            frame = self._fifo.take(self._frame)
            start = arrival - len(self._fifo) / self._rate - FRAME_SECONDS
            speech = self.vad.is_speech_not_quiet(frame) and self.frames >= SETTLE_FRAMES
            self.frames += 1
            event = self.detector.feed(now=start, frame=frame, speech=speech)
            if event is not None:
                return event
        return None


__all__ = ["SETTLE_FRAMES", "OnsetWatch"]
