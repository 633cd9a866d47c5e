"""Per-client HMAC keys from one Secrets Manager secret, cached in memory with a short TTL.

Secret (SecretString)::

    {"clients": {"<client id>": {"keys": ["<base64, >= 32 bytes>", ...], "disabled": false}}}

Several keys per client allow rotation without downtime: add the new key, move clients to
it, remove the old one. A request signed with any listed key is accepted. ``disabled: true``
rejects every request of that client. Both take effect within the cache TTL.

The secret is replicated to the DR region (same name), so each region reads its own copy:
no call to the primary region. When a refresh fails (Secrets Manager unavailable, or a
secret that does not parse), the last good keys keep being used for up to ``max_stale``
seconds (logged), then requests fail with an error (500, never a silent allow).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ops.signing import CLIENT_ID_RE, decode_key


class SecretInvalid(ValueError):
    """The secret's value is not the documented JSON."""


class KeysUnavailable(RuntimeError):
    """No usable keys: the secret cannot be read and nothing recent enough is cached."""


@dataclass(frozen=True)
class ClientEntry:
    keys: tuple[bytes, ...]
    disabled: bool
    invalid_keys: int = 0  # keys in the secret that are not base64 of >= 32 bytes (ignored)


def parse_secret(text: str) -> dict[str, ClientEntry]:
    try:
        doc = json.loads(text)
    except ValueError:
        raise SecretInvalid("secret is not JSON") from None
    clients = doc.get("clients") if isinstance(doc, dict) else None
    if not isinstance(clients, dict):
        raise SecretInvalid('secret must be {"clients": {"<id>": {"keys": [...], "disabled": false}}}')
    parsed: dict[str, ClientEntry] = {}
    for client_id, entry in clients.items():
        if not CLIENT_ID_RE.fullmatch(client_id) or not isinstance(entry, dict):
            raise SecretInvalid(f"client {client_id[:64]!r}: invalid id or entry")
        raw_keys = entry.get("keys", [])
        if not isinstance(raw_keys, list):
            raise SecretInvalid(f"client {client_id}: keys must be a list")
        keys, invalid = [], 0
        for text_key in raw_keys:
            try:
                keys.append(decode_key(str(text_key)))
            except ValueError:
                invalid += 1
        parsed[client_id] = ClientEntry(tuple(keys), entry.get("disabled", False) is not False, invalid)
    return parsed


class KeyCache:
    def __init__(self, fetch: Callable[[], str], *, ttl_seconds: float, max_stale_seconds: float,
                 clock: Callable[[], float] = time.monotonic, on_stale: Callable[[str], None] = lambda _: None):
        self._fetch = fetch
        self._ttl = ttl_seconds
        self._max_stale = max_stale_seconds
        self._clock = clock
        self._on_stale = on_stale
        self._clients: dict[str, ClientEntry] | None = None
        self._loaded_at = 0.0

    def clients(self) -> dict[str, ClientEntry]:
        now = self._clock()
        if self._clients is not None and now - self._loaded_at < self._ttl:
            return self._clients
        try:
            clients = parse_secret(self._fetch())
        except Exception as exc:  # AWS errors and SecretInvalid alike
            if self._clients is not None and now - self._loaded_at < self._max_stale:
                self._on_stale(f"{type(exc).__name__}: {exc}")
                return self._clients
            raise KeysUnavailable(f"client keys unavailable: {type(exc).__name__}: {exc}") from exc
        self._clients, self._loaded_at = clients, now
        return clients


def secrets_manager_fetch(client: Any, secret_id: str) -> Callable[[], str]:
    return lambda: client.get_secret_value(SecretId=secret_id)["SecretString"]
