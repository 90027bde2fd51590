"""The Kamailio dispatcher config that stands in front of voicebot workers.

:func:`render_config` fills ``dispatcher.cfg`` (beside this module) with the public address,
the list file and the probing settings; :func:`render_list` writes the dispatcher's list of
workers (one ``SETID sip:HOST:PORT FLAGS PRIORITY ATTRS`` line each, RFC 3261 URIs; ATTRS name
the worker for call load dispatching and the calls it takes at most). Workers may be on this
machine or on others: the config only knows them by address.
"""

from __future__ import annotations

import glob
import ipaddress
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from voicebot.errors import ConfigError, DependencyError
from voicebot.sip.uacore.records import MAX_SESSIONS
from voicebot.transport.sip import format_hostport, split_hostport

TEMPLATE = Path(__file__).with_name("dispatcher.cfg")
SET_ID = 1
_PLACEHOLDER = re.compile(r"\{\{(\w+)\}\}")
MODULE_DIRS = (
    "/usr/lib/*/kamailio/modules",
    "/usr/lib64/kamailio/modules",
    "/usr/lib/kamailio/modules",
    "/usr/local/lib*/kamailio/modules",
)


@dataclass(frozen=True, slots=True, kw_only=True)
class DispatcherConfig:
    """What the generated Kamailio config needs to know."""

    listen: str  # HOST:PORT callers reach (UDP and TCP)
    workers: tuple[str, ...]  # HOST:PORT of each worker
    list_file: str = "dispatcher.list"
    advertise: str | None = None  # public address to put in Record-Route/Via when behind NAT
    ping_interval: int = 1  # seconds between OPTIONS probes of each worker
    probe_timeout: float = 1.0  # seconds without any response before a probe (or request) fails
    first_reply: float = 4.0  # seconds a worker has to answer an INVITE at all (100 Trying)
    ring_timeout: float = 120.0  # seconds an INVITE may ring
    retry_after: int = 5  # seconds, in the 503 sent when every worker is full or down
    max_calls: int = MAX_SESSIONS  # calls a worker takes at most (its `serve --max-calls`, at least 1)
    dialog_expire: int = 14400  # seconds a Call-ID -> worker entry lives without a BYE
    children: int = 2  # Kamailio receiver processes per transport
    module_path: str | None = None
    debug: int = 1
    tcp: bool = True
    extra: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.workers:
            raise ConfigError("the dispatcher needs at least one worker address")
        for addr in (self.listen, *self.workers):
            _check_hostport(addr)
        if self.ping_interval < 1:
            raise ConfigError("the probing interval is whole seconds, at least 1")
        if self.max_calls < 1:
            # a worker always has a limit (`serve --max-calls` is at least 1); the dispatcher's is the same
            raise ConfigError("the calls per worker must be at least 1")


def _check_hostport(text: str) -> tuple[str, int]:
    try:
        host, port = split_hostport(text, 5060)
    except ValueError as exc:
        raise ConfigError(f"expected HOST:PORT, got {text!r} ({exc})") from None
    if not 0 < port < 65536:
        raise ConfigError(f"port out of range in {text!r}")
    return host, port


def _uri_host(host: str) -> str:
    try:
        return f"[{host}]" if ipaddress.ip_address(host).version == 6 else host
    except ValueError:
        return host  # a host name


def render_list(cfg: DispatcherConfig) -> str:
    """The dispatcher list: every worker in set 1, probed (flag 8), named for call load
    dispatching (``duid``) with the calls it takes at most (``maxload``)."""
    lines = ["# voicebot workers: setid destination flags priority attributes"]
    for n, addr in enumerate(cfg.workers, 1):
        host, port = _check_hostport(addr)
        lines.append(f"{SET_ID} sip:{_uri_host(host)}:{port} 8 0 duid=w{n};maxload={cfg.max_calls}")
    return "\n".join(lines) + "\n"


def render_config(cfg: DispatcherConfig) -> str:
    """The Kamailio config text for ``cfg`` (the list file is written separately)."""
    host, port = _check_hostport(cfg.listen)
    advertise = ""
    if cfg.advertise:
        ahost, aport = split_hostport(cfg.advertise, port)
        advertise = f" advertise {format_hostport(ahost, aport)}"
    transports = ("udp", "tcp") if cfg.tcp else ("udp",)
    sock_host = _uri_host(host)
    listen = "\n".join(f"listen={t}:{sock_host}:{port}{advertise}" for t in transports)
    values = {
        "listen": listen,
        "mpath": f'mpath="{cfg.module_path}"' if cfg.module_path else "# mpath: Kamailio's built-in module path",
        "list_file": cfg.list_file,
        "ping_interval": str(cfg.ping_interval),
        "ping_host": _uri_host(split_hostport(cfg.advertise, port)[0] if cfg.advertise else host),
        "probe_timeout_ms": str(round(cfg.probe_timeout * 1000)),
        "first_reply_ms": str(round(cfg.first_reply * 1000)),
        "ring_timeout_ms": str(round(cfg.ring_timeout * 1000)),
        "retry_after": str(cfg.retry_after),
        "children": str(cfg.children),
        "dialog_expire": str(cfg.dialog_expire),
        "setup_expire": str(round(cfg.first_reply + cfg.ring_timeout + 30)),
        "set_id": str(SET_ID),
        "debug": str(cfg.debug),
        **cfg.extra,
    }
    text = TEMPLATE.read_text(encoding="utf-8")
    missing = sorted({m.group(1) for m in _PLACEHOLDER.finditer(text)} - set(values))
    if missing:
        raise ConfigError(f"the dispatcher template needs values for: {', '.join(missing)}")
    return _PLACEHOLDER.sub(lambda m: values[m.group(1)], text)


def kamailio_binary() -> str:
    exe = shutil.which("kamailio") or next(iter(glob.glob("/usr/sbin/kamailio")), None)
    if exe is None:
        raise DependencyError("Kamailio is not installed: apt-get install kamailio (it runs in front of the workers)")
    return exe


def module_path() -> str | None:
    """Where this machine's Kamailio modules are (None: rely on Kamailio's built-in path)."""
    for pattern in MODULE_DIRS:
        for path in sorted(glob.glob(pattern)):
            if Path(path, "dispatcher.so").exists():
                return path
    return None


__all__ = ["DispatcherConfig", "kamailio_binary", "module_path", "render_config", "render_list"]
