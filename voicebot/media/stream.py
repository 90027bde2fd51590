"""One call's audio: the asyncio driver around the pure RTP core (DESIGN.md rule 1).

:class:`MediaStream` owns an RTP/RTCP socket pair (:mod:`voicebot.transport.rtp`), the pure
:class:`~voicebot.rtp.session.RtpSession` (RFC 3550 RTP/RTCP, RFC 4733 DTMF, source
learning), an adaptive :class:`~voicebot.rtp.jitterbuffer.JitterBuffer`, and the codec layer.
The loop's :class:`~voicebot.media.clock.MediaClock` (one 20 ms tick for every stream of the
worker, on an accumulated monotonic deadline) drives everything: each tick calls
:meth:`MediaStream.tick` (the whole of one wake-up), which first takes in the caller's packets
that arrived since the last tick (a started stream reads its RTP socket on the tick, not per
packet: the kernel stamps their arrival; before start, and while echo is relayed, packets are
read as they arrive, and then a late tick takes in what is waiting), then for each frame due plays one frame out
of the jitter buffer (decode, concealment, resampling to 16 kHz), builds one frame of bot audio
(playback queue, echo), encodes and sends it (a packet every tick at the usual 20 ms packet
time; with another negotiated ``ptime`` the bot audio is packed into packets of that length, so
at 40 ms every second tick sends one packet of two frames and at 10 ms every tick sends two),
records both, and hands the far end's frame
upwards as an :class:`~voicebot.media.frames.AudioFrame` stamped with its playout time. Echo
that nothing else needs (no bot audio, recording or frames() reader) is relayed instead: each
caller packet goes back the moment it arrives, payload untouched, and the tick only runs RTCP.

Internal audio is 16 kHz mono int16 in 20 ms frames (320 samples) everywhere above the codec.
Far-end packets may hold any duration (10 to 120 ms): the jitter buffer learns each packet's
length from the codec and the decoded audio is handed out 20 ms at a time.

API::

    stream = await MediaStream.open(host, port=0, *, inactivity_timeout=30.0, learn_window=2.0,
                                    latch_packets=8, rtcp_interval=5.0, jitter=None)
    stream.local_address                  # (host, even RTP port); RTCP on port + 1
    stream.configure(params)              # voicebot.sip.sdp.MediaParams; again on re-INVITE
    await stream.start()
    stream.set_echo(True)
    stream.play(pcm16k, done=None)        # queue bot audio; done() once sent or stopped
    await stream.play_wav(path)           # returns when sent (or stopped / closed)
    stream.stop_playback()                # barge-in
    stream.watch_for_speech(on_speech, vad=vad)  # barge-in on arrival: stop_playback(), then
    stream.stop_watching()                       # on_speech(BargeIn), without waiting for playout
    stream.start_recording(path); stream.stop_recording()   # ch0 caller, ch1 bot
    async for frame in stream.frames(): ...                  # AudioFrame(pcm, media_time, ...)
    untap = stream.tap(sink)              # the same frames, sink(frame) on the tick; sink(None) at close
    stream.send_dtmf("123#", duration_ms=100); stream.inject_dtmf("5", 160)
    digit = await stream.dtmf_events.get()                   # DtmfDigit(digit, duration_ms, source)
    async for digit in stream.digits(): ...                  # the same, one iterator per reader
    stream.on_inactive(lambda reason: ...)
    stream.stats()                        # {"codec", "inbound-rtp", "outbound-rtp",
                                          #  "remote-inbound-rtp", "transport"}
    await stream.close()                  # RTCP BYE, sockets closed, frames() iterators end
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import numpy as np

from voicebot.address import Address
from voicebot.errors import ConfigError, LocalProtocolError
from voicebot.media.clock import MediaClock
from voicebot.media.endpoint import BargeIn, BargeInConfig
from voicebot.media.frames import (
    FRAME,
    FRAME_SECONDS,
    PCM,
    RATE,
    AudioFrame,
    SampleFifo,
    crossfade,
    mix,
    read_wav,
    silence,
    silence_detector,
)
from voicebot.media.onset import OnsetWatch
from voicebot.media.packetizer import Packetizer
from voicebot.media.player import Player
from voicebot.media.recorder import AudioSink, Recorder
from voicebot.media.vad import Vad
from voicebot.rtp.adapt import BandwidthController
from voicebot.rtp.events import DtmfDigit, MediaTimeout, RemoteBye, RemoteReport, SourceLatched
from voicebot.rtp.jitterbuffer import JitterBuffer, JitterBufferConfig
from voicebot.rtp.session import LATCH_PACKETS, RtpSession, SessionConfig
from voicebot.rtp.srtp import SrtpContext, context_for
from voicebot.sip.sdp import DIRECTIONS, MediaParams
from voicebot.transport.rtp import RtpTransport
from voicebot_codecs import CodecError, OpusEncoder, Resampler, get_codec
from voicebot_codecs.base import Codec, Decoder

log = logging.getLogger(__name__)

MAX_CATCH_UP = 250  # frames (5 s) the playout catches up after a stall before it skips
MAX_PACKETS_PER_FRAME = 4  # far-end packets decoded for one 20 ms frame (two at 10 ms; bounded)

LATE_TICK = 0.002  # a tick this late drains the RTP socket before playing out


def _usable(addr: Any) -> Address | None:
    if not addr:
        return None
    host, port = str(addr[0]), int(addr[1])
    if host in ("0.0.0.0", "::", "") or port == 0:  # RFC 3264 §8.4 old-style hold
        return None
    return host, port


class ClockLateness:
    """How late the media clock woke up for its frames (event-loop stalls, a busy machine)."""

    def __init__(self) -> None:
        self.wakeups = 0
        self.late_max = 0.0
        self.late_over_frame = 0  # wake-ups more than one 20 ms frame late
        self.late_total = 0.0

    def observe(self, late: float) -> None:
        late = max(0.0, late)
        self.wakeups += 1
        self.late_total += late
        self.late_max = max(self.late_max, late)
        self.late_over_frame += late > FRAME_SECONDS

    def stats(self) -> dict[str, float]:
        mean = self.late_total / self.wakeups if self.wakeups else 0.0
        return {
            "wakeups": self.wakeups,
            "lateMeanMs": round(1000 * mean, 2),
            "lateMaxMs": round(1000 * self.late_max, 1),
            "lateOverFrame": self.late_over_frame,
        }


class MediaStream:
    """RTP audio for one call. See the module docstring; create with :meth:`open`."""

    def __init__(
        self,
        transport: RtpTransport,
        *,
        inactivity_timeout: float = 30.0,
        learn_window: float = 2.0,
        latch_packets: int = LATCH_PACKETS,
        rtcp_interval: float = 5.0,
        jitter: JitterBufferConfig | None = None,
    ) -> None:
        self._loop = asyncio.get_running_loop()
        self._transport = transport
        now = self._loop.time()
        self.session = RtpSession(
            now=now,
            wallclock_offset=time.time() - now,
            inactivity_timeout=inactivity_timeout,
            learn_window=learn_window,
            latch_packets=latch_packets,
            rtcp_min_interval=rtcp_interval,
        )
        self._jb_config = jitter
        self.dtmf_events: asyncio.Queue[DtmfDigit] = asyncio.Queue()
        self._player = Player()
        self._recorder: Recorder | None = None
        self._echo = False
        self._sinks: list[Callable[[AudioFrame | None], None]] = []  # tap(): frames() readers and others
        self._digit_subscribers: list[asyncio.Queue[DtmfDigit | None]] = []
        self._inactive_callbacks: list[Callable[[str], None]] = []
        self._clock = MediaClock.for_loop(self._loop)
        self._started = False
        self._closed = False
        self.params: MediaParams | None = None
        self.codec: Codec | None = None
        self._packetizer: Packetizer | None = None
        self._decoder: Decoder | None = None
        self.jitter_buffer: JitterBuffer | None = None
        self._dec_rs: Resampler | None = None
        self._dec_fifo = SampleFifo()
        self._decoded = 0  # 16 kHz samples of far-end audio decoded and not yet played out
        self.bandwidth = BandwidthController()
        self.decode_errors = 0
        self.fec_recovered = 0
        self.frames_out = 0
        self.dtmf_info_rejected = 0
        self._early: list[tuple[bytes, Address, float]] = []
        # the caller's packets may take echo's fast path (session.relay_rtp): set by each tick,
        # cleared at once by whatever needs the caller's audio decoded (play, record, frames)
        self._relay_now = False
        self._quiet_until = 0.0  # while relaying: the ticks before this loop time have nothing to do
        self._relayed = False  # the last tick that ran found echo relayed
        self._on_tick = False  # the RTP socket is read by each tick, not as packets arrive
        self._play_at = 0.0
        self._played = 0
        self.clock = ClockLateness()
        self._audio_ssrc: int | None = None
        self._onset: OnsetWatch | None = None
        self._on_speech: Callable[[BargeIn], None] | None = None
        self.srtp: SrtpContext | None = None  # set when the negotiated media is SRTP (RFC 4568 keys)
        transport.on_rtp = self._on_rtp
        transport.on_rtcp = self._on_rtcp

    # ------------------------------------------------------------------ lifecycle
    @classmethod
    async def open(cls, host: str, port: int = 0, **options: Any) -> MediaStream:
        """Bind RTP on an even port of ``host`` (0: any free one) and RTCP on the next port."""
        transport = await RtpTransport.open(host, port)
        return cls(transport, **options)

    @property
    def ptime(self) -> int | None:
        """The packet time (ms) we send with: the far end's a=ptime, fitted to the codec."""
        return self._packetizer.ptime if self._packetizer is not None else None

    @property
    def local_address(self) -> Address:
        return self._transport.local_address

    def configure(self, params: MediaParams) -> None:
        """Apply the negotiated media (offer/answer or re-INVITE); re-opens source learning."""
        direction = str(params.direction)
        if direction not in DIRECTIONS:
            raise ConfigError(f"media direction must be one of {', '.join(DIRECTIONS)}, got {direction!r}")
        try:
            codec = get_codec(params.codec)
        except CodecError as exc:
            raise ConfigError(str(exc)) from exc
        now = self._loop.time()
        same_codec = self.codec is not None and self.codec.name == codec.name
        ptime = codec.fit_ptime(int(params.ptime))
        if not same_codec:
            if self._onset is not None:
                self._onset = OnsetWatch(codec, self._onset.vad, self._onset.detector.config)
            self.codec = codec
            self._decoder = codec.decoder()
            self._dec_rs = Resampler(codec.sample_rate, RATE)
            self._dec_fifo.clear()
            self._decoded = 0
            self.jitter_buffer = JitterBuffer(
                codec.clock_rate,
                codec.info.frame_timestamp_step,
                self._jb_config or JitterBufferConfig(),
                is_silent=silence_detector(codec.name),
            )
            self.bandwidth = BandwidthController()
        if not same_codec or self._packetizer is None:
            self._packetizer = Packetizer(codec, ptime)
        elif ptime != self._packetizer.ptime:
            self._packetizer.set_ptime(ptime)
        remote = _usable(params.remote_address)
        rtcp_addr = _usable(params.remote_rtcp_address)
        if rtcp_addr is None and remote is not None:
            rtcp_addr = (remote[0], remote[1] + 1)
        te = params.telephone_event_pt
        recv_pt, recv_te = params.recv_payload_type, params.recv_telephone_event_pt
        self.session.configure(
            SessionConfig(
                payload_type=int(params.payload_type),
                clock_rate=codec.clock_rate,
                frame_samples=codec.info.frame_timestamp_step,
                telephone_event_pt=None if te is None else int(te),
                send=direction in ("sendrecv", "sendonly"),
                receive=direction in ("sendrecv", "recvonly"),
                recv_payload_type=None if recv_pt is None else int(recv_pt),
                recv_telephone_event_pt=None if recv_te is None else int(recv_te),
            ),
            remote_rtp=remote,
            remote_rtcp=rtcp_addr,
            now=now,
        )
        self.srtp = context_for(params.srtp, self.srtp)
        self.params = params
        self._relay_now = False  # the next tick decides again
        early, self._early = self._early, []
        for data, addr, when in early:
            self._receive_rtp(data, addr, when)
        if self._started:
            self._arm()

    async def start(self) -> None:
        """Start sending (packets of the negotiated ptime, silence when nothing is queued) and receiving."""
        if self.codec is None:
            raise LocalProtocolError("configure() the stream before start()")
        if self._started:
            return
        self._started = True
        start = self._clock.next_tick()  # frames fall due on the shared clock's ticks
        self.session.start(start)
        self._play_at = start  # the playout grid: media time of the next far-end frame
        self._played = 0
        self._arm()

    async def close(self) -> None:
        """Send RTCP BYE, stop the clock, close the sockets and the recording."""
        if self._closed:
            return
        self._closed = True
        self._clock.unregister(self)
        self.session.close(self._loop.time())
        self._flush()
        self._player.stop()
        self.stop_recording()
        for sink in list(self._sinks):
            sink(None)
        for dq in self._digit_subscribers:
            with contextlib.suppress(asyncio.QueueFull):
                dq.put_nowait(None)
        self._transport.close()

    async def __aenter__(self) -> MediaStream:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # ------------------------------------------------------------------ bot audio
    def set_echo(self, on: bool) -> None:
        self._echo = bool(on)
        self._relay_now = False  # the next tick decides again

    def play(self, pcm16k: np.ndarray, done: Callable[[], None] | None = None) -> None:
        """Queue 16 kHz mono int16 audio to send after whatever is queued."""
        arr = np.asarray(pcm16k)
        if arr.ndim != 1 or arr.dtype != np.int16:
            raise ConfigError(f"play() takes 1-D int16 audio at 16 kHz, got {arr.dtype} {arr.shape}")
        self._relay_now = False  # bot audio goes out on the clock, mixed with the echo
        self._player.queue(arr, done)

    async def play_wav(self, path: str | Path) -> None:
        """Play a 16-bit WAV file (any rate, channels mixed); returns once it has been sent."""
        pcm = await asyncio.to_thread(read_wav, path, RATE)
        fut: asyncio.Future[None] = self._loop.create_future()

        def done() -> None:
            if not fut.done():
                fut.set_result(None)

        if self._closed:
            return
        self._relay_now = False
        self._player.queue(pcm, done)
        await fut

    def stop_playback(self) -> None:
        """Drop queued bot audio (barge-in); pending ``play_wav`` calls return."""
        self._player.stop()
        if self._packetizer is not None:
            self._packetizer.drop_pending()

    @property
    def playing(self) -> bool:
        return self._player.active

    def watch_for_speech(
        self, on_speech: Callable[[BargeIn], None], *, vad: Vad, config: BargeInConfig | None = None
    ) -> None:
        """Barge-in on arrival: until :meth:`stop_watching` or the first time it fires, every
        far-end audio packet is also decoded the moment it arrives and checked for speech
        (:class:`~voicebot.media.onset.OnsetWatch`). On speech the bot's audio stops at once
        (:meth:`stop_playback`, so the next tick sends none) and ``on_speech(event)`` runs."""
        if self.codec is None:
            raise LocalProtocolError("configure() the stream before watch_for_speech()")
        self._onset = OnsetWatch(self.codec, vad, config)
        self._on_speech = on_speech

    def stop_watching(self) -> None:
        self._onset = None
        self._on_speech = None

    def _heard(self, payload: bytes, now: float) -> None:
        if self._onset is None:
            return
        event = self._onset.feed(payload, arrival=now)
        if event is None:
            return
        on_speech = self._on_speech
        self.stop_watching()
        self.stop_playback()
        if on_speech is not None:
            try:
                on_speech(event)
            except Exception:
                log.exception("barge-in callback failed")

    # ------------------------------------------------------------------ recording
    def start_recording(self, path: str | Path | AudioSink) -> None:
        """Record 16 kHz 16-bit stereo (channel 0 the caller, channel 1 the bot) to a WAV path or a sink."""
        self.stop_recording()
        self._relay_now = False  # the recording takes the caller's audio from the jitter buffer
        self._recorder = Recorder(path)

    def stop_recording(self) -> None:
        if self._recorder is not None:
            self._recorder.close()
            self._recorder = None

    # ------------------------------------------------------------------ caller audio
    async def frames(self) -> AsyncIterator[AudioFrame]:
        """Far-end audio after the jitter buffer: one :class:`AudioFrame` per 20 ms until close.

        Each iterator gets every frame from the moment it starts (up to 10 s are kept for a
        slow reader; older ones are dropped first). Ends at once on a closed stream."""
        if self._closed:
            return
        q: asyncio.Queue[AudioFrame | None] = asyncio.Queue(maxsize=500)

        def sink(frame: AudioFrame | None) -> None:
            if frame is not None and q.full():
                q.get_nowait()
            with contextlib.suppress(asyncio.QueueFull):
                q.put_nowait(frame)

        untap = self.tap(sink)
        try:
            while True:
                frame = await q.get()
                if frame is None:
                    return
                yield frame
        finally:
            untap()

    def tap(self, sink: Callable[[AudioFrame | None], None]) -> Callable[[], None]:
        """Hand every far-end frame from now on to ``sink(frame)`` as the tick plays it out (no
        queue, no task: the sink must return at once), and ``sink(None)`` once the stream
        closes (at once if it is closed already). Returns the function that removes the sink."""
        if self._closed:
            sink(None)
            return lambda: None
        self._relay_now = False  # the frames come from the jitter buffer
        self._sinks.append(sink)

        def untap() -> None:
            with contextlib.suppress(ValueError):
                self._sinks.remove(sink)

        return untap

    # ------------------------------------------------------------------ DTMF
    async def digits(self) -> AsyncIterator[DtmfDigit]:
        """Every digit the far end sends (RFC 4733 or SIP INFO) from now until close; each
        iterator gets them all (``dtmf_events`` is the same digits as one shared queue)."""
        if self._closed:
            return
        q: asyncio.Queue[DtmfDigit | None] = asyncio.Queue(maxsize=256)
        self._digit_subscribers.append(q)
        try:
            while (digit := await q.get()) is not None:
                yield digit
        finally:
            self._digit_subscribers.remove(q)

    def send_dtmf(self, digits: str, duration_ms: int = 100) -> None:
        """Send digits as RFC 4733 telephone-events (needs telephone-event in the SDP)."""
        if self.session.config is None or self.session.config.telephone_event_pt is None:
            raise LocalProtocolError("the peer did not negotiate telephone-event; send DTMF by SIP INFO")
        self.session.queue_dtmf(digits, duration_ms)

    def inject_dtmf(self, digit: str, duration_ms: int) -> None:
        """A digit received by SIP INFO: delivered on ``dtmf_events`` like RFC 4733 digits.

        The digit comes from the peer, so a bad one (hook flash "16", junk) is counted in
        ``stats()["inbound-rtp"]["dtmfInfoRejected"]`` and dropped, never raised."""
        try:
            self.session.inject_dtmf(str(digit), int(duration_ms))
        except (LocalProtocolError, ValueError, TypeError):
            self.dtmf_info_rejected += 1
            log.debug("ignored SIP INFO DTMF %r", digit)
            return
        self._drain_events()

    def on_inactive(self, callback: Callable[[str], None]) -> None:
        """``callback(reason)`` runs when no RTP arrives for the inactivity timeout."""
        self._inactive_callbacks.append(callback)

    # ------------------------------------------------------------------ the clock
    def _arm(self) -> None:
        if not self._closed:
            self._clock.register(self)

    def tick(self, now: float) -> None:
        """One wake-up of the media clock: everything due by ``now``, never raising.

        Far-end audio is played out on its own 20 ms grid, every frame that fell due (a stall
        delays the caller's words, it does not drop them; the jitter buffer wins the delay back
        in silence). Sending follows the session's grid, which skips frames after a long stall
        to stay on the clock; the frames played out beyond those sent pair with silence in the
        recording, as nothing was sent for them. While echo is relayed packet by packet the
        grid only moves on, and a tick before the session's next timer (RTCP, inactivity, an open
        telephone-event) returns at once: there is nothing else to do."""
        if self._closed or (self._relay_now and now < self._quiet_until):
            return
        try:
            running = self._started and self.session.sender is not None
            relaying = running and self._relaying
            if relaying:
                self._play_at += self._playout_due(now) * FRAME_SECONDS
            elif running:
                if self._relayed:  # the relay ended: the grid moves on as if every tick had run
                    self._play_at += self._playout_due(now - FRAME_SECONDS) * FRAME_SECONDS
                sending = self.session.frames_due(now)
                playing = self._playout_due(now)
                if self._on_tick:
                    self._transport.receive_pending(rtcp=False)  # what arrived since the last tick
                elif playing and now - self._play_at > LATE_TICK:
                    # the loop was busy: take in what arrived meanwhile before playing anything out
                    self._transport.receive_pending()
                frames = max(playing, sending)
                if frames:
                    self.clock.observe(now - self._play_at)
                for i in range(frames):
                    self._frame(self._play_at, send=i >= frames - sending)
                    self._play_at += FRAME_SECONDS
                    self._played += 1
            self._relay_now = relaying and self.srtp is None
            self._relayed = relaying
            self._read_on_tick(running and not relaying)
            session = self.session
            session.handle_timer(now)
            if session.has_datagrams:
                self._flush()
            if session.has_events:
                self._drain_events()
            self._quiet_until = session.next_timer()
        except Exception:
            log.exception("media tick failed")

    def _read_on_tick(self, on: bool) -> None:
        """Read the caller's packets at each tick instead of as they arrive, where that changes
        nothing but the loop's wake-ups: the kernel stamps each packet's arrival (the jitter
        buffer and the barge-in watch see the same times), and every tick reads before it plays
        out or sends, so a packet meets the same frame either way (a barge-in heard at tick T
        silences T's frame, as it did when heard on arrival before T). Echo relayed packet by
        packet, and a stream not started yet (media racing the signalling, source learning),
        keep reading on arrival."""
        on = on and self._transport.stamps_arrivals
        if on != self._on_tick:
            self._on_tick = on
            self._transport.read_rtp_on_arrival(not on)

    def _playout_due(self, now: float) -> int:
        due = math.floor((now - self._play_at) / FRAME_SECONDS + 1e-9) + 1
        if due > MAX_CATCH_UP:  # stalled for longer than anyone waits: start over here
            skip = due - MAX_CATCH_UP
            self._play_at += skip * FRAME_SECONDS
            due = MAX_CATCH_UP
        return max(0, due)

    def _frame(self, at: float, *, send: bool) -> None:
        caller, concealed = self._playout(at)
        bot, active = self._player.read(FRAME) if send else (silence(), False)
        if self._echo and send:
            bot = mix(bot, caller)
            active = active or bool(np.any(caller))
        if send:
            payloads: list[bytes] | None = None
            cfg = self.session.config
            assert self._packetizer is not None
            if cfg is not None and cfg.send:
                payloads = self._packetizer.push(bot)  # also while DTMF plays: the encoder state stays continuous
            self.session.send_frame(payloads, speech=active, samples=self._packetizer.timestamp_step)
        if self._recorder is not None:
            self._recorder.write(caller, bot)
        frame = AudioFrame(pcm=caller, media_time=at, index=self._played, concealed=concealed)
        self.frames_out += send
        for sink in self._sinks:
            sink(frame)

    @property
    def _relaying(self) -> bool:
        """Echo that nothing else needs: each caller packet goes straight back as it arrives."""
        cfg = self.session.config
        return (
            self._echo
            and not self._player.active
            and self._recorder is None
            and not self._sinks
            and cfg is not None
            and cfg.send
        )

    def _relay(self, payload: bytes, now: float) -> None:
        """Echo the caller's payload at once, untouched (no jitter buffer, decoder, resampler or
        encoder: :meth:`RtpSession.relay`)."""
        assert self.codec is not None
        self.session.relay(payload, now, self.codec.payload_duration(payload))
        self._flush()
        self.frames_out += 1

    def _playout(self, now: float) -> tuple[PCM, bool]:
        """The next 20 ms of far-end audio at 16 kHz, and whether any of it was made up.

        A packet may hold more than 20 ms (its audio waits in the FIFO for the next ticks) or
        less (several are taken in one tick, each at its own playout time). What is left is
        counted in samples decoded, not read off the FIFO: a resampler holding a few samples
        back must not make us take the next packet a tick early."""
        assert self._dec_rs is not None and self.codec is not None
        concealed = False
        for _ in range(MAX_PACKETS_PER_FRAME):
            if self._decoded >= FRAME:
                break
            pcm, made_up = self._decode_next(now + self._decoded / RATE)
            concealed = concealed or made_up
            self._decoded += len(pcm) * RATE // self.codec.sample_rate
            self._dec_fifo.push(self._dec_rs.process(pcm))
        self._decoded = max(0, self._decoded - FRAME)
        return self._dec_fifo.take(FRAME), concealed

    def _decode_next(self, at: float) -> tuple[PCM, bool]:
        """The far-end audio of the next packet the jitter buffer plays out at ``at``, at the
        codec's rate, and whether it was made up (concealment or silence)."""
        jb, dec, codec = self.jitter_buffer, self._decoder, self.codec
        assert jb is not None and dec is not None and codec is not None
        f = jb.pop(at)
        # a lost or held packet stands for as many 20 ms frames as it would have held
        frames = max(1, round(f.samples / codec.info.frame_timestamp_step))
        if f.kind == "audio" and f.payload is not None:
            head: PCM | None = None
            if f.skipped_payload is not None:
                # a frame was removed to shrink the delay: decode it anyway (decoder state
                # stays continuous) and cross-fade from its start into this frame
                try:
                    head = dec.decode(f.skipped_payload)
                except CodecError:
                    self.decode_errors += 1
            try:
                pcm = dec.decode(f.payload)
            except CodecError:
                self.decode_errors += 1
                return self._conceal(dec, frames), True
            if head is not None:
                pcm = crossfade(head, pcm, min(len(head), len(pcm)) // 4)
            return pcm, False
        if f.kind == "lost" and self.session.event_active(at):  # not concealment
            return silence(frames * codec.frame_samples), False  # the peer sends a DTMF event instead of audio
        if f.kind == "lost":
            decode_fec = getattr(dec, "decode_fec", None)
            if f.next_payload is not None and decode_fec is not None and not f.inserted:
                # in-band FEC rebuilds the last 20 ms before the next packet; the rest is concealed
                try:
                    recovered = decode_fec(f.next_payload)
                    self.fec_recovered += 1
                    return np.concatenate([self._conceal(dec, frames - 1), recovered]), True
                except CodecError:
                    pass
            return self._conceal(dec, frames), True
        return silence(codec.frame_samples), True

    @staticmethod
    def _conceal(dec: Decoder, frames: int) -> PCM:
        if frames <= 1:
            return dec.conceal()
        return np.concatenate([dec.conceal() for _ in range(frames)])

    # ------------------------------------------------------------------ I/O callbacks
    def _on_rtp(self, data: bytes, addr: Address, now: float) -> None:
        """A datagram from the transport; ``now`` is when the kernel received it."""
        if self._closed:
            return
        if self.params is None:
            # media can race the signalling (RTP right after our 200 OK, before configure()):
            # keep a little of it and replay it through the source filter once configured
            if len(self._early) < 50:
                self._early.append((data, addr, now))
            return
        if self._relay_now and self.codec is not None:
            out = self.session.relay_rtp(data, addr, now, self.codec.payload_duration)
            if out is not None:
                self._transport.send_rtp(out, addr)
                self.frames_out += 1
                return
            self._quiet_until = 0.0  # something else came (a digit opens a timer): the next tick looks
        self._receive_rtp(data, addr, now)

    def _receive_rtp(self, data: bytes, addr: Address, now: float) -> None:
        if self.srtp is not None:  # SRTP: a forged or replayed packet never reaches the source filter
            plain = self.srtp.unprotect(data)
            if plain is None:
                return
            data = plain
        pkt = self.session.receive_rtp(data, addr, now)
        if pkt is not None and self._started and self._relaying:
            self._relay(pkt.payload, now)
        elif pkt is not None and self.jitter_buffer is not None:
            if pkt.ssrc != self._audio_ssrc:
                if self._audio_ssrc is not None:
                    self.jitter_buffer.reset()  # a new source: its own timeline
                self._audio_ssrc = pkt.ssrc
            samples = self.codec.payload_duration(pkt.payload) if self.codec is not None else 0
            status = self.jitter_buffer.put(pkt.sequence_number, pkt.timestamp, pkt.payload, now, samples)
            if status != "duplicate":
                self._heard(pkt.payload, now)
        if self.session.has_events:
            self._drain_events()

    def _on_rtcp(self, data: bytes, addr: Address, now: float) -> None:
        if self._closed:
            return
        if self.srtp is not None:
            plain = self.srtp.unprotect_rtcp(data)
            if plain is None:
                return
            data = plain
        self.session.receive_rtcp(data, addr, now)
        self._drain_events()

    def _flush(self) -> None:
        for data, dest, rtcp in self.session.datagrams_to_send():
            if self.srtp is not None:
                data = self.srtp.protect_rtcp(data) if rtcp else self.srtp.protect(data)
            if rtcp:
                self._transport.send_rtcp(data, dest)
            else:
                self._transport.send_rtp(data, dest)

    def _drain_events(self) -> None:
        while (ev := self.session.next_event()) is not None:
            if isinstance(ev, DtmfDigit):
                self.dtmf_events.put_nowait(ev)
                for dq in self._digit_subscribers:
                    with contextlib.suppress(asyncio.QueueFull):
                        dq.put_nowait(ev)
            elif isinstance(ev, MediaTimeout):
                for cb in list(self._inactive_callbacks):
                    try:
                        cb(ev.reason)
                    except Exception:
                        log.exception("on_inactive callback failed")
            elif isinstance(ev, RemoteReport):
                self._adapt(ev)
            elif isinstance(ev, SourceLatched):
                log.debug("RTP source latched to %s ssrc=%08x", ev.address, ev.ssrc)
            elif isinstance(ev, RemoteBye):
                log.debug("RTCP BYE from ssrc=%08x: %s", ev.ssrc, ev.reason)

    def _adapt(self, report: RemoteReport) -> None:
        setting = self.bandwidth.update(report.fraction_lost)
        enc = self._packetizer.encoder if self._packetizer is not None else None
        if not isinstance(enc, OpusEncoder):
            return
        try:
            if enc.bandwidth != setting.bandwidth:
                enc.set_bandwidth(setting.bandwidth)
                enc.set_bitrate(setting.bitrate)
            enc.set_expected_loss(max(setting.expected_loss_percent, 5))
        except CodecError:
            log.exception("could not adapt the Opus encoder")

    # ------------------------------------------------------------------ stats
    def stats(self) -> dict[str, Any]:
        """Statistics named as WebRTC names them (RTCStatsReport types as keys)."""
        s = self.session
        remote = s.remote
        inbound: dict[str, Any] = {
            "ssrc": remote.ssrc if remote else None,
            "packetsReceived": remote.received if remote else 0,
            "packetsLost": remote.lost if remote else 0,
            "bytesReceived": remote.bytes_received if remote else 0,
            "jitter": (remote.jitter / remote.clock_rate) if remote else 0.0,
            "packetsMalformed": s.malformed,
            "packetsFromUnknownSource": s.filter.dropped,
            "decodeErrors": self.decode_errors,
            "fecPacketsRecovered": self.fec_recovered,
            "dtmfInfoRejected": self.dtmf_info_rejected,
        }
        if self.jitter_buffer is not None:
            jb = self.jitter_buffer.stats()
            jb.pop("packetsReceived", None)
            inbound.update(jb)
        sender = s.sender
        outbound = {
            "ssrc": s.ssrc,
            "packetsSent": sender.packets_sent if sender else 0,
            "bytesSent": sender.octets_sent if sender else 0,
            "framesSkipped": sender.frames_skipped if sender else 0,
            "encoderBandwidth": self.bandwidth.mode,
        }
        remote_inbound = {
            "fractionLost": s.remote_fraction_lost,
            "packetsLost": s.remote_cumulative_lost,
            "jitter": s.remote_jitter,
            "roundTripTime": s.rtt,
        }
        return {
            "codec": self.codec.name if self.codec else None,
            "ptime": self.ptime,
            "media-clock": self.clock.stats(),
            "inbound-rtp": inbound,
            "outbound-rtp": outbound,
            "remote-inbound-rtp": remote_inbound,
            "transport": {
                "localAddress": self.local_address,
                "remoteAddress": s.filter.send_to,
                "rtcpPacketsSent": s.rtcp_sent,
                "rtcpPacketsReceived": s.rtcp_received,
                "rtcpPacketsFromUnknownSource": s.rtcp_dropped,
                "srtpSuite": self.srtp.suite if self.srtp else None,
                "srtpRejected": self.srtp.rejected if self.srtp else 0,
                "srtpReplayed": self.srtp.replayed if self.srtp else 0,
            },
        }
