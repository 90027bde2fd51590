"""A pjsua2 (PJSIP) softphone run as its own process for the media interop test.

Usage: python pjsua_peer.py TARGET_URI PLAY.wav RECORD.wav SECONDS [DTMF_DIGITS] [--answer A.wav ...]

It calls TARGET_URI, plays PLAY.wav once into the call and records what it hears into
RECORD.wav, sends DTMF_DIGITS (RFC 4733) one second after media starts, prints
``DTMF <digit>`` for every digit it receives, then hangs up after SECONDS. Null audio device, ``threadCnt = 0``,
``mainThreadOnly`` and a ``libHandleEvents`` loop, as DESIGN.md describes. Prints
``MEDIA ACTIVE`` when the audio path is connected and ``DONE`` at the end.

Each ``--answer`` is a turn of a conversation: the peer plays the next one when the far end
has spoken and then been quiet for ``--answer-gap`` seconds (its prompt ended), printing
``ANSWER <n> <seconds since media>``. A prompt's own pauses between words and sentences are
shorter than the default gap; a bot that waits several seconds for an answer is not.
"""

from __future__ import annotations

import argparse
import sys
import time
from typing import Any

import pjsua2 as pj


class PeerCall(pj.Call):  # type: ignore[misc]
    def __init__(self, account: Any, player: Any, recorder: Any) -> None:
        super().__init__(account)
        self.player = player
        self.recorder = recorder
        self.connected = False
        self.disconnected = False
        self.media_at = 0.0
        self.audio: Any = None

    def onDtmfDigit(self, prm: Any) -> None:
        print(f"DTMF {prm.digit}", flush=True)

    def onCallState(self, prm: Any) -> None:
        if self.getInfo().state == pj.PJSIP_INV_STATE_DISCONNECTED:
            self.disconnected = True

    def onCallMediaState(self, prm: Any) -> None:
        info = self.getInfo()
        for i, m in enumerate(info.media):
            if m.type == pj.PJMEDIA_TYPE_AUDIO and m.status == pj.PJSUA_CALL_MEDIA_ACTIVE and not self.connected:
                audio = self.getAudioMedia(i)
                self.audio = audio
                self.player.startTransmit(audio)
                audio.startTransmit(self.recorder)
                self.connected = True
                self.media_at = time.monotonic()
                print("MEDIA ACTIVE", flush=True)


class Answers:
    """Plays one recording per prompt of the far end, each once that prompt has ended."""

    # the far end's level above which it is talking: PJSIP's call port reads 5..30 under an
    # espeak-ng prompt over PCMU and 0 under the silence between prompts
    SPEAKING = 2

    def __init__(self, files: list[str], gap: float) -> None:
        self.players = []
        for f in files:
            player = pj.AudioMediaPlayer()
            player.createPlayer(f, pj.PJMEDIA_FILE_NO_LOOP)
            self.players.append(player)
        self.gap = gap
        self.spoke_at: float | None = None  # when the far end was last heard in this prompt
        self.given = 0

    def poll(self, call: PeerCall, now: float) -> None:
        """Start the next answer if the far end has spoken and been quiet for the gap since."""
        if call.audio is None or self.given >= len(self.players):
            return
        if call.audio.getTxLevel() > self.SPEAKING:  # what the call port sends into the bridge
            self.spoke_at = now
        elif self.spoke_at is not None and now - self.spoke_at >= self.gap:
            self.players[self.given].startTransmit(call.audio)
            self.given += 1
            self.spoke_at = None
            print(f"ANSWER {self.given} {now - call.media_at:.2f}", flush=True)


def arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="A pjsua2 softphone that calls, plays, records and answers.")
    parser.add_argument("target")
    parser.add_argument("play")
    parser.add_argument("record")
    parser.add_argument("seconds", type=float)
    parser.add_argument("digits", nargs="?", default="")
    parser.add_argument("--answer", action="append", default=[], help="a WAV to play after the next prompt")
    parser.add_argument("--answer-gap", type=float, default=0.8, help="quiet seconds that end a prompt")
    return parser.parse_args()


def main() -> int:
    args = arguments()
    target, play, record, seconds, digits = args.target, args.play, args.record, args.seconds, args.digits
    ep = pj.Endpoint()
    ep.libCreate()
    cfg = pj.EpConfig()
    cfg.uaConfig.threadCnt = 0
    cfg.uaConfig.mainThreadOnly = True
    cfg.logConfig.level = 1
    cfg.logConfig.consoleLevel = 1
    ep.libInit(cfg)
    tcfg = pj.TransportConfig()
    tcfg.port = 0
    tcfg.boundAddress = "127.0.0.1"
    ep.transportCreate(pj.PJSIP_TRANSPORT_UDP, tcfg)
    ep.libStart()
    ep.audDevManager().setNullDev()
    for codec in ("speex/16000/1", "speex/8000/1", "speex/32000/1", "iLBC/8000/1", "GSM/8000/1", "G722/16000/1"):
        ep.codecSetPriority(codec, 0)  # offer what voicebot speaks: PCMU, PCMA
    acc = pj.Account()
    acfg = pj.AccountConfig()
    acfg.idUri = "sip:pj@127.0.0.1"
    acfg.mediaConfig.transportConfig.boundAddress = "127.0.0.1"
    acc.create(acfg)
    player = pj.AudioMediaPlayer()
    player.createPlayer(play, pj.PJMEDIA_FILE_NO_LOOP)
    recorder = pj.AudioMediaRecorder()
    recorder.createRecorder(record)
    answers = Answers(args.answer, args.answer_gap)
    call = PeerCall(acc, player, recorder)
    call.makeCall(target, pj.CallOpParam(True))
    end = time.monotonic() + seconds
    while time.monotonic() < end and not call.disconnected:
        ep.libHandleEvents(10)
        if digits and call.connected and time.monotonic() - call.media_at > 1.0:
            call.dialDtmf(digits)
            digits = ""
        answers.poll(call, time.monotonic())
    if not call.disconnected:
        call.hangup(pj.CallOpParam(True))
    for _ in range(50):
        ep.libHandleEvents(10)
        if call.disconnected:
            break
    ok = call.connected
    del call, player, recorder, answers
    acc.shutdown()
    ep.libDestroy()
    print("DONE" if ok else "NO MEDIA", flush=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
