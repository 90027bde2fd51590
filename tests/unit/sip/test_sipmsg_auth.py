"""Digest authentication (voicebot.sip.auth): RFC 7616 vectors, round trips, replay, stale."""

from __future__ import annotations

import pytest

from voicebot.sip.auth import (
    Challenge,
    Credentials,
    DigestClient,
    DigestServer,
    best_per_realm,
    digest_response,
    parse_challenges,
)

# RFC 7616 §3.9.1
RFC_NONCE = "7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v"
RFC_OPAQUE = "FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS"
RFC_CNONCE = "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ"


@pytest.mark.parametrize(
    ("algorithm", "expected"),
    [
        ("MD5", "8ca523f5e9506fed4657c9700eebdbec"),
        ("SHA-256", "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1"),
    ],
)
def test_rfc7616_example(algorithm: str, expected: str) -> None:
    header = (
        f'Digest realm="http-auth@example.org", qop="auth, auth-int", algorithm={algorithm}, '
        f'nonce="{RFC_NONCE}", opaque="{RFC_OPAQUE}"'
    )
    (challenge,) = parse_challenges([header])
    value = DigestClient("Mufasa", "Circle of Life").authorization(
        challenge, "GET", "/dir/index.html", cnonce=RFC_CNONCE
    )
    cred = Credentials.parse(value)
    assert cred.get("response") == expected
    assert cred.get("nc") == "00000001" and cred.get("qop") == "auth"
    assert cred.get("opaque") == RFC_OPAQUE


def test_challenges_sorted_strongest_first_and_unknown_skipped() -> None:
    values = [
        'Digest realm="r", nonce="n1", algorithm=MD5, qop="auth"',
        'NTLM realm="r"',
        'Digest realm="r", nonce="n2", algorithm=SHA-256, qop="auth"',
        'Digest realm="r", nonce="n3", algorithm=SHA-1024, qop="auth"',
        "Digest garbage",
        'Digest realm="r", nonce="n4", algorithm=SHA-512-256, qop="auth"',
    ]
    assert [c.algorithm for c in parse_challenges(values)] == ["SHA-512-256", "SHA-256", "MD5"]


def test_challenge_round_trip() -> None:
    c = Challenge(realm='a "b"', nonce="xyz", algorithm="SHA-256", qop=["auth"], opaque="o", stale=True)
    again = Challenge.parse(str(c))
    assert again == c


@pytest.mark.parametrize("algorithm", ["MD5", "SHA-256", "SHA-512-256", "SHA-256-sess", "MD5-sess"])
def test_server_client_round_trip(algorithm: str) -> None:
    server = DigestServer("voicebot", {"alice": "secret"}, algorithms=(algorithm,))
    client = DigestClient("alice", "secret")
    for i in range(3):  # a fresh challenge for every request: each nonce serves once
        (challenge,) = parse_challenges(server.challenge_headers(now=1000.0 + i))
        value = client.authorization(challenge, "INVITE", "sip:bob@example.com")
        assert "nc=00000001" in value
        assert server.verify("INVITE", "sip:bob@example.com", value, now=1001.0 + i) == "alice"


def test_nonce_serves_one_request_only() -> None:
    """A second request on a nonce (nc=2, as RFC 7616 allows) gets a stale re-challenge, never
    acceptance: each nonce is single-use within its lifetime."""
    server = DigestServer("voicebot", {"alice": "secret"})
    (challenge, _) = parse_challenges(server.challenge_headers(now=0.0))
    client = DigestClient("alice", "secret")
    assert server.verify("INVITE", "sip:b@x", client.authorization(challenge, "INVITE", "sip:b@x"), now=1.0)
    again = server.check("INVITE", "sip:b@x", client.authorization(challenge, "INVITE", "sip:b@x"), now=2.0)
    assert again.username is None and again.stale and again.reason == "nonce already used"


def test_used_nonce_table_is_bounded_and_fails_safe() -> None:
    """When the table of used nonces overflows, the forgotten ones (and anything issued before
    them) are stale: a replay never becomes acceptable again because memory ran out."""
    server = DigestServer("voicebot", {"alice": "secret"}, max_nonces=4)
    client = DigestClient("alice", "secret")
    answers = []
    for i in range(6):
        (challenge, _) = parse_challenges(server.challenge_headers(now=float(i)))
        answers.append(client.authorization(challenge, "INVITE", "sip:b@x"))
        assert server.verify("INVITE", "sip:b@x", answers[-1], now=float(i) + 0.5) == "alice"
    for value in answers:
        result = server.check("INVITE", "sip:b@x", value, now=7.0)
        assert result.username is None and result.stale


def test_wrong_password_method_or_uri_rejected() -> None:
    server = DigestServer("voicebot", {"alice": "secret"})
    (challenge, _) = parse_challenges(server.challenge_headers(now=0.0))
    bad = DigestClient("alice", "wrong").authorization(challenge, "INVITE", "sip:bob@x")
    assert server.verify("INVITE", "sip:bob@x", bad, now=1.0) is None
    good = DigestClient("alice", "secret").authorization(challenge, "INVITE", "sip:bob@x")
    assert server.verify("BYE", "sip:bob@x", good, now=1.0) is None
    assert server.verify("INVITE", "sip:carol@x", good, now=1.0) is None
    stranger = DigestClient("mallory", "secret").authorization(challenge, "INVITE", "sip:bob@x")
    assert server.check("INVITE", "sip:bob@x", stranger, now=1.0).reason == "unknown user"


def test_nonce_count_replay_rejected() -> None:
    server = DigestServer("voicebot", {"alice": "secret"})
    (challenge, _) = parse_challenges(server.challenge_headers(now=0.0))
    value = DigestClient("alice", "secret").authorization(challenge, "REGISTER", "sip:voicebot")
    assert server.verify("REGISTER", "sip:voicebot", value, now=1.0) == "alice"
    result = server.check("REGISTER", "sip:voicebot", value, now=2.0)
    assert result.username is None and result.reason == "nonce already used"


def test_stale_nonce_and_forged_nonce() -> None:
    server = DigestServer("voicebot", {"alice": "secret"}, nonce_lifetime=60)
    (challenge, _) = parse_challenges(server.challenge_headers(now=0.0))
    client = DigestClient("alice", "secret")
    late = client.authorization(challenge, "INVITE", "sip:b@x")
    result = server.check("INVITE", "sip:b@x", late, now=61.0)
    assert result.username is None and result.stale
    assert any("stale=TRUE" in v for v in server.challenge_headers(stale=True, now=61.0))
    other = DigestServer("voicebot", {"alice": "secret"})  # different nonce secret
    (foreign, _) = parse_challenges(other.challenge_headers(now=0.0))
    forged = client.authorization(foreign, "INVITE", "sip:b@x")
    assert server.check("INVITE", "sip:b@x", forged, now=1.0).reason == "nonce not issued here"


def test_nonce_without_time_ages_from_first_use() -> None:
    server = DigestServer("voicebot", {"alice": "secret"}, nonce_lifetime=60)
    (challenge, _) = parse_challenges(server.challenge_headers())
    client = DigestClient("alice", "secret")
    assert server.verify("OPTIONS", "sip:b@x", client.authorization(challenge, "OPTIONS", "sip:b@x"), now=500.0)
    assert server.check(
        "OPTIONS", "sip:b@x", client.authorization(challenge, "OPTIONS", "sip:b@x"), now=561.0
    ).stale


def test_auth_int_when_only_offered() -> None:
    server_like = Challenge(realm="r", nonce="n", algorithm="SHA-256", qop=["auth-int"])
    value = DigestClient("u", "p").authorization(server_like, "MESSAGE", "sip:x@y", b"hello", cnonce="c")
    cred = Credentials.parse(value)
    assert cred.get("qop") == "auth-int"
    assert cred.get("response") == digest_response(
        algorithm="SHA-256", username="u", realm="r", password="p", method="MESSAGE",
        uri="sip:x@y", nonce="n", nc="00000001", cnonce="c", qop="auth-int", body=b"hello",
    )


def test_rfc2069_compat_without_qop() -> None:
    c = Challenge(realm="r", nonce="n")
    value = DigestClient("u", "p").authorization(c, "INVITE", "sip:x@y")
    cred = Credentials.parse(value)
    assert "nc" not in cred.params and cred.get("algorithm") == "MD5"
    assert cred.get("response") == digest_response(
        algorithm="MD5", username="u", realm="r", password="p", method="INVITE", uri="sip:x@y", nonce="n"
    )


def test_userhash() -> None:
    server = DigestServer("voicebot", {"alice": "secret"}, algorithms=("SHA-256",))
    (challenge,) = parse_challenges(server.challenge_headers(now=0.0))
    challenge.userhash = True
    value = DigestClient("alice", "secret").authorization(challenge, "INVITE", "sip:b@x")
    assert "alice" not in (Credentials.parse(value).get("username") or "")
    assert server.verify("INVITE", "sip:b@x", value, now=1.0) == "alice"


def test_one_answer_per_realm() -> None:
    values = [
        'Digest realm="proxy", nonce="p1", algorithm=MD5, qop="auth"',
        'Digest realm="uas", nonce="u1", algorithm=MD5, qop="auth"',
        'Digest realm="proxy", nonce="p2", algorithm=SHA-256, qop="auth"',
    ]
    picked = best_per_realm(values)
    assert [(c.realm, c.algorithm) for c in picked] == [("proxy", "SHA-256"), ("uas", "MD5")]


def test_undecodable_bytes_in_challenges_and_answers() -> None:
    """Header text decoded with surrogateescape (invalid UTF-8 on the wire) never breaks hashing."""
    odd = b"n\xff\xfe".decode("utf-8", "surrogateescape")
    c = Challenge(realm="r" + odd, nonce=odd, algorithm="SHA-256", qop=["auth"])
    value = DigestClient("u", "p").authorization(c, "INVITE", "sip:a@b", cnonce=odd)
    assert Credentials.parse(value).get("cnonce") == odd
    server = DigestServer("r", {"u": "p"})
    (challenge, _) = parse_challenges(server.challenge_headers(now=0.0))
    answer = DigestClient("u", "p").authorization(challenge, "INVITE", "sip:a@b", cnonce=odd)
    assert server.verify("INVITE", "sip:a@b", answer, now=1.0) == "u"
