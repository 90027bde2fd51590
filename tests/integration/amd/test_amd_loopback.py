"""Answering-machine detection on 10 human and 10 voicemail persona greetings, each a real call
(SIP/UDP, RTP/PCMU on loopback — G.711, as carriers deliver calls — espeak-ng voices): the
caller's detector hears the greeting as the call delivers it. The full measurement with hard
cases is `benchmarks/amd.py`."""

from __future__ import annotations

from tests.integration.amd.greetings import classify_calls, personas, score
from voicebot.media.amd import AmdConfig


async def test_amd_tells_people_from_voicemail_within_the_deadline() -> None:
    config = AmdConfig()
    outcomes = await classify_calls(personas(10, 10), config=config, concurrency=4, codec="PCMU")
    result = score(outcomes)
    assert all(o.decision is not None for o in outcomes), result
    assert all(o.decision is not None and o.decision.at <= config.deadline for o in outcomes)
    human, machine = result["humans"], result["machines"]
    assert isinstance(human, dict) and isinstance(machine, dict)
    for cls in (human, machine):
        assert cls["precision"] >= 0.9 and cls["recall"] >= 0.9, result
    # people are decided soon after they stop talking; machines long before their greeting ends
    assert human["decision_s_max"] <= 3.5 and machine["decision_s_max"] <= 3.5, result
    cues = result["machine_message_cues"]
    assert isinstance(cues, dict) and cues["after_beep"] >= 9, result  # every greeting here ends with a beep
