"""Packet time in offer/answer (RFC 3264 §6.1, RFC 4566 a=ptime): what we ask for, what we
answer, and what we end up sending."""

from __future__ import annotations

import pytest

from voicebot.agent import UserAgent
from voicebot.errors import ConfigError
from voicebot.sip.sdp import RECEIVE_MAXPTIME, SessionDescription, choose_codecs, make_answer, make_offer, negotiated
from voicebot_codecs import get_codec

PCMU = choose_codecs(["pcmu"])


def offer_with(ptime: int | None) -> SessionDescription:
    sd = make_offer("192.0.2.1", 40000, codecs=PCMU)
    m = sd.media[0]
    m.attributes = [(k, v) for k, v in m.attributes if k != "ptime"]
    if ptime is not None:
        m.attributes.append(("ptime", str(ptime)))
    return SessionDescription.parse(bytes(sd))


def test_the_offer_asks_for_our_ptime() -> None:
    assert make_offer("192.0.2.1", 40000, codecs=PCMU, ptime=40).media[0].ptime == 40
    assert make_offer("192.0.2.1", 40000, codecs=PCMU).media[0].ptime == 20


@pytest.mark.parametrize(
    ("offered", "ours", "answered"), [(30, None, 30), (None, None, 20), (30, 40, 40), (None, 10, 10)]
)
def test_the_answer_advertises_ours_or_mirrors_the_offer(offered: int | None, ours: int | None, answered: int) -> None:
    answer = make_answer(offer_with(offered), "192.0.2.2", 50000, codecs=PCMU, ptime=ours)
    assert answer.media[0].ptime == answered


@pytest.mark.parametrize(("offered", "ours"), [(30, 40), (60, None), (10, 20)])
def test_as_answerer_we_send_what_the_offerer_asked_for(offered: int, ours: int | None) -> None:
    offer = offer_with(offered)
    answer = make_answer(offer, "192.0.2.2", 50000, codecs=PCMU, ptime=ours)
    assert negotiated(answer, offer).ptime == offered
    # and the offerer sends what our answer asked for
    assert negotiated(offer, answer).ptime == answer.media[0].ptime


def test_without_a_ptime_from_the_far_end_we_send_our_own() -> None:
    ours = make_offer("192.0.2.1", 40000, codecs=PCMU, ptime=40)
    answer = make_answer(ours, "192.0.2.2", 50000, codecs=PCMU)
    answer.media[0].attributes = [(k, v) for k, v in answer.media[0].attributes if k != "ptime"]
    assert negotiated(ours, SessionDescription.parse(bytes(answer))).ptime == 40


@pytest.mark.parametrize(
    ("codecs", "ptime", "error"),
    [
        (["opus"], 30, "ptime 30 ms is not possible with opus: choose 10, 20, 40, 60"),
        (["opus"], 50, "not possible with opus"),
    ],
)
def test_a_ptime_no_chosen_codec_can_send_is_refused(codecs: list[str], ptime: int, error: str) -> None:
    with pytest.raises(ConfigError, match=error):
        UserAgent(codecs=codecs, ptime=ptime)


def test_a_ptime_one_codec_can_send_is_taken() -> None:
    # opus sends 20 ms (the nearest shorter it can) where the far end picks it; G.711 sends 30
    ua = UserAgent(codecs=["opus", "pcmu"], ptime=30)
    assert ua.config.ptime == 30


def test_offer_and_answer_say_the_longest_packet_we_take() -> None:
    offer = make_offer("192.0.2.1", 40000, codecs=PCMU)
    assert offer.media[0].maxptime == RECEIVE_MAXPTIME
    assert make_answer(offer, "192.0.2.2", 50000, codecs=PCMU).media[0].maxptime == RECEIVE_MAXPTIME


@pytest.mark.parametrize(
    ("offered_ptime", "offered_maxptime", "sent"),
    [(40, 20, 20), (None, 30, 30), (60, 40, 40), (40, None, 40), (None, None, 40), (60, 15, 10), ("x", "y", 40)],
)
def test_we_never_send_packets_longer_than_the_far_ends_maxptime(
    offered_ptime: int | str | None, offered_maxptime: int | str | None, sent: int
) -> None:
    # our own a=ptime is 40 ms: without a ptime from the far end we send that; G.711 fits 15 to 10
    offer = offer_with(None)
    m = offer.media[0]
    m.attributes = [(k, v) for k, v in m.attributes if k not in ("ptime", "maxptime")]
    m.attributes += [
        (k, str(v)) for k, v in (("ptime", offered_ptime), ("maxptime", offered_maxptime)) if v is not None
    ]
    offer = SessionDescription.parse(bytes(offer))
    answer = make_answer(offer, "192.0.2.2", 50000, codecs=PCMU, ptime=40)
    params = negotiated(answer, offer)
    assert params.ptime <= (offer.media[0].maxptime or params.ptime)
    assert get_codec(params.codec).fit_ptime(params.ptime) == sent
