"""SIPp as the load generator for the capacity benchmarks, and the loopback capture that
checks the media coming back.

* :func:`write_echo_scenario` writes a UAC scenario (INVITE with PCMA 20 ms, ACK and BYE
  along the Record-Route set, so calls work through Kamailio too) that plays a 20 ms PCMA
  pcap made by :func:`write_rtp_pcap` from the speech capture SIPp ships;
* :func:`sipp_summary` reads SIPp's final statistics (successful/failed calls, 503s);
* :class:`Capture` runs tcpdump on ``lo`` for the RTP that servers send back to SIPp, and
  :func:`stream_report` turns the capture into per-stream loss and the largest gaps.
"""

from __future__ import annotations

import re
import shutil
import struct
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from _procs import free_port

from voicebot_codecs import get_codec

SIPP_CAPTURES = Path("/usr/share/sip-tester")
PTIME = 0.020


def _speech_8k() -> np.ndarray:
    """The PCMA speech capture SIPp ships (30 ms packets), decoded to 8 kHz samples."""
    data = (SIPP_CAPTURES / "g711a.pcap").read_bytes()
    pos, payloads = 24, []
    while pos + 16 <= len(data):
        _s, _us, incl, _orig = struct.unpack_from("<IIII", data, pos)
        frame = data[pos + 16 : pos + 16 + incl]
        pos += 16 + incl
        ihl = (frame[14] & 0x0F) * 4
        payloads.append(frame[14 + ihl + 8 + 12 :])
    dec = get_codec("PCMA/8000").decoder()
    return np.concatenate([dec.decode(p) for p in payloads])


def write_rtp_pcap(path: Path, seconds: float) -> int:
    """A pcap of ``seconds`` of PCMA speech in 20 ms RTP packets; returns the packet count."""
    pcm = _speech_8k()
    frames = int(seconds / PTIME)
    reps = -(-frames * 160 // len(pcm))
    return write_pcma_pcap(path, np.tile(pcm, reps)[: frames * 160])


def write_pcma_pcap(path: Path, pcm: np.ndarray) -> int:
    """A pcap of 8 kHz ``pcm`` (whole 20 ms frames) as PCMA RTP packets, one per 20 ms, for
    SIPp's ``play_pcap_audio``; returns the packet count."""
    frames = len(pcm) // 160
    enc = get_codec("PCMA/8000").encoder()
    out = [struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1)]
    for i in range(frames):
        rtp = struct.pack("!BBHII", 0x80, 8, i & 0xFFFF, i * 160, 0x5EED) + enc.encode(pcm[i * 160 : (i + 1) * 160])
        udp = struct.pack("!HHHH", 6000, 6000, 8 + len(rtp), 0) + rtp
        ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), i & 0xFFFF, 0, 64, 17, 0,
                         bytes([127, 0, 0, 1]), bytes([127, 0, 0, 1])) + udp  # fmt: skip
        eth = b"\x00" * 12 + b"\x08\x00" + ip
        t = i * PTIME
        out.append(struct.pack("<IIII", int(t), round((t % 1) * 1e6), len(eth), len(eth)) + eth)
    path.write_bytes(b"".join(out))
    return frames


# The pieces both caller scenarios share. Message numbers count every <send>, <recv>, <nop>
# and <pause> from 0 (labels do not count); the busy branch's ACK names its own number.
_SETUP = """\
  <send retrans="500">
    <![CDATA[
      INVITE sip:[service]@[remote_ip]:[remote_port] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: sipp <sip:sipp@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
      To: <sip:[service]@[remote_ip]:[remote_port]>
      Call-ID: [call_id]
      CSeq: 1 INVITE
      Contact: <sip:sipp@[local_ip]:[local_port]>
      Max-Forwards: 70
      Content-Type: application/sdp
      Content-Length: [len]

      v=0
      o=sipp 53655765 2353687637 IN IP[local_ip_type] [local_ip]
      s=-
      c=IN IP[media_ip_type] [media_ip]
      t=0 0
      m=audio [media_port] RTP/AVP 8
      a=rtpmap:8 PCMA/8000
      a=ptime:20
    ]]>
  </send>
  <recv response="100" optional="true"/>
  <recv response="180" optional="true"/>
  <recv response="183" optional="true"/>
  <recv response="503" optional="true" next="busy"/>
  <recv response="200" rtd="true" rrs="true"/>
  <send>
    <![CDATA[
      ACK [next_url] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: sipp <sip:sipp@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
      To: <sip:[service]@[remote_ip]:[remote_port]>[peer_tag_param]
      Call-ID: [call_id]
      CSeq: 1 ACK
      [routes]
      Contact: <sip:sipp@[local_ip]:[local_port]>
      Max-Forwards: 70
      Content-Length: 0

    ]]>
  </send>
"""
_BYE = """\
  <send retrans="500">
    <![CDATA[
      BYE [next_url] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: sipp <sip:sipp@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
      To: <sip:[service]@[remote_ip]:[remote_port]>[peer_tag_param]
      Call-ID: [call_id]
      CSeq: 2 BYE
      [routes]
      Contact: <sip:sipp@[local_ip]:[local_port]>
      Max-Forwards: 70
      Content-Length: 0

    ]]>
  </send>
"""
_BUSY = """\
  <label id="busy"/>
  <!-- the ACK of a non-2xx response belongs to the INVITE's transaction: message {busy_ack} takes
       the branch of message 0 -->
  <send>
    <![CDATA[
      ACK sip:[service]@[remote_ip]:[remote_port] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch-{busy_ack}]
      From: sipp <sip:sipp@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
      To: <sip:[service]@[remote_ip]:[remote_port]>[peer_tag_param]
      Call-ID: [call_id]
      CSeq: 1 ACK
      Max-Forwards: 70
      Content-Length: 0

    ]]>
  </send>
  <label id="end"/>
</scenario>
"""
_PLAY = """\
  <nop>
    <action>
      <exec play_pcap_audio="{pcap}"/>
    </action>
  </nop>
"""
_HEAD = """<?xml version="1.0" encoding="ISO-8859-1" ?>
<!DOCTYPE scenario SYSTEM "sipp.dtd">
"""

ECHO_UAC = (
    _HEAD
    + """<!-- A caller that plays PCMA speech (20 ms) for {seconds} s, then hangs up. ACK and BYE follow
     the Record-Route set, so the calls also work through a proxy such as Kamailio. -->
<scenario name="echo caller">
"""
    + _SETUP
    + _PLAY
    + """  <pause milliseconds="{pause_ms}"/>
"""
    + _BYE
    + """  <recv response="200" crlf="true"/>
  <nop next="end"/>
"""
    + _BUSY.replace("{busy_ack}", "12")
)

BOT_UAC = (
    _HEAD
    + """<!-- A caller that plays a recorded turn (PCMA, 20 ms) and waits for the bot to hang up;
     if it has not within {wait_ms} ms, the caller hangs up. -->
<scenario name="bot caller">
"""
    + _SETUP
    + _PLAY
    + """  <recv request="BYE" timeout="{wait_ms}" ontimeout="hangup"/>
  <send>
    <![CDATA[
      SIP/2.0 200 OK
      [last_Via:]
      [last_From:]
      [last_To:]
      [last_Call-ID:]
      [last_CSeq:]
      Content-Length: 0

    ]]>
  </send>
  <nop next="end"/>
  <label id="hangup"/>
"""
    + _BYE
    + """  <recv response="200" crlf="true"/>
  <nop next="end"/>
"""
    + _BUSY.replace("{busy_ack}", "14")
)


_REJECTED_UAC = """<?xml version="1.0" encoding="ISO-8859-1" ?>
<!DOCTYPE scenario SYSTEM "sipp.dtd">
<!-- An INVITE the server turns down with STATUS; a call that gets no final response at all
     within 8 s (or another one) counts as failed: unanswered. -->
<scenario name="rejected caller">
  <send retrans="500">
    <![CDATA[
      INVITE sip:[service]@[remote_ip]:[remote_port] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: sipp <sip:sipp@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
      To: <sip:[service]@[remote_ip]:[remote_port]>
      Call-ID: [call_id]
      CSeq: 1 INVITE
      Contact: <sip:sipp@[local_ip]:[local_port]>
      Max-Forwards: 70
      Content-Type: application/sdp
      Content-Length: [len]

      v=0
      o=sipp 1 1 IN IP[local_ip_type] [local_ip]
      s=-
      c=IN IP[media_ip_type] [media_ip]
      t=0 0
      m=audio [media_port] RTP/AVP 0
      a=rtpmap:0 PCMU/8000
    ]]>
  </send>
  <recv response="100" optional="true"/>
  <recv response="180" optional="true"/>
  <recv response="STATUS" timeout="8000"/>
  <!-- message 4 takes the INVITE's branch (message 0) -->
  <send>
    <![CDATA[
      ACK sip:[service]@[remote_ip]:[remote_port] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch-4]
      From: sipp <sip:sipp@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
      To: <sip:[service]@[remote_ip]:[remote_port]>[peer_tag_param]
      Call-ID: [call_id]
      CSeq: 1 ACK
      Max-Forwards: 70
      Content-Length: 0

    ]]>
  </send>
</scenario>
"""


def rejected_scenario(status: int) -> str:
    """A SIPp caller whose INVITE must end with ``status`` (and its ACK)."""
    return _REJECTED_UAC.replace("STATUS", str(status))


REJECTED_UAC = rejected_scenario(486)


def write_echo_scenario(directory: Path, seconds: float) -> Path:
    """The echo caller scenario and its pcap in ``directory``; returns the scenario path."""
    pcap = directory / "speech20.pcap"
    write_rtp_pcap(pcap, seconds)
    path = directory / "echo_uac.xml"
    path.write_text(ECHO_UAC.format(seconds=seconds, pcap=pcap, pause_ms=int(seconds * 1000) + 300))
    return path


def sipp_exe() -> str:
    exe = shutil.which("sipp")
    if exe is None:
        raise SystemExit("sipp not found: apt-get install sip-tester")
    return exe


def caller_argv(
    scenario: Path, port: int, media_port: int, calls: int, rate: int, timeout: float,
    *, at_once: int | None = None, period_ms: int = 1000,
) -> list[str]:  # fmt: skip
    """SIPp placing ``calls`` calls of ``scenario`` to 127.0.0.1:``port`` at ``rate`` per
    ``period_ms``, at most ``at_once`` up at a time (default: all of them), its media on
    ``media_port``."""
    return [sipp_exe(), "-sf", str(scenario), f"127.0.0.1:{port}", "-s", "bot", "-i", "127.0.0.1",
            "-p", str(free_port()), "-mp", str(media_port), "-m", str(calls), "-l", str(at_once or calls),
            "-r", str(rate), "-rp", str(period_ms), "-nostdin", "-timeout", f"{int(timeout)}s",
            "-max_socket", "60000"]  # fmt: skip


def sipp_summary(text: str) -> dict[str, int]:
    """Cumulative counters from SIPp's final screen."""

    def cumulative(label: str) -> int:
        m = re.search(rf"{label}\s*\|\s*\d+\s*\|\s*(\d+)", text)
        return int(m.group(1)) if m else 0

    unexpected = re.findall(r"^\s*503 <-+\s+(\d+)", text, re.M)  # the count of 503s received
    return {
        "successful": cumulative("Successful call"),
        "failed": cumulative("Failed call"),
        "created": cumulative("Outgoing calls? created"),
        "got_503": int(unexpected[-1]) if unexpected else 0,
    }


@dataclass
class Capture:
    """tcpdump on ``lo`` keeping the RTP headers of datagrams sent to ports ``lo..hi``."""

    path: Path
    lo: int
    hi: int
    proc: subprocess.Popen[bytes] | None = None
    snaplen: int = 96  # the headers; 256 keeps a 20 ms G.711 payload too
    both_ways: bool = False  # also datagrams sent from those ports

    def start(self) -> None:
        exe = shutil.which("tcpdump")
        if exe is None:
            raise SystemExit("tcpdump not found: apt-get install tcpdump")
        self.proc = subprocess.Popen(
            [exe, "-i", "lo", "-n", "-s", str(self.snaplen), "-B", "32768", "-U", "-w", str(self.path),
             f"udp and {'' if self.both_ways else 'dst '}portrange {self.lo}-{self.hi}"],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True,
        )  # fmt: skip
        # tcpdump prints "listening on lo" once its filter is in place
        assert self.proc.stderr is not None
        self.proc.stderr.readline()

    def stop(self) -> str:
        if self.proc is None:
            return ""
        self.proc.terminate()
        _, err = self.proc.communicate(timeout=30)
        return err.decode(errors="replace")


def read_pcap(path: Path) -> Iterator[tuple[float, int, int, int, bytes]]:
    """(time, source port, destination port, sequence number, payload) of every RTP packet in a capture
    (RTCP left out; the payload as far as the capture kept it)."""
    data = path.read_bytes()
    if len(data) < 24:
        return
    nano = data[:4] in (b"\x4d\x3c\xb2\xa1", b"\xa1\xb2\x3c\x4d")
    link = struct.unpack_from("<I", data, 20)[0]
    l2 = 14 if link == 1 else 16 if link == 113 else 4 if link == 0 else 14
    pos = 24
    while pos + 16 <= len(data):
        sec, frac, incl, _orig = struct.unpack_from("<IIII", data, pos)
        frame = data[pos + 16 : pos + 16 + incl]
        pos += 16 + incl
        if len(frame) < l2 + 20:
            continue
        ihl = (frame[l2] & 0x0F) * 4
        udp = l2 + ihl
        if len(frame) < udp + 8 + 12:
            continue
        sport, dport = struct.unpack_from("!HH", frame, udp)
        rtp = udp + 8
        if frame[rtp] >> 6 != 2 or 72 <= frame[rtp + 1] & 0x7F <= 76:
            continue  # not RTP, or RTCP
        cc = frame[rtp] & 0x0F
        seq = struct.unpack_from("!H", frame, rtp + 2)[0]
        yield sec + frac * (1e-9 if nano else 1e-6), sport, dport, seq, frame[rtp + 12 + 4 * cc :]


def stream_report(
    path: Path, *, skip_edges: float = 1.0, between: tuple[float, float] | None = None
) -> dict[str, object]:
    """Per RTP stream (sender port -> receiver port) in the capture: loss by sequence numbers
    and inter-arrival gaps, ignoring ``skip_edges`` s at each end of each stream, and with
    ``between`` only the packets captured in that span (``time.time()`` seconds)."""
    streams: dict[tuple[int, int], list[tuple[float, int]]] = {}
    for t, sport, dport, seq, _payload in read_pcap(path):
        streams.setdefault((sport, dport), []).append((t, seq))
    if not streams and path.stat().st_size < 24:
        return {"streams": 0}
    gaps_over_40 = 0
    worst_gap = 0.0
    lost = received = 0
    for pkts in streams.values():
        t = np.array([p[0] for p in pkts])
        seq = np.unwrap(np.array([p[1] for p in pkts], dtype=np.float64), period=65536)
        keep = (t >= t[0] + skip_edges) & (t <= t[-1] - skip_edges)
        if between is not None:
            keep &= (t >= between[0]) & (t <= between[1])
        if keep.sum() < 2:
            continue
        t, seq = t[keep], seq[keep]
        received += len(seq)
        lost += max(0, int(seq.max() - seq.min() + 1) - len(set(seq.tolist())))
        gaps = np.diff(t)
        gaps_over_40 += int((gaps > 0.040).sum())
        worst_gap = max(worst_gap, float(gaps.max()))
    return {
        "streams": len(streams),
        "packets": received,
        "lost": lost,
        "gaps_over_40ms": gaps_over_40,
        "max_gap_ms": round(worst_gap * 1000, 1),
    }
