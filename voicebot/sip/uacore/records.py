"""What the user agent core keeps: its settings, one record per call (an INVITE usage and its
dialog, RFC 3261 §12-§13), per registration (§10), per client transaction it started (§17.1)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from voicebot.sip.defence import DefenceConfig
from voicebot.sip.dialog import Dialog
from voicebot.sip.message import Request, Response
from voicebot.sip.sdes import DEFAULT_SUITES
from voicebot.sip.sdp import (
    DEFAULT_CODECS,
    CodecSpec,
    MediaParams,
    SessionDescription,
)
from voicebot.sip.transaction import (
    Timers,
    Transaction,
    TransportAddress,
)
from voicebot.sip.uacore.callstate import CallState
from voicebot.sip.uri import AbsoluteUri, NameAddr, SipUri, TelUri

Uri = SipUri | TelUri | AbsoluteUri

ALLOWED_METHODS = (
    "INVITE", "ACK", "BYE", "CANCEL", "OPTIONS", "UPDATE", "INFO", "PRACK", "REFER", "NOTIFY",
)  # fmt: skip
SUPPORTED = ("100rel", "timer", "replaces", "norefersub")
ACCEPT = "application/sdp, application/dtmf-relay, message/sipfrag"
DTMF_SIGNAL = re.compile(r"^\s*signal\s*=\s*([0-9A-Da-d*#]|1[0-6])\s*$", re.I | re.M)
DTMF_DURATION = re.compile(r"^\s*duration\s*=\s*(\d+)\s*$", re.I | re.M)
NO_RESPONSE = "No Response"  # reason of the 408 we make up when Timer B/F fires
TRANSPORT_ERROR = "Transport Error"  # reason of the 503 we make up when sending failed
SIPFRAG = re.compile(r"^SIP/2\.0\s+(\d{3})")



MAX_SESSIONS = 1000  # concurrent calls a user agent holds unless told otherwise

@dataclass(kw_only=True)
class UaConfig:
    """Settings of one user agent; addresses are filled in by the driver after binding."""

    user: str = "voicebot"
    display_name: str | None = None
    domain: str | None = None  # host part of our From/AOR; defaults to the listening host
    auth_user: str | None = None  # credentials we answer challenges with
    password: str | None = None
    server_credentials: dict[str, str] | None = None  # challenge callers with these
    realm: str = "voicebot"
    auth_algorithms: tuple[str, ...] = ("SHA-256", "MD5")  # challenges we offer, strongest first
    proxy: str | None = None  # outbound proxy URI (pre-loaded Route, §8.1.2)
    transport: str = "udp"  # default transport for URIs without ;transport
    timers: Timers = field(default_factory=Timers)
    user_agent: str = "voicebot/0.1"  # "" leaves the header out
    session_expires: int = 1800  # RFC 4028 interval we ask for; 0 disables session timers
    min_se: int = 90
    codecs: tuple[CodecSpec, ...] = DEFAULT_CODECS
    ptime: int | None = None  # ms we ask to receive (a=ptime); None: 20 in offers, the offer's in answers
    incoming_timeout: float = 120.0  # an INVITE nobody answers gets 480 after this long
    max_sessions: int = MAX_SESSIONS  # more concurrent calls get 503 with Retry-After
    defence: DefenceConfig | None = field(default_factory=DefenceConfig)  # None: no per-source limits
    srtp: str = "optional"  # "off", "optional" (SRTP offered over TLS, taken when offered), "mandatory"
    srtp_suites: tuple[str, ...] = DEFAULT_SUITES  # SDES suites we offer / accept, preferred first
    addresses: dict[str, tuple[str, int]] = field(default_factory=dict)


@dataclass(eq=False)
class Session:
    """One INVITE usage (a call) and its dialog."""

    id: str
    role: str  # "uac" / "uas"
    invite: Request
    state: CallState
    local_tag: str
    dialog: Dialog | None = None
    media_address: tuple[str, int] | None = None
    local_sdp: SessionDescription | None = None
    remote_sdp: SessionDescription | None = None
    media: MediaParams | None = None
    on_hold: bool = False
    invite_tx: Transaction | None = None  # UAS: the server transaction of the (re-)INVITE
    ok: Response | None = None  # UAS: the 2xx being retransmitted until ACK
    ok_dest: TransportAddress | None = None
    ok_interval: float = 0.0
    ok_is_initial: bool = False
    last_ack: tuple[bytes, TransportAddress] | None = None  # UAC: resent on a retransmitted 2xx
    ack_cseq: int = 0
    cancel_wanted: bool = False
    cancelled: bool = False
    reinvite_token: int | None = None  # our outstanding re-INVITE
    glare_token: int | None = None  # a re-INVITE that got 491 and waits to be retried
    peer_allow: str = ""  # the peer's Allow (its INVITE, or its 2xx): UPDATE for refreshes?
    bye_after_ack: bool = False  # hangup() while our 2xx waited for its ACK
    glare_tries: int = 0
    reliable: bool = False  # UAS: send 1xx reliably (caller requires 100rel)
    rseq: int = 0
    rel_response: Response | None = None
    rel_interval: float = 0.0
    queued_final: Response | None = None  # UAS: held back until PRACK
    prack_seen: set[int] = field(default_factory=set)  # UAC: RSeq values already PRACKed
    se_interval: int = 0  # RFC 4028 session interval
    se_we_refresh: bool = False
    refer_cseq: int | None = None  # a REFER we accepted: report with NOTIFY
    answer_in_ack: bool = False
    user: str | None = None
    source: str | None = None  # UAS: the host counted against its per-source dialog limit
    ended_reason: str | None = None
    deadlines: dict[str, float] = field(default_factory=dict)


@dataclass(eq=False)
class Registration:
    registrar: Uri
    aor: NameAddr
    call_id: str
    tag: str
    expires: int
    cseq: int = 0
    active: bool = False
    deadlines: dict[str, float] = field(default_factory=dict)


@dataclass(eq=False)
class Outgoing:
    """A client transaction and what its responses are for."""

    tx: Transaction
    purpose: str
    session: Session | None = None
    token: int | None = None
    reg: Registration | None = None
    auth_tries: int = 0
