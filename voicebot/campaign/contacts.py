"""Contacts from CSV: numbers to E.164 (phonenumbers), their time zones, the URI to dial.

A ``phone`` column is required. It holds an E.164 number (``+33 1 23 45 67 89``), a national
number read with ``region`` (``01 23 45 67 89`` with ``FR``), or a ``sip:``/``sips:`` URI dialled
as is. ``timezone`` (optional) names the callee's IANA zone; otherwise it is derived from the
number, and a number that phonenumbers places in several zones keeps all of them (the calling
window must then be open in each). Every column, ``name`` and the rest, reaches the flow as
context. Bad rows are kept, marked with the line and the reason, and never dialled.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

import phonenumbers
from phonenumbers import timezone as pn_timezone

from voicebot.campaign.spec import zone
from voicebot.errors import ConfigError, RemoteProtocolError
from voicebot.sip.uri import SipUri

if TYPE_CHECKING:
    from voicebot.flow import Flow

UNKNOWN_ZONE = "Etc/Unknown"


@dataclass(frozen=True, slots=True, kw_only=True)
class Contact:
    """One CSV row. ``phone`` is the E.164 number (or the URI, or the raw text of a bad row);
    ``uri`` is what will be dialled; ``error`` is set on rows that are never dialled."""

    line: int
    phone: str
    uri: str | None
    zones: tuple[str, ...]
    name: str | None
    fields: Mapping[str, str] = field(default_factory=dict)
    error: str | None = None

    @property
    def context(self) -> dict[str, str]:
        """What the flow gets: every column of the row, ``phone`` normalised."""
        return {**self.fields, "phone": self.phone}


def normalize_number(text: str, region: str | None) -> str:
    """An E.164 number from ``text`` (``+...`` or national with ``region``); ConfigError if invalid."""
    try:
        number = phonenumbers.parse(text, region.upper() if region else None)
    except phonenumbers.NumberParseException as exc:
        hint = "" if region or text.strip().startswith("+") else " (a national number needs --region)"
        raise ConfigError(f"{text!r} is not a phone number: {exc}{hint}") from None
    if not phonenumbers.is_valid_number(number):
        raise ConfigError(f"{text!r} is not a valid phone number")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def number_zones(e164: str) -> tuple[str, ...]:
    """The IANA zones phonenumbers gives for a number ('' when it does not know)."""
    zones = pn_timezone.time_zones_for_number(phonenumbers.parse(e164, None))
    return tuple(z for z in zones if z != UNKNOWN_ZONE)


def phone_key(uri: str, region: str | None = None) -> str:
    """The do-not-call key of a ``sip:`` URI: its user part as E.164 when it is a number."""
    user = SipUri.parse(uri).user
    if user:
        try:
            return normalize_number(user, region)
        except ConfigError:
            pass
    return uri


def trunk_uri(e164: str, trunk: str) -> str:
    """``sip:<E.164>@<trunk host>`` keeping the trunk's scheme, port and parameters."""
    t = SipUri.parse(trunk)
    port = f":{t.port}" if t.port else ""
    params = "".join(f";{k}" if v is None else f";{k}={v}" for k, v in t.params.items())
    return f"{t.scheme}:{e164}@{t.host}{port}{params}"


def check_trunk(trunk: str) -> str:
    try:
        SipUri.parse(trunk)
    except RemoteProtocolError:
        raise ConfigError(f"--trunk: expected a sip: URI such as sip:carrier.example:5060, got {trunk!r}") from None
    return trunk


def _row(line: int, row: Mapping[str, str], region: str | None, trunk: str | None) -> Contact:
    fields = {k.strip(): (v or "").strip() for k, v in row.items() if k is not None}
    raw = fields.get("phone", "")
    name = fields.get("name") or None

    def bad(reason: str) -> Contact:
        return Contact(line=line, phone=raw, uri=None, zones=(), name=name, fields=fields, error=reason)

    if not raw:
        return bad("empty phone")
    if raw.lower().startswith(("sip:", "sips:")):
        try:
            SipUri.parse(raw)
        except RemoteProtocolError as exc:
            return bad(str(exc))
        phone, uri = phone_key(raw, region), raw
    else:
        try:
            phone = normalize_number(raw, region)
        except ConfigError as exc:
            return bad(str(exc))
        if trunk is None:
            return bad("a phone number needs --trunk to be dialled")
        uri = trunk_uri(phone, trunk)
    if fields.get("timezone"):
        try:
            zones: tuple[str, ...] = (zone(fields["timezone"]).key,)
        except ConfigError as exc:
            return bad(str(exc))
    else:
        zones = number_zones(phone) if phone.startswith("+") else ()
    return Contact(line=line, phone=phone, uri=uri, zones=zones, name=name, fields=fields)


def parse_rows(rows: Iterable[tuple[int, Mapping[str, str]]], *, region: str | None = None,
               trunk: str | None = None) -> list[Contact]:
    """Contacts from ``(line, row)`` pairs; a number seen on an earlier line is refused."""
    seen: dict[str, int] = {}
    out: list[Contact] = []
    for line, row in rows:
        c = _row(line, row, region, trunk)
        if c.error is None:
            first = seen.setdefault(c.phone, line)
            if first != line:
                c = replace(c, uri=None, error=f"same number as line {first}")
        out.append(c)
    return out


def read_contacts(path: Path, *, region: str | None = None, trunk: str | None = None) -> list[Contact]:
    """Read a contacts CSV (UTF-8, a header row with a ``phone`` column)."""
    try:
        with path.open(newline="", encoding="utf-8-sig") as fh:
            reader = csv.DictReader(fh)
            header = [h.strip() for h in reader.fieldnames or []]
            if "phone" not in header:
                raise ConfigError(f"{path}: no 'phone' column (the header has: {', '.join(header) or 'nothing'})")
            reader.fieldnames = header
            return parse_rows(((reader.line_num, row) for row in reader), region=region, trunk=trunk)
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror}") from None
    except (UnicodeDecodeError, csv.Error) as exc:
        raise ConfigError(f"{path}: not a UTF-8 CSV file ({exc})") from None


def check_against_flow(contacts: list[Contact], flow: Flow) -> list[Contact]:
    """Mark rows whose columns the flow cannot take as its context (a slot of the wrong type)."""
    out = []
    for c in contacts:
        if c.error is None:
            try:
                flow.start(c.context)
            except ConfigError as exc:
                c = replace(c, uri=None, error=str(exc).splitlines()[-1].strip())
        out.append(c)
    return out
