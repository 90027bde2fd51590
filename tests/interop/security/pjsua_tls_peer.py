"""A pjsua2 (PJSIP) softphone over TLS with SRTP mandatory, run as its own process.

Usage::

    python pjsua_tls_peer.py call TARGET_URI PLAY.wav RECORD.wav SECONDS CA.pem
    python pjsua_tls_peer.py answer PORT PLAY.wav RECORD.wav SECONDS CA.pem CERT.pem KEY.pem

``call`` dials TARGET_URI over TLS (verifying the server against CA.pem); ``answer`` listens on
TLS PORT with CERT/KEY and answers the first call. Either way SRTP (SDES) is mandatory: a call
without it fails. It plays PLAY.wav into the call, records what it hears into RECORD.wav, and
after SECONDS hangs up (``call``) or waits for the far end to hang up (``answer``). Prints
``LISTENING`` once ready, ``MEDIA ACTIVE`` when the (encrypted) audio path is up,
and ``DONE`` at the end. Null audio device, ``threadCnt = 0``, ``mainThreadOnly``, as
DESIGN.md describes.
"""

from __future__ import annotations

import sys
import time
from typing import Any

import pjsua2 as pj


class PeerCall(pj.Call):  # type: ignore[misc]
    def __init__(self, account: Any, play: str, recorder: Any, call_id: int = pj.PJSUA_INVALID_ID) -> None:
        super().__init__(account, call_id)
        self.play = play
        self.player: Any = None
        self.recorder = recorder
        self.connected = False
        self.disconnected = False

    def onCallState(self, prm: Any) -> None:
        if self.getInfo().state == pj.PJSIP_INV_STATE_DISCONNECTED:
            self.disconnected = True

    def onCallMediaState(self, prm: Any) -> None:
        info = self.getInfo()
        for i, m in enumerate(info.media):
            if m.type == pj.PJMEDIA_TYPE_AUDIO and m.status == pj.PJSUA_CALL_MEDIA_ACTIVE and not self.connected:
                audio = self.getAudioMedia(i)
                # the file player runs on the bridge clock from its creation: create it now so
                # the far end hears the prompt from its start, however long the call took
                self.player = pj.AudioMediaPlayer()
                self.player.createPlayer(self.play, pj.PJMEDIA_FILE_NO_LOOP)
                self.player.startTransmit(audio)
                audio.startTransmit(self.recorder)
                self.connected = True
                print("MEDIA ACTIVE", flush=True)


class Account(pj.Account):  # type: ignore[misc]
    def __init__(self, make: Any) -> None:
        super().__init__()
        self.make = make
        self.call: PeerCall | None = None

    def onIncomingCall(self, prm: Any) -> None:
        self.call = self.make(self, prm.callId)
        op = pj.CallOpParam()
        op.statusCode = 200
        self.call.answer(op)


def main() -> int:
    mode = sys.argv[1]
    if mode == "call":
        target, play, record, seconds, ca = sys.argv[2], sys.argv[3], sys.argv[4], float(sys.argv[5]), sys.argv[6]
        cert = key = ""
        port = 0
    else:
        port, play, record, seconds, ca = int(sys.argv[2]), sys.argv[3], sys.argv[4], float(sys.argv[5]), sys.argv[6]
        cert, key = sys.argv[7], sys.argv[8]
        target = ""
    ep = pj.Endpoint()
    ep.libCreate()
    cfg = pj.EpConfig()
    cfg.uaConfig.threadCnt = 0
    cfg.uaConfig.mainThreadOnly = True
    cfg.logConfig.level = 1
    cfg.logConfig.consoleLevel = 1
    ep.libInit(cfg)
    tcfg = pj.TransportConfig()
    tcfg.port = port
    tcfg.boundAddress = "127.0.0.1"
    tcfg.tlsConfig.CaListFile = ca
    tcfg.tlsConfig.certFile = cert
    tcfg.tlsConfig.privKeyFile = key
    tcfg.tlsConfig.method = pj.PJSIP_TLSV1_2_METHOD
    tcfg.tlsConfig.verifyServer = True
    ep.transportCreate(pj.PJSIP_TRANSPORT_TLS, tcfg)
    ep.libStart()
    ep.audDevManager().setNullDev()
    for codec in ("speex/16000/1", "speex/8000/1", "speex/32000/1", "iLBC/8000/1", "GSM/8000/1", "G722/16000/1"):
        ep.codecSetPriority(codec, 0)  # offer what voicebot speaks: PCMU, PCMA
    recorder = pj.AudioMediaRecorder()
    recorder.createRecorder(record)
    media = {"recorder": recorder}

    def make(account: Any, call_id: int = pj.PJSUA_INVALID_ID) -> PeerCall:
        return PeerCall(account, play, media["recorder"], call_id)

    acc = Account(make)
    acfg = pj.AccountConfig()
    acfg.idUri = "sip:pj@127.0.0.1"
    acfg.mediaConfig.transportConfig.boundAddress = "127.0.0.1"
    acfg.mediaConfig.srtpUse = pj.PJMEDIA_SRTP_MANDATORY
    acfg.mediaConfig.srtpSecureSignaling = 1  # SDES keys only over TLS
    acc.create(acfg)
    print("LISTENING", flush=True)
    if mode == "call":
        acc.call = make(acc)
        acc.call.makeCall(target, pj.CallOpParam(True))
    end = time.monotonic() + seconds
    while time.monotonic() < end and not (acc.call is not None and acc.call.disconnected):
        ep.libHandleEvents(10)
    call = acc.call
    if call is not None and not call.disconnected:
        call.hangup(pj.CallOpParam(True))
        for _ in range(100):
            ep.libHandleEvents(10)
            if call.disconnected:
                break
    ok = call is not None and call.connected
    if call is not None:
        call.player = None
    del call, recorder
    media.clear()
    acc.call = None
    acc.shutdown()
    ep.libDestroy()
    print("DONE" if ok else "NO MEDIA", flush=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
