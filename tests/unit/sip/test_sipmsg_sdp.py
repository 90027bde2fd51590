"""SDP parsing and RFC 3264 offer/answer (voicebot.sip.sdp)."""

from __future__ import annotations

from pathlib import Path

import pytest

from voicebot.errors import RemoteProtocolError
from voicebot.sip.parser import parse_message
from voicebot.sip.sdp import (
    DEFAULT_CODECS,
    CodecSpec,
    SessionDescription,
    make_answer,
    make_offer,
    negotiated,
    with_direction,
)

PCMU_ONLY = (CodecSpec(name="PCMU", clock_rate=8000, payload_type=0),)

# a typical offer from a SIP phone: PCMA preferred, dynamic telephone-event 96, ptime 30
PHONE_OFFER = (
    b"v=0\r\n"
    b"o=- 3912 3912 IN IP4 198.51.100.7\r\n"
    b"s=call\r\n"
    b"c=IN IP4 198.51.100.7\r\n"
    b"t=0 0\r\n"
    b"m=audio 40000 RTP/AVP 9 8 0 96\r\n"
    b"a=rtpmap:9 G722/8000\r\n"
    b"a=rtpmap:96 telephone-event/8000\r\n"
    b"a=fmtp:96 0-15\r\n"
    b"a=ptime:30\r\n"
    b"a=sendrecv\r\n"
    b"m=video 40002 RTP/AVP 97\r\n"
    b"a=rtpmap:97 H264/90000\r\n"
)


def test_offer_lists_default_codecs_in_order() -> None:
    offer = make_offer("192.0.2.1", 4000, session_id=7)
    (m,) = offer.media
    assert m.formats == ["111", "0", "8", "110", "101"]
    assert m.rtpmap[111] == ("opus", 48000, 2)
    assert m.rtpmap[110] == ("telephone-event", 48000, 1)  # DTMF beside opus
    assert m.fmtp == {111: "useinbandfec=1", 110: "0-16", 101: "0-16"}
    assert m.ptime == 20 and m.direction == "sendrecv"
    assert offer.origin.session_id == "7"
    again = SessionDescription.parse(bytes(offer))
    assert bytes(again) == bytes(offer)


def test_answer_takes_first_offered_codec_we_support() -> None:
    offer = SessionDescription.parse(PHONE_OFFER)
    answer = make_answer(offer, "192.0.2.2", 5000)
    audio, video = answer.media
    # G722 is offered first but we do not support it; PCMA is next
    assert audio.formats == ["8", "96"]
    assert audio.rtpmap[96] == ("telephone-event", 8000, 1)
    assert audio.fmtp[96] == "0-15"
    assert audio.ptime == 30
    assert video.port == 0  # rejected stream keeps its place
    params = negotiated(answer, offer)
    assert params.codec == "PCMA/8000" and params.payload_type == 8
    assert params.telephone_event_pt == 96
    assert params.remote_address == ("198.51.100.7", 40000)
    assert params.ptime == 30 and params.direction == "sendrecv"


def test_offerer_side_negotiation_uses_answer_order() -> None:
    offer = make_offer("192.0.2.1", 4000)
    remote = SessionDescription.parse(bytes(offer))
    answer = make_answer(remote, "192.0.2.2", 5000, codecs=PCMU_ONLY)
    params = negotiated(offer, answer)
    assert params.codec == "PCMU/8000" and params.payload_type == 0
    assert params.telephone_event_pt is None  # the answerer did not accept events
    assert params.remote_address == ("192.0.2.2", 5000)


def test_opus_answer_keeps_fmtp() -> None:
    offer = make_offer("192.0.2.1", 4000)
    answer = make_answer(SessionDescription.parse(bytes(offer)), "192.0.2.2", 5000)
    assert answer.media[0].rtpmap[111] == ("opus", 48000, 2)
    assert answer.media[0].fmtp[111] == "useinbandfec=1"
    assert negotiated(offer, answer).codec == "opus/48000/2"


def test_no_common_codec_gives_488() -> None:
    offer = SessionDescription.parse(PHONE_OFFER.replace(b"9 8 0 96", b"9 96"))
    with pytest.raises(RemoteProtocolError) as info:
        make_answer(offer, "192.0.2.2", 5000)
    assert info.value.status == 488


def test_srtp_only_offer_is_rejected_with_488() -> None:
    offer = SessionDescription.parse(PHONE_OFFER.replace(b"RTP/AVP 9 8", b"RTP/SAVP 9 8"))
    with pytest.raises(RemoteProtocolError) as info:
        make_answer(offer, "192.0.2.2", 5000)
    assert info.value.status == 488


@pytest.mark.parametrize(
    ("offered", "answered"),
    [("sendonly", "recvonly"), ("recvonly", "sendonly"), ("inactive", "inactive"),
     ("sendrecv", "sendrecv")],
)
def test_answer_mirrors_direction(offered: str, answered: str) -> None:
    offer = with_direction(make_offer("192.0.2.1", 4000), offered)
    answer = make_answer(SessionDescription.parse(bytes(offer)), "192.0.2.2", 5000)
    assert answer.media[0].direction == answered


def test_hold_and_resume_round() -> None:
    ours = make_offer("192.0.2.1", 4000, session_id=1, version=3)
    hold = with_direction(ours, "sendonly")
    assert hold.origin.version == 4 and hold.media[0].direction == "sendonly"
    peer_answer = make_answer(SessionDescription.parse(bytes(hold)), "192.0.2.2", 5000)
    assert peer_answer.media[0].direction == "recvonly"
    p = negotiated(hold, peer_answer)
    assert p.direction == "sendonly" and not p.on_hold
    # on the held side: we must not send
    q = negotiated(peer_answer, hold)
    assert q.direction == "recvonly" and q.on_hold
    resume = with_direction(hold, "sendrecv")
    assert resume.origin.version == 5
    answer2 = make_answer(
        SessionDescription.parse(bytes(resume)), "192.0.2.2", 5000, previous=peer_answer
    )
    assert answer2.origin.session_id == peer_answer.origin.session_id
    assert answer2.origin.version == peer_answer.origin.version + 1
    assert negotiated(resume, answer2).direction == "sendrecv"


def test_legacy_hold_with_zero_address() -> None:
    offer = SessionDescription.parse(PHONE_OFFER.replace(b"c=IN IP4 198.51.100.7", b"c=IN IP4 0.0.0.0"))
    answer = make_answer(offer, "192.0.2.2", 5000)
    assert answer.media[0].direction == "recvonly"  # the offerer does not want to receive
    assert negotiated(answer, offer).on_hold


def test_we_can_ask_for_hold_in_the_answer() -> None:
    offer = SessionDescription.parse(PHONE_OFFER)
    answer = make_answer(offer, "192.0.2.2", 5000, direction="sendonly")
    assert answer.media[0].direction == "sendonly"


def test_malformed_sdp_raises_protocol_error() -> None:
    for bad in (b"", b"v=0\r\nm =audio\r\n", b"v=1\r\no=- 1 1 IN IP4 x\r\n", b"\xff\xfe",
                b"v=0\r\no=- 1 1 IN IP4 a\r\nm=audio x RTP/AVP 0\r\n"):
        with pytest.raises(RemoteProtocolError):
            SessionDescription.parse(bad)


def test_corpus_sdp_bodies(corpora: Path) -> None:
    d = corpora / "sip" / "rfc5118"
    sd = SessionDescription.parse(parse_message((d / "mult-ip-in-sdp").read_bytes()).body)
    audio, video = sd.media
    assert str(sd.media_connection(audio)) == "IN IP4 192.0.2.1"
    assert str(sd.media_connection(video)) == "IN IP6 2001:db8::1"
    answer = make_answer(sd, "2001:db8::20", 6000)
    assert answer.connection is not None and answer.connection.addrtype == "IP6"
    assert [m.port for m in answer.media] == [6000, 0]
    sd6 = SessionDescription.parse(parse_message((d / "ipv6-in-sdp").read_bytes()).body)
    with pytest.raises(RemoteProtocolError) as info:  # G726-32 only
        make_answer(sd6, "2001:db8::10", 6000)
    assert info.value.status == 488


def test_default_codecs() -> None:
    names = [c.codec_name for c in DEFAULT_CODECS]
    assert names == ["opus/48000/2", "PCMU/8000", "PCMA/8000", "telephone-event/48000", "telephone-event/8000"]
    assert [c.payload_type for c in DEFAULT_CODECS] == [111, 0, 8, 110, 101]


def test_rtcp_attribute_gives_the_rtcp_address() -> None:
    offer = SessionDescription.parse(PHONE_OFFER.replace(b"a=ptime:30\r\n", b"a=ptime:30\r\na=rtcp:40007\r\n"))
    answer = make_answer(offer, "192.0.2.2", 5000)
    assert negotiated(answer, offer).remote_rtcp_address == ("198.51.100.7", 40007)
    offer2 = SessionDescription.parse(
        PHONE_OFFER.replace(b"a=ptime:30\r\n", b"a=rtcp:53020 IN IP4 126.16.64.4\r\n")
    )
    assert negotiated(answer, offer2).remote_rtcp_address == ("126.16.64.4", 53020)
    assert negotiated(answer, SessionDescription.parse(PHONE_OFFER)).remote_rtcp_address is None


def test_telephone_event_follows_the_voice_codec_clock() -> None:
    narrow_only = make_offer("192.0.2.1", 4000, codecs=[c for c in DEFAULT_CODECS if c.payload_type != 110])
    answer = make_answer(SessionDescription.parse(bytes(narrow_only)), "192.0.2.2", 5000)
    assert answer.media[0].formats == ["111"]  # opus/48000 + telephone-event/8000 only: no DTMF format
    wide = make_offer("192.0.2.1", 4000)  # the default offer has telephone-event at 48 kHz too
    answer = make_answer(SessionDescription.parse(bytes(wide)), "192.0.2.2", 5000)
    assert answer.media[0].formats == ["111", "110"]
    assert negotiated(answer, wide).telephone_event_pt == 110
    pcmu_first = SessionDescription.parse(bytes(wide).replace(b"111 0 8 110 101", b"0 111 8 110 101"))
    answer = make_answer(pcmu_first, "192.0.2.2", 5000)
    assert answer.media[0].formats == ["0", "101"]  # the 8 kHz event format goes with PCMU


def test_corpus_sdp_round_trip(corpora: Path) -> None:
    """Every SDP body in the corpora parses; well-formed ones re-serialise byte for byte, and
    the rest (missing s=/t=, a trailing empty line, bodies cut short by Content-Length as in
    RFC 5118) become stable after one pass."""
    exact = 0
    files = sorted((corpora / "sip" / "rfc4475").glob("*.dat")) + sorted((corpora / "sip" / "rfc5118").iterdir())
    for path in files:
        try:
            msg = parse_message(path.read_bytes())
        except RemoteProtocolError:
            continue
        if msg.content_type != "application/sdp" or not msg.body:
            continue
        sd = SessionDescription.parse(msg.body)
        wire = bytes(sd)
        exact += wire == msg.body
        assert bytes(SessionDescription.parse(wire)) == wire, path.name
    assert exact >= 12
