"""Record resemblyzer's own embeddings of the signals in signals.py into reference.json.

Run once, in a throwaway virtual environment that has torch (never in the project's venv)::

    python3.11 -m venv /tmp/refvenv
    /tmp/refvenv/bin/pip install torch==2.13.0 librosa scipy webrtcvad-wheels
    /tmp/refvenv/bin/pip install --no-deps resemblyzer==0.1.4
    /tmp/refvenv/bin/python tests/data/voiceprint/record_reference.py

(On this project's build machines ``pip install torch==2.13.0`` takes a CPU build from local
disk; elsewhere it is a CPU or CUDA build from PyPI, either gives the same numbers here.)
tests/unit/voiceprint/test_voiceprint_reference.py compares voicebot's numpy encoder with what
this wrote. ``--time`` instead times both encoders on the same audio in one run, one thread
each: resemblyzer on torch and voicebot's numpy encoder, from the checkout::

    PYTHONPATH=.:codecs VOICEBOT_VOICEPRINT_MODEL=.venv/share/voicebot/Resemblyzer-0.1.4-py3-none-any.whl \
        /tmp/refvenv/bin/python tests/data/voiceprint/record_reference.py --time
"""

from __future__ import annotations

import importlib.metadata as md
import json
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import signals  # noqa: E402


def main() -> None:
    from resemblyzer import VoiceEncoder, preprocess_wav  # type: ignore[import-not-found]
    from resemblyzer.audio import wav_to_mel_spectrogram  # type: ignore[import-not-found]

    encoder = VoiceEncoder("cpu", verbose=False)
    cases = {}
    processed = {}
    for name in signals.CASES:
        pcm = signals.case(name)
        wav = (pcm.astype(np.float32) / 32768.0).astype(np.float32)
        pre = preprocess_wav(wav)
        processed[name] = pre
        mel = wav_to_mel_spectrogram(wav)
        embed, partials, _slices = encoder.embed_utterance(pre, return_partials=True)
        cases[name] = {
            "sha256": signals.digest(pcm),
            "samples": len(pcm),
            "preprocessed_samples": len(pre),
            "mel_frames": int(mel.shape[0]),
            "mel_sum_per_channel": [float(x) for x in mel.sum(axis=0)],
            "mel_frame_50": [float(x) for x in mel[min(50, len(mel) - 1)]],
            "raw_embedding": [round(float(x), 7) for x in encoder.embed_utterance(wav)],
            "embedding": [round(float(x), 7) for x in embed],
            "windows": int(partials.shape[0]),
        }
    pair = ["low_voice_4s", "mid_voice_long_pause"]
    speaker = encoder.embed_speaker([processed[n] for n in pair])
    out = {
        "made_by": "tests/data/voiceprint/record_reference.py",
        "versions": {p: md.version(p) for p in ("resemblyzer", "torch", "librosa", "numpy", "scipy")},
        "cases": cases,
        "speaker": {"utterances": pair, "embedding": [round(float(x), 7) for x in speaker]},
    }
    (HERE / "reference.json").write_text(json.dumps(out, indent=1) + "\n")
    print(f"wrote {HERE / 'reference.json'}: {len(cases)} cases, versions {out['versions']}")


def timing() -> None:
    import time

    import torch  # type: ignore[import-not-found]
    from resemblyzer import VoiceEncoder, preprocess_wav

    from voicebot.voiceprint.encoder import SpeakerEncoder
    from voicebot.voiceprint.verify import Speech

    torch.set_num_threads(1)
    pcm = np.concatenate([signals.case(n) for n in signals.CASES])
    wav = preprocess_wav((pcm.astype(np.float32) / 32768.0).astype(np.float32))
    seconds = len(wav) / 16000
    theirs, ours = VoiceEncoder("cpu", verbose=False), SpeakerEncoder()
    assert len(Speech.from_pcm(pcm).audio) == len(wav)
    for name, run in (("resemblyzer on torch", lambda: theirs.embed_utterance(wav)),
                      ("voicebot numpy", lambda: ours.embed_utterance(wav))):  # fmt: skip
        run()
        best = min(_cpu(run, time.process_time) for _ in range(5))
        print(f"{name}: {1000 * best / seconds:.1f} ms CPU per second of audio ({seconds:.1f} s)")


def _cpu(run: object, clock: object) -> float:
    start = clock()  # type: ignore[operator]
    run()  # type: ignore[operator]
    return float(clock() - start)  # type: ignore[operator]


if __name__ == "__main__":
    timing() if "--time" in sys.argv else main()
