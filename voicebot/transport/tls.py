"""TLS for SIP (RFC 3261 §26.2.1, RFC 5630 ``sips:``, RFC 5922 server identity).

:class:`TlsConfig` says what a user agent presents and what it accepts: a certificate chain and
key to listen with (``serve``) and to present when a server asks for one (mutual TLS), a CA
file to verify peers with (the system's trust store when none is given), whether a server we
connect to must be verified (on by default: its certificate must name the host of the URI, a
DNS name or an IP address), and whether clients must present a certificate. TLS 1.2 is the
floor. Bad files give a :class:`~voicebot.errors.ConfigError` that names them.
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass
from pathlib import Path

from voicebot.errors import ConfigError

__all__ = ["TlsConfig"]


@dataclass(frozen=True, slots=True, kw_only=True)
class TlsConfig:
    cert: str | None = None  # PEM certificate chain we present (needed to listen)
    key: str | None = None  # PEM private key of ``cert`` (may be inside ``cert``)
    ca: str | None = None  # PEM CA bundle to verify peers with; None: the system store
    verify: bool = True  # verify the servers we connect to
    require_client_cert: bool = False  # mutual TLS: clients must present a certificate ``ca`` trusts
    port: int | None = None  # TLS listening port; None: the SIP port + 1 (0: any free port)

    def __post_init__(self) -> None:
        for name in ("cert", "key", "ca"):
            value = getattr(self, name)
            if value is not None and not Path(value).is_file():
                raise ConfigError(f"TLS {name} file not found: {value}")
        if self.key is not None and self.cert is None:
            raise ConfigError("a TLS key needs its certificate (--tls-cert)")
        if self.require_client_cert and self.cert is None:
            raise ConfigError("mutual TLS (--tls-require-client-cert) needs our own --tls-cert to listen with")

    @property
    def can_listen(self) -> bool:
        return self.cert is not None

    def _load_chain(self, ctx: ssl.SSLContext) -> None:
        if self.cert is None:
            return
        try:
            ctx.load_cert_chain(self.cert, self.key)
        except (ssl.SSLError, OSError) as exc:
            raise ConfigError(f"cannot load the TLS certificate {self.cert} / key {self.key}: {exc}") from None

    def _load_ca(self, ctx: ssl.SSLContext) -> None:
        try:
            if self.ca is not None:
                ctx.load_verify_locations(cafile=self.ca)
            else:
                ctx.load_default_certs(ssl.Purpose.SERVER_AUTH if ctx.check_hostname else ssl.Purpose.CLIENT_AUTH)
        except (ssl.SSLError, OSError) as exc:
            raise ConfigError(f"cannot load the TLS CA file {self.ca}: {exc}") from None

    def server_context(self) -> ssl.SSLContext:
        """The context of our TLS listener."""
        if self.cert is None:
            raise ConfigError("listening on TLS needs a certificate and key (--tls-cert, --tls-key)")
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        self._load_chain(ctx)
        if self.require_client_cert:
            ctx.verify_mode = ssl.CERT_REQUIRED
            self._load_ca(ctx)
        return ctx

    def client_context(self) -> ssl.SSLContext:
        """The context of connections we open; presents our certificate when we have one."""
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        if self.verify:
            ctx.check_hostname = True
            ctx.verify_mode = ssl.CERT_REQUIRED
            self._load_ca(ctx)
        else:
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
        self._load_chain(ctx)
        return ctx
