"""Bot audio into RTP payloads of the negotiated packet time.

The media clock ticks every 20 ms and hands over one 20 ms frame of 16 kHz bot audio; the far
end asked (``a=ptime``) for packets of 10 to 60 ms. A :class:`Packetizer` resamples each frame
to the codec's rate, keeps it until a whole packet is there and encodes it then: one packet a
tick at 20 ms, one packet of two frames every second tick at 40 ms, two packets a tick at
10 ms, and at 30 ms a packet on two ticks out of three. How much audio is owed to the next
packet is counted in samples rather than read off the FIFO, so a resampler's start-up delay
never shifts a packet off the RTP timeline.
"""

from __future__ import annotations

from voicebot.media.frames import PCM, RATE, SampleFifo
from voicebot_codecs import Resampler
from voicebot_codecs.base import Codec, Encoder


class Packetizer:
    """One stream's outgoing packets for ``codec`` at ``ptime_ms`` (a value in ``codec.ptimes``)."""

    def __init__(self, codec: Codec, ptime_ms: int) -> None:
        self.codec = codec
        self._resampler = Resampler(RATE, codec.sample_rate)
        self._fifo = SampleFifo()
        self._owed = 0  # samples of codec PCM the clock produced and no packet carried yet
        self.set_ptime(ptime_ms)

    def set_ptime(self, ptime_ms: int) -> None:
        """Change the packet time (a re-INVITE); audio already owed goes in the next packets."""
        self.encoder: Encoder = self.codec.encoder(ptime_ms)
        self.ptime = ptime_ms
        self._packet = self.codec.info.packet_samples(ptime_ms)
        self.timestamp_step = self.codec.info.packet_timestamp_step(ptime_ms)  # RTP units per packet

    def push(self, frame: PCM) -> list[bytes]:
        """The payloads that one 20 ms frame of 16 kHz audio completes (none, one or two)."""
        self._fifo.push(self._resampler.process(frame))
        self._owed += self.codec.frame_samples
        packets = []
        while self._owed >= self._packet:
            packets.append(self.encoder.encode(self._fifo.take(self._packet)))
            self._owed -= self._packet
        return packets

    def drop_pending(self) -> None:
        """Forget audio not yet sent (barge-in); its place in the timeline is sent as silence."""
        self._fifo.clear()
