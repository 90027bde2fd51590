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
from dataclasses import dataclass
from pathlib import Path

import numpy as np

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
    pcm = np.tile(pcm, reps)[: frames * 160]
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


ECHO_UAC = """<?xml version="1.0" encoding="ISO-8859-1" ?>
<!DOCTYPE scenario SYSTEM "sipp.dtd">
<!-- A caller that plays PCMA speech (20 ms) for {seconds} s, then hangs up. ACK and BYE follow
     the Record-Route set, so the calls also work through a proxy such as Kamailio. -->
<scenario name="echo caller">
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
  <nop>
    <action>
      <exec play_pcap_audio="{pcap}"/>
    </action>
  </nop>
  <pause milliseconds="{pause_ms}"/>
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
  <recv response="200" crlf="true"/>
  <nop next="end"/>
  <label id="busy"/>
  <!-- the ACK of a non-2xx response belongs to the INVITE's transaction: message 12 takes
       the branch of message 0 -->
  <send>
    <![CDATA[
      ACK sip:[service]@[remote_ip]:[remote_port] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch-12]
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


REJECTED_UAC = """<?xml version="1.0" encoding="ISO-8859-1" ?>
<!DOCTYPE scenario SYSTEM "sipp.dtd">
<!-- An INVITE the server turns down (any final response 400-699 ends the call well); a
     call that gets no final response at all within 8 s counts as failed: unanswered. -->
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
  <recv response="486" timeout="8000"/>
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

    def start(self) -> None:
        exe = shutil.which("tcpdump")
        if exe is None:
            raise SystemExit("tcpdump not found: apt-get install tcpdump")
        self.proc = subprocess.Popen(
            [exe, "-i", "lo", "-n", "-s", "96", "-B", "32768", "-U", "-w", str(self.path),
             f"udp and dst portrange {self.lo}-{self.hi}"],
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


def stream_report(path: Path, *, skip_edges: float = 1.0) -> dict[str, object]:
    """Per RTP stream (sender port -> receiver port) in the capture: loss by sequence numbers
    and inter-arrival gaps, ignoring ``skip_edges`` s at each end of each stream."""
    data = path.read_bytes()
    if len(data) < 24:
        return {"streams": 0}
    nano = data[:4] in (b"\x4d\x3c\xb2\xa1", b"\xa1\xb2\x3c\x4d")
    link = struct.unpack_from("<I", data, 20)[0]
    l2 = 14 if link == 1 else 16 if link == 113 else 4 if link == 0 else 14
    pos = 24
    streams: dict[tuple[int, int], list[tuple[float, int]]] = {}
    while pos + 16 <= len(data):
        sec, frac, incl, _orig = struct.unpack_from("<IIII", data, pos)
        frame = data[pos + 16 : pos + 16 + incl]
        pos += 16 + incl
        t = sec + frac * (1e-9 if nano else 1e-6)
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
        seq = struct.unpack_from("!H", frame, rtp + 2)[0]
        streams.setdefault((sport, dport), []).append((t, seq))
    gaps_over_40 = 0
    worst_gap = 0.0
    lost = received = 0
    for pkts in streams.values():
        t = np.array([p[0] for p in pkts])
        seq = np.unwrap(np.array([p[1] for p in pkts], dtype=np.float64), period=65536)
        keep = (t >= t[0] + skip_edges) & (t <= t[-1] - skip_edges)
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
