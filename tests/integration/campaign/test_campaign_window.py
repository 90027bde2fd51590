"""Calling windows in the callee's time zone, on a fake clock, with real calls: the dialer is
run in-process with an injected clock; its placer dials a real ``voicebot serve``."""

from __future__ import annotations

import asyncio
import datetime as dt
from pathlib import Path
from zoneinfo import ZoneInfo

from tests.integration.campaign.callees import Callees
from tests.integration.campaign.conftest import FLOW
from voicebot.campaign import campaigns
from voicebot.campaign.contacts import parse_rows
from voicebot.campaign.dialer import Dialer, RunOptions
from voicebot.campaign.settings import Campaign
from voicebot.campaign.sipcall import SipCallPlacer
from voicebot.campaign.spec import Window
from voicebot.store import open_db

UTC = dt.UTC


class FakeClock:
    """Time moves only when the dialer sleeps on it (each sleep also yields for a moment)."""

    def __init__(self, start: float) -> None:
        self.t = start
        self.slept: list[float] = []

    def now(self) -> float:
        return self.t

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.t += max(seconds, 0.0)
        await asyncio.sleep(0.01)


def local_minutes(t: float, zone: str) -> int:
    d = dt.datetime.fromtimestamp(t, ZoneInfo(zone))
    return d.hour * 60 + d.minute


def test_window_is_kept_in_each_callees_zone(callees: Callees, tmp_path: Path) -> None:
    rejects = callees.rejects(603)
    callees.wait_ready()
    numbers = {"+82221234567": "Asia/Seoul", "+82221234568": "Asia/Seoul", "+12125550123": "America/New_York",
               "+12125550124": "America/New_York", "+12125550125": "Europe/Paris"}
    rows = [(i + 2, {"phone": f"sip:{n}@{rejects}", **({"timezone": z} if z == "Europe/Paris" else {})})
            for i, (n, z) in enumerate(numbers.items())]
    contacts = parse_rows(rows)
    assert [c.zones for c in contacts] == [(z,) for z in numbers.values()]  # derived from the number, or given
    db = open_db(str(tmp_path / "w.db"))
    start = dt.datetime(2026, 3, 2, 1, 0, tzinfo=UTC).timestamp()  # 10:00 Seoul, 20:00 New York, 02:00 Paris
    campaigns.create(db, Campaign(name="w", flow_path=str(FLOW), window=Window.parse("09:00-17:00"), cps=0,
                                  timezone="UTC", sealed=False), contacts, start)
    clock = FakeClock(start)

    async def run(until: str) -> str:
        from voicebot.agent import UserAgent

        async with UserAgent("127.0.0.1:0") as ua:
            dialer = Dialer(db, "w", SipCallPlacer(ua), clock=clock,
                            options=RunOptions(until=until, max_sleep=86400))  # type: ignore[arg-type]
            return (await dialer.run()).reason

    assert asyncio.run(run("idle")) == "waiting"  # only Seoul was open
    first = {r["phone"]: r for r in campaigns.results(db, 1)}
    assert [p for p, r in first.items() if r["attempts"]] == ["+82221234567", "+82221234568"]

    assert asyncio.run(run("done")) == "done"  # slept on the clock until each zone opened
    for r in campaigns.results(db, 1):
        assert len(r["attempts"]) == 1 and r["status"] == "failed" and r["attempts"][0]["sip_status"] == 603
        zone = numbers[r["phone"]]
        assert 9 * 60 <= local_minutes(r["attempts"][0]["started_at"], zone) < 17 * 60, (r["phone"], zone)
    started: dict[str, list[float]] = {}
    for r in campaigns.results(db, 1):
        started.setdefault(numbers[r["phone"]], []).append(r["attempts"][0]["started_at"])
    ny, paris = started["America/New_York"], started["Europe/Paris"]
    assert min(paris) == dt.datetime(2026, 3, 2, 8, 0, tzinfo=UTC).timestamp()  # 09:00 in Paris, to the second
    assert min(ny) == dt.datetime(2026, 3, 2, 14, 0, tzinfo=UTC).timestamp()  # 09:00 in New York
    db.close()
