"""Callee profiles in Redis, shared by several dialer processes.

Implements :class:`voicebot.flow.context.ContextStore`. Per callee, under ``{prefix}{callee}``:

* ``...:calls`` a list of JSON :class:`~voicebot.flow.context.CallRecord` (newest last, trimmed
  to ``max_records``);
* ``...:meta`` a hash with ``total_calls`` and ``do_not_call``.

A record is appended with one MULTI/EXEC transaction, so concurrent processes never lose a call.
``ttl_s`` (optional) makes profiles expire for data-retention rules; ``erase`` deletes them.
"""

from __future__ import annotations

from typing import Any

from voicebot.errors import DependencyError
from voicebot.flow.context import MAX_RECORDS, CalleeProfile, CallRecord


class RedisContextStore:
    """A :class:`~voicebot.flow.context.ContextStore` backed by Redis (``redis`` package)."""

    def __init__(
        self,
        url: str = "redis://127.0.0.1:6379/0",
        *,
        prefix: str = "voicebot:callee:",
        max_records: int = MAX_RECORDS,
        ttl_s: int | None = None,
        client: Any = None,
    ) -> None:
        if client is None:
            try:
                import redis
            except ImportError:
                raise DependencyError(
                    "the Redis context store needs the 'redis' package: pip install 'voicebot[redis]'"
                ) from None
            client = redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=5)
        self.client = client
        self.prefix = prefix
        self.max_records = max_records
        self.ttl_s = ttl_s

    def _keys(self, callee: str) -> tuple[str, str]:
        base = self.prefix + callee
        return base + ":calls", base + ":meta"

    def profile(self, callee: str) -> CalleeProfile:
        calls_key, meta_key = self._keys(callee)
        pipe = self.client.pipeline(transaction=False)
        pipe.lrange(calls_key, 0, -1)
        pipe.hgetall(meta_key)
        raw_calls, meta = pipe.execute()
        records = tuple(CallRecord.from_json(r) for r in raw_calls)
        meta = {
            (k.decode() if isinstance(k, bytes) else k): (v.decode() if isinstance(v, bytes) else v)
            for k, v in (meta or {}).items()
        }
        return CalleeProfile(
            callee=callee,
            records=records,
            do_not_call=meta.get("do_not_call") == "1",
            total_calls=int(meta.get("total_calls", 0)),
        )

    def record(self, callee: str, record: CallRecord) -> CalleeProfile:
        calls_key, meta_key = self._keys(callee)
        pipe = self.client.pipeline(transaction=True)
        pipe.rpush(calls_key, record.to_json())
        pipe.ltrim(calls_key, -self.max_records, -1)
        pipe.hincrby(meta_key, "total_calls", 1)
        if record.do_not_call:
            pipe.hset(meta_key, "do_not_call", "1")
        if self.ttl_s is not None:
            pipe.expire(calls_key, self.ttl_s)
            pipe.expire(meta_key, self.ttl_s)
        pipe.execute()
        return self.profile(callee)

    def erase(self, callee: str) -> bool:
        return int(self.client.delete(*self._keys(callee))) > 0

    def close(self) -> None:
        self.client.close()
