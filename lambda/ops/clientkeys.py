"""Per-client HMAC keys from one Secrets Manager secret, cached in memory with a short TTL.

Secret (SecretString)::

    {"clients": {"<client id>": {"keys": ["<base64, >= 32 bytes>", ...], "disabled": false}}}

Several keys per client allow rotation without downtime: add the new key, move clients to
it, remove the old one. A request signed with any listed key is accepted. ``disabled: true``
rejects every request of that client. Both take effect within the cache TTL.

This module is the one definition of that document: the authorizer parses it here, and
operators edit it with ``drctl client-keys`` (drctl/clientkeys.py), which uses the editing
functions below (``add_key``, ``rotate_key``, ``set_disabled``, ``describe``), so the writer
and the reader cannot disagree on the format.

The secret is replicated to the DR region (same name), so each region reads its own copy:
no call to the primary region. When a refresh fails (Secrets Manager unavailable, or a
secret that does not parse), the last good keys keep being used for up to ``max_stale``
seconds (logged), then requests fail with an error (500, never a silent allow).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ops.signing import CLIENT_ID_RE, decode_key, new_key

__all__ = ["new_key"]  # re-exported: drctl makes keys through this module


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


# -- editing the document (drctl client-keys) -------------------------------------------------

EMPTY_SECRET = '{"clients": {}}'


def fingerprint(key_b64: str) -> str:
    """Names a key without revealing it: the first 12 hex digits of its SHA-256."""
    return hashlib.sha256(decode_key(key_b64)).hexdigest()[:12]


def _document(text: str | None) -> dict[str, Any]:
    """The secret's JSON, validated by the reader's own parser (an empty secret = no clients)."""
    text = text if text and text.strip() else EMPTY_SECRET
    parse_secret(text)
    doc: dict[str, Any] = json.loads(text)
    return doc


def _render(doc: dict[str, Any]) -> str:
    rendered = json.dumps(doc, sort_keys=True, separators=(",", ":"))
    parse_secret(rendered)      # never write what the authorizer would refuse
    return rendered


def _checked(client_id: str, key_b64: str) -> None:
    if not CLIENT_ID_RE.fullmatch(client_id):
        raise SecretInvalid(f"client id {client_id[:64]!r}: use 1-64 of A-Z a-z 0-9 _ . -")
    decode_key(key_b64)         # ValueError: not base64 of >= MIN_KEY_BYTES bytes


def add_key(text: str | None, client_id: str, key_b64: str) -> str:
    """A new client with this key, or one more key for an existing client (both accepted)."""
    _checked(client_id, key_b64)
    doc = _document(text)
    entry = doc["clients"].setdefault(client_id, {"keys": [], "disabled": False})
    if key_b64 not in entry["keys"]:
        entry["keys"].append(key_b64)
    return _render(doc)


def rotate_key(text: str | None, client_id: str, key_b64: str) -> str:
    """The client's keys become exactly this one: every other key is refused from then on."""
    _checked(client_id, key_b64)
    doc = _document(text)
    if client_id not in doc["clients"]:
        raise SecretInvalid(f"no client {client_id!r} (add it first)")
    doc["clients"][client_id]["keys"] = [key_b64]
    return _render(doc)


def set_disabled(text: str | None, client_id: str, disabled: bool) -> str:
    doc = _document(text)
    if client_id not in doc["clients"]:
        raise SecretInvalid(f"no client {client_id!r}")
    doc["clients"][client_id]["disabled"] = disabled
    return _render(doc)


def describe(text: str | None) -> list[dict[str, Any]]:
    """Per client: id, disabled, key fingerprints and unusable keys; never key material."""
    rows = []
    for client_id, entry in sorted(_document(text)["clients"].items()):
        keys = [str(k) for k in entry.get("keys", [])]
        usable = []
        for key in keys:
            with contextlib.suppress(ValueError):     # counted as invalid below
                usable.append(fingerprint(key))
        rows.append({"client": client_id, "disabled": entry.get("disabled", False) is not False,
                     "keys": usable, "invalid_keys": len(keys) - len(usable)})
    return rows
