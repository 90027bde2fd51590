"""The Korean flow's phrases double as a Vosk grammar: every word must be spellable with the
packaged Korean model's vocabulary (otherwise Vosk silently drops it from the grammar)."""

from __future__ import annotations

from pathlib import Path

import pytest

from voicebot.flow import Flow

ROOT = Path(__file__).resolve().parents[3]


def test_korean_grammar_words_are_in_the_model_vocabulary() -> None:
    from voicebot.errors import DependencyError

    try:
        from voicebot.asr.vocabulary import load_vosk_vocabulary, segment
        from voicebot.asr.vosk_engine import find_model_dir

        model = find_model_dir()
    except (ImportError, DependencyError) as exc:
        pytest.skip(f"Korean Vosk model not available: {exc}")
    vocab = load_vosk_vocabulary(model)
    assert vocab, "the model has no readable vocabulary"
    for path in sorted((ROOT / "dialogs").glob("*.yaml")):
        flow = Flow.load(path)
        if flow.language != "ko":
            continue
        missing = sorted(
            {
                word
                for st in flow.states.values()
                if st.grammar
                for phrase in st.grammar
                for word in phrase.split()
                if segment(word, vocab) is None
            }
        )
        assert not missing, f"{path.name}: words the Korean model cannot spell: {missing}"
