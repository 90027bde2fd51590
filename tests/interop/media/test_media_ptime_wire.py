"""``--ptime`` on the wire, with real peers and a real capture (tcpdump on loopback): what
packet size voicebot sends, that it honours the far end's a=ptime, and that speech gets
through both ways at packet sizes other than 20 ms."""

from __future__ import annotations

import itertools
import json
import re
import shutil
import struct
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from voicebot.media import read_wav
from voicebot_codecs import resample

from .conftest import (
    SCENARIOS,
    free_even_port_pair,
    free_udp_port,
    read_channels,
    sipp_exe,
    stop_process,
    windowed_correlation,
)

pytestmark = pytest.mark.interop


@dataclass(frozen=True)
class Packet:
    src: int  # UDP source port
    dst: int
    payload: int  # RTP payload bytes
    timestamp: int


class Capture:
    """tcpdump on ``lo`` for UDP to or from ``ports`` (all UDP without), RTP headers kept."""

    def __init__(self, path: Path, ports: list[int] | None = None) -> None:
        exe = shutil.which("tcpdump")
        assert exe, "tcpdump is needed (Debian package tcpdump; the Makefile installs it)"
        self.path = path
        expr = " or ".join(f"port {p}" for p in ports or []) or "udp"
        self.proc = subprocess.Popen(
            [exe, "-i", "lo", "-n", "-s", "64", "-U", "-w", str(path), f"udp and ({expr})"],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True,
        )  # fmt: skip
        assert self.proc.stderr is not None
        line = self.proc.stderr.readline().decode(errors="replace")  # "listening on lo" once the filter is set
        assert "listening" in line, line

    def packets(self) -> list[Packet]:
        stop_process(self.proc)
        data = self.path.read_bytes()
        link = struct.unpack_from("<I", data, 20)[0]
        l2 = 14 if link == 1 else 4 if link == 0 else 16
        out, pos = [], 24
        while pos + 16 <= len(data):
            incl = struct.unpack_from("<I", data, pos + 8)[0]
            frame = data[pos + 16 : pos + 16 + incl]
            pos += 16 + incl
            ip = frame[l2:]
            udp = ip[(ip[0] & 0x0F) * 4 :]
            src, dst, length = struct.unpack_from("!HHH", udp)
            rtp = udp[8:]
            if len(rtp) >= 12 and rtp[0] >> 6 == 2 and not 200 <= rtp[1] <= 204:  # RTP, not RTCP
                out.append(Packet(src, dst, length - 8 - 12 - 4 * (rtp[0] & 0x0F), struct.unpack_from("!I", rtp, 4)[0]))
        return out


def stream(packets: list[Packet], src: int, dst: int) -> tuple[set[int], set[int]]:
    """The payload lengths and timestamp steps of the audio packets from ``src`` to ``dst``."""
    mine = [p for p in packets if (p.src, p.dst) == (src, dst) and p.payload > 4]  # not RFC 4733 events
    assert len(mine) > 20, (src, dst, len(packets))
    steps = {(b.timestamp - a.timestamp) & 0xFFFFFFFF for a, b in itertools.pairwise(mine)}
    return {p.payload for p in mine}, steps


@pytest.fixture
def prompt(tmp_path: Path) -> Iterator[Path]:
    path = tmp_path / "prompt.wav"
    subprocess.run(["espeak-ng", "-w", str(path), "Testing one two three, echo check."], check=True, timeout=60)
    yield path


def narrowband(path: Path) -> np.ndarray:
    return resample(resample(read_wav(path), 16000, 8000), 8000, 16000)


def dial(uri: str, *args: str) -> tuple[dict[str, Any], str]:
    done = subprocess.run(
        [sys.executable, "-m", "voicebot", "dial", uri, "--json", "--trace", "--codec", "pcmu", *args],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    return json.loads(done.stdout), done.stderr


@dataclass(frozen=True)
class EchoCall:
    result: dict[str, Any]
    trace: str
    packets: list[Packet]
    ours: int  # our RTP port
    theirs: int  # SIPp's
    recording: Path


def dial_sipp_echo(tmp_path: Path, prompt: Path, scenario: list[str], *args: str) -> EchoCall:
    """``dial --play prompt`` (PCMU) to a SIPp UAS (``scenario``: its -sn/-sf arguments) that
    echoes RTP, with a capture of the media both ways."""
    media = free_even_port_pair()
    port = free_udp_port()
    sipp = subprocess.Popen(
        [sipp_exe(), *scenario, "-rtp_echo", "-i", "127.0.0.1", "-p", str(port), "-mp", str(media),
         "-m", "1", "-nostdin", "-timeout", "60s"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True, cwd=tmp_path,
    )  # fmt: skip
    capture = Capture(tmp_path / "rtp.pcap", [media])
    rec = tmp_path / "dial.wav"
    try:
        result, trace = dial(
            f"sip:echo@127.0.0.1:{port}", *args, "--play", str(prompt), "--record-wav", str(rec), "--hangup-after", "4"
        )
        sipp.wait(timeout=15)
    finally:
        stop_process(sipp)
        packets = capture.packets()
    ours = next(p.src for p in packets if p.dst == media)
    return EchoCall(result=result, trace=trace, packets=packets, ours=ours, theirs=media, recording=rec)


def test_dial_ptime_40_sends_40_ms_packets_to_sipp_and_hears_them_back(tmp_path: Path, prompt: Path) -> None:
    """SIPp's UAS answers without a=ptime, so we send the 40 ms we asked for; with -rtp_echo
    it returns every packet as it came, and our recording holds our prompt."""
    call = dial_sipp_echo(tmp_path, prompt, ["-sn", "uas"], "--ptime", "40")
    assert "a=ptime:40" in call.trace  # our offer asks for 40 ms
    assert call.result["rtp"]["ptime_ms"] == 40
    assert "answered (PCMU/8000, 40 ms)" in call.trace  # the live progress line says so too
    assert stream(call.packets, call.ours, call.theirs) == ({320}, {320})  # 40 ms of PCMU a packet, 40 ms apart
    assert stream(call.packets, call.theirs, call.ours) == ({320}, {320})  # and so is the echo
    assert windowed_correlation(narrowband(prompt), read_channels(call.recording)[:, 0]) >= 0.9


def test_dial_never_sends_packets_longer_than_the_answers_maxptime(tmp_path: Path, prompt: Path) -> None:
    """SIPp answers with a=maxptime:20 and no a=ptime: ``dial --ptime 40`` would send 40 ms
    packets, but the far end takes none longer than 20 ms (RFC 4566), so 20 ms packets go out."""
    call = dial_sipp_echo(tmp_path, prompt, ["-sf", str(SCENARIOS / "uas_maxptime.xml")], "--ptime", "40")
    assert "a=ptime:40" in call.trace and "a=maxptime:20" in call.trace
    assert call.result["rtp"]["ptime_ms"] == 20
    assert "answered (PCMU/8000, 20 ms)" in call.trace
    assert stream(call.packets, call.ours, call.theirs) == ({160}, {160})  # 20 ms of PCMU a packet, 20 ms apart
    assert windowed_correlation(narrowband(prompt), read_channels(call.recording)[:, 0]) >= 0.9


def test_serve_and_dial_each_send_what_the_other_asked_for(serve: Any, tmp_path: Path, prompt: Path) -> None:
    """``dial --ptime 40`` against ``serve --ptime 20``: the answerer sends 40 ms packets (the
    offerer's a=ptime), the offerer 20 ms ones (the answer's), and each side hears the other."""
    served_rec, dial_rec = tmp_path / "served.wav", tmp_path / "dial.wav"
    server = serve("--ptime", "20", "--play", str(prompt), "--record-wav", str(served_rec), "--json")
    capture = Capture(tmp_path / "rtp.pcap")  # the RTP ports are only known from the SDP
    try:
        result, trace = dial(
            f"sip:bot@127.0.0.1:{server.port}", "--ptime", "40", "--play", str(prompt), "--record-wav",
            str(dial_rec), "--hangup-after", "5",
        )  # fmt: skip
    finally:
        packets = capture.packets()
    out = server.stop()
    # the SDP in the trace names both RTP ports: the offer's first, then the answer's
    rtp_ports = [int(p) for p in re.findall(r"m=audio (\d+) RTP/AVP", trace)]
    assert len(set(rtp_ports)) == 2, trace
    ours, theirs = rtp_ports[0], next(p for p in rtp_ports if p != rtp_ports[0])
    assert stream(packets, ours, theirs) == ({160}, {160})  # we send 20 ms of PCMU a packet
    assert stream(packets, theirs, ours) == ({320}, {320})  # serve sends 40 ms
    assert "a=ptime:40" in trace and "a=ptime:20" in trace
    assert result["rtp"]["ptime_ms"] == 20  # we send what serve's answer asked for
    served = json.loads(next(line for line in out.splitlines() if line.startswith("{")))
    assert served["rtp"]["ptime_ms"] == 40  # serve sends what our offer asked for
    assert served["quality"]["inputs"]["one_way_delay_ms"] >= 40  # the E-model counts the 40 ms packets
    assert windowed_correlation(narrowband(prompt), read_channels(served_rec)[:, 0]) >= 0.9
    assert windowed_correlation(narrowband(prompt), read_channels(dial_rec)[:, 0]) >= 0.9


def test_a_re_invite_asking_for_another_ptime_changes_the_packets_we_send(serve: Any, tmp_path: Path) -> None:
    """SIPp calls ``serve`` asking for 20 ms packets, then re-INVITEs asking for 40 ms: the
    packets serve sends go from 160 to 320 bytes of PCMU (timestamps 160 then 320 apart) at
    one point, with no going back, and the call goes on to SIPp's BYE."""
    from .conftest import run_sipp

    media = free_even_port_pair()
    server = serve("--codec", "pcmu")
    capture = Capture(tmp_path / "rtp.pcap", [media])
    try:
        run_sipp("uac_reinvite_ptime.xml", f"127.0.0.1:{server.port}", media_port=media)
    finally:
        packets = capture.packets()
    out = server.stop()
    assert "ended by remote" in out, out
    sent = [p for p in packets if p.dst == media and p.payload > 4]
    sizes = [p.payload for p in sent]
    assert set(sizes) == {160, 320}, sorted(set(sizes))
    change = sizes.index(320)
    assert change > 50 and len(sizes) - change > 25, (change, len(sizes))  # ~2.5 s at 20 ms, ~2.5 s at 40 ms
    assert set(sizes[change:]) == {320}  # never back to 20 ms
    before, after = sent[:change], sent[change:]
    assert {(b.timestamp - a.timestamp) & 0xFFFFFFFF for a, b in itertools.pairwise(before)} == {160}
    assert {(b.timestamp - a.timestamp) & 0xFFFFFFFF for a, b in itertools.pairwise(after)} == {320}
