"""Voiceprints as data: what is stored round-trips exactly, damaged or foreign data is refused
with a reason, ids are checked, and a print keeps its newest utterances."""

from __future__ import annotations

import json

import numpy as np
import pytest

from voicebot.errors import ConfigError
from voicebot.voiceprint.prints import (
    MAX_UTTERANCES,
    MemoryPrintStore,
    Utterance,
    Voiceprint,
    VoiceprintFileError,
    as_dict,
    check_id,
)


def unit(seed: int) -> np.ndarray:
    v = np.random.default_rng(seed).random(256).astype(np.float32)
    return v / np.linalg.norm(v)


def test_round_trip_keeps_every_float_and_both_bands() -> None:
    vp = Voiceprint.new("c-1", [Utterance(unit(1), unit(2), 4.25, "t1"), Utterance(unit(3), None, 2.5, "t2")], when="t")
    back = Voiceprint.from_bytes(vp.to_bytes())
    assert back.id == "c-1" and back.created == back.updated == "t" and back.seconds == pytest.approx(6.75)
    for a, b in zip(vp.utterances, back.utterances, strict=True):
        np.testing.assert_array_equal(a.narrow, b.narrow)
        assert (a.wide is None) == (b.wide is None)
    assert not back.wideband
    with pytest.raises(ValueError, match="no full-band"):
        back.embedding(wide=True)
    np.testing.assert_allclose(np.linalg.norm(back.embedding(wide=False)), 1.0, rtol=1e-6)
    assert as_dict(back)["utterances"] == 2 and "narrow" not in json.dumps(as_dict(back))


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda d: d.update(format="other"), "not a voicebot voiceprint"),
        (lambda d: d.update(model="resemblyzer-9"), "enrol again"),
        (lambda d: d["utterances"][0].update(narrow="AAAA"), "malformed"),
        (lambda d: d["utterances"][0].update(narrow="***"), "malformed"),
        (lambda d: d.update(utterances=[]), "holds no speech"),
        (lambda d: d.pop("id"), "'id'"),
    ],
)
def test_damaged_prints_are_refused_with_a_reason(mutate: object, message: str) -> None:
    doc = json.loads(Voiceprint.new("c-1", [Utterance(unit(1), None, 3.0)]).to_bytes())
    mutate(doc)  # type: ignore[operator]
    with pytest.raises(VoiceprintFileError, match=message):
        Voiceprint.from_bytes(json.dumps(doc).encode())


def test_not_json_is_refused() -> None:
    with pytest.raises(VoiceprintFileError):
        Voiceprint.from_bytes(b"\xff\xfe")


@pytest.mark.parametrize("bad", ["", "   ", "x" * 201, "a\nb", "tab\there"])
def test_ids_are_checked(bad: str) -> None:
    with pytest.raises(ConfigError, match="bad voiceprint id"):
        check_id(bad)
    assert check_id("  c-1001 ") == "c-1001"


def test_a_print_keeps_its_newest_utterances() -> None:
    vp = Voiceprint.new("c-1", [Utterance(unit(i), None, 1.0, str(i)) for i in range(MAX_UTTERANCES)])
    more = vp.adding([Utterance(unit(99), None, 1.0, "new")], when="later")
    assert len(more.utterances) == MAX_UTTERANCES and more.utterances[-1].added == "new"
    assert more.utterances[0].added == "1" and more.updated == "later" and more.created == vp.created


def test_memory_store_finds_by_checked_id() -> None:
    store = MemoryPrintStore()
    assert store.find("c-1") is None
    store.save(Voiceprint.new("c-1", [Utterance(unit(1), None, 3.0)]))
    found = store.find(" c-1 ")
    assert found is not None and found.id == "c-1"
