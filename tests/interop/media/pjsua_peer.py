"""A pjsua2 (PJSIP) softphone run as its own process for the media interop test.

Usage: python pjsua_peer.py TARGET_URI PLAY.wav RECORD.wav SECONDS [DTMF_DIGITS]

It calls TARGET_URI, plays PLAY.wav once into the call and records what it hears into
RECORD.wav, sends DTMF_DIGITS (RFC 4733) one second after media starts, prints
``DTMF <digit>`` for every digit it receives, then hangs up after SECONDS. Null audio device, ``threadCnt = 0``,
``mainThreadOnly`` and a ``libHandleEvents`` loop, as DESIGN.md describes. Prints
``MEDIA ACTIVE`` when the audio path is connected and ``DONE`` at the end.
"""

from __future__ import annotations

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
                self.player.startTransmit(audio)
                audio.startTransmit(self.recorder)
                self.connected = True
                self.media_at = time.monotonic()
                print("MEDIA ACTIVE", flush=True)


def main() -> int:
    target, play, record, seconds = sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4])
    digits = sys.argv[5] if len(sys.argv) > 5 else ""
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
    call = PeerCall(acc, player, recorder)
    call.makeCall(target, pj.CallOpParam(True))
    end = time.monotonic() + seconds
    while time.monotonic() < end and not call.disconnected:
        ep.libHandleEvents(10)
        if digits and call.connected and time.monotonic() - call.media_at > 1.0:
            call.dialDtmf(digits)
            digits = ""
    if not call.disconnected:
        call.hangup(pj.CallOpParam(True))
    for _ in range(50):
        ep.libHandleEvents(10)
        if call.disconnected:
            break
    ok = call.connected
    del call, player, recorder
    acc.shutdown()
    ep.libDestroy()
    print("DONE" if ok else "NO MEDIA", flush=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
