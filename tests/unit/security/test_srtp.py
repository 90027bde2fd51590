"""SDES keys in SDP (RFC 4568) and SRTP through libsrtp: negotiation, policies, protection,
tampering and replay."""

from __future__ import annotations

import pytest

from voicebot.errors import ConfigError, RemoteProtocolError
from voicebot.rtp.packet import RtpPacket
from voicebot.rtp.srtp import SrtpContext, context_for
from voicebot.sip.sdes import SUITES, Crypto, SrtpKeys, answer_crypto, check_policy, check_suites, offer_crypto
from voicebot.sip.sdp import SessionDescription, make_answer, make_offer, negotiated
from voicebot.sip.transaction import TransportAddress
from voicebot.sip.useragent import UaConfig, UserAgentCore


def test_crypto_line_round_trip_and_refusals() -> None:
    c = Crypto.new(3, "AES_CM_128_HMAC_SHA1_80")
    again = Crypto.parse(str(c))
    assert again == c and len(c.key) == 30
    key = str(c).split("inline:")[1]
    assert Crypto.parse(f"1 AES_CM_128_HMAC_SHA1_80 inline:{key}|2^31") is not None  # lifetime is fine
    for bad in (
        f"1 AES_CM_128_HMAC_SHA1_80 inline:{key}|2^31|1:4",  # MKI
        f"1 AES_CM_128_HMAC_SHA1_80 inline:{key};inline:{key}",  # several keys
        f"1 F8_128_HMAC_SHA1_80 inline:{key}",  # a suite we do not run
        "1 AES_CM_128_HMAC_SHA1_80 inline:c2hvcnQ=",  # wrong key length
        f"1 AES_CM_128_HMAC_SHA1_80 inline:{key} UNENCRYPTED_SRTP",  # session parameters
        "x AES_CM_128_HMAC_SHA1_80 inline:%%%",
    ):
        assert Crypto.parse(bad) is None, bad
    assert "inline" not in repr(SrtpKeys(suite="AEAD_AES_128_GCM", local=b"k", remote=b"r"))


def test_answer_takes_the_first_usable_offered_suite_with_a_fresh_key() -> None:
    offered = [str(c) for c in offer_crypto(("AEAD_AES_256_GCM", "AES_CM_128_HMAC_SHA1_32"))]
    mine = answer_crypto(offered, ("AES_CM_128_HMAC_SHA1_80", "AES_CM_128_HMAC_SHA1_32"))
    assert mine is not None and mine.tag == 2 and mine.suite == "AES_CM_128_HMAC_SHA1_32"
    assert Crypto.parse(offered[1]).key != mine.key  # type: ignore[union-attr]
    assert answer_crypto(offered, ("AES_CM_128_HMAC_SHA1_80",)) is None


def test_offer_answer_gives_mirrored_keys() -> None:
    offer = make_offer("127.0.0.1", 4000, crypto=offer_crypto())
    assert offer.media[0].proto == "RTP/SAVP" and len(offer.media[0].attrs("crypto")) == 3
    answer = make_answer(SessionDescription.parse(bytes(offer)), "127.0.0.1", 5000)
    assert answer.media[0].proto == "RTP/SAVP" and len(answer.media[0].attrs("crypto")) == 1
    ours = negotiated(offer, answer).srtp
    theirs = negotiated(answer, offer).srtp
    assert ours is not None and theirs is not None
    assert ours.suite == theirs.suite == "AES_CM_128_HMAC_SHA1_80"
    assert ours.local == theirs.remote and ours.remote == theirs.local and ours.local != ours.remote


def test_policies_when_answering() -> None:
    secure = make_offer("127.0.0.1", 4000, crypto=offer_crypto())
    plain = make_offer("127.0.0.1", 4000)
    with pytest.raises(RemoteProtocolError) as exc:
        make_answer(secure, "127.0.0.1", 5000, srtp="off")
    assert exc.value.status == 488
    with pytest.raises(RemoteProtocolError):
        make_answer(plain, "127.0.0.1", 5000, srtp="mandatory")
    assert negotiated(plain, make_answer(plain, "127.0.0.1", 5000, srtp="optional")).srtp is None
    # an RTP/AVP offer that carries keys anyway (pjsip's "optional") is answered with SRTP
    hybrid = make_offer("127.0.0.1", 4000, crypto=offer_crypto())
    hybrid.media[0].proto = "RTP/AVP"
    answer = make_answer(hybrid, "127.0.0.1", 5000, srtp="mandatory")
    assert answer.media[0].proto == "RTP/AVP" and negotiated(hybrid, answer).srtp is not None
    # a SAVP answer without a usable key is refused
    broken = make_answer(secure, "127.0.0.1", 5000)
    broken.media[0].attributes = [(k, v) for k, v in broken.media[0].attributes if k != "crypto"]
    with pytest.raises(RemoteProtocolError):
        negotiated(secure, broken)


def test_policy_and_suite_names_are_checked() -> None:
    assert check_policy("mandatory") == "mandatory"
    assert check_suites(["aead_aes_128_gcm"]) == ("AEAD_AES_128_GCM",)
    with pytest.raises(ConfigError):
        check_policy("always")
    with pytest.raises(ConfigError):
        check_suites(["AES_CM_128_NULL"])


def rtp(seq: int, payload: bytes) -> bytes:
    return bytes(RtpPacket(payload_type=0, sequence_number=seq, timestamp=160 * seq, ssrc=0x1234, payload=payload))


def _pair(suite: str) -> tuple[SrtpContext, SrtpContext]:
    a, b = Crypto.new(1, suite), Crypto.new(1, suite)
    return (
        SrtpContext(SrtpKeys(suite=suite, local=a.key, remote=b.key)),
        SrtpContext(SrtpKeys(suite=suite, local=b.key, remote=a.key)),
    )


@pytest.mark.parametrize("suite", sorted(SUITES))
def test_protect_unprotect_tamper_and_replay(suite: str) -> None:
    alice, bob = _pair(suite)
    packets = [rtp(100 + i, bytes([i]) * 160) for i in range(5)]
    wire = [alice.protect(p) for p in packets]
    assert all(w[12:] != p[12:] for w, p in zip(wire, packets, strict=True))  # the payload is encrypted
    assert [bob.unprotect(w) for w in wire] == packets
    assert bob.unprotect(wire[2]) is None and bob.replayed == 1  # a replayed packet is refused
    tampered = bytearray(alice.protect(rtp(200, b"x" * 160)))
    tampered[20] ^= 1
    assert bob.unprotect(bytes(tampered)) is None and bob.rejected == 1
    assert bob.unprotect(packets[0]) is None  # plain RTP is not accepted on an SRTP stream
    rtcp = bytes.fromhex("80c90001") + (0x1234).to_bytes(4, "big")
    assert bob.unprotect_rtcp(alice.protect_rtcp(rtcp)) == rtcp


def test_context_kept_while_the_keys_stay() -> None:
    keys = SrtpKeys(suite="AES_CM_128_HMAC_SHA1_80", local=b"a" * 30, remote=b"b" * 30)
    ctx = context_for(keys, None)
    assert ctx is not None and context_for(keys, ctx) is ctx
    assert context_for(SrtpKeys(suite=keys.suite, local=b"c" * 30, remote=b"b" * 30), ctx) is not ctx
    assert context_for(None, ctx) is None


@pytest.mark.parametrize(("policy", "transport", "secure"), [
    ("optional", "udp", False), ("optional", "tls", True), ("mandatory", "udp", True), ("off", "tls", False),
])  # fmt: skip
def test_core_offers_srtp_by_policy_and_transport(policy: str, transport: str, secure: bool) -> None:
    core = UserAgentCore(UaConfig(addresses={"udp": ("127.0.0.1", 5070), "tls": ("127.0.0.1", 5071)}, srtp=policy))
    core.invite(f"sip:bob@127.0.0.1:5090;transport={transport}", 0.0, media_address=("127.0.0.1", 4000))
    ((data, dest),) = core.datagrams_to_send()
    assert dest == TransportAddress(transport, "127.0.0.1", 5090)
    assert (b"RTP/SAVP" in data) == secure and (b"a=crypto:" in data) == secure
