"""SDP session descriptions and the offer/answer model for audio calls.

Implements RFC 4566 (SDP syntax: v, o, s, c, t and media descriptions with rtpmap, fmtp,
ptime, maxptime and the sendrecv/sendonly/recvonly/inactive attributes; other lines are kept and
written back in RFC 4566 §5 order), RFC 3264 (offer/answer: one answer stream per offered
stream, rejected streams with port 0, payload types taken from the offer, directions
mirrored §6.1, hold with sendonly/inactive §8.4 and the legacy c=0.0.0.0 form), RFC 3551
static payload types, RFC 7587 (opus/48000/2), RFC 4733 (telephone-event, at the clock
rate of the chosen voice codec), RFC 3605 (a=rtcp) and RFC 4568 (SDES keys for SRTP, with
RTP/SAVP; the attribute itself lives in :mod:`voicebot.sip.sdes`).

No clock is read: session ids come from ``secrets`` or the caller.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

from voicebot.errors import LocalProtocolError, RemoteProtocolError
from voicebot.sip.sdes import DEFAULT_SUITES, SECURE_PROFILES, Crypto, SrtpKeys, answer_crypto, keys_from

__all__ = [
    "DEFAULT_CODECS",
    "DEFAULT_PTIME",
    "DIRECTIONS",
    "RECEIVE_MAXPTIME",
    "CodecSpec",
    "Connection",
    "MediaDescription",
    "MediaParams",
    "Origin",
    "SessionDescription",
    "choose_codecs",
    "make_answer",
    "make_offer",
    "negotiated",
    "with_direction",
]

DIRECTIONS = ("sendrecv", "sendonly", "recvonly", "inactive")

# RFC 3551 static payload types we may meet without an rtpmap
_STATIC_PT: dict[int, tuple[str, int, int]] = {
    0: ("PCMU", 8000, 1), 3: ("GSM", 8000, 1), 4: ("G723", 8000, 1), 5: ("DVI4", 8000, 1),
    6: ("DVI4", 16000, 1), 7: ("LPC", 8000, 1), 8: ("PCMA", 8000, 1), 9: ("G722", 8000, 1),
    10: ("L16", 44100, 2), 11: ("L16", 44100, 1), 12: ("QCELP", 8000, 1), 13: ("CN", 8000, 1),
    14: ("MPA", 90000, 1), 15: ("G728", 8000, 1), 18: ("G729", 8000, 1),
}

# RTP profiles we can run: plain, and SRTP keyed by SDES
_RTP_PROFILES = ("RTP/AVP", "RTP/AVPF", *SECURE_PROFILES)

# RFC 4566 §5 line order at session level (after v, o, s)
_SESSION_ORDER = "iuepcbtrzka"


def _bad(msg: str) -> RemoteProtocolError:
    return RemoteProtocolError(msg, status=400)


def _num(text: str, digits: int = 5) -> int | None:
    """A short unsigned decimal, or None (bounded: no giant-int conversions on peer input)."""
    if text.isascii() and text.isdigit() and len(text) <= digits:
        return int(text)
    return None


@dataclass(frozen=True, kw_only=True)
class CodecSpec:
    """An RTP payload format we can send and receive."""

    name: str
    clock_rate: int
    channels: int = 1
    payload_type: int
    fmtp: str | None = None

    @property
    def codec_name(self) -> str:
        """The ``voicebot_codecs`` name, e.g. ``PCMU/8000`` or ``opus/48000/2``."""
        base = f"{self.name}/{self.clock_rate}"
        return base if self.channels == 1 else f"{base}/{self.channels}"

    @property
    def is_telephone_event(self) -> bool:
        return self.name.lower() == "telephone-event"

    def matches(self, name: str, clock_rate: int, channels: int) -> bool:
        return (
            self.name.lower() == name.lower()
            and self.clock_rate == clock_rate
            and self.channels == channels
        )


DEFAULT_CODECS: tuple[CodecSpec, ...] = (
    CodecSpec(name="opus", clock_rate=48000, channels=2, payload_type=111, fmtp="useinbandfec=1"),
    CodecSpec(name="PCMU", clock_rate=8000, payload_type=0),
    CodecSpec(name="PCMA", clock_rate=8000, payload_type=8),
    # RFC 4733 events run at the clock of the audio codec they go with (RFC 7587 §7 for opus)
    CodecSpec(name="telephone-event", clock_rate=48000, payload_type=110, fmtp="0-16"),
    CodecSpec(name="telephone-event", clock_rate=8000, payload_type=101, fmtp="0-16"),
)

DEFAULT_PTIME = 20  # ms: RFC 3551 §4.5's default packetisation, when no a=ptime says otherwise
# ms: the longest packet we take (a=maxptime in our offer and answer); the receive path plays
# packets of 10 to 120 ms (media/stream.py), Opus's longest
RECEIVE_MAXPTIME = 120


def choose_codecs(names: Sequence[str]) -> tuple[CodecSpec, ...]:
    """The audio codecs called ``names`` (e.g. ``pcmu``, ``pcma``, ``opus``), in that order of
    preference, followed by the telephone-event formats that go with them."""
    audio = [c for c in DEFAULT_CODECS if not c.is_telephone_event]
    chosen: list[CodecSpec] = []
    for name in names:
        found = [c for c in audio if c.name.lower() == name.strip().lower()]
        if not found:
            known = ", ".join(c.name.lower() for c in audio)
            raise LocalProtocolError(f"unknown codec '{name.strip()}': choose from {known}")
        chosen.extend(c for c in found if c not in chosen)
    if not chosen:
        raise LocalProtocolError("at least one codec is needed")
    rates = {c.clock_rate for c in chosen}
    events = [c for c in DEFAULT_CODECS if c.is_telephone_event and c.clock_rate in rates]
    return (*chosen, *events)


@dataclass
class Origin:
    username: str = "-"
    session_id: str = "0"
    version: int = 0
    nettype: str = "IN"
    addrtype: str = "IP4"
    address: str = "127.0.0.1"

    def __str__(self) -> str:
        return f"{self.username} {self.session_id} {self.version} {self.nettype} {self.addrtype} {self.address}"


@dataclass
class Connection:
    address: str
    addrtype: str = "IP4"
    nettype: str = "IN"

    @property
    def host(self) -> str:
        """The address without a multicast TTL / count suffix."""
        return self.address.split("/", 1)[0]

    @property
    def is_hold(self) -> bool:
        """RFC 2543 hold: c=IN IP4 0.0.0.0 (RFC 3264 §8.4)."""
        return self.host in ("0.0.0.0", "::")

    def __str__(self) -> str:
        return f"{self.nettype} {self.addrtype} {self.address}"

    @classmethod
    def parse(cls, value: str) -> Connection:
        parts = value.split()
        if len(parts) != 3:
            raise _bad(f"malformed c= line {value!r}")
        return cls(address=parts[2], addrtype=parts[1], nettype=parts[0])


def _addrtype(address: str) -> str:
    return "IP6" if ":" in address else "IP4"


@dataclass
class MediaDescription:
    """One ``m=`` section with its own lines."""

    media: str
    port: int
    proto: str
    formats: list[str]
    port_count: int | None = None
    connection: Connection | None = None
    attributes: list[tuple[str, str | None]] = field(default_factory=list)
    extra: list[tuple[str, str]] = field(default_factory=list)  # i=, b=, k= lines

    # --- attribute helpers
    def attr(self, name: str) -> str | None:
        for k, v in self.attributes:
            if k == name:
                return v if v is not None else ""
        return None

    def attrs(self, name: str) -> list[str]:
        return [v or "" for k, v in self.attributes if k == name]

    @property
    def rtpmap(self) -> dict[int, tuple[str, int, int]]:
        """payload type -> (encoding name, clock rate, channels), static types included."""
        out: dict[int, tuple[str, int, int]] = {}
        for fmt in self.formats:
            n = _num(fmt, 3)
            if n is not None and n in _STATIC_PT:
                out[n] = _STATIC_PT[n]
        for v in self.attrs("rtpmap"):
            pt_text, _, enc = v.partition(" ")
            parts = enc.strip().split("/")
            pt = _num(pt_text, 3)
            rate = _num(parts[1], 9) if len(parts) >= 2 else None
            if pt is None or rate is None:
                continue
            channels = (_num(parts[2], 2) or 1) if len(parts) > 2 else 1
            out[pt] = (parts[0], rate, channels)
        return out

    @property
    def fmtp(self) -> dict[int, str]:
        out: dict[int, str] = {}
        for v in self.attrs("fmtp"):
            pt_text, _, params = v.partition(" ")
            pt = _num(pt_text, 3)
            if pt is not None:
                out[pt] = params.strip()
        return out

    @property
    def ptime(self) -> int | None:
        """``a=ptime`` (ms): the packet time the sender of this description would like to receive."""
        return self._milliseconds("ptime")

    @property
    def maxptime(self) -> int | None:
        """``a=maxptime`` (ms, RFC 4566 §6): the longest packet the sender of this description takes."""
        return self._milliseconds("maxptime")

    def _milliseconds(self, name: str) -> int | None:
        v = self.attr(name)
        if v is None:
            return None
        try:
            p = float(v.strip())
        except ValueError:
            return None
        return int(p) if 0 < p < 1000 else None

    @property
    def direction(self) -> str | None:
        """The media-level direction attribute, or None when absent."""
        for k, v in self.attributes:
            if v is None and k in DIRECTIONS:
                return k
        return None

    def set_direction(self, direction: str) -> None:
        self.attributes = [(k, v) for k, v in self.attributes if not (v is None and k in DIRECTIONS)]
        self.attributes.append((direction, None))

    def codecs(self) -> list[CodecSpec]:
        """The formats as CodecSpecs in m-line order (formats without a known mapping skipped)."""
        rtpmap = self.rtpmap
        fmtp = self.fmtp
        out = []
        for fmt in self.formats:
            n = _num(fmt, 3)
            if n is None or n not in rtpmap:
                continue
            pt = n
            name, rate, ch = rtpmap[pt]
            out.append(
                CodecSpec(name=name, clock_rate=rate, channels=ch, payload_type=pt, fmtp=fmtp.get(pt))
            )
        return out

    def lines(self) -> list[str]:
        port = f"{self.port}/{self.port_count}" if self.port_count else str(self.port)
        out = [f"m={self.media} {port} {self.proto} {' '.join(self.formats)}".rstrip()]
        out += [f"{k}={v}" for k, v in self.extra if k == "i"]
        if self.connection is not None:
            out.append(f"c={self.connection}")
        out += [f"{k}={v}" for k, v in self.extra if k != "i"]
        out += [f"a={k}" if v is None else f"a={k}:{v}" for k, v in self.attributes]
        return out


@dataclass
class SessionDescription:
    """An SDP session description (RFC 4566)."""

    origin: Origin = field(default_factory=Origin)
    session_name: str = "-"
    connection: Connection | None = None
    times: list[str] = field(default_factory=lambda: ["0 0"])
    attributes: list[tuple[str, str | None]] = field(default_factory=list)
    media: list[MediaDescription] = field(default_factory=list)
    extra: list[tuple[str, str]] = field(default_factory=list)  # i u e p b r z k lines
    version: int = 0

    @classmethod
    def parse(cls, data: bytes | str) -> SessionDescription:
        if isinstance(data, bytes):
            try:
                text = data.decode("utf-8")
            except UnicodeDecodeError:
                raise _bad("SDP is not UTF-8") from None
        else:
            text = data
        sd = cls(times=[])
        current: MediaDescription | None = None
        seen_v = seen_o = False
        for raw in text.replace("\r\n", "\n").split("\n"):
            if not raw:
                continue
            if len(raw) < 2 or raw[1] != "=" or not raw[0].isalpha():
                raise _bad(f"malformed SDP line {raw[:40]!r}")
            kind, value = raw[0], raw[2:]
            if kind == "v":
                if value.strip() != "0":
                    raise _bad(f"unsupported SDP version {value!r}")
                seen_v = True
            elif kind == "o":
                p = value.split()
                version = _num(p[2], 20) if len(p) == 6 else None
                if version is None:
                    raise _bad(f"malformed o= line {value[:60]!r}")
                sd.origin = Origin(p[0], p[1], version, p[3], p[4], p[5])
                seen_o = True
            elif kind == "s" and current is None:
                sd.session_name = value
            elif kind == "t" and current is None:
                sd.times.append(value)
            elif kind == "m":
                p = value.split()
                if len(p) < 3:
                    raise _bad(f"malformed m= line {value!r}")
                port_text, _, count = p[1].partition("/")
                port = _num(port_text)
                port_count = _num(count, 4) if count else None
                if port is None or port > 65535 or (count and port_count is None):
                    raise _bad(f"malformed m= port {p[1][:20]!r}")
                current = MediaDescription(
                    media=p[0],
                    port=port,
                    proto=p[2],
                    formats=p[3:],
                    port_count=port_count,
                )
                sd.media.append(current)
            elif kind == "c":
                conn = Connection.parse(value)
                if current is None:
                    sd.connection = conn
                else:
                    current.connection = conn
            elif kind == "a":
                name, sep, v = value.partition(":")
                attr = (name, v if sep else None)
                (sd.attributes if current is None else current.attributes).append(attr)
            else:
                (sd.extra if current is None else current.extra).append((kind, value))
        if not seen_v or not seen_o:
            raise _bad("SDP without v= or o= line")
        if not sd.times:
            sd.times = ["0 0"]
        return sd

    def lines(self) -> list[str]:
        out = [f"v={self.version}", f"o={self.origin}", f"s={self.session_name or '-'}"]
        order = {k: i for i, k in enumerate(_SESSION_ORDER)}
        extras = sorted(self.extra, key=lambda kv: order.get(kv[0], len(order)))
        out += [f"{k}={v}" for k, v in extras if order.get(k, 99) < order["c"]]
        if self.connection is not None:
            out.append(f"c={self.connection}")
        out += [f"{k}={v}" for k, v in extras if k == "b"]
        for t in self.times:
            out.append(f"t={t}")
        out += [f"{k}={v}" for k, v in extras if order.get(k, 99) > order["t"]]
        out += [f"a={k}" if v is None else f"a={k}:{v}" for k, v in self.attributes]
        for m in self.media:
            out += m.lines()
        return out

    def __bytes__(self) -> bytes:
        return ("\r\n".join(self.lines()) + "\r\n").encode("utf-8")

    def __str__(self) -> str:
        return bytes(self).decode("utf-8")

    @property
    def session_direction(self) -> str | None:
        for k, v in self.attributes:
            if v is None and k in DIRECTIONS:
                return k
        return None

    def media_direction(self, m: MediaDescription) -> str:
        """Effective direction of a stream (media level, else session level, else sendrecv)."""
        return m.direction or self.session_direction or "sendrecv"

    def media_connection(self, m: MediaDescription) -> Connection | None:
        return m.connection or self.connection

    def audio(self) -> MediaDescription | None:
        """The first audio stream with a non-zero port."""
        for m in self.media:
            if m.media == "audio" and m.port != 0:
                return m
        return None


def _dir_flags(direction: str) -> tuple[bool, bool]:
    """(send, recv) for a direction attribute value."""
    return {
        "sendrecv": (True, True),
        "sendonly": (True, False),
        "recvonly": (False, True),
        "inactive": (False, False),
    }.get(direction, (True, True))


def _dir_name(send: bool, recv: bool) -> str:
    if send and recv:
        return "sendrecv"
    if send:
        return "sendonly"
    if recv:
        return "recvonly"
    return "inactive"


def make_offer(
    address: str,
    rtp_port: int,
    *,
    codecs: Sequence[CodecSpec] = DEFAULT_CODECS,
    direction: str = "sendrecv",
    session_id: str | int | None = None,
    version: int = 0,
    ptime: int = DEFAULT_PTIME,
    crypto: Sequence[Crypto] = (),
) -> SessionDescription:
    """An SDP offer with one audio stream listing ``codecs`` in order of preference and the
    packet time we would like to receive (``a=ptime``, ms); with ``crypto`` lines the stream is
    offered as RTP/SAVP (SRTP, RFC 4568)."""
    if direction not in DIRECTIONS:
        raise LocalProtocolError(f"direction must be one of {DIRECTIONS}")
    sid = str(secrets.randbelow(2**62) if session_id is None else session_id)
    addrtype = _addrtype(address)
    m = MediaDescription(
        media="audio",
        port=rtp_port,
        proto="RTP/SAVP" if crypto else "RTP/AVP",
        formats=[str(c.payload_type) for c in codecs],
    )
    m.attributes += [("crypto", str(c)) for c in crypto]
    for c in codecs:
        enc = f"{c.name}/{c.clock_rate}" + (f"/{c.channels}" if c.channels != 1 else "")
        m.attributes.append(("rtpmap", f"{c.payload_type} {enc}"))
        if c.fmtp:
            m.attributes.append(("fmtp", f"{c.payload_type} {c.fmtp}"))
    m.attributes.append(("ptime", str(ptime)))
    m.attributes.append(("maxptime", str(RECEIVE_MAXPTIME)))
    m.attributes.append((direction, None))
    return SessionDescription(
        origin=Origin("voicebot", sid, version, "IN", addrtype, address),
        session_name="voicebot",
        connection=Connection(address, addrtype),
        media=[m],
    )


def _pick(
    offered: MediaDescription, codecs: Sequence[CodecSpec]
) -> tuple[CodecSpec, CodecSpec | None] | None:
    """First offered audio codec we support, plus the offered telephone-event at its clock."""
    offered_codecs = offered.codecs()
    chosen: CodecSpec | None = None
    for oc in offered_codecs:
        if oc.is_telephone_event:
            continue
        if any(c.matches(oc.name, oc.clock_rate, oc.channels) for c in codecs):
            chosen = oc
            break
    if chosen is None:
        return None
    te: CodecSpec | None = None
    if any(c.is_telephone_event for c in codecs):
        for oc in offered_codecs:
            if oc.is_telephone_event and oc.clock_rate == chosen.clock_rate:
                te = oc
                break
    return chosen, te


def make_answer(
    offer: SessionDescription,
    address: str,
    rtp_port: int,
    *,
    codecs: Sequence[CodecSpec] = DEFAULT_CODECS,
    direction: str | None = None,
    previous: SessionDescription | None = None,
    ptime: int | None = None,
    srtp: str = "optional",
    suites: Sequence[str] = DEFAULT_SUITES,
) -> SessionDescription:
    """The RFC 3264 answer: the first audio stream gets the first offered codec we support
    (with the offer's payload type and telephone-event), every other stream is rejected
    (port 0). ``direction`` is what we want (default sendrecv); the offered direction is
    mirrored onto it. ``previous`` (our last SDP in this session) keeps o= id and bumps its
    version. ``ptime`` is the packet time we would like to receive (``a=ptime``); None
    mirrors the offer's (the packet time both ways stays the one the offerer chose).
    ``srtp`` ("off", "optional", "mandatory") says whether an offered ``a=crypto`` key
    is taken (the answer then carries ours, RFC 4568) and whether a plain stream is refused;
    an RTP/SAVP stream without a usable key is refused. Raises
    ``RemoteProtocolError(status=488)`` when no audio stream is acceptable."""
    if direction is not None and direction not in DIRECTIONS:
        raise LocalProtocolError(f"direction must be one of {DIRECTIONS}")
    want_send, want_recv = _dir_flags(direction or "sendrecv")
    addrtype = _addrtype(address)
    if previous is not None:
        origin = replace(previous.origin, version=previous.origin.version + 1)
        origin.address, origin.addrtype = address, addrtype
    else:
        origin = Origin("voicebot", str(secrets.randbelow(2**62)), 0, "IN", addrtype, address)
    answer = SessionDescription(
        origin=origin,
        session_name="voicebot",
        connection=Connection(address, addrtype),
        times=list(offer.times) or ["0 0"],
    )
    accepted = False
    for om in offer.media:
        picked = None
        crypto = answer_crypto(om.attrs("crypto"), suites) if srtp != "off" else None
        secure_ok = crypto is not None or (om.proto not in SECURE_PROFILES and srtp != "mandatory")
        if not accepted and om.media == "audio" and om.port != 0 and om.proto in _RTP_PROFILES and secure_ok:
            picked = _pick(om, codecs)
        if picked is None:
            answer.media.append(
                MediaDescription(media=om.media, port=0, proto=om.proto, formats=om.formats[:1] or ["0"])
            )
            continue
        accepted = True
        chosen, te = picked
        offer_send, offer_recv = _dir_flags(offer.media_direction(om))
        conn = offer.media_connection(om)
        if conn is not None and conn.is_hold:
            offer_recv = False
        send = want_send and offer_recv
        recv = want_recv and offer_send
        am = MediaDescription(media="audio", port=rtp_port, proto=om.proto, formats=[])
        for c in (chosen, te):
            if c is None:
                continue
            am.formats.append(str(c.payload_type))
            enc = f"{c.name}/{c.clock_rate}" + (f"/{c.channels}" if c.channels != 1 else "")
            am.attributes.append(("rtpmap", f"{c.payload_type} {enc}"))
            ours = next((x for x in codecs if x.matches(c.name, c.clock_rate, c.channels)), None)
            # fmtp describes what we receive: ours for the voice codec, the offered event
            # range for telephone-event (ours when the offer gave none)
            fmtp = ours.fmtp if ours is not None else None
            if c.is_telephone_event and c.fmtp:
                fmtp = c.fmtp
            if fmtp:
                am.attributes.append(("fmtp", f"{c.payload_type} {fmtp}"))
        am.attributes.append(("ptime", str((om.ptime or DEFAULT_PTIME) if ptime is None else ptime)))
        am.attributes.append(("maxptime", str(RECEIVE_MAXPTIME)))
        am.attributes.append((_dir_name(send, recv), None))
        if crypto is not None:
            am.attributes.append(("crypto", str(crypto)))
        answer.media.append(am)
    if not accepted:
        raise RemoteProtocolError("no acceptable audio codec in the offer", status=488)
    return answer


@dataclass(frozen=True, kw_only=True)
class MediaParams:
    """What the media engine needs once offer/answer completed (from our point of view).

    ``payload_type`` / ``telephone_event_pt`` are the numbers to SEND (the remote's);
    ``recv_payload_type`` / ``recv_telephone_event_pt`` the ones we declared to receive.
    ``ptime`` is the packet time (ms) to send: the one the remote asked for (RFC 3264 §6.1: a
    preference of the receiver), else the one we advertised, and never longer than the
    remote's ``a=maxptime`` (RFC 4566 §6); the media layer fits it to what the codec can
    carry (the longest it can send that is not longer). ``direction`` is ours: "sendonly"
    means we send but do not receive. ``on_hold`` is True when we must not send.
    """

    remote_address: tuple[str, int]
    codec: str
    payload_type: int
    telephone_event_pt: int | None = None
    ptime: int = DEFAULT_PTIME
    direction: str = "sendrecv"
    recv_payload_type: int | None = None
    recv_telephone_event_pt: int | None = None
    clock_rate: int = 8000
    remote_rtcp_address: tuple[str, int] | None = None  # RFC 3605 a=rtcp, when given
    srtp: SrtpKeys | None = None  # SRTP keys (RFC 4568) when the stream is encrypted

    @property
    def on_hold(self) -> bool:
        return self.direction in ("recvonly", "inactive")


def negotiated(local: SessionDescription, remote: SessionDescription) -> MediaParams:
    """Media parameters from our SDP and the peer's (either may be the offer).

    The codec is the first non-telephone-event format of the remote stream that our stream
    also lists (an answer's first format wins). Raises ``RemoteProtocolError(status=488)``
    when the audio streams share no codec or one side rejected audio.
    """
    lm = local.audio()
    rm = remote.audio()
    if lm is None or rm is None:
        raise RemoteProtocolError("no active audio stream", status=488)
    local_codecs = lm.codecs()
    chosen: CodecSpec | None = None
    ours: CodecSpec | None = None
    for rc in rm.codecs():
        if rc.is_telephone_event:
            continue
        ours = next(
            (c for c in local_codecs if c.matches(rc.name, rc.clock_rate, rc.channels)), None
        )
        if ours is not None:
            chosen = rc
            break
    if chosen is None or ours is None:
        raise RemoteProtocolError("no common audio codec", status=488)
    r_te = next(
        (c for c in rm.codecs() if c.is_telephone_event and c.clock_rate == chosen.clock_rate),
        None,
    )
    l_te = next(
        (c for c in local_codecs if c.is_telephone_event and c.clock_rate == chosen.clock_rate),
        None,
    )
    if l_te is None:
        r_te = None
    conn = remote.media_connection(rm)
    if conn is None:
        raise RemoteProtocolError("remote SDP has no connection address", status=400)
    l_send, l_recv = _dir_flags(local.media_direction(lm))
    r_send, r_recv = _dir_flags(remote.media_direction(rm))
    if conn.is_hold:
        r_recv = False
    lconn = local.media_connection(lm)
    if lconn is not None and lconn.is_hold:
        l_recv = False
    direction = _dir_name(l_send and r_recv, l_recv and r_send)
    keys = keys_from(lm.attrs("crypto"), rm.attrs("crypto"))
    if keys is None and (lm.proto in SECURE_PROFILES or rm.proto in SECURE_PROFILES):
        raise RemoteProtocolError("RTP/SAVP without a usable SRTP key", status=488)
    rtcp: tuple[str, int] | None = None
    rtcp_attr = rm.attr("rtcp")
    if rtcp_attr:
        parts = rtcp_attr.split()
        if parts and parts[0].isdigit() and len(parts[0]) <= 5 and 0 < int(parts[0]) <= 65535:
            rtcp = (parts[3] if len(parts) >= 4 else conn.host, int(parts[0]))
    ptime = rm.ptime or lm.ptime or DEFAULT_PTIME
    return MediaParams(
        remote_address=(conn.host, rm.port),
        codec=chosen.codec_name,
        payload_type=chosen.payload_type,
        telephone_event_pt=r_te.payload_type if r_te else None,
        ptime=min(ptime, rm.maxptime) if rm.maxptime else ptime,
        direction=direction,
        recv_payload_type=ours.payload_type,
        recv_telephone_event_pt=l_te.payload_type if l_te else None,
        clock_rate=chosen.clock_rate,
        remote_rtcp_address=rtcp,
        srtp=keys,
    )


def with_direction(sd: SessionDescription, direction: str) -> SessionDescription:
    """A copy of our SDP with every active audio stream set to ``direction`` and o= version+1
    (hold: "sendonly" or "inactive"; resume: "sendrecv")."""
    if direction not in DIRECTIONS:
        raise LocalProtocolError(f"direction must be one of {DIRECTIONS}")
    new = SessionDescription.parse(bytes(sd))
    new.origin.version += 1
    new.attributes = [(k, v) for k, v in new.attributes if not (v is None and k in DIRECTIONS)]
    for m in new.media:
        if m.media == "audio" and m.port != 0:
            m.set_direction(direction)
    return new
