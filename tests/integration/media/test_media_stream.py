"""Two real MediaStreams over loopback UDP: play, record, echo, frames, DTMF, source learning,
inactivity, and speech through an impairing relay."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.sim.impair import Impairment
from voicebot.errors import ConfigError, LocalProtocolError
from voicebot.media import MediaStream, read_wav
from voicebot.rtp.events import DtmfDigit
from voicebot.rtp.packet import RtpPacket
from voicebot_codecs import get_codec, resample

from .conftest import Params

CODECS = [("PCMU/8000", 0), ("PCMA/8000", 8), ("opus/48000/2", 111)]
Corr = Callable[[np.ndarray, np.ndarray], float]


def wire_reference(src: np.ndarray, codec: str) -> np.ndarray:
    """The source as the wire can carry it: G.711 is 8 kHz, so compare against the source
    band-limited through 8 kHz (what any correct narrowband path must deliver)."""
    if codec.endswith("/8000"):
        return resample(resample(src, 16000, 8000), 8000, 16000)
    return src


async def pair(codec: str = "PCMU/8000", pt: int = 0, **opts: Any) -> tuple[MediaStream, MediaStream]:
    a = await MediaStream.open("127.0.0.1", **opts)
    b = await MediaStream.open("127.0.0.1", **opts)
    a.configure(Params(b.local_address, codec, pt))
    b.configure(Params(a.local_address, codec, pt))
    return a, b


@pytest.mark.parametrize(("codec", "pt"), CODECS)
async def test_play_and_record_both_channels(
    codec: str, pt: int, speech_wav: Path, tmp_path: Path, correlate: Corr, correlate_windowed: Corr,
    read_wav_channels: Any,
) -> None:
    a, b = await pair(codec, pt)
    try:
        b.start_recording(tmp_path / "b.wav")
        a.start_recording(tmp_path / "a.wav")
        await a.start()
        await b.start()
        await a.play_wav(speech_wav)
        await asyncio.sleep(0.3)
    finally:
        await a.close()
        await b.close()
    src = read_wav(speech_wav)
    heard = read_wav_channels(tmp_path / "b.wav")
    sent = read_wav_channels(tmp_path / "a.wav")
    assert heard.shape[1] == 2
    # caller channel at B; aligned per 100 ms window: on a busy machine the adaptive buffer may
    # insert or drop a frame, which shifts the rest of the call by 20 ms
    assert correlate_windowed(wire_reference(src, codec), heard[:, 0]) >= 0.9
    assert correlate(src, sent[:, 1]) >= 0.99  # bot channel at A is exactly what was played
    assert np.abs(heard[:, 1]).max() == 0  # B played nothing
    stats = b.stats()["inbound-rtp"]
    assert stats["packetsLost"] == 0 and stats["packetsMalformed"] == 0


async def test_echo_returns_the_callers_audio(speech_wav: Path, tmp_path: Path, correlate_windowed: Corr,
                                              read_wav_channels: Any) -> None:
    a, b = await pair()
    try:
        b.set_echo(True)
        a.start_recording(tmp_path / "a.wav")
        await a.start()
        await b.start()
        await a.play_wav(speech_wav)
        await asyncio.sleep(0.5)
    finally:
        await a.close()
        await b.close()
    back = read_wav_channels(tmp_path / "a.wav")[:, 0]
    assert correlate_windowed(wire_reference(read_wav(speech_wav), "PCMU/8000"), back) >= 0.9


async def test_frames_iterator_yields_caller_audio(speech_wav: Path, correlate_windowed: Corr) -> None:
    a, b = await pair("opus/48000/2", 111)
    frames: list[np.ndarray] = []

    async def collect() -> None:
        last = None
        async for f in b.frames():
            assert f.pcm.shape == (320,) and f.pcm.dtype == np.int16
            if last is not None:  # stamped on the 20 ms playout grid, in order
                assert f.index == last.index + 1 and abs(f.media_time - last.media_time - 0.02) < 1e-6
            last = f
            frames.append(f.pcm)

    try:
        await a.start()
        await b.start()
        task = asyncio.create_task(collect())
        await a.play_wav(speech_wav)
        await asyncio.sleep(0.3)
    finally:
        await a.close()
        await b.close()
    await asyncio.wait_for(task, 5)  # close() ends the iterator
    assert correlate_windowed(read_wav(speech_wav), np.concatenate(frames)) >= 0.9


async def test_a_tap_gets_the_same_frames_as_they_play_out_and_none_at_close(speech_wav: Path) -> None:
    a, b = await pair()
    tapped: list[Any] = []
    iterated: list[Any] = []
    gone: list[Any] = []

    async def collect() -> None:
        async for f in b.frames():
            iterated.append(f)

    try:
        await a.start()
        await b.start()
        task = asyncio.create_task(collect())
        await asyncio.sleep(0)  # the iterator is reading
        untap = b.tap(tapped.append)
        untap_early = b.tap(gone.append)
        await asyncio.sleep(0.1)
        untap_early()  # removed: hears nothing more, not even the close
        heard_before = len(gone)
        await a.play_wav(speech_wav)
        await asyncio.sleep(0.2)
    finally:
        await a.close()
        await b.close()
    await asyncio.wait_for(task, 5)
    assert tapped[-1] is None and None not in tapped[:-1]  # every frame, then the close
    frames = tapped[:-1]
    assert [f.index for f in frames] == list(range(frames[0].index, frames[0].index + len(frames)))
    assert {f.index: f for f in iterated}.get(frames[-1].index) is frames[-1]  # one frame object for both
    assert any(np.abs(f.pcm).max() > 1000 for f in frames)  # the speech came through
    assert heard_before > 0 and len(gone) == heard_before and None not in gone
    untap()  # after the close: harmless
    late: list[Any] = []
    b.tap(late.append)
    assert late == [None]  # a closed stream ends a new tap at once


async def test_stranger_rtp_during_a_call_is_ignored(speech_wav: Path, tmp_path: Path, correlate_windowed: Corr,
                                                     read_wav_channels: Any) -> None:
    """A third party sends a loud tone with perfect RTP (consecutive sequence numbers) to B's
    port while A talks: none of it reaches B's frames or recording."""
    a, b = await pair()
    stranger = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    stranger.bind(("127.0.0.1", 0))
    enc = get_codec("PCMU/8000").encoder()
    t = np.arange(160) / 8000
    tone = enc.encode((np.sin(2 * np.pi * 2700 * t) * 24000).astype(np.int16))
    frames: list[np.ndarray] = []

    async def collect() -> None:
        async for f in b.frames():
            frames.append(f.pcm)

    async def attack() -> None:
        for i in range(150):
            pkt = RtpPacket(payload_type=0, sequence_number=1000 + i, timestamp=160 * i, ssrc=0x5EC, payload=tone)
            stranger.sendto(bytes(pkt), b.local_address)
            await asyncio.sleep(0.01)

    try:
        b.start_recording(tmp_path / "b.wav")
        await a.start()
        await b.start()
        task = asyncio.create_task(collect())
        await asyncio.sleep(0.3)  # the call is up and A's media has been accepted
        await asyncio.gather(a.play_wav(speech_wav), attack())
        await asyncio.sleep(0.3)
    finally:
        stranger.close()
        await a.close()
        await b.close()
    await asyncio.wait_for(task, 5)
    heard = read_wav_channels(tmp_path / "b.wav")[:, 0]
    src = read_wav(speech_wav)

    def tone_share(x: np.ndarray) -> float:
        spec = np.abs(np.fft.rfft(x)) ** 2
        freqs = np.fft.rfftfreq(len(x), 1 / 16000)
        band = (freqs > 2650) & (freqs < 2750)
        return float(spec[band].sum() / max(spec.sum(), 1e-9))

    assert tone_share(heard) < 3 * tone_share(src) + 1e-3
    assert tone_share(np.concatenate(frames).astype(np.float64)) < 3 * tone_share(src) + 1e-3
    assert correlate_windowed(wire_reference(src, "PCMU/8000"), heard) >= 0.9
    assert b.stats()["inbound-rtp"]["packetsFromUnknownSource"] >= 140


async def test_dtmf_rfc4733_and_sip_info() -> None:
    a, b = await pair()
    try:
        await a.start()
        await b.start()
        a.send_dtmf("19*#", duration_ms=80)
        digits = [await asyncio.wait_for(b.dtmf_events.get(), 5) for _ in range(4)]
        b.inject_dtmf("16", 100)  # hook flash from a peer's INFO: not a digit, dropped
        b.inject_dtmf("5", 160)
        info = await asyncio.wait_for(b.dtmf_events.get(), 1)
    finally:
        await a.close()
        await b.close()
    assert [(d.digit, d.source) for d in digits] == [("1", "rfc4733"), ("9", "rfc4733"), ("*", "rfc4733"),
                                                     ("#", "rfc4733")]
    assert all(d.duration_ms == 80 for d in digits)
    assert info == DtmfDigit(digit="5", duration_ms=160, source="info")
    assert b.dtmf_events.empty()  # the three end packets of each event gave one digit
    assert b.stats()["inbound-rtp"]["dtmfInfoRejected"] == 1


async def test_natted_peer_is_latched_and_answered_symmetrically(speech_wav: Path, tmp_path: Path,
                                                                 correlate_windowed: Corr,
                                                                 read_wav_channels: Any) -> None:
    """B's SDP says the peer is at an address nobody sends from (a NAT'd private address); B
    latches to where A's consecutive packets really come from and sends its echo there."""
    a = await MediaStream.open("127.0.0.1")
    b = await MediaStream.open("127.0.0.1")
    try:
        a.configure(Params(b.local_address))
        b.configure(Params(("127.0.0.1", 9)))  # discard port: never a source
        b.set_echo(True)
        a.start_recording(tmp_path / "a.wav")
        await a.start()
        await b.start()
        await a.play_wav(speech_wav)
        await asyncio.sleep(0.4)
    finally:
        await a.close()
        await b.close()
    assert b.stats()["transport"]["remoteAddress"] == a.local_address
    back = read_wav_channels(tmp_path / "a.wav")[:, 0]
    assert correlate_windowed(wire_reference(read_wav(speech_wav), "PCMU/8000"), back) >= 0.9


async def test_inactivity_timeout_calls_back_with_a_reason() -> None:
    a, b = await pair(inactivity_timeout=0.6)
    reasons: list[str] = []
    got = asyncio.Event()

    def on_inactive(reason: str) -> None:
        reasons.append(reason)
        got.set()

    try:
        b.on_inactive(on_inactive)
        await a.start()
        await b.start()
        await asyncio.sleep(0.5)
        assert not reasons  # media is flowing
        await a.close()  # the peer goes silent (no BYE on the signalling side)
        await asyncio.wait_for(got.wait(), 5)
    finally:
        await b.close()
    assert len(reasons) == 1 and "no RTP" in reasons[0]


async def test_hold_stops_sending_and_resume_restarts(tmp_path: Path) -> None:
    a, b = await pair()
    try:
        await a.start()
        await b.start()
        await asyncio.sleep(0.3)
        a.configure(Params(b.local_address, direction="inactive"))  # re-INVITE: hold
        await asyncio.sleep(0.1)
        before = b.stats()["inbound-rtp"]["packetsReceived"]
        await asyncio.sleep(0.4)
        during = b.stats()["inbound-rtp"]["packetsReceived"]
        a.configure(Params(b.local_address, direction="sendrecv"))  # resume
        await asyncio.sleep(0.4)
        after = b.stats()["inbound-rtp"]["packetsReceived"]
    finally:
        await a.close()
        await b.close()
    assert during - before <= 1
    assert after - during >= 10


@pytest.mark.parametrize(("codec", "pt"), [("PCMU/8000", 0), ("opus/48000/2", 111)])
async def test_speech_survives_bursty_loss_and_jitter(
    codec: str, pt: int, speech_wav: Path, tmp_path: Path, relay_factory: Any, correlate_windowed: Corr,
    read_wav_channels: Any,
) -> None:
    """5 % Gilbert-Elliott loss (mean burst 3 packets) and 40 ms of uniform jitter between A
    and B; the score is an energy-weighted correlation of 100 ms windows, each re-aligned
    (the adaptive buffer inserts frames, so one global lag does not fit the whole call).

    Why 0.85: on a clean path this utterance scores 1.00 (PCMU) / 0.95 (Opus), and 0.97 / 0.92
    through this channel. Simply zeroing the frames that a 5 %, 3-packet-burst Gilbert channel
    drops scores 0.95-0.99 over five seeds, so concealment should do no worse than ~0.9 after
    Opus's own loss of shape. A receiver that does not absorb the 40 ms of jitter (a buffer
    held at no delay) plays many frames late and scores 0.64 (PCMU) / 0.78 (Opus), and
    unrelated audio ~0.3. Late packets must also stay under 2 %."""
    imp = Impairment(seed=21, burst_loss=0.05, mean_burst=3.0, jitter=0.040, jitter_kind="uniform")
    relay = relay_factory(imp)
    await relay.open()
    a = await MediaStream.open("127.0.0.1")
    b = await MediaStream.open("127.0.0.1")
    relay.a_peer, relay.b_peer = a.local_address, b.local_address
    try:
        a.configure(Params(relay.address("a"), codec, pt))
        b.configure(Params(relay.address("b"), codec, pt))
        b.start_recording(tmp_path / "b.wav")
        await a.start()
        await b.start()
        await a.play_wav(speech_wav)
        await asyncio.sleep(0.6)
        stats = b.stats()["inbound-rtp"]
    finally:
        await a.close()
        await b.close()
        relay.close()
    src = wire_reference(read_wav(speech_wav), codec)
    heard = read_wav_channels(tmp_path / "b.wav")[:, 0]
    score = correlate_windowed(src, heard)
    assert relay.channel.lost > 0 and stats["concealedSamples"] > 0
    if codec.startswith("opus"):
        assert stats["fecPacketsRecovered"] > 0  # in-band FEC of the packet after a gap
    assert stats["packetsLate"] <= 0.02 * stats["packetsReceived"]
    assert score >= 0.85, score


def opus_bandwidth(payload: bytes) -> str:
    """Audio bandwidth from an Opus TOC byte (RFC 6716 §3.1)."""
    config = payload[0] >> 3
    if config < 12:
        return ("narrowband", "mediumband", "wideband")[config // 4]
    if config < 16:
        return "superwideband" if config < 14 else "fullband"
    return ("narrowband", "wideband", "superwideband", "fullband")[(config - 16) // 4]


async def test_rtcp_loss_reports_move_opus_to_narrowband_and_back(relay_factory: Any) -> None:
    """Adaptive 8/16 kHz over a real path: 15 % loss from A to B shows up in B's RTCP receiver
    reports; A's encoder goes narrowband (the wire TOC says so); once the loss stops, A returns
    to wideband after consecutive clean reports (hysteresis). RTT comes from LSR/DLSR."""
    relay = relay_factory(Impairment(seed=5, loss=0.15))
    await relay.open()
    a = await MediaStream.open("127.0.0.1", rtcp_interval=0.4)
    b = await MediaStream.open("127.0.0.1", rtcp_interval=0.4)
    relay.a_peer, relay.b_peer = a.local_address, b.local_address
    loop = asyncio.get_running_loop()

    async def wait_for(pred: Callable[[], bool], timeout: float) -> bool:
        end = loop.time() + timeout
        while loop.time() < end:
            if pred():
                return True
            await asyncio.sleep(0.05)
        return pred()

    try:
        a.configure(Params(relay.address("a"), "opus/48000/2", 111, remote_rtcp_address=relay.address("a_rtcp")))
        b.configure(Params(relay.address("b"), "opus/48000/2", 111, remote_rtcp_address=relay.address("b_rtcp")))
        await a.start()
        await b.start()
        t = np.arange(16000 * 20) / 16000
        a.play((np.sin(2 * np.pi * 300 * t) * 3000 + np.sin(2 * np.pi * 2500 * t) * 3000).astype(np.int16))
        await asyncio.sleep(0.2)
        first_wire = {opus_bandwidth(p[12:]) for p in relay.forwarded_a_to_b[:5]}
        went_narrow = await wait_for(lambda: a.stats()["outbound-rtp"]["encoderBandwidth"] == "narrowband", 8)
        await asyncio.sleep(1.5)  # a few more reports (the first may precede our first SR: no RTT yet)
        narrow_wire = {opus_bandwidth(p[12:]) for p in relay.forwarded_a_to_b[-5:]}
        lossy = a.stats()["remote-inbound-rtp"]
        relay.set_impairment(Impairment(seed=6))
        came_back = await wait_for(lambda: a.stats()["outbound-rtp"]["encoderBandwidth"] == "wideband", 10)
        await asyncio.sleep(0.3)
        wide_wire = {opus_bandwidth(p[12:]) for p in relay.forwarded_a_to_b[-5:]}
    finally:
        await a.close()
        await b.close()
        relay.close()
    assert first_wire == {"wideband"}
    assert went_narrow and narrow_wire == {"narrowband"}
    assert lossy["fractionLost"] > 0.05 and lossy["packetsLost"] > 5
    assert lossy["roundTripTime"] is not None and lossy["roundTripTime"] < 0.1
    assert came_back and wide_wire == {"wideband"}
    assert a.bandwidth.switches == 2


def _ipv6_loopback() -> bool:
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_DGRAM) as s:
            s.bind(("::1", 0))
        return True
    except OSError:
        return False


@pytest.mark.skipif(not _ipv6_loopback(), reason="no IPv6 loopback on this machine")
async def test_ipv6_play_and_record(speech_wav: Path, tmp_path: Path, correlate_windowed: Corr,
                                    read_wav_channels: Any) -> None:
    a = await MediaStream.open("::1")
    b = await MediaStream.open("::1")
    try:
        assert a.local_address[0] == "::1" and a.local_address[1] % 2 == 0
        a.configure(Params(b.local_address))
        b.configure(Params(a.local_address))
        b.start_recording(tmp_path / "b.wav")
        await a.start()
        await b.start()
        await a.play_wav(speech_wav)
        await asyncio.sleep(0.3)
    finally:
        await a.close()
        await b.close()
    heard = read_wav_channels(tmp_path / "b.wav")[:, 0]
    assert correlate_windowed(wire_reference(read_wav(speech_wav), "PCMU/8000"), heard) >= 0.9


async def test_open_rejects_bad_addresses_and_odd_ports() -> None:
    with pytest.raises(ConfigError, match="even"):
        await MediaStream.open("127.0.0.1", 40001)
    with pytest.raises(ConfigError, match="literal IP"):
        await MediaStream.open("localhost")
    s = await MediaStream.open("127.0.0.1")
    try:
        with pytest.raises(ConfigError, match="direction"):
            s.configure(Params(("127.0.0.1", 4000), direction="sideways"))
        with pytest.raises(ConfigError, match="unsupported codec"):
            s.configure(Params(("127.0.0.1", 4000), codec="G729/8000", payload_type=18))
        with pytest.raises(LocalProtocolError):
            await s.start()  # not configured
    finally:
        await s.close()


async def test_rtp_racing_the_signalling_is_kept_until_configure() -> None:
    """The caller's RTP may arrive right after our 200 OK, before the call configures the
    stream: it is held (not counted as a stranger) and replayed through the source filter."""
    a = await MediaStream.open("127.0.0.1")
    b = await MediaStream.open("127.0.0.1")
    try:
        a.configure(Params(b.local_address))
        await a.start()
        await asyncio.sleep(0.2)  # about ten packets reach B before B knows anything
        b.configure(Params(a.local_address))
        await b.start()
        await asyncio.sleep(0.3)
        stats = b.stats()["inbound-rtp"]
    finally:
        await a.close()
        await b.close()
    assert stats["packetsFromUnknownSource"] == 0
    assert stats["packetsReceived"] >= 20  # the early ones count too (~25 in 0.5 s)


async def test_codec_change_by_reinvite_keeps_audio_flowing(tmp_path: Path, read_wav_channels: Any) -> None:
    """A re-INVITE moves the call from PCMU to Opus mid-stream: the sender keeps its clock, the
    receiver starts a new decoder and jitter buffer, and the tone goes on."""
    a, b = await pair()
    t = np.arange(16000 * 3) / 16000
    tone = (np.sin(2 * np.pi * 440 * t) * 8000).astype(np.int16)
    try:
        b.start_recording(tmp_path / "b.wav")
        await a.start()
        await b.start()
        a.play(tone)
        await asyncio.sleep(1.2)
        a.configure(Params(b.local_address, "opus/48000/2", 111))
        b.configure(Params(a.local_address, "opus/48000/2", 111))
        await asyncio.sleep(1.6)
        stats = b.stats()
    finally:
        await a.close()
        await b.close()
    heard = read_wav_channels(tmp_path / "b.wav")[:, 0]
    start = int(np.argmax(np.abs(heard) > 2000))
    windows = [heard[i : i + 1600] for i in range(start, start + 16000 * 2, 1600)]
    loud = [float(np.sqrt(np.mean(w**2))) > 2000 for w in windows]
    assert stats["codec"] == "opus/48000/2"
    assert sum(loud) >= len(loud) - 2  # at most the switch-over itself is quiet


class _Outage:
    """A channel that loses every packet sent between ``start`` and ``end`` (seconds)."""

    def __init__(self, start: float, end: float) -> None:
        self.start, self.end, self.lost = start, end, 0

    def arrivals(self, send: float) -> list[float]:
        if self.start <= send < self.end:
            self.lost += 1
            return []
        return [send + 0.005]


async def test_long_gap_is_bridged_then_faded_not_buzzed(relay_factory: Any, tmp_path: Path,
                                                         read_wav_channels: Any) -> None:
    """A 300 ms outage in a G.711 tone: the first tens of milliseconds are filled by waveform
    substitution (no hard drop to silence), then the fill fades out instead of repeating the
    last pitch period for the whole gap."""
    relay = relay_factory(Impairment())
    relay.channel = _Outage(1.0, 1.3)
    await relay.open()
    a = await MediaStream.open("127.0.0.1")
    b = await MediaStream.open("127.0.0.1")
    relay.a_peer, relay.b_peer = a.local_address, b.local_address
    t = np.arange(16000 * 3) / 16000
    try:
        a.configure(Params(relay.address("a")))
        b.configure(Params(relay.address("b")))
        b.start_recording(tmp_path / "b.wav")
        await a.start()
        await b.start()
        a.play((np.sin(2 * np.pi * 300 * t) * 8000).astype(np.int16))
        await asyncio.sleep(2.2)
        stats = b.stats()["inbound-rtp"]
    finally:
        await a.close()
        await b.close()
        relay.close()
    assert relay.channel.lost >= 12
    heard = read_wav_channels(tmp_path / "b.wav")[:, 0]
    win = 160  # 10 ms
    rms = np.array([np.sqrt(np.mean(heard[i : i + win] ** 2)) for i in range(0, len(heard) - win, win)])
    loud = rms > 0.5 * 8000 / np.sqrt(2)
    first = int(np.argmax(loud))
    quiet_runs, run = [], 0
    for x in loud[first:]:
        if not x:
            run += 1
        elif run:
            quiet_runs.append(run)
            run = 0
    gap = max(quiet_runs)  # in 10 ms windows
    assert stats["concealedSamples"] > 0
    # measured: quiet for 260 ms of the 300 ms outage (about 40 ms bridged, then faded). A hard
    # cut to silence would be quiet for 290-310 ms; repeating the last period would never go quiet
    assert 10 <= gap <= 27
