"""Every shipped dialog's language speaks and listens, or is refused with what to install."""

from __future__ import annotations

from pathlib import Path

import pytest

from voicebot import Flow
from voicebot.asr import engine_for_language, missing_recognizer
from voicebot.asr.pocketsphinx_engine import PocketsphinxEngine
from voicebot.asr.vosk_engine import ENV_MODEL, VoskEngine
from voicebot.bot import flow_speech
from voicebot.errors import ConfigError, DependencyError
from voicebot.tts import EspeakEngine, voice_for_language
from voicebot.voice import Speech

DIALOGS = sorted(Path(__file__).resolve().parents[3].joinpath("dialogs").glob("*.yaml"))


@pytest.fixture(autouse=True)
def _no_model_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(ENV_MODEL, raising=False)


def test_built_in_recognisers_by_language(vosk_engine: VoskEngine, sphinx_engine: PocketsphinxEngine) -> None:
    assert engine_for_language("en") is sphinx_engine
    assert engine_for_language("en-US") is sphinx_engine
    assert engine_for_language("ko") is vosk_engine
    assert engine_for_language("ko_KR") is vosk_engine


def test_a_language_without_a_recogniser_is_refused_with_what_to_install() -> None:
    with pytest.raises(DependencyError) as info:
        engine_for_language("zh")
    message = str(info.value)
    assert message == missing_recognizer("zh") and "\n" not in message
    assert "vosk-model-small-cn" in message and "--asr-model DIR" in message and ENV_MODEL in message
    with pytest.raises(DependencyError, match="'fr'"):
        engine_for_language("fr-FR")
    with pytest.raises(DependencyError, match="built-in US English"):
        engine_for_language("ko", engine="pocketsphinx")
    with pytest.raises(DependencyError, match="vosk-model-small-en-us"):
        engine_for_language("en", engine="vosk")
    with pytest.raises(ConfigError, match="unknown ASR engine"):
        engine_for_language("en", engine="kaldi")
    with pytest.raises(ConfigError):
        engine_for_language(" ")


def test_any_language_listens_through_a_vosk_model_directory(
    vosk_engine: VoskEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The packaged Korean model stands in for a downloaded one: what counts is where it comes from.
    model = str(vosk_engine.model_dir)
    engine = engine_for_language("zh", model=model)
    assert isinstance(engine, VoskEngine) and engine.model_dir == vosk_engine.model_dir
    monkeypatch.setenv(ENV_MODEL, model)
    assert isinstance(engine_for_language("zh-CN"), VoskEngine)
    assert engine_for_language("en") is not None and engine_for_language("en").name == "pocketsphinx"
    with pytest.raises(DependencyError, match="not a Vosk model directory"):
        engine_for_language("zh", model="/nonexistent")


def test_voices_resolve_by_language_code(tts: EspeakEngine) -> None:
    assert voice_for_language("en") == "en-us"
    assert voice_for_language("ko") == "ko"
    assert voice_for_language("zh") == "cmn"
    assert voice_for_language("zh_CN") == "cmn"
    with pytest.raises(ConfigError, match="no espeak-ng voice speaks 'xx'"):
        voice_for_language("xx")
    # a call's voice comes from the same place unless one is named
    assert Speech.speaking("zh").synthesizer.voice == "cmn"
    assert Speech.speaking("zh-CN", voice="cmn+f3").synthesizer.voice == "cmn+f3"
    assert tts.check_voice("zh") == "cmn" and tts.check_voice("zh+f3") == "cmn+f3"
    assert tts.language("zh") == tts.language("cmn") == "zh"
    # pyttsx3 hands voice names to libespeak-ng, which knows no voice called "zh"
    text = "您好，这里是客服中心"
    zh = tts.synthesize(text, voice="zh", rate=170)
    cmn = tts.synthesize(text, voice="cmn", rate=170)
    # the same voice (pyttsx3's one espeak instance carries state, so not bit-exact)
    assert len(zh) > 16000 and abs(len(zh) - len(cmn)) < 0.02 * len(cmn)


@pytest.mark.parametrize("path", DIALOGS, ids=[p.stem for p in DIALOGS])
def test_every_shipped_dialog_speaks_and_listens_or_is_refused(path: Path, tts: EspeakEngine) -> None:
    flow = Flow.load(path)
    voice = flow_speech(flow, dtmf_only=True).synthesizer.voice  # the voice a call of it uses
    assert voice == (flow.meta.voice or voice_for_language(flow.language))
    assert len(tts.synthesize("1 2 3", voice=tts.check_voice(voice), rate=170)) > 0
    if flow.language in ("en", "ko"):
        assert engine_for_language(flow.language).name == {"en": "pocketsphinx", "ko": "vosk"}[flow.language]
    else:
        with pytest.raises(DependencyError, match="--asr-model DIR"):
            engine_for_language(flow.language)
