"""Recording keys: where they come from, how they are named, how they rotate.

A *master key* is 32 random bytes. It never encrypts audio itself: every file gets its own
data key, wrapped by the master key (:mod:`voicebot.privacy.container`). A master key's id is
the first 8 bytes of HMAC-SHA256(key, "voicebot/key-id") in hex: stable, and saying nothing
about the key.

Keys come from (first found wins):

1. a key file, ``--key-file FILE`` or ``VOICEBOT_KEY_FILE`` — JSON written by ``voicebot keys
   generate`` (mode 0600)::

       {"format": "voicebot-keys", "version": 1, "current": "<id>",
        "path_key": "<base64, 32 bytes>",
        "keys": [{"id": "<id>", "key": "<base64, 32 bytes>", "created": "<ISO 8601 UTC>"}]}

   ``current`` encrypts new files; the others still decrypt old ones until rotation has
   re-encrypted them;
2. ``VOICEBOT_RECORDING_KEY``: one key, 32 bytes in base64 or hex (``voicebot keys generate
   --print`` makes one). With a key file it is kept as an extra key for reading.

The *path key* (an HMAC key) names the folders recordings are stored in, so a person's folder
can be found from their id by whoever holds the keys and by nobody else. It does not change when
master keys rotate; with only an environment key it is derived from that key (HKDF-SHA256), and
``keys rotate`` carries it into the key file it writes.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
import hmac
import json
import logging
import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from voicebot.errors import ConfigError

log = logging.getLogger(__name__)

ENV_KEY = "VOICEBOT_RECORDING_KEY"
ENV_KEY_FILE = "VOICEBOT_KEY_FILE"
FORMAT = "voicebot-keys"
KEY_BYTES = 32


@dataclass(frozen=True, slots=True)
class MasterKey:
    material: bytes = field(repr=False)
    created: str = ""

    def __post_init__(self) -> None:
        if len(self.material) != KEY_BYTES:
            raise ConfigError(f"a recording key is {KEY_BYTES} bytes, got {len(self.material)}")

    @property
    def id(self) -> str:
        return hmac.new(self.material, b"voicebot/key-id", hashlib.sha256).hexdigest()[:16]

    @classmethod
    def generate(cls) -> MasterKey:
        return cls(secrets.token_bytes(KEY_BYTES), _now())

    def encoded(self) -> str:
        return base64.b64encode(self.material).decode("ascii")


def _now() -> str:
    return dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat()


def decode_key(text: str, *, what: str) -> bytes:
    """32 bytes from base64 (standard or URL-safe) or 64 hex digits; a clear error otherwise."""
    text = text.strip()
    raw: bytes | None = None
    if len(text) == 2 * KEY_BYTES:
        try:
            raw = bytes.fromhex(text)
        except ValueError:
            raw = None
    if raw is None:
        try:
            raw = base64.b64decode(text.replace("-", "+").replace("_", "/"), validate=True)
        except (binascii.Error, ValueError):
            raw = None
    if raw is None or len(raw) != KEY_BYTES:
        raise ConfigError(
            f"{what} must be {KEY_BYTES} bytes in base64 or hex (`voicebot keys generate --print` makes one)"
        )
    return raw


def _derive_path_key(key: MasterKey) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"voicebot/path-key").derive(key.material)


@dataclass(slots=True)
class Keyring:
    """The master keys one process can use, which one is current, and the path key."""

    keys: dict[str, MasterKey]
    current_id: str
    path_key: bytes = field(repr=False)
    source: str = ""  # "key file X" / "VOICEBOT_RECORDING_KEY", for messages
    file: Path | None = None

    @property
    def current(self) -> MasterKey:
        return self.keys[self.current_id]

    def get(self, key_id: str) -> MasterKey | None:
        return self.keys.get(key_id)

    def describe(self) -> str:
        return f"{', '.join(sorted(self.keys))} from {self.source}"

    def subject_digest(self, subject: str) -> str:
        """The keyed hash that names a person's folder: 128 bits of HMAC-SHA256, in hex."""
        return hmac.new(self.path_key, subject.encode("utf-8"), hashlib.sha256).hexdigest()[:32]

    # ------------------------------------------------------------------ key files
    def to_json(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "version": 1,
            "current": self.current_id,
            "path_key": base64.b64encode(self.path_key).decode("ascii"),
            "keys": [{"id": k.id, "key": k.encoded(), "created": k.created} for k in self.keys.values()],
        }

    def save(self, path: Path) -> None:
        """Write the key file atomically, readable by its owner only."""
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        except OSError as exc:
            raise ConfigError(f"cannot write key file {path}: {exc.strerror or exc}") from None
        with os.fdopen(fd, "w") as f:
            json.dump(self.to_json(), f, indent=2)
            f.write("\n")
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
        self.file = path

    @classmethod
    def new(cls, key: MasterKey | None = None) -> Keyring:
        key = key or MasterKey.generate()
        return cls({key.id: key}, key.id, secrets.token_bytes(32), "a new key")

    @classmethod
    def from_file(cls, path: Path) -> Keyring:
        try:
            text = path.read_text()
        except OSError as exc:
            raise ConfigError(f"cannot read key file {path}: {exc.strerror or exc}") from None
        if path.stat().st_mode & 0o077:
            log.warning("key file %s can be read by other users; chmod 600 it", path)
        try:
            data = json.loads(text)
            if not isinstance(data, Mapping) or data.get("format") != FORMAT:
                raise ValueError("not a voicebot key file")
            if data.get("version") != 1:
                raise ValueError(f"unsupported version {data.get('version')!r}")
            keys: dict[str, MasterKey] = {}
            for entry in data["keys"]:
                key = MasterKey(decode_key(str(entry["key"]), what=f"key {entry.get('id')!r}"), str(entry["created"]))
                if key.id != entry["id"]:
                    raise ValueError(f"key {entry['id']!r} does not match its id (edited?)")
                keys[key.id] = key
            current = str(data["current"])
            if current not in keys:
                raise ValueError(f"current key {current!r} is not in the file")
            path_key = decode_key(str(data["path_key"]), what="path_key")
        except ConfigError as exc:
            raise ConfigError(f"key file {path}: {exc}") from None
        except (ValueError, KeyError, TypeError) as exc:
            raise ConfigError(f"key file {path}: {exc}") from None
        return cls(keys, current, path_key, f"key file {path}", path)

    @classmethod
    def from_env_key(cls, text: str) -> Keyring:
        key = MasterKey(decode_key(text, what=ENV_KEY))
        return cls({key.id: key}, key.id, _derive_path_key(key), ENV_KEY)

    def add(self, key: MasterKey, *, current: bool) -> None:
        self.keys[key.id] = key
        if current:
            self.current_id = key.id

    def retire_all_but_current(self) -> list[str]:
        gone = [k for k in self.keys if k != self.current_id]
        for k in gone:
            del self.keys[k]
        return gone


def load_keyring(key_file: Path | None = None, env: Mapping[str, str] | None = None) -> Keyring | None:
    """The keys this process has: ``key_file`` (or ``$VOICEBOT_KEY_FILE``), else
    ``$VOICEBOT_RECORDING_KEY``; None when there is neither. With both, the environment key is
    added for reading."""
    env = os.environ if env is None else env
    if key_file is None and env.get(ENV_KEY_FILE):
        key_file = Path(env[ENV_KEY_FILE])
    env_key = env.get(ENV_KEY)
    if key_file is not None:
        ring = Keyring.from_file(key_file)
        if env_key:
            extra = Keyring.from_env_key(env_key)
            ring.keys.setdefault(extra.current_id, extra.current)
        return ring
    if env_key:
        return Keyring.from_env_key(env_key)
    return None


NO_KEY_HELP = f"set {ENV_KEY} or pass --key-file FILE (make one with `voicebot keys generate -o FILE`)"


def require_keyring(key_file: Path | None = None, *, why: str) -> Keyring:
    ring = load_keyring(key_file)
    if ring is None:
        raise ConfigError(f"{why} needs a recording key: {NO_KEY_HELP}")
    return ring


__all__ = [
    "ENV_KEY",
    "ENV_KEY_FILE",
    "NO_KEY_HELP",
    "Keyring",
    "MasterKey",
    "decode_key",
    "load_keyring",
    "require_keyring",
]
