"""The shipped confidence policy: accept, confirm or reject, and the file it comes from."""

from __future__ import annotations

import pytest

from voicebot.asr.engine import Band
from voicebot.asr.nbest import Calibration
from voicebot.asr.pocketsphinx_engine import speech_evidence
from voicebot.asr.shipped import Policy, policies, policy_of, shipped


def test_bands() -> None:
    policy = Policy(calibration=Calibration(bias=0, margin=0, gap=0, mass=0), accept=0.8, floor=0.5, confirm_accept=0.7)
    assert [policy.decision(c) for c in (0.95, 0.8, 0.79, 0.5, 0.49, 0.0)] == [
        "accept",
        "accept",
        "confirm",
        "confirm",
        "reject",
        "reject",
    ]
    assert Policy.from_json(policy.to_json()) == policy
    # a policy written before a read-back's yes had its own threshold takes that yes at accept
    older = {k: v for k, v in policy.to_json().items() if k != "confirm_accept"}
    assert Policy.from_json(older).confirm_accept == 0.8


@pytest.mark.parametrize("engine", ["vosk", "pocketsphinx"])
def test_every_engine_ships_a_policy(engine: str) -> None:
    policy = shipped(engine)
    assert 0.0 < policy.floor <= policy.accept <= 1.0
    for each in policies(engine).values():  # a read-back's yes: never less sure than the floor, nor more than accept
        assert each.floor <= each.confirm_accept <= each.accept
    assert policy.calibration != Calibration(bias=0, margin=0, gap=0, mass=0)


def test_each_band_gets_its_own_policy_from_the_calibration_data() -> None:
    wide = Policy(
        calibration=Calibration(bias=1.0, margin=0.0, gap=-2.0, mass=10.0), accept=0.85, floor=0.5, confirm_accept=0.85
    )
    narrow = Policy(
        calibration=Calibration(bias=-1.0, margin=0.0, gap=-4.0, mass=6.0), accept=0.95, floor=0.5, confirm_accept=0.8
    )
    entry = {"bands": {"wide": wide.to_json(), "narrow": narrow.to_json()}, "cmn_prior": {}}
    assert policy_of(entry, Band.WIDE) == wide
    assert policy_of(entry, Band.NARROW) == narrow
    assert policy_of(entry, None) == wide  # a line of unknown band: the wideband policy
    # an entry with one policy serves every band with it
    assert policy_of(wide.to_json(), Band.NARROW) == policy_of(wide.to_json(), Band.WIDE) == wide


@pytest.mark.parametrize("engine", ["vosk", "pocketsphinx"])
def test_every_engine_ships_a_policy_per_band(engine: str) -> None:
    each = policies(engine)
    assert set(each) == set(Band)
    assert each[Band.NARROW] != each[Band.WIDE]  # each fitted on its own band's lines
    assert shipped(engine) == each[Band.WIDE]  # a line of unknown band: the wideband one


def test_what_a_caller_passes_replaces_that_part_of_every_bands_policy() -> None:
    mine = Calibration(bias=0.5, margin=1.0, gap=-1.0, mass=2.0)
    own = policies("vosk", calibration=mine, floor=0.3)
    for band, policy in own.items():
        ship = shipped("vosk", band)
        assert policy == Policy(calibration=mine, accept=ship.accept, floor=0.3, confirm_accept=ship.confirm_accept)
    accept_only = policies("vosk", accept=0.75)
    for band, policy in accept_only.items():
        assert policy.accept == 0.75
        assert policy.confirm_accept == min(0.75, shipped("vosk", band).confirm_accept)  # never above accept
        assert (policy.calibration, policy.floor) == (shipped("vosk", band).calibration, shipped("vosk", band).floor)
    assert policies("vosk", calibration=None, accept=None, floor=None) == policies("vosk")


def test_unexplained_share_counts_speech_the_path_leaves_to_silence() -> None:
    phones = [("SIL", 0, 19), ("Y", 20, 29), ("EH", 30, 39), ("S", 40, 49)]
    phones += [("DH", 50, 69), ("AE", 70, 89), ("SIL", 90, 99)]
    # "yes" covers frames 20-49, then the grammar's path sits in silence over 50-89
    words = [("<s>", 0, 0), ("<sil>", 0, 19), ("yes", 20, 49), ("<sil>", 50, 99), ("</s>", 99, 99)]
    assert speech_evidence(words, phones) == (20, pytest.approx(40 / 70))
    assert speech_evidence([("yes", 20, 89)], phones) == (20, 0.0)
    # no speech heard: nothing left over (the words still say where the caller began)
    assert speech_evidence(words, [("SIL", 0, 99)]) == (20, 0.0)
    assert speech_evidence(words, [("+NSN+", 0, 50), ("SIL", 51, 99)]) == (20, 0.0)  # noise is no speech
    assert speech_evidence([("<sil>", 0, 99)], [("SIL", 0, 99)]) == (None, 0.0)


def test_where_the_caller_began_moves_with_the_quiet_before_the_words() -> None:
    """The gap is taken from the caller's first sound on: 2 s more quiet line before the same
    words (every segment 200 frames later, the silence before them longer) moves that frame
    by as much, and leaves the unexplained share as it was."""
    phones = [("SIL", 0, 21), ("Y", 22, 29), ("EH", 30, 39), ("S", 40, 49), ("SIL", 50, 79)]
    words = [("<sil>", 0, 17), ("yes", 18, 45), ("<sil>", 46, 79)]

    def later(segments: list[tuple[str, int, int]]) -> list[tuple[str, int, int]]:
        first, *rest = segments
        return [(first[0], 0, first[2] + 200), *((w, a + 200, b + 200) for w, a, b in rest)]

    assert speech_evidence(words, phones) == (18, pytest.approx(4 / 28))
    assert speech_evidence(later(words), later(phones)) == (218, pytest.approx(4 / 28))
