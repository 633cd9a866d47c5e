"""Per-client HMAC keys from one Secrets Manager secret, cached in memory with a short TTL.

Secret (SecretString)::

    {"clients": {"<client id>": {"keys": [{"key": "<base64, >= 32 bytes>",
                                           "notAfter": "2027-12-07T18:00:00Z"}, ...],
                                  "disabled": false}}}

Several keys per client allow rotation without downtime: add the new key, move clients to
it, remove the old one. A request signed with any listed key is accepted until that key's
``notAfter`` (UTC); past it the key is refused like an unknown one (the authorizer logs
``key_expired`` with the client id). ``disabled: true`` rejects every request of that
client. Both take effect within the cache TTL. A key written as a bare base64 string (the
format before expiry existed) has no end: the authorizer refuses it where
``CLIENT_KEYS_REQUIRE_EXPIRY`` is true (prod-like environments) and accepts it elsewhere, so
a dev or qa environment keeps working until ``drctl client-keys set-expiry`` stamps it.

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

import calendar
import contextlib
import hashlib
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from contract import CLIENT_KEY_MAX_DAYS, CLIENT_KEY_NOT_AFTER, CLIENT_KEY_TIME_FORMAT, ENV_CLIENT_KEYS_REQUIRE_EXPIRY
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
    # Per key (same order as `keys`): end of validity, epoch seconds; None for a bare key.
    not_after: tuple[float | None, ...] = ()

    def valid_at(self, now: float, *, require_expiry: bool) -> tuple[bytes, ...]:
        """The keys a request may be signed with at `now`."""
        ends = self.not_after or (None,) * len(self.keys)
        return tuple(k for k, end in zip(self.keys, ends, strict=True)
                     if (end is not None and now < end) or (end is None and not require_expiry))


def days_left(clients: dict[str, ClientEntry], now: float) -> float | None:
    """Days until the first enabled client has no key left (each client ends with its
    latest-ending key: an old key ending during a rotation is not a lockout). Clients with a
    key without an end never run out; None when no client has an end. Never a key."""
    ends = [max(e for e in entry.not_after if e is not None) for entry in clients.values()
            if not entry.disabled and entry.not_after and None not in entry.not_after]
    return (min(ends) - now) / 86400 if ends else None


def parse_time(text: str) -> float:
    """`2027-12-07T18:00:00Z` -> epoch seconds (UTC); ValueError otherwise."""
    return float(calendar.timegm(time.strptime(text, CLIENT_KEY_TIME_FORMAT)))


def format_time(epoch: float) -> str:
    return time.strftime(CLIENT_KEY_TIME_FORMAT, time.gmtime(epoch))


def _key_item(item: object) -> tuple[bytes, float | None]:
    """One entry of `keys`: a bare base64 string, or {"key": ..., "notAfter": ...}."""
    if isinstance(item, dict):
        if set(item) != {"key", CLIENT_KEY_NOT_AFTER}:
            raise ValueError("a key object is exactly {key, notAfter}")
        return decode_key(str(item["key"])), parse_time(str(item[CLIENT_KEY_NOT_AFTER]))
    return decode_key(str(item)), None


def _key_text(item: object) -> str:
    return str(item["key"]) if isinstance(item, dict) else str(item)


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
        keys, ends, invalid = [], [], 0
        for item in raw_keys:
            try:
                key, end = _key_item(item)
            except ValueError:
                invalid += 1
                continue
            keys.append(key)
            ends.append(end)
        parsed[client_id] = ClientEntry(tuple(keys), entry.get("disabled", False) is not False,
                                        invalid, tuple(ends))
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


def not_after(now: float, days: int) -> str:
    """The end of a key issued at `now` for `days` (1 to CLIENT_KEY_MAX_DAYS)."""
    if not 1 <= days <= CLIENT_KEY_MAX_DAYS:
        raise ValueError(f"a key is valid for 1 to {CLIENT_KEY_MAX_DAYS} days, not {days}")
    return format_time(now + days * 86400)


def add_key(text: str | None, client_id: str, key_b64: str, *, until: str) -> str:
    """A new client with this key, or one more key for an existing client (both accepted
    until `until`, a CLIENT_KEY_TIME_FORMAT time)."""
    _checked(client_id, key_b64)
    parse_time(until)
    doc = _document(text)
    entry = doc["clients"].setdefault(client_id, {"keys": [], "disabled": False})
    if key_b64 not in [_key_text(k) for k in entry["keys"]]:
        entry["keys"].append({"key": key_b64, CLIENT_KEY_NOT_AFTER: until})
    return _render(doc)


def rotate_key(text: str | None, client_id: str, key_b64: str, *, until: str) -> str:
    """The client's keys become exactly this one: every other key is refused from then on."""
    _checked(client_id, key_b64)
    parse_time(until)
    doc = _document(text)
    if client_id not in doc["clients"]:
        raise SecretInvalid(f"no client {client_id!r} (add it first)")
    doc["clients"][client_id]["keys"] = [{"key": key_b64, CLIENT_KEY_NOT_AFTER: until}]
    return _render(doc)


def key_item(key_b64: str, *, now: float | None = None, days: int = CLIENT_KEY_MAX_DAYS,
             ) -> dict[str, str]:
    """One key as the secret holds it, valid `days` from `now` (default: the wall clock)."""
    return {"key": key_b64, CLIENT_KEY_NOT_AFTER: not_after(time.time() if now is None else now, days)}


def seed_document(client_id: str, key_b64: str) -> str:
    """A secret value holding one client with one key (tests, the twin, a first seed)."""
    return add_key(None, client_id, key_b64, until=key_item(key_b64)[CLIENT_KEY_NOT_AFTER])


def set_expiry(text: str | None, client_id: str, *, until: str) -> str:
    """Give the client's keys that have no end (bare keys) this one; keys with an end keep it."""
    parse_time(until)
    doc = _document(text)
    if client_id not in doc["clients"]:
        raise SecretInvalid(f"no client {client_id!r}")
    entry = doc["clients"][client_id]
    entry["keys"] = [k if isinstance(k, dict) else {"key": str(k), CLIENT_KEY_NOT_AFTER: until}
                     for k in entry.get("keys", [])]
    return _render(doc)


def set_disabled(text: str | None, client_id: str, disabled: bool) -> str:
    doc = _document(text)
    if client_id not in doc["clients"]:
        raise SecretInvalid(f"no client {client_id!r}")
    doc["clients"][client_id]["disabled"] = disabled
    return _render(doc)


def describe(text: str | None) -> list[dict[str, Any]]:
    """Per client: id, disabled, key fingerprints with their ends (None: no end) and unusable
    keys; never key material."""
    rows = []
    for client_id, entry in sorted(_document(text)["clients"].items()):
        items = list(entry.get("keys", []))
        usable = []
        for item in items:
            with contextlib.suppress(ValueError):     # counted as invalid below
                _key_item(item)
                usable.append({"fingerprint": fingerprint(_key_text(item)),
                               CLIENT_KEY_NOT_AFTER: item[CLIENT_KEY_NOT_AFTER]
                               if isinstance(item, dict) else None})
        rows.append({"client": client_id, "disabled": entry.get("disabled", False) is not False,
                     "keys": usable, "invalid_keys": len(items) - len(usable)})
    return rows


def expiry_problems(text: str | None, now: float, *, warn_days: int) -> list[str]:
    """What `drctl client-keys check` reports: for each enabled client, keys without an end,
    keys ending within `warn_days` or further away than CLIENT_KEY_MAX_DAYS (drctl never
    writes those), and a client left with no valid key. Fingerprints only."""
    problems = []
    for row in describe(text):
        if row["disabled"]:
            continue
        client, valid = row["client"], 0
        for key in row["keys"]:
            end = key[CLIENT_KEY_NOT_AFTER]
            if end is None:
                problems.append(f"{client}: key {key['fingerprint']} has no notAfter "
                                f"(refused where {ENV_CLIENT_KEYS_REQUIRE_EXPIRY} is on: set-expiry)")
                continue
            left = parse_time(end) - now
            if left <= 0:
                problems.append(f"{client}: key {key['fingerprint']} expired at {end}")
                continue
            valid += 1
            if left > CLIENT_KEY_MAX_DAYS * 86400 + 86400:     # a day of slack for clocks
                problems.append(f"{client}: key {key['fingerprint']} ends at {end}, more than "
                                f"{CLIENT_KEY_MAX_DAYS} days away (written by hand?): rotate it")
            elif left < warn_days * 86400:
                problems.append(f"{client}: key {key['fingerprint']} expires at {end} "
                                f"({left / 86400:.0f} days): add a new key and give it to the client")
        if not valid and not any(k[CLIENT_KEY_NOT_AFTER] is None for k in row["keys"]):
            problems.append(f"{client}: no valid key: every request of the client is refused")
    return problems
