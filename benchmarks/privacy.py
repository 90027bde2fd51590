"""What encrypting recordings costs: sealing one second of call audio (16 kHz stereo, 64,000
bytes — one chunk, as the recorder flushes it) with AES-256-GCM, against writing the same
second to a plain WAV file, both into memory so the disk is not what is measured; and reading
it back (authenticate + decrypt). Reported per second of audio and as a share of one core per
recorded call."""

from __future__ import annotations

import io
import os
import sys
import wave
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import per_call_us, write_results

from voicebot.privacy.container import SealedReader, SealedWriter
from voicebot.privacy.keys import Keyring

SECOND = os.urandom(64_000)  # the content does not matter to AES-GCM


def main() -> None:
    ring = Keyring.new()
    sealed_buf = io.BytesIO()
    writer = SealedWriter(sealed_buf, ring.current, content_type="audio/pcm;rate=16000;channels=2;format=s16le")

    def seal() -> None:
        writer.write(SECOND)
        writer.flush()

    plain_buf = io.BytesIO()
    wav = wave.open(plain_buf, "wb")  # noqa: SIM115
    wav.setnchannels(2)
    wav.setsampwidth(2)
    wav.setframerate(16000)

    def plain() -> None:
        wav.writeframes(SECOND)

    blob = io.BytesIO()
    w = SealedWriter(blob, ring.current, content_type="x")
    for _ in range(60):
        w.write(SECOND)
        w.flush()
    w.finish()
    minute = blob.getvalue()

    def read_minute() -> None:
        SealedReader(io.BytesIO(minute), ring).read_all()

    seal_us, plain_us = per_call_us(seal), per_call_us(plain)
    open_us = per_call_us(read_minute, min_time=0.5) / 60
    result = {
        "seal_us_per_audio_second": round(seal_us, 1),
        "plain_wav_us_per_audio_second": round(plain_us, 1),
        "seal_over_plain": round(seal_us / plain_us, 2),
        "open_us_per_audio_second": round(open_us, 1),
        "core_share_per_recorded_call_percent": round(seal_us / 1e6 * 100, 3),
        "bytes_overhead_per_second": 20,
    }
    path = write_results("privacy", result)
    print(f"seal 1 s of recording: {seal_us:.0f} µs (plain WAV write {plain_us:.0f} µs, {seal_us / plain_us:.1f}×); "
          f"decrypt {open_us:.0f} µs per second; {seal_us / 1e4:.3f} % of one core per recorded call")  # fmt: skip
    print(f"results: {path}")


if __name__ == "__main__":
    main()
