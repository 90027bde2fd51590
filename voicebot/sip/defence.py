"""Per-source defence of the SIP core, I/O-free: the decisions Kamailio's ``pike`` and
Asterisk's fail2ban rules make, as a table of counters the core consults.

* Request rate per source address: a token bucket (``request_rate`` per second, ``request_burst``
  deep). A source over its rate is dropped without an answer until the bucket refills
  (answering would hand a spoofed victim the bytes).
* Dialogs in progress per source: INVITEs not yet answered and acknowledged, at most
  ``dialogs_per_source`` from one address, so one source cannot take every call slot.
* Failed digest answers, counted per source and per user name: the first
  ``auth_free_failures`` cost nothing; each further one blocks credentialed attempts for an
  exponentially growing time (``auth_backoff`` doubled, at most ``auth_backoff_max``); at
  ``auth_ban_failures`` the source is banned for ``ban_time`` seconds and everything it sends
  is ignored, the right password included. A user name is only backed off, never banned (a
  ban per user would let anyone lock a user out).
* ``trusted`` hosts or networks (a proxy in front, a carrier) are never limited.

Every table is bounded (``max_sources``); a source quiet for ``forget_after`` seconds is
forgotten. Time is passed in. Each ban or throttling episode yields one
:class:`~voicebot.sip.events.SourceBlocked` from :meth:`Defence.notices`, never one per packet.
"""

from __future__ import annotations

import ipaddress
from collections import OrderedDict
from dataclasses import dataclass

from voicebot.errors import LocalProtocolError
from voicebot.sip.events import SourceBlocked

__all__ = ["Defence", "DefenceConfig"]

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(frozen=True, slots=True, kw_only=True)
class DefenceConfig:
    """Thresholds of the per-source defence; 0 turns a limit off."""

    request_rate: float = 50.0  # requests per second per source, sustained
    request_burst: int = 100  # requests a source may send at once
    dialogs_per_source: int = 10  # INVITE dialogs in progress per source
    auth_free_failures: int = 3  # failed digest answers before the backoff starts
    auth_backoff: float = 1.0  # first backoff (seconds), doubled for each further failure
    auth_backoff_max: float = 60.0
    auth_ban_failures: int = 10  # failed digest answers from one source that earn a ban
    ban_time: float = 600.0  # seconds
    forget_after: float = 900.0  # a source quiet this long (and not banned) is forgotten
    max_sources: int = 65536  # bounded memory: the least recently seen source goes first
    trusted: tuple[str, ...] = ()  # hosts or networks (CIDR) never limited

    def __post_init__(self) -> None:
        for name in ("request_rate", "auth_backoff", "auth_backoff_max", "ban_time", "forget_after"):
            if getattr(self, name) < 0:
                raise LocalProtocolError(f"defence setting {name} must not be negative")
        for name in ("request_burst", "dialogs_per_source", "auth_free_failures", "auth_ban_failures"):
            if getattr(self, name) < 0:
                raise LocalProtocolError(f"defence setting {name} must not be negative")
        if self.max_sources < 1:
            raise LocalProtocolError("defence setting max_sources must be at least 1")
        parse_networks(self.trusted)


def parse_networks(items: tuple[str, ...]) -> tuple[Network, ...]:
    """``127.0.0.1``, ``10.0.0.0/8``, ``::1`` -> networks; a bad entry is a LocalProtocolError."""
    out: list[Network] = []
    for item in items:
        try:
            out.append(ipaddress.ip_network(item.strip().strip("[]"), strict=False))
        except ValueError:
            raise LocalProtocolError(f"not an address or network: {item!r}") from None
    return tuple(out)


@dataclass(slots=True)
class _Counter:
    """What is known of one source address or one user name."""

    seen: float
    tokens: float = 0.0
    refilled: float = 0.0
    dialogs: int = 0
    failures: int = 0
    blocked_until: float = 0.0  # backoff or ban end
    banned: bool = False
    throttled: bool = False  # a rate notice was given for this episode
    trusted: bool = False


class Defence:
    """The counters and verdicts; see the module docstring."""

    def __init__(self, config: DefenceConfig | None = None) -> None:
        self.config = config or DefenceConfig()
        self._trusted = parse_networks(self.config.trusted)
        self._sources: OrderedDict[str, _Counter] = OrderedDict()
        self._users: OrderedDict[str, _Counter] = OrderedDict()
        self._notices: list[SourceBlocked] = []
        self.dropped = 0  # requests ignored (over rate or banned)
        self.bans = 0

    # ------------------------------------------------------------------ tables

    def _is_trusted(self, host: str) -> bool:
        if not self._trusted:
            return False
        try:
            addr = ipaddress.ip_address(host.strip("[]"))
        except ValueError:
            return False
        return any(addr in net for net in self._trusted)

    def _source(self, host: str, now: float) -> _Counter:
        table = self._sources
        entry = table.get(host)
        if entry is None:
            entry = _Counter(seen=now, tokens=float(self.config.request_burst), refilled=now)
            entry.trusted = self._is_trusted(host)
            table[host] = entry
            self._trim(table, now)
        else:
            table.move_to_end(host)
            entry.seen = now
        return entry

    def _user(self, name: str, now: float) -> _Counter:
        table = self._users
        entry = table.get(name)
        if entry is None:
            entry = table[name] = _Counter(seen=now)
            self._trim(table, now)
        else:
            table.move_to_end(name)
            entry.seen = now
        return entry

    def _trim(self, table: OrderedDict[str, _Counter], now: float) -> None:
        """Forget the oldest entries that are quiet and harmless, and any beyond the bound."""
        horizon = now - self.config.forget_after
        for _ in range(4):  # amortised: a few per new entry
            key, oldest = next(iter(table.items()))
            if oldest.seen > horizon or oldest.dialogs or oldest.blocked_until > now:
                break
            del table[key]
        while len(table) > self.config.max_sources:
            table.popitem(last=False)

    @property
    def tracked(self) -> int:
        """Sources and user names the tables hold now."""
        return len(self._sources) + len(self._users)

    def notices(self) -> list[SourceBlocked]:
        """Blocks that started since the last call (each ban or throttling episode once)."""
        out, self._notices = self._notices, []
        return out

    # ------------------------------------------------------------------ verdicts

    def admit(self, host: str, now: float) -> bool:
        """May a request from ``host`` be looked at? False: ignore it (banned, or over its rate)."""
        cfg = self.config
        entry = self._source(host, now)
        if entry.trusted:
            return True
        if entry.banned:
            if now < entry.blocked_until:
                self.dropped += 1
                return False
            entry.banned = False
            entry.failures = 0
        if cfg.request_rate <= 0:
            return True
        entry.tokens = min(float(cfg.request_burst), entry.tokens + (now - entry.refilled) * cfg.request_rate)
        entry.refilled = now
        if entry.tokens >= 1.0:
            entry.tokens -= 1.0
            if entry.throttled and entry.tokens >= cfg.request_burst / 2:
                entry.throttled = False  # the episode is over: a new one is reported again
            return True
        self.dropped += 1
        if not entry.throttled:
            entry.throttled = True
            self._notices.append(
                SourceBlocked(source=host, reason=f"request rate above {cfg.request_rate:g}/s", seconds=0.0)
            )
        return False

    def may_authenticate(self, host: str, user: str, now: float) -> bool:
        """False while the source or the user name is backed off: the answer is not checked."""
        entry = self._source(host, now)
        if entry.trusted:
            return True
        if now < entry.blocked_until:
            return False
        found = self._users.get(user)
        return found is None or now >= found.blocked_until

    def auth_failed(self, host: str, user: str, now: float) -> None:
        """A digest answer from ``host`` for ``user`` was checked and was wrong."""
        entry = self._source(host, now)
        if entry.trusted:
            return
        cfg = self.config
        entry.failures += 1
        if cfg.auth_ban_failures and entry.failures >= cfg.auth_ban_failures:
            entry.banned = True
            entry.blocked_until = now + cfg.ban_time
            self.bans += 1
            self._notices.append(
                SourceBlocked(
                    source=host,
                    reason=f"banned after {entry.failures} failed digest answers",
                    seconds=cfg.ban_time,
                )
            )
            return
        self._back_off(entry, now, host)
        if user:
            named = self._user(user, now)
            named.failures += 1
            self._back_off(named, now, f"user {user}")

    def _back_off(self, entry: _Counter, now: float, who: str) -> None:
        cfg = self.config
        over = entry.failures - cfg.auth_free_failures
        if over <= 0 or cfg.auth_backoff <= 0:
            return
        delay = min(cfg.auth_backoff * 2 ** min(over - 1, 30), cfg.auth_backoff_max)
        entry.blocked_until = now + delay
        if over == 1:
            self._notices.append(SourceBlocked(source=who, reason="failed digest answers: backing off", seconds=delay))

    def auth_succeeded(self, host: str, user: str, now: float) -> None:
        """The right answer: the source's and the user's failures are forgiven."""
        entry = self._source(host, now)
        if not entry.banned:
            entry.failures = 0
            entry.blocked_until = 0.0
        found = self._users.get(user)
        if found is not None:
            found.failures = 0
            found.blocked_until = 0.0

    def dialogs_full(self, host: str, now: float) -> bool:
        """True when ``host`` already has its limit of INVITE dialogs in progress."""
        entry = self._source(host, now)
        limit = self.config.dialogs_per_source
        return not entry.trusted and limit > 0 and entry.dialogs >= limit

    def open_dialog(self, host: str, now: float) -> None:
        """Count a new INVITE dialog from ``host`` (after :meth:`dialogs_full` said there is room)."""
        self._source(host, now).dialogs += 1

    def close_dialog(self, host: str) -> None:
        """A dialog counted by :meth:`open_dialog` was answered and acknowledged, or ended."""
        entry = self._sources.get(host)
        if entry is not None and entry.dialogs > 0:
            entry.dialogs -= 1

    def banned(self, host: str, now: float) -> bool:
        entry = self._sources.get(host)
        return entry is not None and entry.banned and now < entry.blocked_until
