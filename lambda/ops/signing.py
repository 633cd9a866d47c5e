"""Request signing for ``POST /validate`` (HMAC-SHA256), shared by clients, the authorizer,
the validator and the tests. Standard library only: a client can copy this one file.

Why the body is covered through a header: an API Gateway REQUEST authorizer receives the
headers, path, method, query string, stage variables and request context, but never the
body. So the client signs ``X-Content-SHA256`` (hex SHA-256 of the exact body bytes), the
authorizer verifies the signature over it, and the validator checks that the body it
receives hashes to that header (:func:`body_hash_matches`). Both checks are needed.

String to sign (lines joined with ``\\n``, no trailing newline)::

    PAYMENTS-HMAC-SHA256
    <METHOD>                 e.g. POST
    <resource path>          /validate  (never the stage, base path or host)
    <client id>              X-Client-Id
    <timestamp>              X-Timestamp, integer epoch seconds
    <nonce>                  X-Nonce, 16-128 chars of A-Z a-z 0-9 _ -
    <content sha256>         X-Content-SHA256, 64 lower-case hex digits

``X-Signature`` = HMAC-SHA256(key, string to sign) as 64 hex digits (or standard base64).
The host is not signed, so one signed request is valid against the custom domain and
either region's API unchanged; the nonce and the 300 s timestamp window limit replays.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
import secrets
import time
from collections.abc import Mapping

ALGORITHM = "PAYMENTS-HMAC-SHA256"

CLIENT_ID_HEADER = "X-Client-Id"
TIMESTAMP_HEADER = "X-Timestamp"
NONCE_HEADER = "X-Nonce"
CONTENT_SHA256_HEADER = "X-Content-SHA256"
SIGNATURE_HEADER = "X-Signature"
SIGNED_HEADERS = (CLIENT_ID_HEADER, TIMESTAMP_HEADER, NONCE_HEADER, CONTENT_SHA256_HEADER, SIGNATURE_HEADER)

CLIENT_ID_RE = re.compile(r"[A-Za-z0-9_.-]{1,64}")
TIMESTAMP_RE = re.compile(r"[0-9]{1,12}")
NONCE_RE = re.compile(r"[A-Za-z0-9_-]{16,128}")
SHA256_HEX_RE = re.compile(r"[0-9a-fA-F]{64}")
MIN_KEY_BYTES = 32


def content_sha256(body: bytes) -> str:
    """Hex SHA-256 of the exact body bytes (``sha256(b"")`` for an empty body)."""
    return hashlib.sha256(body).hexdigest()


def string_to_sign(*, method: str, path: str, client_id: str, timestamp: int | str, nonce: str,
                   body_sha256: str) -> str:
    return "\n".join([ALGORITHM, method.upper(), path, client_id, str(timestamp), nonce, body_sha256.lower()])


def sign(key: bytes, message: str) -> str:
    """HMAC-SHA256 of ``message`` as 64 lower-case hex digits."""
    return hmac.new(key, message.encode("utf-8"), hashlib.sha256).hexdigest()


def decode_signature(value: str) -> bytes | None:
    """The 32 signature bytes from hex or base64 (standard or URL-safe); None if neither."""
    value = value.strip()
    if len(value) == 64:
        try:
            return bytes.fromhex(value)
        except ValueError:
            return None
    try:
        raw = base64.b64decode(value.replace("-", "+").replace("_", "/"), validate=True)
    except (binascii.Error, ValueError):
        return None
    return raw if len(raw) == 32 else None


def signature_matches(keys: tuple[bytes, ...], message: str, signature: bytes) -> int | None:
    """Index of the key that produced ``signature`` (constant-time compare per key), else None."""
    found = None
    for index, key in enumerate(keys):
        expected = hmac.new(key, message.encode("utf-8"), hashlib.sha256).digest()
        if hmac.compare_digest(expected, signature) and found is None:
            found = index
    return found


def decode_key(text: str) -> bytes:
    """A client key as stored in the secret: standard base64 of at least 32 random bytes."""
    raw = base64.b64decode(text, validate=True)
    if len(raw) < MIN_KEY_BYTES:
        raise ValueError(f"key is {len(raw)} bytes; at least {MIN_KEY_BYTES} are required")
    return raw


def new_key() -> str:
    """A fresh client key (base64 of 32 random bytes), as stored in the secret."""
    return base64.b64encode(secrets.token_bytes(32)).decode("ascii")


def signed_headers(*, key_b64: str, client_id: str, body: bytes, method: str = "POST",
                   path: str = "/validate", timestamp: int | None = None, nonce: str | None = None) -> dict[str, str]:
    """The five headers a client sends with ``body`` (plus its own Content-Type)."""
    ts = int(time.time()) if timestamp is None else int(timestamp)
    nonce = nonce or secrets.token_urlsafe(18)
    digest = content_sha256(body)
    message = string_to_sign(method=method, path=path, client_id=client_id, timestamp=ts, nonce=nonce,
                             body_sha256=digest)
    return {
        CLIENT_ID_HEADER: client_id,
        TIMESTAMP_HEADER: str(ts),
        NONCE_HEADER: nonce,
        CONTENT_SHA256_HEADER: digest,
        SIGNATURE_HEADER: sign(base64.b64decode(key_b64), message),
    }


# ----------------------------------------------------------------------------- validator side


def request_body_bytes(body: str | None, is_base64_encoded: bool) -> bytes | None:
    """The bytes the client sent, as API Gateway's proxy event carries them; None if undecodable."""
    if body is None:
        return b""
    if is_base64_encoded:
        try:
            return base64.b64decode(body, validate=True)
        except (binascii.Error, ValueError):
            return None
    try:
        return body.encode("utf-8")
    except UnicodeEncodeError:
        return None


def body_hash_matches(declared: str | None, body: str | None, is_base64_encoded: bool) -> bool:
    """True when the proxy event's body hashes to the signed ``X-Content-SHA256`` header.

    The validator calls this before anything else (before parsing, before the idempotency
    record): a False means the body is not the one the client signed, so answer 403 and
    write nothing. A missing or malformed header is False.
    """
    if not declared or not SHA256_HEX_RE.fullmatch(declared.strip()):
        return False
    raw = request_body_bytes(body, is_base64_encoded)
    if raw is None:
        return False
    return hmac.compare_digest(content_sha256(raw), declared.strip().lower())


def header(headers: Mapping[str, str] | None, name: str) -> str | None:
    """Case-insensitive header lookup (API Gateway keeps the client's spelling)."""
    if not headers:
        return None
    wanted = name.lower()
    for key, value in headers.items():
        if key.lower() == wanted:
            return value
    return None


def authorized_client(request_context: Mapping[str, object] | None) -> str | None:
    """The client id the authorizer put in ``requestContext.authorizer`` (None when absent).

    The validator can refuse requests without it (403): a deployment that lost the
    authorizer then fails closed instead of accepting unsigned payments.
    """
    authorizer = (request_context or {}).get("authorizer")
    if not isinstance(authorizer, Mapping):
        return None
    value = authorizer.get("clientId")
    return value if isinstance(value, str) and CLIENT_ID_RE.fullmatch(value) else None
