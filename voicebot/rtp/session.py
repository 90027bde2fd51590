"""One RTP session (one audio stream each way), without I/O: RFC 3550 §5 (sending: sequence
numbers, timestamps, marker bit at the start of a talk spurt), §6 (RTCP SR/RR/SDES/BYE at
the §6.3 interval, RTT), §8 (random SSRC and initial values), RFC 4733 (telephone-events in
and out), RFC 4961 (symmetric RTP) and the source-learning rules that defend against
"RTP Bleed" (media is taken from the SDP address, or from another source only after it sent
a run of consecutive packets, paced like media, with none from the SDP address, during a short
learning window: see :class:`SourceFilter`).

Shape (DESIGN.md rule 1, the aioquic style): ``receive_rtp/receive_rtcp(data, addr, now)``,
``frames_due(now)`` + ``send_audio(...)``, ``datagrams_to_send()``, ``next_deadline()``,
``handle_timer(now)``, ``next_event()``. The driver owns the sockets and the clock.
"""

from __future__ import annotations

import math
import random
import secrets
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from voicebot.address import Address
from voicebot.errors import LocalProtocolError, RemoteProtocolError
from voicebot.rtp.dtmf import DtmfReceiver, DtmfSender, normalize_digits
from voicebot.rtp.events import DtmfDigit, MediaTimeout, RemoteBye, RemoteReport, RtpEvent, SourceLatched
from voicebot.rtp.packet import HEADER_SIZE, RtpPacket, pack_header, plain_header
from voicebot.rtp.rtcp import (
    Goodbye,
    ReceiverReport,
    ReportBlock,
    RtcpPacket,
    SdesChunk,
    SenderReport,
    SourceDescription,
    ntp_from_unix,
    parse_compound,
    rtcp_interval,
    serialize_compound,
)
from voicebot.rtp.stats import SourceStatistics, round_trip_time


class RtpSender:
    """Sequence numbers, timestamps and pacing of the outgoing stream (RFC 3550 §5.1).

    Frame ``n`` of the media clock is due at ``start + n * ptime`` (an accumulated deadline,
    never ``now + ptime``) and starts at timestamp ``ts0 + n * frame_samples``, so however late
    the driver wakes up, the timestamps never drift from the wall clock. When the driver falls
    more than ``max_burst`` frames behind, the missed frames are skipped (timestamps still
    advance).

    Packets need not be frames: :meth:`audio` with ``samples`` sends a packet of any length
    (two frames for a 40 ms packet time, half of one for 10 ms) whose timestamp follows the
    previous packet's end, and :meth:`end_frame` moves the clock on one frame; the driver keeps
    the audio not yet packed, so the packets' timestamps trail the frame clock by exactly that.
    Without ``samples`` a packet is one frame and moves the clock itself.
    """

    def __init__(
        self,
        *,
        ssrc: int,
        payload_type: int,
        clock_rate: int,
        frame_samples: int,
        start: float,
        initial_seq: int,
        initial_ts: int,
        ptime: float = 0.020,
        max_burst: int = 10,
    ) -> None:
        self.ssrc = ssrc
        self.payload_type = payload_type
        self.clock_rate = clock_rate
        self.frame_samples = frame_samples
        self.ptime = ptime
        self.max_burst = max_burst
        self.start = start
        self.frame_index = 0
        self.seq = initial_seq & 0xFFFF
        self.ts0 = initial_ts & 0xFFFFFFFF
        self.packets_sent = 0
        self.octets_sent = 0
        self.frames_skipped = 0
        self._packed = 0  # timestamp units since ts0 already sent (or let pass) in packets
        self._in_talk_spurt = False
        self._event_ts = 0

    @property
    def next_deadline(self) -> float:
        return self.start + self.frame_index * self.ptime

    @property
    def timestamp(self) -> int:
        """RTP timestamp of the next frame."""
        return (self.ts0 + self.frame_index * self.frame_samples) & 0xFFFFFFFF

    def rtp_time_at(self, now: float) -> int:
        """The RTP timestamp that corresponds to wall-clock ``now`` (for SR, §6.4.1)."""
        elapsed = (now - self.start) * self.clock_rate
        return (self.ts0 + math.floor(elapsed)) & 0xFFFFFFFF

    def frames_due(self, now: float) -> int:
        """Frames whose deadline has passed; skips beyond ``max_burst`` to stay on the clock."""
        due = math.floor((now - self.start) / self.ptime + 1e-9) + 1 - self.frame_index
        if due > self.max_burst:
            skip = due - self.max_burst
            self.frame_index += skip
            self._packed += skip * self.frame_samples
            self.frames_skipped += skip
            self._in_talk_spurt = False
            due = self.max_burst
        return max(0, due)

    def rebase(self, *, payload_type: int, clock_rate: int, frame_samples: int, now: float) -> None:
        """Switch payload format mid-stream (re-INVITE): timestamps continue from ``now``."""
        ts = self.rtp_time_at(now)
        self.payload_type = payload_type
        self.clock_rate = clock_rate
        self.frame_samples = frame_samples
        self.start = self.next_deadline
        self.ts0 = (ts + frame_samples) & 0xFFFFFFFF
        self.frame_index = 0
        self._packed = 0

    def restart(self, start: float) -> None:
        """Start the frame clock over at ``start`` (when the media actually starts)."""
        self.start = start
        self.frame_index = 0
        self._packed = 0

    def _packet(self, payload: bytes, pt: int, ts: int, marker: bool) -> bytes:
        data = pack_header(pt, marker, self.seq, ts, self.ssrc) + payload
        self.seq = (self.seq + 1) & 0xFFFF
        self.packets_sent += 1
        self.octets_sent += len(payload)
        return data

    def audio_datagram(self, payload: bytes, *, speech: bool, samples: int | None = None) -> bytes:
        """The next audio packet as a datagram, ``samples`` timestamp units long (None: one
        frame, and the frame clock moves on with it); the marker bit opens a talk spurt (RFC
        3551 §4.1)."""
        marker = speech and not self._in_talk_spurt
        self._in_talk_spurt = speech
        if self.packets_sent == 0:
            marker = True
        data = self._packet(payload, self.payload_type, (self.ts0 + self._packed) & 0xFFFFFFFF, marker)
        self._packed += self.frame_samples if samples is None else samples
        if samples is None:
            self.frame_index += 1
        return data

    def audio(self, payload: bytes, *, speech: bool, samples: int | None = None) -> RtpPacket:
        """:meth:`audio_datagram` as a packet."""
        return RtpPacket.parse(self.audio_datagram(payload, speech=speech, samples=samples))

    def end_frame(self, frames: int = 1) -> None:
        """The frame clock moves on ``frames`` frames (after their packets, if any, were sent)."""
        self.frame_index += frames

    def event(self, payload: bytes, *, payload_type: int, new_event: bool, passed: int | None = None) -> bytes:
        """A telephone-event packet for the next frame (RFC 4733 §2.5.1: one timestamp per event),
        sent instead of ``passed`` timestamp units of audio (default: the frame's); a datagram."""
        if new_event:
            self._event_ts = self.timestamp
        data = self._packet(payload, payload_type, self._event_ts, new_event)
        self.frame_index += 1
        self._packed += self.frame_samples if passed is None else passed
        self._in_talk_spurt = False
        return data

    def skip(self) -> None:
        """Let a frame pass unsent (recvonly/inactive): time keeps running."""
        self.frame_index += 1
        self._packed += self.frame_samples
        self._in_talk_spurt = False


LATCH_PACKETS = 8  # consecutive packets before media from an address other than the SDP one is taken
LATCH_GAP = 0.005  # ... counting only those this long after the one before (a burst is not paced media)


class SourceFilter:
    """Which remote address media is accepted from (RTP Bleed defence, symmetric RTP).

    The SDP address is preferred: its packets are always accepted and take the latch back, and
    once it has sent anything no other address is learnt. Another address (a NAT in front of
    the caller) is latched only inside the learning window, after ``latch_packets`` packets of
    one SSRC with consecutive sequence numbers, none from the SDP address, and only packets
    that arrive at least ``latch_gap`` seconds after the one before counted (paced like media:
    a burst cannot win the race, and a peer whose packets bunch up now and then only waits a
    little longer) (Asterisk's strictrtp probation, rtpengine's learning). Until then its packets are dropped
    and our media goes to the SDP address; every dropped packet is counted in ``dropped``.
    """

    def __init__(
        self, *, learn_window: float = 2.0, latch_packets: int = LATCH_PACKETS, latch_gap: float = LATCH_GAP
    ) -> None:
        self.learn_window = learn_window
        self.latch_packets = latch_packets
        self.latch_gap = latch_gap
        self.expected: Address | None = None
        self.latched: Address | None = None
        self.window_end = 0.0
        self.sdp_seen = False
        self.dropped = 0
        self._candidate: tuple[Address, int, int] | None = None  # addr, ssrc, last seq
        self._count = 0
        self._last_arrival = 0.0  # of the candidate's latest packet

    def configure(self, expected: Address | None, now: float) -> None:
        self.expected = expected
        self.latched = None
        self.sdp_seen = False
        self.window_end = now + self.learn_window
        self._candidate = None
        self._count = 0

    def accept(self, addr: Address, ssrc: int, seq: int, now: float) -> tuple[bool, bool]:
        """(accepted, newly latched) for one RTP packet from ``addr``."""
        if addr == self.expected:
            self.sdp_seen = True
            self._candidate = None
            newly = self.latched != addr
            self.latched = addr
            return True, newly
        if addr == self.latched:
            return True, False
        if self.sdp_seen or now > self.window_end:
            self.dropped += 1
            return False, False
        cand = self._candidate
        if cand is not None and cand[0] == addr and cand[1] == ssrc and seq == (cand[2] + 1) & 0xFFFF:
            if now - self._last_arrival >= self.latch_gap:
                self._count += 1  # a packet bunched up with the one before continues the run uncounted
        else:
            self._count = 1
        self._candidate = (addr, ssrc, seq)
        self._last_arrival = now
        if self._count >= self.latch_packets:
            self.latched = addr
            return True, True
        self.dropped += 1
        return False, False

    @property
    def send_to(self) -> Address | None:
        return self.latched or self.expected

    def accepts_rtcp_from(self, addr: Address, rtcp_addr: Address | None) -> bool:
        src = self.latched or self.expected
        return addr == rtcp_addr or (src is not None and addr[0] == src[0])


@dataclass(frozen=True, slots=True, kw_only=True)
class SessionConfig:
    payload_type: int
    clock_rate: int
    frame_samples: int
    telephone_event_pt: int | None = None
    send: bool = True
    receive: bool = True
    recv_payload_type: int | None = None  # the number we declared, if it differs from the peer's
    recv_telephone_event_pt: int | None = None

    def is_audio(self, pt: int) -> bool:
        return pt == self.payload_type or pt == self.recv_payload_type

    def is_event(self, pt: int) -> bool:
        return pt in (self.telephone_event_pt, self.recv_telephone_event_pt)


class RtpSession:
    """The pure core of one audio RTP session."""

    def __init__(
        self,
        *,
        now: float,
        wallclock_offset: float = 0.0,
        cname: str = "voicebot",
        ssrc: int | None = None,
        inactivity_timeout: float = 30.0,
        learn_window: float = 2.0,
        latch_packets: int = LATCH_PACKETS,
        rtcp_min_interval: float = 5.0,
        session_bandwidth: float = 80_000.0,
        rng_seed: int | None = None,
    ) -> None:
        self.cname = cname
        self._random = random.Random(secrets.randbits(64) if rng_seed is None else rng_seed)
        self.ssrc = ssrc if ssrc is not None else secrets.randbits(32)
        self.wallclock_offset = wallclock_offset  # add to ``now`` to get Unix time (for NTP)
        self.inactivity_timeout = inactivity_timeout
        self.filter = SourceFilter(learn_window=learn_window, latch_packets=latch_packets)
        self.rtcp_min_interval = rtcp_min_interval
        self.rtcp_bw = 0.05 * session_bandwidth / 8
        self.config: SessionConfig | None = None
        self.sender: RtpSender | None = None
        self.dtmf_out: DtmfSender | None = None
        self.dtmf_in: DtmfReceiver | None = None
        self.remote: SourceStatistics | None = None
        self.remote_rtcp: Address | None = None
        self.malformed = 0
        self.last_rtp = now
        self.timed_out = False
        self.closed = False
        self.rtt: float | None = None
        self.remote_fraction_lost = 0.0
        self.remote_cumulative_lost = 0
        self.remote_jitter = 0.0
        self.avg_rtcp_size = 100.0
        self.rtcp_sent = 0
        self.rtcp_received = 0
        self.rtcp_dropped = 0
        self._rtcp_initial = True
        self._sent_since_report = False
        self._next_rtcp = now + self._interval()
        self._out: list[tuple[bytes, Address, bool]] = []
        self._events: deque[RtpEvent] = deque()

    # ------------------------------------------------------------------ setup
    def configure(
        self, config: SessionConfig, *, remote_rtp: Address | None, remote_rtcp: Address | None, now: float
    ) -> None:
        """Apply negotiated parameters (first time or re-INVITE); re-opens source learning."""
        old = self.config
        if self.sender is None:
            self.sender = RtpSender(
                ssrc=self.ssrc,
                payload_type=config.payload_type,
                clock_rate=config.clock_rate,
                frame_samples=config.frame_samples,
                start=now,
                initial_seq=secrets.randbits(16),
                initial_ts=secrets.randbits(32),
            )
        elif old is None or (old.payload_type, old.clock_rate) != (config.payload_type, config.clock_rate):
            self.sender.rebase(
                payload_type=config.payload_type,
                clock_rate=config.clock_rate,
                frame_samples=config.frame_samples,
                now=now,
            )
        if old is None or old.clock_rate != config.clock_rate:
            self.dtmf_out = DtmfSender(config.clock_rate, config.frame_samples)
            self.dtmf_in = DtmfReceiver(config.clock_rate)
            self.remote = None
        self.config = config
        self.remote_rtcp = remote_rtcp
        self.filter.configure(remote_rtp, now)
        self.last_rtp = now
        self.timed_out = False

    def start(self, now: float) -> None:
        """Restart the pacing clock at ``now`` (call when the media actually starts)."""
        if self.sender is not None:
            self.sender.restart(now)
        self.last_rtp = now

    # ------------------------------------------------------------------ receive
    def receive_rtp(self, data: bytes, addr: Address, now: float) -> RtpPacket | None:
        """Validate, filter and account one datagram; returns an audio packet for the jitter
        buffer, or None (dropped, malformed, DTMF handled here)."""
        try:
            pkt = RtpPacket.parse(data)
        except RemoteProtocolError:
            self.malformed += 1
            return None
        ok, latched = self.filter.accept(addr, pkt.ssrc, pkt.sequence_number, now)
        if not ok:
            return None
        if latched:
            self._events.append(SourceLatched(address=addr, ssrc=pkt.ssrc))
        cfg = self.config
        if cfg is None:
            return None
        self.last_rtp = now
        if self.remote is None or self.remote.ssrc != pkt.ssrc:
            self.remote = SourceStatistics(ssrc=pkt.ssrc, clock_rate=cfg.clock_rate)
        self.remote.update(pkt.sequence_number, pkt.timestamp, now, len(pkt.payload))
        if cfg.is_event(pkt.payload_type):
            assert self.dtmf_in is not None
            try:
                self._events.extend(self.dtmf_in.receive(pkt.timestamp, pkt.payload, now))
            except RemoteProtocolError:
                self.malformed += 1
            return None
        if not cfg.is_audio(pkt.payload_type):
            return None  # comfort noise or an unnegotiated format: not audio we decode
        return pkt

    def relay_rtp(self, data: bytes, addr: Address, now: float, duration: Callable[[bytes], int]) -> bytes | None:
        """Echo's fast path: one datagram of plain audio (:func:`~voicebot.rtp.packet.plain_header`)
        from the source already latched, of the SSRC already followed, is accounted as
        :meth:`receive_rtp` would, and its payload comes back as our next packet, to send to
        ``addr`` at once (as :meth:`relay` would queue it; ``duration(payload)``: its length in
        timestamp units), with no packet object either way. None, having done nothing, for
        anything else (another source, a new SSRC, a telephone-event, a header with CSRCs,
        extension or padding, DTMF of ours due, not sending): the caller then takes the full
        path."""
        cfg, remote, dtmf, sender = self.config, self.remote, self.dtmf_out, self.sender
        if addr != self.filter.latched or cfg is None or not cfg.send or remote is None or sender is None:
            return None
        if self.closed or (dtmf is not None and dtmf.active):
            return None
        header = plain_header(data)
        if header is None:
            return None
        pt, seq, ts, ssrc = header
        if ssrc != remote.ssrc or not cfg.is_audio(pt):
            return None
        payload = data[HEADER_SIZE:]
        self.last_rtp = now
        remote.update(seq, ts, now, len(payload))
        samples, frames = self._relay_clock(now, duration(payload))
        out = sender.audio_datagram(payload, speech=True, samples=samples)
        sender.end_frame(frames)
        self._sent_since_report = True
        return out

    def relay(self, payload: bytes, now: float, samples: int) -> None:
        """Send a received payload back untouched as our next packet (echo as a media relay
        does it: the far end's jitter buffer handles the jitter). ``samples``: its length in
        timestamp units (0: one frame)."""
        samples, frames = self._relay_clock(now, samples)
        self.send_frame(payload, speech=True, samples=samples, frames=frames)

    def _relay_clock(self, now: float, samples: int) -> tuple[int, int]:
        """A relayed packet's length (``samples``, 0: one frame) and the frames of our clock it
        stands for. Our timestamps follow the wall clock across pauses: the frames whose time
        passed unsent are skipped before it."""
        sender = self.sender
        assert sender is not None
        samples = samples or sender.frame_samples
        frames = max(1, round(samples / sender.frame_samples))
        for _ in range(sender.frames_due(now) - frames):
            sender.skip()
        return samples, frames

    def receive_rtcp(self, data: bytes, addr: Address, now: float) -> None:
        if not self.filter.accepts_rtcp_from(addr, self.remote_rtcp):
            self.rtcp_dropped += 1
            return
        try:
            packets = parse_compound(data)
        except RemoteProtocolError:
            self.malformed += 1
            return
        self.rtcp_received += 1
        self.avg_rtcp_size = len(data) / 16 + self.avg_rtcp_size * 15 / 16
        ntp_now = ntp_from_unix(now + self.wallclock_offset)
        for p in packets:
            blocks: tuple[ReportBlock, ...] = ()
            if isinstance(p, SenderReport):
                if self.remote is not None and p.ssrc == self.remote.ssrc:
                    self.remote.on_sender_report(p.ntp_timestamp, now)
                blocks = p.reports
            elif isinstance(p, ReceiverReport):
                blocks = p.reports
            elif isinstance(p, Goodbye) and self.remote is not None and self.remote.ssrc in p.ssrcs:
                self._events.append(RemoteBye(ssrc=self.remote.ssrc, reason=p.reason))
            for b in blocks:
                if b.ssrc != self.ssrc:
                    continue
                rtt = round_trip_time(b, ntp_now)
                if rtt is not None:
                    self.rtt = rtt
                clock = self.config.clock_rate if self.config else 8000
                self.remote_fraction_lost = b.fraction_lost / 256
                self.remote_cumulative_lost = b.cumulative_lost
                self.remote_jitter = b.jitter / clock
                self._events.append(
                    RemoteReport(
                        fraction_lost=self.remote_fraction_lost,
                        cumulative_lost=b.cumulative_lost,
                        jitter=self.remote_jitter,
                        round_trip_time=rtt,
                    )
                )

    # ------------------------------------------------------------------ send
    def frames_due(self, now: float) -> int:
        return 0 if self.sender is None else self.sender.frames_due(now)

    @property
    def dtmf_active(self) -> bool:
        return self.dtmf_out is not None and self.dtmf_out.active

    def queue_dtmf(self, digits: str, duration_ms: int = 100) -> None:
        if self.dtmf_out is None:
            raise RemoteProtocolError("the stream is not configured yet", status=500)
        self.dtmf_out.queue(digits, duration_ms)

    def send_frame(
        self, payload: bytes | Sequence[bytes] | None, *, speech: bool, samples: int | None = None, frames: int = 1
    ) -> None:
        """Send what the next frame of the clock completed: a telephone-event when DTMF is
        due, else the audio. ``payload`` is one packet of one frame, or a list of the packets
        (none, one or several, each ``samples`` timestamp units long) that became full with
        this frame, as with a packet time other than the frame's; ``frames`` > 1 sends one
        packet that stands for that many frames at once (a relayed packet). None or a
        non-sending direction lets the frame pass unsent."""
        sender, cfg = self.sender, self.config
        assert sender is not None and cfg is not None
        dest = self.filter.send_to
        if not cfg.send or dest is None or payload is None:
            for _ in range(frames):
                sender.skip()
            return
        packets = [payload] if isinstance(payload, bytes) else list(payload)
        size = samples if samples is not None else sender.frame_samples
        if self.dtmf_out is not None and self.dtmf_out.active and cfg.telephone_event_pt is not None:
            ev = self.dtmf_out.next_frame()
            if ev is not None:
                body, new_event, _end = ev
                data = sender.event(
                    body, payload_type=cfg.telephone_event_pt, new_event=new_event, passed=len(packets) * size
                )
                sender.end_frame(frames - 1)
                self._queue(data, dest, False)
                return
        for packet in packets:
            self._queue(sender.audio_datagram(packet, speech=speech, samples=size), dest, False)
        sender.end_frame(frames)

    def _queue(self, data: bytes, dest: Address, rtcp: bool) -> None:
        self._out.append((data, dest, rtcp))
        if not rtcp:
            self._sent_since_report = True

    @property
    def has_datagrams(self) -> bool:
        """Whether :meth:`datagrams_to_send` has anything."""
        return bool(self._out)

    def datagrams_to_send(self) -> list[tuple[bytes, Address, bool]]:
        """(data, address, is_rtcp) datagrams produced since the last call."""
        out, self._out = self._out, []
        return out

    # ------------------------------------------------------------------ timers
    def _interval(self) -> float:
        members = 2
        senders = 2 if self._sent_since_report else 1
        t = rtcp_interval(
            members=members,
            senders=senders,
            rtcp_bw=self.rtcp_bw,
            we_sent=self._sent_since_report,
            avg_rtcp_size=self.avg_rtcp_size,
            initial=self._rtcp_initial,
            random_value=self._random.random(),
        )
        return t * self.rtcp_min_interval / 5.0

    def next_deadline(self) -> float:
        """When the next frame is due or :meth:`handle_timer` has work (:meth:`next_timer`)."""
        timer = self.next_timer()
        return timer if self.sender is None else min(timer, self.sender.next_deadline)

    def next_timer(self) -> float:
        """When :meth:`handle_timer` next has work, the frame clock aside: the next RTCP report,
        the inactivity timeout, or the end of a telephone-event whose end packets never came.
        Receiving can only move it later (until :meth:`receive_rtp` opens a telephone-event)."""
        candidates = [self._next_rtcp]
        if self._watching() and not self.timed_out:
            candidates.append(self.last_rtp + self.inactivity_timeout)
        if self.dtmf_in is not None and (end := self.dtmf_in.deadline) is not None:
            candidates.append(end)
        return min(candidates)

    def _watching(self) -> bool:
        return self.config is not None and self.config.receive and self.inactivity_timeout > 0

    def handle_timer(self, now: float) -> None:
        if self.closed:
            return
        if self.dtmf_in is not None:
            self._events.extend(self.dtmf_in.poll(now))
        if self._watching() and not self.timed_out and now - self.last_rtp >= self.inactivity_timeout:
            self.timed_out = True
            self._events.append(
                MediaTimeout(reason=f"no RTP received for {self.inactivity_timeout:g} s")
            )
        if now >= self._next_rtcp:
            self._send_rtcp(now)
            self._rtcp_initial = False
            self._next_rtcp = now + self._interval()

    def build_rtcp(self, now: float, *, bye: str | None = None) -> bytes:
        packets: list[RtcpPacket] = []
        blocks: tuple[ReportBlock, ...] = ()
        if self.remote is not None and self.remote.probation == 0:
            blocks = (self.remote.report_block(now),)
        sender = self.sender
        if sender is not None and self._sent_since_report:
            packets.append(
                SenderReport(
                    ssrc=self.ssrc,
                    ntp_timestamp=ntp_from_unix(now + self.wallclock_offset),
                    rtp_timestamp=sender.rtp_time_at(now),
                    packet_count=sender.packets_sent,
                    octet_count=sender.octets_sent,
                    reports=blocks,
                )
            )
        else:
            packets.append(ReceiverReport(ssrc=self.ssrc, reports=blocks))
        packets.append(SourceDescription(chunks=(SdesChunk(ssrc=self.ssrc, items=((1, self.cname.encode()),)),)))
        if bye is not None:
            packets.append(Goodbye(ssrcs=(self.ssrc,), reason=bye))
        return serialize_compound(packets)

    def _send_rtcp(self, now: float) -> None:
        dest = self._rtcp_destination()
        if dest is None:
            return
        data = self.build_rtcp(now)
        self.avg_rtcp_size = len(data) / 16 + self.avg_rtcp_size * 15 / 16
        self.rtcp_sent += 1
        self._out.append((data, dest, True))
        self._sent_since_report = False

    def _rtcp_destination(self) -> Address | None:
        if self.remote_rtcp is not None and self.filter.latched in (None, self.filter.expected):
            return self.remote_rtcp
        src = self.filter.send_to
        return None if src is None else (src[0], src[1] + 1)

    def close(self, now: float, reason: str = "bye") -> None:
        """Queue the final RTCP BYE (RFC 3550 §6.3.7)."""
        if self.closed:
            return
        dest = self._rtcp_destination()
        if dest is not None and self.sender is not None:
            self._out.append((self.build_rtcp(now, bye=reason), dest, True))
        self.closed = True

    def event_active(self, now: float, hold: float = 0.1) -> bool:
        """True while telephone-events arrive (audio packets pause during a digit)."""
        return self.dtmf_in is not None and self.dtmf_in.last_arrival is not None and (
            now - self.dtmf_in.last_arrival <= hold
        )

    @property
    def has_events(self) -> bool:
        return bool(self._events)

    def next_event(self) -> RtpEvent | None:
        return self._events.popleft() if self._events else None

    def inject_dtmf(self, digit: str, duration_ms: int) -> None:
        """A digit that came by SIP INFO (application/dtmf-relay)."""
        d = normalize_digits(digit)
        if len(d) != 1:
            raise LocalProtocolError(f"one DTMF digit per INFO, got {digit!r}")
        self._events.append(DtmfDigit(digit=d, duration_ms=int(duration_ms), source="info"))
