"""Voiceprint benchmark: how well the numpy GE2E encoder tells synthetic speakers apart, and
what it costs.

Run: ``.venv/bin/python benchmarks/voiceprint.py`` (about 4 minutes of CPU; longer on a busy machine).
Writes ``benchmarks/results/voiceprint.json`` and prints the tables.

* Speakers: espeak-ng voice variants, male and female, in English and Korean (24 "speakers").
  Each is enrolled from three sentences and tested on five *other* sentences, said at other
  speaking rates. Every test utterance is scored against every enrolled print: its own
  (target trials) and the 23 others (impostor trials; the same-language ones reported apart,
  since a different language is an easy impostor).
* Conditions: 16 kHz throughout; G.711 μ-law at 8 kHz throughout (resampled, encoded, decoded
  and resampled back as on a call); enrolled at 16 kHz but tested through G.711 (a print made
  from a recording, checked on a telephone call: scored in the telephone band); and enrolled at
  16 kHz, tested through Opus (a wideband call).
* Figures: equal error rate (the threshold where false accepts equal false rejects); the
  threshold that gives at most 1 % false accepts on the development speakers (14 of the 24),
  and the false accepts and rejects it gives on the evaluation speakers (the other 10, who took
  no part in choosing it); and the same at the thresholds voicebot uses by default
  (``FULL_BAND_THRESHOLD`` / ``TELEPHONE_BAND_THRESHOLD``, by the band compared).
* Cost: CPU time of an embedding per second of audio (one BLAS thread, as voicebot runs it),
  beside the floor the arithmetic sets: the model's multiply-adds per second of audio at this
  core's measured float32 matrix-multiply peak (a 1024x1024 product, same run).

These are synthetic voices, not people: see the README's Voiceprint section for what the
numbers do and do not say.
"""

from __future__ import annotations

import itertools
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "codecs"))

from benchmarks._common import write_results  # noqa: E402
from tests.sim.channel import telephone_channel  # noqa: E402
from voicebot.tts import EspeakEngine  # noqa: E402
from voicebot.voiceprint.encoder import PARTIAL_FRAMES, PARTIALS_PER_SECOND, SpeakerEncoder, cosine  # noqa: E402
from voicebot.voiceprint.model import HIDDEN, LAYERS, N_MELS, load_weights  # noqa: E402
from voicebot.voiceprint.prints import MemoryPrintStore  # noqa: E402
from voicebot.voiceprint.verify import Speech, default_threshold, enroll, full_band  # noqa: E402

# espeak-ng's numbered variants, male m1-m7 and female f1-f5, on an English and a Korean voice:
# 24 synthetic "speakers". The threshold is chosen on the development speakers and judged on the
# evaluation speakers, who took no part in choosing it.
VARIANTS = ["m1", "m2", "m3", "m4", "m5", "m6", "m7", "f1", "f2", "f3", "f4", "f5"]
DEVELOPMENT = {"m1", "m2", "m3", "m4", "f1", "f2", "f3"}
SPEAKERS = {"en": [f"en-us+{v}" for v in VARIANTS], "ko": [f"ko+{v}" for v in VARIANTS]}
TARGET_FAR = 0.01
ENROL = {
    "en": [
        "Hello, I am calling about the letter I received from you last week.",
        "My account number should be on the front page of the last statement.",
        "I usually pay by card at the end of every month, sometimes a little later.",
    ],
    "ko": [
        "안녕하세요, 지난주에 받은 편지 때문에 전화드렸습니다.",
        "계좌 번호는 지난번 명세서 첫 장에 적혀 있을 거예요.",
        "보통 매달 말에 카드로 결제하는데 가끔 조금 늦어요.",
    ],
}
TESTS = {
    "en": [
        "Yes, this is she speaking, who is calling please?",
        "I think the payment went through yesterday afternoon.",
        "Could you send me the details by text message instead?",
        "We moved to a new address in the spring, near the river.",
        "No, I would rather talk to someone about it tomorrow morning.",
    ],
    "ko": [
        "네, 제가 맞는데요, 누구시죠?",
        "어제 오후에 결제가 된 것 같아요.",
        "자세한 내용은 문자로 보내 주실 수 있나요?",
        "봄에 강 근처에 있는 새 집으로 이사했어요.",
        "아니요, 내일 아침에 다른 분과 이야기하고 싶어요.",
    ],
}
ENROL_RATE = 170
TEST_RATES = (150, 195)
CONDITIONS = {  # name -> (enrolment channel, test channel)
    "16k": ("16k", "16k"),
    "g711": ("g711", "g711"),
    "16k_enrol_g711_test": ("16k", "g711"),
    "16k_enrol_opus_test": ("16k", "opus"),
}
CODECS = {"g711": "PCMU/8000", "opus": "opus/48000/2"}


def channel(pcm: np.ndarray, kind: str) -> np.ndarray:
    return pcm if kind == "16k" else telephone_channel(pcm, codec=CODECS[kind])[0]


def eer(targets: np.ndarray, impostors: np.ndarray) -> tuple[float, float]:
    """Equal error rate and the threshold where false accepts and false rejects come closest."""
    best = (2.0, 0.0, 0.0)
    for thr in np.unique(np.concatenate([targets, impostors])):
        far, frr = float(np.mean(impostors >= thr)), float(np.mean(targets < thr))
        if abs(far - frr) < best[0]:
            best = (abs(far - frr), (far + frr) / 2, float(thr))
    return best[1], best[2]


def threshold_for(impostors: np.ndarray, far: float) -> float:
    """The lowest threshold at which at most ``far`` of the impostor scores are accepted."""
    ranked = np.sort(impostors)[::-1]
    allowed = int(np.floor(far * len(ranked)))
    return float(np.nextafter(ranked[allowed], np.inf)) if allowed < len(ranked) else float(ranked[-1])


def at_threshold(targets: np.ndarray, impostors: np.ndarray, thr: float) -> dict[str, Any]:
    fa, fr = int(np.sum(impostors >= thr)), int(np.sum(targets < thr))
    return {
        "threshold": round(thr, 4),
        "false_accepts": fa,
        "impostor_trials": len(impostors),
        "far_pct": round(100 * fa / len(impostors), 2),
        "false_rejects": fr,
        "target_trials": len(targets),
        "frr_pct": round(100 * fr / len(targets), 2),
    }


def _r(x: Any) -> float:
    return round(float(x), 4)


def trials(scores: dict[tuple[str, str], list[float]], speakers: list[str], lang_of: dict[str, str]) -> Any:
    """Target, impostor and same-language impostor scores among ``speakers``."""
    t = [s for v in speakers for s in scores[(v, v)]]
    imp = [s for v in speakers for p in speakers if p != v for s in scores[(v, p)]]
    same = [s for v in speakers for p in speakers if p != v and lang_of[p] == lang_of[v] for s in scores[(v, p)]]
    return np.array(t), np.array(imp), np.array(same)


def measure(encoder: SpeakerEncoder, tts: EspeakEngine) -> dict[str, Any]:
    voices = [(lang, v) for lang, vs in SPEAKERS.items() for v in vs]
    lang_of = {v: lang for lang, v in voices}
    raw_enrol = {v: [tts.synthesize(s, voice=v, rate=ENROL_RATE) for s in ENROL[lang]] for lang, v in voices}
    raw_test = {
        v: [tts.synthesize(s, voice=v, rate=TEST_RATES[i % 2]) for i, s in enumerate(TESTS[lang])] for lang, v in voices
    }
    speech: dict[tuple[str, str, int, str], Speech] = {}
    embedded: dict[tuple[str, str, int, str, bool], np.ndarray] = {}

    def heard(kind: str, v: str, i: int, where: str) -> Speech:
        key = (kind, v, i, where)
        if key not in speech:
            pcm = (raw_enrol if kind == "enrol" else raw_test)[v][i]
            speech[key] = Speech.from_pcm(channel(pcm, where))
        return speech[key]

    def embedding(kind: str, v: str, i: int, where: str, wide: bool) -> np.ndarray:
        key = (kind, v, i, where, wide)
        if key not in embedded:
            s = heard(kind, v, i, where)
            embedded[key] = encoder.embed_utterance(s.audio if wide else s.narrow)
        return embedded[key]

    dev = [v for _l, v in voices if v.split("+")[1] in DEVELOPMENT]
    ev = [v for _l, v in voices if v.split("+")[1] not in DEVELOPMENT]
    out: dict[str, Any] = {}
    for name, (enrol_ch, test_ch) in CONDITIONS.items():
        prints = {v: enroll(encoder, MemoryPrintStore(), v, [heard("enrol", v, i, enrol_ch) for i in range(3)])
                  for _l, v in voices}  # fmt: skip
        scores: dict[tuple[str, str], list[float]] = {}
        bands = set()
        for (_l1, v), (_l2, p) in itertools.product(voices, voices):
            row = []
            for i in range(len(TESTS[lang_of[v]])):
                wide = full_band(prints[p], heard("test", v, i, test_ch))
                bands.add(wide)
                row.append(cosine(embedding("test", v, i, test_ch, wide), prints[p].embedding(wide=wide)))
            scores[(v, p)] = row
        assert len(bands) == 1, f"{name}: compared in both bands"
        default = default_threshold(bands.pop())
        everyone = trials(scores, [v for _l, v in voices], lang_of)
        rate, thr = eer(everyone[0], everyone[1])
        same_rate, _ = eer(everyone[0], everyone[2])
        _, d_imp, _ = trials(scores, dev, lang_of)
        e_t, e_imp, e_same = trials(scores, ev, lang_of)
        chosen = threshold_for(d_imp, TARGET_FAR)
        out[name] = {
            "eer_pct": round(100 * rate, 2),
            "eer_threshold": round(thr, 4),
            "eer_same_language_pct": round(100 * same_rate, 2),
            "development_threshold_for_1pct_far": round(chosen, 4),
            "evaluation_at_development_threshold": at_threshold(e_t, e_imp, chosen),
            "evaluation_at_default_threshold": at_threshold(e_t, e_imp, default),
            "evaluation_same_language_at_default_threshold": at_threshold(e_t, e_same, default),
            "all_at_default_threshold": at_threshold(everyone[0], everyone[1], default),
            "target_scores": {"min": _r(everyone[0].min()), "median": _r(np.median(everyone[0]))},
            "impostor_scores": {"max": _r(everyone[1].max()), "median": _r(np.median(everyone[1]))},
        }
        closest = max((sum(row) / len(row), v, p) for (v, p), row in scores.items() if v != p)
        out[name]["closest_pair"] = {"mean_score": round(closest[0], 4), "test": closest[1], "print": closest[2]}
    seconds = [heard("test", v, i, "16k").seconds for _l, v in voices for i in range(5)]
    out["test_speech_seconds"] = {"min": round(min(seconds), 2), "median": round(float(np.median(seconds)), 2)}
    out["enrol_speech_seconds"] = round(
        float(np.median([sum(heard("enrol", v, i, "16k").seconds for i in range(3)) for _l, v in voices])), 2
    )
    out["speakers"] = {"development": dev, "evaluation": ev}
    return out


def cost(encoder: SpeakerEncoder, tts: EspeakEngine) -> dict[str, Any]:
    pcm = np.concatenate([tts.synthesize(s, voice="en-us+m3", rate=170) for s in ENROL["en"] + TESTS["en"]])
    speech = Speech.from_pcm(pcm)
    audio_s = len(speech.audio) / 16000
    encoder.embed_utterance(speech.audio)  # warm up
    runs = []
    for _ in range(3):
        t0 = time.process_time()
        encoder.embed_utterance(speech.audio)
        runs.append(time.process_time() - t0)
    per_s = min(runs) / audio_s
    from threadpoolctl import threadpool_limits

    a = np.random.default_rng(0).random((1024, 1024), dtype=np.float32)
    with threadpool_limits(limits=1, user_api="blas"):
        a @ a
        t0 = time.process_time()
        for _ in range(8):
            a @ a
        peak = 8 * 2 * 1024**3 / (time.process_time() - t0)
    four = 4 * HIDDEN
    macs_per_frame = four * (N_MELS + HIDDEN) + (LAYERS - 1) * four * (2 * HIDDEN)
    flops_per_audio_s = 2 * macs_per_frame * PARTIAL_FRAMES * PARTIALS_PER_SECOND
    floor = flops_per_audio_s / peak
    t0 = time.perf_counter()
    load_weights()
    load_s = time.perf_counter() - t0
    return {
        "audio_seconds": round(audio_s, 2),
        "cpu_ms_per_audio_second": round(1000 * per_s, 2),
        "floor_ms_per_audio_second": round(1000 * floor, 2),
        "ratio_to_floor": round(per_s / floor, 2),
        "gflop_per_audio_second": round(flops_per_audio_s / 1e9, 3),
        "sgemm_gflops_one_core": round(peak / 1e9, 1),
        "realtime_streams_per_core": int(1 / per_s),
        "model_load_ms": round(1000 * load_s, 1),
    }


def main() -> None:
    encoder = SpeakerEncoder()
    tts = EspeakEngine(backend="espeak-ng")  # one synthesis path for every variant (pyttsx3 refuses some)
    started = time.perf_counter()
    results = {"accuracy": measure(encoder, tts), "cost": cost(encoder, tts)}
    results["wall_seconds"] = round(time.perf_counter() - started, 1)
    path = write_results("voiceprint", results)
    acc = results["accuracy"]
    n_dev, n_eval = len(acc["speakers"]["development"]), len(acc["speakers"]["evaluation"])
    print(f"voiceprint: {n_dev} + {n_eval} synthetic speakers (espeak-ng variants, development + evaluation)")
    print(f"{'condition':<22} {'EER':>6} {'same-lang':>9} {'dev thr':>8} {'eval FA':>15} {'eval FR':>13}   "
          f"{'default':>7} {'eval FA':>15} {'eval FR':>13}")  # fmt: skip
    for name in CONDITIONS:
        r = acc[name]
        d, e = r["evaluation_at_development_threshold"], r["evaluation_at_default_threshold"]
        print(
            f"{name:<22} {r['eer_pct']:>5.1f}% {r['eer_same_language_pct']:>8.1f}% {d['threshold']:>8.3f} "
            f"{d['far_pct']:>5.1f}% ({d['false_accepts']}/{d['impostor_trials']}) "
            f"{d['frr_pct']:>5.1f}% ({d['false_rejects']}/{d['target_trials']})   {e['threshold']:>7.3f} "
            f"{e['far_pct']:>5.1f}% ({e['false_accepts']}/{e['impostor_trials']}) "
            f"{e['frr_pct']:>5.1f}% ({e['false_rejects']}/{e['target_trials']})"
        )
    c = results["cost"]
    print(
        f"cost: {c['cpu_ms_per_audio_second']} ms CPU per second of audio (floor {c['floor_ms_per_audio_second']} ms "
        f"= {c['gflop_per_audio_second']} GFLOP at {c['sgemm_gflops_one_core']} GFLOP/s; "
        f"{c['ratio_to_floor']}x); model load {c['model_load_ms']} ms"
    )
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
