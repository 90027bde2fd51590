"""The engines leave a clean stderr when the interpreter exits with them still in use."""

from __future__ import annotations

import subprocess
import sys
import textwrap

SCRIPT = textwrap.dedent(
    """
    import atexit, asyncio, weakref

    refs = {}

    def check():  # registered first, so it runs after voicebot's own exit hooks (LIFO)
        print("alive:", sorted(name for name, ref in refs.items() if ref() is not None))

    atexit.register(check)

    from voicebot.asr import AsyncRecognizer, get_engine
    from voicebot.tts import Synthesizer
    from voicebot.tts import espeak

    async def main():
        synth = Synthesizer(voice="ko")
        pcm = await synth.synthesize("네 맞습니다")
        vosk_engine = await asyncio.to_thread(get_engine, "vosk")
        sphinx = await asyncio.to_thread(get_engine, "pocketsphinx")
        recs = [await AsyncRecognizer.open(e, g) for e, g in ((vosk_engine, ["네", "아니요"]), (vosk_engine, None),
                                                            (sphinx, ["yes", "no"]))]
        for rec in recs:
            await rec.accept(pcm[:3200])
        return synth, recs

    KEEP = asyncio.run(main())  # still referenced when the interpreter shuts down
    refs["vosk decoder"] = weakref.ref(KEEP[1][0].recognizer._rec)
    refs["pyttsx3 driver"] = weakref.ref(espeak._pyttsx3()._engine.proxy)
    """
)


def test_no_exception_ignored_at_interpreter_exit() -> None:
    p = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=180, check=False)
    assert p.returncode == 0, p.stderr
    assert "Exception ignored" not in p.stderr and "Traceback" not in p.stderr, p.stderr
    # the exit hooks really released the native objects before the interpreter tore down
    assert "alive: []" in p.stdout, p.stdout
