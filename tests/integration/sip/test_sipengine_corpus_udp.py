"""The 49 RFC 4475 torture messages sent over real UDP to a running user agent.

Each message gets the verdict of corpora/sip/README.md, and the server keeps answering:
an OPTIONS after every message still gets 200. Responses go where RFC 3261 §18.2.2 says:
the source IP at the Via port (5060 when the Via has none), so the probe socket sends from
127.0.0.1:5060 (the test is skipped when that port is taken).
"""

from __future__ import annotations

import asyncio
import re
import socket
from pathlib import Path

import pytest

from voicebot.agent import UserAgent
from voicebot.call import Call

VERDICTS = {
    "wsinv": "process", "intmeth": "405", "esc01": "process", "escnull": "405", "esc02": "405",
    "lwsdisp": "process", "longreq": "process", "dblreq": "405", "semiuri": "process",
    "transports": "process", "mpart01": "405", "unreason": "drop", "noreason": "drop",
    "badinv01": "400", "clerr": "400", "ncl": "400", "scalar02": "400", "scalarlg": "drop",
    "quotbal": "400", "ltgtruri": "400", "lwsruri": "400", "lwsstart": "400",
    "trws": "any", "escruri": "any", "baddate": "any", "regbadct": "any", "badaspec": "400",
    "baddn": "400", "badvers": "505", "mismatch01": "400", "mismatch02": "400", "bigcode": "drop",
    "badbranch": "process", "insuf": "400", "unkscm": "416", "novelsc": "416", "unksm2": "any",
    "bext01": "420", "invut": "415", "regaut01": "any", "multi01": "400", "mcl01": "400",
    "bcast": "drop", "zeromf": "process", "cparam01": "405", "cparam02": "405",
    "regescrt": "405", "sdp01": "406", "inv2543": "process",
}  # fmt: skip

_CALL_ID = re.compile(rb"^(?:call-id|i)[ \t]*:[ \t]*(\S+)", re.I | re.M)
_STATUS = re.compile(rb"^SIP/2\.0 (\d{3})")


class Probe(asyncio.DatagramProtocol):
    def __init__(self) -> None:
        self.queue: asyncio.Queue[bytes] = asyncio.Queue()

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        self.queue.put_nowait(data)


async def responses_for(probe: Probe, call_id: bytes | None, wait: float) -> list[bytes]:
    """Responses with ``call_id`` (any response when the message has none) within ``wait``."""
    out: list[bytes] = []
    loop = asyncio.get_running_loop()
    end = loop.time() + wait
    while (left := end - loop.time()) > 0:
        try:
            data = await asyncio.wait_for(probe.queue.get(), left)
        except TimeoutError:
            break
        m = _CALL_ID.search(data)
        if call_id is None or (m is not None and m.group(1) == call_id):
            out.append(data)
            if _STATUS.match(data) and not data.startswith(b"SIP/2.0 1"):
                break
    return out


def options(n: int, port: int) -> bytes:
    return (
        f"OPTIONS sip:bot@127.0.0.1:{port} SIP/2.0\r\n"
        f"Via: SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bKprobe{n}\r\nMax-Forwards: 70\r\n"
        f"From: <sip:probe@127.0.0.1>;tag=p{n}\r\nTo: <sip:bot@127.0.0.1>\r\n"
        f"Call-ID: alive{n}@probe\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n"
    ).encode()


async def test_rfc4475_over_udp(corpora: Path) -> None:
    files = sorted((corpora / "sip" / "rfc4475").glob("*.dat"))
    assert len(files) == 49
    for port in (5060, 5050):
        try:
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
                s.bind(("127.0.0.1", port))
        except OSError:
            pytest.skip(f"127.0.0.1:{port} is in use; §18.2.2 sends responses there")

    ua = UserAgent("127.0.0.1:0", user="bot", media=False)

    async def answer(call: Call) -> None:
        await call.answer()

    ua.on_call(answer)
    await ua.start()
    loop = asyncio.get_running_loop()
    probe = Probe()
    transport, _ = await loop.create_datagram_endpoint(lambda: probe, local_addr=("127.0.0.1", 5060))
    # quotbal's Via names port 5050: §18.2.2 answers there
    extra, _ = await loop.create_datagram_endpoint(lambda: probe, local_addr=("127.0.0.1", 5050))
    port = ua.local_address[1]
    failures: list[str] = []
    try:
        for n, path in enumerate(files):
            name = path.stem
            verdict = VERDICTS[name]
            data = path.read_bytes()
            m = _CALL_ID.search(data)
            call_id = m.group(1) if m else None
            transport.sendto(data, ("127.0.0.1", port))
            got = await responses_for(probe, call_id, 0.3 if verdict == "drop" else 2.0)
            statuses = [int(s.group(1)) for r in got if (s := _STATUS.match(r))]
            finals = [s for s in statuses if s >= 200]
            ok = {
                "drop": not statuses,
                "process": bool(statuses) and 400 not in statuses,
                "405": bool(finals) and finals[0] in (405, 501) and b"\r\nAllow:" in got[-1],
                "any": bool(statuses),
                "420": finals[:1] == [420] and b"\r\nUnsupported:" in got[-1],
                "415": finals[:1] == [415] and b"\r\nAccept:" in got[-1],
                "406": finals[:1] in ([406], [488]),
            }.get(verdict, finals[:1] == [int(verdict)] if verdict.isdigit() else False)
            if not ok:
                failures.append(f"{name}: expected {verdict}, got {statuses}")
            transport.sendto(options(n, port), ("127.0.0.1", port))
            alive = await responses_for(probe, f"alive{n}@probe".encode(), 2.0)
            if not any(r.startswith(b"SIP/2.0 200") for r in alive):
                failures.append(f"after {name}: OPTIONS got no 200")
    finally:
        transport.close()
        extra.close()
        await ua.close(timeout=0.5)
    assert not failures, "\n".join(failures)
