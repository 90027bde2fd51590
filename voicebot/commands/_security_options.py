"""The security options of ``voicebot serve`` and ``voicebot dial``: TLS, SRTP, the product
name we announce, and (for ``serve``) the per-source defence and connection limits.

``add_options(parser, serve=...)`` adds them to a command; ``config_from(args)`` turns the
parsed arguments into keyword arguments of :class:`voicebot.agent.UserAgent`. Every threshold
has a default that suits a server on the open internet; the README's "Security" section lists
them.
"""

from __future__ import annotations

import argparse
from typing import Any

from voicebot.errors import ConfigError, LocalProtocolError
from voicebot.sip.defence import DefenceConfig
from voicebot.sip.sdes import DEFAULT_SUITES, POLICIES, check_suites
from voicebot.transport.stream import ConnectionLimits
from voicebot.transport.tls import TlsConfig

_D = DefenceConfig()
_L = ConnectionLimits()


def whole_number(value: str, minimum: int = 0) -> int:
    """An argparse type: a whole number of at least ``minimum``."""
    try:
        n = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {value!r}") from None
    if n < minimum:
        raise argparse.ArgumentTypeError("must not be negative" if minimum == 0 else f"must be at least {minimum}")
    return n


def count(value: str) -> int:
    """An argparse type: a whole number of at least 1 (calls, workers, processes)."""
    return whole_number(value, minimum=1)


def _amount(value: str) -> float:
    try:
        f = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {value!r}") from None
    if f < 0:
        raise argparse.ArgumentTypeError("must not be negative")
    return f


def _port(value: str) -> int:
    n = whole_number(value)
    if n > 65535:
        raise argparse.ArgumentTypeError("a port is 0..65535")
    return n


def add_options(parser: argparse.ArgumentParser, *, serve: bool) -> None:
    group = parser.add_argument_group("security (see the README's Security section)")
    group.add_argument(
        "--user-agent", default="voicebot/0.1", metavar="TEXT", help='User-Agent we send ("" leaves it out)'
    )
    group.add_argument("--tls-cert", metavar="FILE", help="PEM certificate chain: listen on TLS, present it to servers")
    group.add_argument("--tls-key", metavar="FILE", help="PEM private key of --tls-cert")
    group.add_argument("--tls-ca", metavar="FILE", help="PEM CA file to verify peers with (default: the system's)")
    group.add_argument("--srtp", choices=POLICIES, default="optional",
                       help="SRTP (SDES keys): optional offers it over TLS and takes it when offered (default)")
    group.add_argument("--srtp-suites", default=",".join(DEFAULT_SUITES), metavar="LIST",
                       help="SRTP suites to offer/accept, preferred first")  # fmt: skip
    if not serve:
        group.add_argument("--tls-no-verify", action="store_true", help="do not verify the TLS server (testing only)")
        return
    group.add_argument("--tls-port", type=_port, metavar="PORT", help="TLS listening port (default: the SIP port + 1)")
    group.add_argument("--tls-require-client-cert", action="store_true",
                       help="mutual TLS: callers must present a certificate that --tls-ca trusts")  # fmt: skip
    group.add_argument("--no-defence", action="store_true", help="turn the per-source limits below off")
    group.add_argument("--trusted", action="append", default=[], metavar="CIDR",
                       help="address or network never limited, e.g. the proxy in front (repeatable)")  # fmt: skip
    for flag, kind, default, metavar, text in _LIMITS:
        group.add_argument(flag, type=kind, default=default, metavar=metavar, help=text + " (default %(default)s)")


# per-source defence and connection limits of ``serve``: flag, type, default, metavar, help
_LIMITS: tuple[tuple[str, Any, float, str, str], ...] = (
    ("--max-request-rate", _amount, _D.request_rate, "N", "requests per second from one address; more are ignored"),
    ("--request-burst", whole_number, _D.request_burst, "N", "requests one address may send at once"),
    ("--max-dialogs-per-source", whole_number, _D.dialogs_per_source, "N", "unanswered calls from one address"),
    ("--auth-free-failures", whole_number, _D.auth_free_failures, "N",
     "wrong digest answers before the backoff starts"),
    ("--auth-backoff", _amount, _D.auth_backoff, "S", "first backoff in seconds, doubled per further failure"),
    ("--auth-ban-after", whole_number, _D.auth_ban_failures, "N", "wrong digest answers from one address that ban it"),
    ("--ban-time", _amount, _D.ban_time, "S", "how long a ban lasts, seconds"),
    ("--max-connections", whole_number, _L.max_connections, "N",
     "inbound TCP/TLS connections in all (0: from the fd limit)"),
    ("--max-connections-per-source", whole_number, _L.per_source, "N", "inbound TCP/TLS connections from one address"),
    ("--idle-timeout", _amount, _L.idle_timeout, "S", "seconds before a quiet inbound connection is closed"),
    ("--header-timeout", _amount, _L.header_timeout, "S", "seconds a message or TLS handshake may take to arrive"),
)


def config_from(args: argparse.Namespace) -> dict[str, Any]:
    """Keyword arguments of :class:`~voicebot.agent.UserAgent` for the options above."""
    serve = hasattr(args, "no_defence")
    try:
        out: dict[str, Any] = {
            "user_agent": args.user_agent,
            "srtp": args.srtp,
            "srtp_suites": check_suites(args.srtp_suites.split(",")),
        }
        out["tls"] = TlsConfig(
            cert=args.tls_cert,
            key=args.tls_key,
            ca=args.tls_ca,
            verify=not getattr(args, "tls_no_verify", False),
            require_client_cert=getattr(args, "tls_require_client_cert", False),
            port=getattr(args, "tls_port", None),
        )
        if not serve:
            return out
        out["limits"] = ConnectionLimits(
            max_connections=args.max_connections,
            per_source=args.max_connections_per_source,
            idle_timeout=args.idle_timeout,
            header_timeout=args.header_timeout,
        )
        out["defence"] = None if args.no_defence else DefenceConfig(
            request_rate=args.max_request_rate,
            request_burst=args.request_burst,
            dialogs_per_source=args.max_dialogs_per_source,
            auth_free_failures=args.auth_free_failures,
            auth_backoff=args.auth_backoff,
            auth_ban_failures=args.auth_ban_after,
            ban_time=args.ban_time,
            trusted=tuple(args.trusted),
        )
    except LocalProtocolError as exc:
        raise ConfigError(str(exc)) from None
    return out
