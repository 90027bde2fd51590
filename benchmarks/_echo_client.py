"""A measuring caller for echo servers: SIP over UDP by hand, RTP from two threads.

It places one PCMA call, sends band-limited noise (distinct at every instant) on an
accumulated 20 ms deadline from one thread, and stamps every returned packet from another, so
the echo delay can be read off at any point of the call by correlating what came back with
what was sent (:func:`echo_delays`). Nothing of voicebot's media stack is on the measuring
side: no jitter buffer, no resampler, no event loop.
"""

from __future__ import annotations

import contextlib
import re
import secrets
import socket
import threading
import time
from dataclasses import dataclass, field

import numpy as np

from voicebot_codecs import get_codec

RATE = 8000
FRAME = 160
PTIME = 0.020


def noise(seconds: float, seed: int = 7) -> np.ndarray:
    """Speech-band noise with a syllable-rate envelope (never silent long enough to look idle)."""
    rng = np.random.default_rng(seed)
    n = int(seconds * RATE)
    x = rng.standard_normal(n + 64)
    x = np.convolve(x, np.hanning(9) / np.hanning(9).sum(), "same")[:n]  # soften the top end
    env = 0.6 + 0.4 * np.sin(2 * np.pi * 4 * np.arange(n) / RATE) ** 2
    return np.clip(x * env * 6000, -32768, 32767).astype(np.int16)


@dataclass
class Received:
    arrival: float
    seq: int
    ts: int
    payload: bytes


@dataclass
class EchoCall:
    """One measured call; ``sent[i]`` is the send time of frame ``i`` of :attr:`signal`."""

    signal: np.ndarray
    sent: list[float] = field(default_factory=list)
    received: list[Received] = field(default_factory=list)


class _Sip:
    def __init__(self, server: tuple[str, int]) -> None:
        self.server = server
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.5)
        self.port = self.sock.getsockname()[1]
        self.call_id = secrets.token_hex(8) + "@bench"
        self.tag = secrets.token_hex(4)
        self.to_tag = ""
        self.contact = f"sip:bot@{server[0]}:{server[1]}"
        self.route: list[str] = []

    def _request(self, method: str, uri: str, cseq: int, body: str = "", extra: str = "") -> bytes:
        to = f"<sip:bot@{self.server[0]}:{self.server[1]}>" + (f";tag={self.to_tag}" if self.to_tag else "")
        route = "".join(f"Route: {r}\r\n" for r in self.route)
        head = (
            f"{method} {uri} SIP/2.0\r\n"
            f"Via: SIP/2.0/UDP 127.0.0.1:{self.port};branch=z9hG4bK{secrets.token_hex(6)};rport\r\n"
            f"Max-Forwards: 70\r\nFrom: <sip:bench@127.0.0.1:{self.port}>;tag={self.tag}\r\nTo: {to}\r\n"
            f"Call-ID: {self.call_id}\r\nCSeq: {cseq} {method}\r\nContact: <sip:bench@127.0.0.1:{self.port}>\r\n"
            f"{route}{extra}Content-Length: {len(body)}\r\n\r\n"
        )
        return (head + body).encode()

    def transact(self, data: bytes, want: str, timeout: float = 10.0) -> str:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            self.sock.sendto(data, self.server)
            try:
                while True:
                    reply = self.sock.recv(65535).decode(errors="replace")
                    status = reply[8:11] if reply.startswith("SIP/2.0 ") else ""
                    if status == want:
                        return reply
                    if status >= "300":
                        raise RuntimeError(f"call failed: {reply.splitlines()[0]}")
            except TimeoutError:
                continue
        raise RuntimeError(f"no {want} from {self.server}")

    def invite(self, rtp_port: int) -> tuple[str, int]:
        sdp = (
            f"v=0\r\no=bench 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
            f"m=audio {rtp_port} RTP/AVP 8\r\na=rtpmap:8 PCMA/8000\r\na=ptime:20\r\n"
        )
        uri = f"sip:bot@{self.server[0]}:{self.server[1]}"
        ok = self.transact(self._request("INVITE", uri, 1, sdp, "Content-Type: application/sdp\r\n"), "200")
        self.to_tag = re.search(r"^To:.*;tag=([^;\s]+)", ok, re.M | re.I).group(1)  # type: ignore[union-attr]
        m = re.search(r"^Contact:\s*<([^>]+)>", ok, re.M | re.I)
        if m:
            self.contact = m.group(1)
        self.route = [r.strip() for r in reversed(re.findall(r"^Record-Route:\s*(.+)$", ok, re.M | re.I))]
        self.sock.sendto(self._request("ACK", self.contact, 1), self.server)
        media = re.search(r"^m=audio (\d+)", ok, re.M)
        conn = re.search(r"^c=IN IP4 (\S+)", ok, re.M)
        assert media and conn
        return conn.group(1), int(media.group(1))

    def bye(self) -> None:
        with contextlib.suppress(RuntimeError):
            self.transact(self._request("BYE", self.contact, 2), "200", timeout=5)
        self.sock.close()


def run_call(server: tuple[str, int], seconds: float, *, events: list[tuple[float, object]] | None = None) -> EchoCall:
    """Call ``server``, send ``seconds`` of noise, record what comes back. ``events`` are
    (offset s, callable) pairs, each started in a thread of its own at that point of the call."""
    codec = get_codec("PCMA/8000")
    enc = codec.encoder()
    call = EchoCall(signal=noise(seconds))
    rtp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    rtp.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
    rtp.bind(("127.0.0.1", 0))
    sip = _Sip(server)
    dest = sip.invite(rtp.getsockname()[1])
    done = threading.Event()

    def receive() -> None:
        rtp.settimeout(0.2)
        while not done.is_set():
            try:
                data = rtp.recv(2048)
            except TimeoutError:
                continue
            now = time.monotonic()
            if len(data) > 12 and data[1] & 0x7F == 8:
                seq = int.from_bytes(data[2:4], "big")
                ts = int.from_bytes(data[4:8], "big")
                call.received.append(Received(now, seq, ts, data[12:]))

    rx = threading.Thread(target=receive, daemon=True)
    rx.start()
    pending = sorted(events or [], key=lambda e: e[0])
    ssrc = secrets.randbits(32)
    frames = len(call.signal) // FRAME
    start = time.monotonic() + 0.05
    for i in range(frames):
        due = start + i * PTIME
        while pending and pending[0][0] <= i * PTIME:
            action = pending.pop(0)[1]
            assert callable(action)
            threading.Thread(target=action, daemon=True).start()  # never holds up the sending
        delay = due - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        payload = enc.encode(call.signal[i * FRAME : (i + 1) * FRAME])
        header = bytes([0x80, 8]) + (i & 0xFFFF).to_bytes(2, "big") + (i * FRAME).to_bytes(4, "big")
        rtp.sendto(header + ssrc.to_bytes(4, "big") + payload, dest)
        call.sent.append(time.monotonic())
    time.sleep(0.5)
    done.set()
    rx.join()
    rtp.close()
    sip.bye()
    return call


def echo_delays(call: EchoCall, window: int = 10, search: float = 2.0) -> list[tuple[float, float]]:
    """(time into the call, echo delay) per ``window`` returned packets, in seconds.

    The returned audio is laid out by the server's RTP timestamps and each window is matched
    (cross-correlation) against the sent signal up to ``search`` seconds before it arrived.
    """
    if not call.received or not call.sent:
        return []
    dec = get_codec("PCMA/8000").decoder()
    sent = np.asarray(call.sent)
    t0 = sent[0]
    sig = call.signal.astype(np.float64)
    pkts = sorted(call.received, key=lambda r: (r.ts - call.received[0].ts) & 0xFFFFFFFF)
    out: list[tuple[float, float]] = []
    for k in range(0, len(pkts) - window, window):
        group = pkts[k : k + window]
        audio = np.concatenate([dec.decode(p.payload) for p in group]).astype(np.float64)
        if np.std(audio) < 50:
            continue  # silence (before the first echo): nothing to match
        arrival = group[0].arrival
        hi = int(np.searchsorted(sent, arrival))  # frames sent before this window came back
        lo = max(0, hi - int(search / PTIME))
        ref = sig[lo * FRAME : hi * FRAME + len(audio)]
        if len(ref) < len(audio) * 2:
            continue
        n = len(ref) + len(audio)
        size = 1 << (n - 1).bit_length()
        xc = np.fft.irfft(np.fft.rfft(ref, size) * np.conj(np.fft.rfft(audio, size)), size)[: len(ref) - len(audio)]
        if not len(xc):
            continue
        best = int(np.argmax(xc))
        seg = ref[best : best + len(audio)]
        if np.corrcoef(seg, audio)[0, 1] < 0.5:
            continue  # no clear match (a cut inside the window)
        sample = lo * FRAME + best
        frame = sample // FRAME
        if frame >= len(sent):
            continue
        sent_at = sent[frame] + (sample % FRAME) / RATE
        out.append((arrival - t0, arrival - sent_at))
    return out
