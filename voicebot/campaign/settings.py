"""A campaign's settings as ``campaign create`` takes them and the store keeps them."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo

from voicebot.campaign.spec import Window, zone
from voicebot.errors import ConfigError

DEFAULT_WINDOW = "09:00-20:00"
DEFAULT = Window.parse(DEFAULT_WINDOW)
DEFAULT_DAILY_CAP = 200  # calls per caller ID per day: the seed's anti-harassment rule
ACTIVE, PAUSED = "active", "paused"


@dataclass(frozen=True, slots=True, kw_only=True)
class Campaign:
    """Everything the dialer needs to know about one campaign (``id``/``state`` from the store)."""

    name: str
    flow_path: str
    trunk: str | None = None
    caller_id: str = ""
    region: str | None = None
    timezone: str = "UTC"
    concurrency: int = 4
    cps: float = 1.0  # new calls a second; 0 means no limit
    window: Window = DEFAULT
    max_attempts: int = 3
    retry_after: float = 1800.0
    ring_timeout: float = 30.0
    daily_cap: int = DEFAULT_DAILY_CAP
    webhook_url: str | None = None
    webhook_secret: str | None = None
    record_dir: str | None = None  # calls are recorded, encrypted, under this data directory
    sealed: bool = True  # transcripts, slots and CRM messages are stored encrypted (voicebot.store.content)
    id: int = 0
    state: str = ACTIVE

    def __post_init__(self) -> None:
        checks = [
            (bool(self.name) and "/" not in self.name, "a campaign name must be non-empty without '/'"),
            (self.concurrency >= 1, "--concurrency must be at least 1"),
            (self.cps >= 0, "--cps must not be negative"),
            (self.max_attempts >= 1, "--max-attempts must be at least 1"),
            (self.retry_after >= 0, "--retry-after must not be negative"),
            (self.ring_timeout > 0, "--ring-timeout must be positive"),
            (self.daily_cap >= 1, "--daily-cap must be at least 1"),
        ]
        for ok, message in checks:
            if not ok:
                raise ConfigError(message)
        zone(self.timezone)
        if self.webhook_url is not None and not self.webhook_url.startswith(("http://", "https://")):
            raise ConfigError(f"--webhook: expected an http:// or https:// URL, got {self.webhook_url!r}")

    @property
    def tz(self) -> ZoneInfo:
        return zone(self.timezone)

    @property
    def dial_interval(self) -> float:
        """Seconds between two new calls (0: as fast as the lines allow)."""
        return 1.0 / self.cps if self.cps > 0 else 0.0


def local_timezone() -> str:
    """This machine's IANA zone ($TZ, else /etc/localtime's target), or UTC."""
    name = os.environ.get("TZ", "").lstrip(":")
    if not name:
        try:
            target = Path("/etc/localtime").resolve()
            parts = target.parts
            name = "/".join(parts[parts.index("zoneinfo") + 1 :]) if "zoneinfo" in parts else ""
        except (OSError, ValueError):
            name = ""
    try:
        return zone(name).key if name else "UTC"
    except ConfigError:
        return "UTC"
