"""Decoder settings for a Vosk model: an overlay directory, the model itself never written."""

from __future__ import annotations

from pathlib import Path

from voicebot.asr.vosk_model import decoder_overlay, with_settings

CONF = "--min-active=200\n--beam=10.0\n--lattice-beam=2.0\n--acoustic-scale=1.0\n"


def fake_model(root: Path) -> Path:
    model = root / "model"
    for sub in ("am", "graph", "ivector", "conf"):
        (model / sub).mkdir(parents=True)
    (model / "am" / "final.mdl").write_bytes(b"am")
    (model / "conf" / "model.conf").write_text(CONF)
    (model / "conf" / "mfcc.conf").write_text("--use-energy=false\n")
    return model


def test_settings_replace_or_extend_the_conf() -> None:
    out = with_settings(CONF, {"acoustic-scale": "0.7", "lattice-beam": "6.0", "max-active": "3000"})
    assert out.splitlines() == [
        "--min-active=200",
        "--beam=10.0",
        "--lattice-beam=6.0",
        "--acoustic-scale=0.7",
        "--max-active=3000",
    ]
    assert with_settings(CONF, {}) == CONF


def test_overlay_links_the_model_and_carries_its_own_conf(tmp_path: Path) -> None:
    model = fake_model(tmp_path)
    overlay = decoder_overlay(model, {"model.conf": {"acoustic-scale": "0.7"}}, root=tmp_path / "cache")
    assert overlay != model and (overlay / "am").is_symlink() and (overlay / "am").resolve() == model / "am"
    assert (overlay / "conf" / "mfcc.conf").read_text() == "--use-energy=false\n"
    both = decoder_overlay(model, {"model.conf": {"acoustic-scale": "0.7"}, "mfcc.conf": {"dither": "0"}}, tmp_path)
    assert (both / "conf" / "mfcc.conf").read_text() == "--use-energy=false\n--dither=0\n"
    assert "--acoustic-scale=0.7" in (overlay / "conf" / "model.conf").read_text()
    assert (model / "conf" / "model.conf").read_text() == CONF  # the model is untouched
    # made once: the same settings find the same directory, other settings another one
    assert decoder_overlay(model, {"model.conf": {"acoustic-scale": "0.7"}}, root=tmp_path / "cache") == overlay
    assert decoder_overlay(model, {"model.conf": {"acoustic-scale": "0.5"}}, root=tmp_path / "cache") != overlay
    assert decoder_overlay(model, {"model.conf": {"acoustic-scale": "1.0"}}, root=tmp_path / "cache") == model.resolve()


def test_unwritable_cache_falls_back_to_the_temp_directory(tmp_path: Path) -> None:
    model = fake_model(tmp_path)
    blocked = tmp_path / "blocked"
    blocked.write_text("a file where the cache directory should be")
    overlay = decoder_overlay(model, {"model.conf": {"lattice-beam": "6.0"}}, root=blocked / "vosk")
    assert "--lattice-beam=6.0" in (overlay / "conf" / "model.conf").read_text()
    assert blocked not in overlay.parents
