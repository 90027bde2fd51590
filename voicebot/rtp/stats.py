"""Receiver statistics of one RTP source: RFC 3550 §A.1 (sequence number validation and
extended highest sequence), §A.3 (expected and lost packets, fraction lost), §A.8
(interarrival jitter) and §6.4.1 (LSR/DLSR, round-trip time).

Arrival times are passed in (seconds); nothing here reads a clock.
"""

from __future__ import annotations

from dataclasses import dataclass

from voicebot.rtp.rtcp import ReportBlock

RTP_SEQ_MOD = 1 << 16
MAX_DROPOUT = 3000
MAX_MISORDER = 100
MIN_SEQUENTIAL = 2


@dataclass(slots=True)
class SourceStatistics:
    """Per-source state of RFC 3550 §A.1 plus the counters reports need."""

    ssrc: int
    clock_rate: int
    max_seq: int = 0
    cycles: int = 0
    base_seq: int = 0
    bad_seq: int = RTP_SEQ_MOD + 1
    probation: int = MIN_SEQUENTIAL
    received: int = 0
    expected_prior: int = 0
    received_prior: int = 0
    transit: float | None = None
    jitter: float = 0.0  # RTP timestamp units (×1, the §A.8 float form)
    duplicates: int = 0
    bytes_received: int = 0
    last_sr_ntp_middle: int = 0
    last_sr_arrival: float | None = None
    _seen: int = 0

    def __post_init__(self) -> None:
        self.probation = MIN_SEQUENTIAL

    def _init_seq(self, seq: int) -> None:
        self.base_seq = seq
        self.max_seq = seq
        self.bad_seq = RTP_SEQ_MOD + 1
        self.cycles = 0
        self.received = 0
        self.received_prior = 0
        self.expected_prior = 0

    def update(self, seq: int, rtp_timestamp: int, arrival: float, size: int) -> bool:
        """Account one packet (§A.1 ``update_seq`` + §A.8). Returns False if it must be dropped."""
        if self._seen == 0:
            self._init_seq(seq)
            self.max_seq = seq - 1 if seq else 0xFFFF
            self.probation = MIN_SEQUENTIAL
        self._seen += 1
        udelta = (seq - self.max_seq) & 0xFFFF
        if self.probation:
            if seq == (self.max_seq + 1) & 0xFFFF:
                self.probation -= 1
                self.max_seq = seq
                if self.probation == 0:
                    self._init_seq(seq)
                    self.received += 1
                    self._jitter(rtp_timestamp, arrival)
                    self.bytes_received += size
                    return True
            else:
                self.probation = MIN_SEQUENTIAL - 1
                self.max_seq = seq
            return False
        if udelta == 0:
            self.duplicates += 1
        elif udelta < MAX_DROPOUT:
            if seq < self.max_seq:
                self.cycles += RTP_SEQ_MOD
            self.max_seq = seq
        elif udelta <= RTP_SEQ_MOD - MAX_MISORDER:
            if seq == self.bad_seq:
                self._init_seq(seq)  # the sender restarted; resync
            else:
                self.bad_seq = (seq + 1) & 0xFFFF
                return False
        self.received += 1
        self.bytes_received += size
        self._jitter(rtp_timestamp, arrival)
        return True

    def _jitter(self, rtp_timestamp: int, arrival: float) -> None:
        transit = arrival * self.clock_rate - rtp_timestamp
        if self.transit is not None:
            d = abs(transit - self.transit)
            if d > 1 << 31:  # timestamp wrap between the two packets
                d = abs(d - (1 << 32))
            self.jitter += (d - self.jitter) / 16.0
        self.transit = transit

    @property
    def extended_max(self) -> int:
        return self.cycles + self.max_seq

    @property
    def expected(self) -> int:
        return self.extended_max - self.base_seq + 1 if self.probation == 0 else 0

    @property
    def lost(self) -> int:
        return self.expected - self.received

    def on_sender_report(self, ntp_timestamp: int, arrival: float) -> None:
        self.last_sr_ntp_middle = (ntp_timestamp >> 16) & 0xFFFFFFFF
        self.last_sr_arrival = arrival

    def report_block(self, now: float) -> ReportBlock:
        """A reception report for this source (§6.4.1); resets the fraction-lost interval."""
        expected = self.expected
        expected_interval = expected - self.expected_prior
        received_interval = self.received - self.received_prior
        self.expected_prior = expected
        self.received_prior = self.received
        lost_interval = expected_interval - received_interval
        fraction = 0
        if expected_interval > 0 and lost_interval > 0:
            fraction = (lost_interval << 8) // expected_interval
        dlsr = 0
        if self.last_sr_arrival is not None:
            dlsr = int(max(0.0, now - self.last_sr_arrival) * 65536)
        return ReportBlock(
            ssrc=self.ssrc,
            fraction_lost=min(fraction, 255),
            cumulative_lost=self.lost,
            highest_sequence=self.extended_max & 0xFFFFFFFF,
            jitter=int(self.jitter),
            lsr=self.last_sr_ntp_middle,
            dlsr=dlsr,
        )


def round_trip_time(block: ReportBlock, now_ntp: int) -> float | None:
    """RTT in seconds from a report block about our stream (§6.4.1): A - LSR - DLSR."""
    if block.lsr == 0:
        return None
    a = (now_ntp >> 16) & 0xFFFFFFFF
    rtt = (a - block.lsr - block.dlsr) & 0xFFFFFFFF
    if rtt > 0x7FFFFFFF:
        return None
    return rtt / 65536.0
