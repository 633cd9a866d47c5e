"""Pure validation and money rules for ``POST /validate``.

Nothing in this module talks to AWS, reads the environment or the clock: every
input is an argument, so the rules are unit-tested without moto.

Money is never a float.  JSON is parsed with hooks that keep the *literal text*
of every number, so ``100.00`` is validated as written (exponents, signs and
precision included) and converted to :class:`decimal.Decimal` only after it has
passed the lexical rule.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from contract import ENV_MAX_AMOUNT, RECEIPTS_PREFIX
from payments.currencies import DEFAULT_CURRENCY, minor_units

# --------------------------------------------------------------------------- rules

#: Largest accepted request body, in bytes (after base64 decoding).
MAX_BODY_BYTES = 8 * 1024

#: Identifiers: 1-64 characters of ASCII letters, digits, ``_`` and ``-``.
IDENTIFIER_RE = re.compile(r"[A-Za-z0-9_-]{1,64}")

#: Amount literal: no sign, no leading zeros, no exponent, optional fraction.
AMOUNT_RE = re.compile(r"(?:0|[1-9][0-9]*)(?:\.[0-9]+)?")
MAX_AMOUNT_LITERAL_CHARS = 32

CURRENCY_RE = re.compile(r"[A-Z]{3}")

REQUIRED_FIELDS = ("transactionId", "customerId", "amount")
#: ``clientId`` in the body is optional and only checked: the authenticated client (the
#: authorizer's context) is the one recorded; a body naming another client is refused (403).
OPTIONAL_FIELDS = ("currency", "clientId")
ALLOWED_FIELDS = frozenset(REQUIRED_FIELDS + OPTIONAL_FIELDS)

#: Status written for an accepted (validated and recorded) payment.
STATUS_VALIDATED = "VALIDATED"

RECEIPT_SCHEMA_VERSION = 1
RECORD_SCHEMA_VERSION = 1


# --------------------------------------------------------------------------- errors


class RequestError(Exception):
    """A client error: the request is rejected and nothing is written.

    ``code`` is a stable machine-readable error code, ``field`` names the offending
    request field when there is one.
    """

    def __init__(self, status: int, code: str, message: str, field: str | None = None):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.field = field

    def to_body(self) -> dict[str, Any]:
        error: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.field is not None:
            error["field"] = self.field
        return {"error": error}


def _bad(code: str, message: str, field: str | None = None) -> RequestError:
    return RequestError(400, code, message, field)


# --------------------------------------------------------------------------- JSON parsing


class JsonNumber:
    """A JSON number kept as its literal text (never converted to float)."""

    __slots__ = ("literal",)

    def __init__(self, literal: str):
        self.literal = literal

    def __repr__(self) -> str:  # pragma: no cover - debugging aid
        return f"JsonNumber({self.literal!r})"


class _DuplicateKey(ValueError):
    def __init__(self, key: str):
        super().__init__(key)
        self.key = key


def _object_pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj: dict[str, Any] = {}
    for key, value in pairs:
        if key in obj:
            raise _DuplicateKey(key)
        obj[key] = value
    return obj


def parse_json(text: str) -> Any:
    """Parse JSON keeping every number (int, float, NaN, Infinity) as :class:`JsonNumber`.

    Equivalent to ``json.loads(text, parse_float=Decimal)`` for money safety, but
    keeps the literal so that the amount rule can reject exponents and signs.
    Raises :class:`RequestError` for invalid JSON and duplicate object keys.
    """
    try:
        return json.loads(
            text,
            parse_float=JsonNumber,
            parse_int=JsonNumber,
            parse_constant=JsonNumber,
            object_pairs_hook=_object_pairs,
        )
    except _DuplicateKey as exc:
        raise _bad("DUPLICATE_FIELD", "field appears more than once in the JSON object", _safe_field(exc.key)) from None
    except RecursionError:
        raise _bad("INVALID_JSON", "request body is nested too deeply") from None
    except ValueError:  # json.JSONDecodeError is a ValueError
        raise _bad("INVALID_JSON", "request body is not valid JSON") from None


def _safe_field(name: str) -> str:
    """Echo a client-supplied field name back safely (bounded, printable ASCII)."""
    cleaned = "".join(ch if 0x20 <= ord(ch) < 0x7F else "?" for ch in name[:64])
    return cleaned


# --------------------------------------------------------------------------- transport checks


def check_content_type(content_type: str | None) -> None:
    """Accept ``application/json`` with an optional ``charset=utf-8`` parameter only.

    Anything else (missing header, ``text/plain``, form encoding, another charset)
    is rejected with 415 ``UNSUPPORTED_MEDIA_TYPE``.
    """
    if not content_type:
        raise RequestError(415, "UNSUPPORTED_MEDIA_TYPE", "Content-Type must be application/json")
    media_type, *params = (part.strip() for part in content_type.split(";"))
    if media_type.lower() != "application/json":
        raise RequestError(415, "UNSUPPORTED_MEDIA_TYPE", "Content-Type must be application/json")
    for param in params:
        if not param:
            continue
        name, _, value = param.partition("=")
        if name.strip().lower() != "charset" or value.strip().strip('"').lower() != "utf-8":
            raise RequestError(415, "UNSUPPORTED_MEDIA_TYPE", "only charset=utf-8 is supported")


def decode_body(body: str | None, is_base64_encoded: bool, max_bytes: int = MAX_BODY_BYTES) -> str:
    """Return the request body as text, enforcing the size limit (413) and UTF-8 (400)."""
    if body is None or body == "":
        raise _bad("INVALID_JSON", "request body is empty")
    if is_base64_encoded:
        # 4 base64 chars encode 3 bytes: reject early before allocating.
        if len(body) > (max_bytes + 2) // 3 * 4 + 4:
            raise RequestError(413, "PAYLOAD_TOO_LARGE", f"request body exceeds {max_bytes} bytes")
        try:
            raw = base64.b64decode(body, validate=True)
        except (binascii.Error, ValueError):
            raise _bad("INVALID_JSON", "request body is not valid base64") from None
    else:
        # API Gateway hands us text; measure the UTF-8 size the client sent.
        if len(body) > max_bytes:
            raise RequestError(413, "PAYLOAD_TOO_LARGE", f"request body exceeds {max_bytes} bytes")
        try:
            raw = body.encode("utf-8")
        except UnicodeEncodeError:
            raise _bad("INVALID_JSON", "request body is not valid UTF-8") from None
    if len(raw) > max_bytes:
        raise RequestError(413, "PAYLOAD_TOO_LARGE", f"request body exceeds {max_bytes} bytes")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise _bad("INVALID_JSON", "request body is not valid UTF-8") from None


# --------------------------------------------------------------------------- field rules


@dataclass(frozen=True)
class PaymentRequest:
    """A validated, canonical payment request."""

    transaction_id: str
    customer_id: str
    amount: Decimal  # quantized to the currency's minor units
    currency: str
    #: The authenticated client (API Gateway authorizer context); part of every key and the hash.
    client_id: str = ""

    @property
    def amount_text(self) -> str:
        """Canonical amount string with exactly the currency's minor units (e.g. ``"100.00"``)."""
        return format(self.amount, "f")

    @property
    def amount_minor_units(self) -> int:
        digits = minor_units(self.currency) or 0
        return int(self.amount.scaleb(digits))

    def canonical(self) -> dict[str, str]:
        """The canonical form used for idempotency payload validation and the request hash.

        ``100``, ``100.0`` and ``100.00`` (USD) share one canonical form.  The client id is part
        of it, so two clients' requests never share a hash or an idempotency key.
        """
        canonical = {
            "transactionId": self.transaction_id,
            "customerId": self.customer_id,
            "amount": self.amount_text,
            "currency": self.currency,
        }
        if self.client_id:
            canonical["clientId"] = self.client_id
        return canonical

    @property
    def scoped_id(self) -> str:
        """``<clientId>#<transactionId>``: unambiguous, since neither part may contain ``#``."""
        return scoped_id(self.client_id, self.transaction_id)

    def request_hash(self) -> str:
        return request_hash(self.canonical())


def request_hash(canonical: Mapping[str, str]) -> str:
    """SHA-256 (hex) of the canonical request serialised with sorted keys and no whitespace."""
    data = json.dumps(dict(canonical), sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(data.encode("ascii")).hexdigest()


def scoped_id(client_id: str, transaction_id: str) -> str:
    return f"{client_id}#{transaction_id}" if client_id else transaction_id


def _identifier(payload: Mapping[str, Any], field: str) -> str:
    value = payload[field]
    if not isinstance(value, str):
        raise _bad("INVALID_TYPE", f"{field} must be a string", field)
    if not IDENTIFIER_RE.fullmatch(value):
        raise _bad("INVALID_FORMAT", f"{field} must be 1-64 characters of A-Z, a-z, 0-9, '_' or '-'", field)
    return value


def _currency(payload: Mapping[str, Any]) -> tuple[str, int]:
    if "currency" not in payload:
        currency = DEFAULT_CURRENCY
    else:
        currency = payload["currency"]
        if not isinstance(currency, str):
            raise _bad("INVALID_TYPE", "currency must be a string", "currency")
        if not CURRENCY_RE.fullmatch(currency):
            raise _bad("INVALID_FORMAT", "currency must be an upper-case ISO 4217 code such as USD", "currency")
    digits = minor_units(currency)
    if digits is None:
        raise _bad("UNSUPPORTED_CURRENCY", f"currency {currency} is not supported", "currency")
    return currency, digits


def parse_amount(value: Any, currency: str, digits: int, max_amount: Decimal) -> Decimal:
    """Validate an amount (a :class:`JsonNumber` or a plain decimal string) and return it exactly.

    Rules: a JSON number or string written as ``<digits>[.<digits>]`` (no sign,
    exponent, leading zeros or whitespace; NaN/Infinity rejected); at most the
    currency's minor units after the point (trailing zeros count: ``1.000`` is
    rejected for USD); strictly positive; not above ``max_amount``.
    """
    field = "amount"
    if isinstance(value, JsonNumber):
        literal = value.literal
    elif isinstance(value, str):
        literal = value
    else:
        # bool, null, arrays and objects (bool is never a JsonNumber: json maps true/false to bool)
        raise _bad("INVALID_TYPE", "amount must be a JSON number such as 100.00", field)
    if len(literal) > MAX_AMOUNT_LITERAL_CHARS:
        raise _bad("INVALID_AMOUNT", "amount has too many digits", field)
    if literal in ("NaN", "Infinity", "-Infinity"):
        raise _bad("INVALID_AMOUNT", "amount must be a finite number", field)
    if "e" in literal or "E" in literal:
        raise _bad("INVALID_AMOUNT", "amount must not use exponent notation", field)
    if literal.startswith("-"):
        raise _bad("INVALID_AMOUNT", "amount must be positive", field)
    if not AMOUNT_RE.fullmatch(literal):
        raise _bad("INVALID_AMOUNT", "amount must be a plain decimal number such as 100.00", field)
    _, _, fraction = literal.partition(".")
    if len(fraction) > digits:
        raise _bad(
            "AMOUNT_PRECISION",
            f"amount has more than {digits} decimal places allowed for {currency}",
            field,
        )
    amount = Decimal(literal)
    if amount <= 0:
        raise _bad("INVALID_AMOUNT", "amount must be greater than zero", field)
    if amount > max_amount:
        raise _bad("AMOUNT_TOO_LARGE", f"amount must not exceed {max_amount}", field)
    return amount.quantize(Decimal(1).scaleb(-digits))


def validate_payload(payload: Any, max_amount: Decimal, client_id: str = "") -> PaymentRequest:
    """Validate a parsed JSON body and return the canonical :class:`PaymentRequest`.

    Checks run in a fixed order and the first failure is reported:
    body is an object -> no unknown fields -> required fields present ->
    transactionId -> customerId -> currency -> amount -> clientId (403 if it names a client
    other than ``client_id``, the authenticated one).
    """
    if not isinstance(payload, dict):
        raise _bad("INVALID_BODY", "request body must be a JSON object")
    unknown = sorted(key for key in payload if key not in ALLOWED_FIELDS)
    if unknown:
        raise _bad("UNKNOWN_FIELD", "field is not allowed", _safe_field(unknown[0]))
    for field in REQUIRED_FIELDS:
        if field not in payload:
            raise _bad("MISSING_FIELD", f"{field} is required", field)
    transaction_id = _identifier(payload, "transactionId")
    customer_id = _identifier(payload, "customerId")
    currency, digits = _currency(payload)
    amount = parse_amount(payload["amount"], currency, digits, max_amount)
    if "clientId" in payload:
        claimed = payload["clientId"]
        if not isinstance(claimed, str):
            raise _bad("INVALID_TYPE", "clientId must be a string", "clientId")
        if not client_id or claimed != client_id:
            raise RequestError(403, "CLIENT_ID_MISMATCH",
                               "clientId is not the client that signed the request", "clientId")
    return PaymentRequest(transaction_id, customer_id, amount, currency, client_id)


def parse_request(
    body: str | None,
    *,
    content_type: str | None,
    is_base64_encoded: bool,
    max_amount: Decimal,
    max_body_bytes: int = MAX_BODY_BYTES,
    client_id: str = "",
) -> PaymentRequest:
    """Full request check: media type (415), size (413), JSON (400), fields (400), clientId (403)."""
    check_content_type(content_type)
    text = decode_body(body, is_base64_encoded, max_body_bytes)
    return validate_payload(parse_json(text), max_amount, client_id)


def parse_max_amount(raw: str) -> Decimal:
    """Parse the MAX_AMOUNT setting (a positive plain decimal)."""
    if not AMOUNT_RE.fullmatch(raw.strip()):
        raise ValueError(f"{ENV_MAX_AMOUNT} must be a positive plain decimal, got {raw!r}")
    value = Decimal(raw.strip())
    if value <= 0:
        raise ValueError(f"{ENV_MAX_AMOUNT} must be greater than zero")
    return value


# --------------------------------------------------------------------------- records


def iso_utc(epoch_ms: int) -> str:
    return datetime.fromtimestamp(epoch_ms / 1000, tz=UTC).isoformat(timespec="milliseconds").replace(
        "+00:00", "Z"
    )


def receipt_key(transaction_id: str, client_id: str = "") -> str:
    """``receipts/<clientId>/<transactionId>.json`` (records written before client scoping, without
    a client id, keep ``receipts/<transactionId>.json``)."""
    if client_id:
        return f"{RECEIPTS_PREFIX}{client_id}/{transaction_id}.json"
    return f"{RECEIPTS_PREFIX}{transaction_id}.json"


def receipt_put_params(bucket: str, record: Mapping[str, Any]) -> dict[str, Any]:
    """The one PutObject of a receipt (validator and reconcile): only if none is there
    (``If-None-Match: *``); an explicit checksum, which Object Lock buckets require; no lock
    parameters, so a receipt takes the bucket's default retention."""
    return {"Bucket": bucket, "Key": record_receipt_key(record), "Body": build_receipt(record),
            "ContentType": "application/json", "IfNoneMatch": "*", "ChecksumAlgorithm": "SHA256"}


def record_receipt_key(record: Mapping[str, Any]) -> str:
    return str(record.get("receiptKey") or receipt_key(str(record["transactionId"]),
                                                        str(record.get("clientId") or "")))


def build_record(
    request: PaymentRequest,
    *,
    now_ms: int,
    region: str,
    region_role: str,
    api_request_id: str | None = None,
) -> dict[str, Any]:
    """The DynamoDB item for an accepted payment (amounts as exact Decimals)."""
    item: dict[str, Any] = {
        "transactionId": request.transaction_id,
        "timestamp": now_ms,
        "customerId": request.customer_id,
        "amount": Decimal(request.amount_text),
        "amountMinorUnits": request.amount_minor_units,
        "currency": request.currency,
        "status": STATUS_VALIDATED,
        "acceptedRegion": region,
        "regionRole": region_role,
        "acceptedAt": iso_utc(now_ms),
        "requestHash": request.request_hash(),
        "receiptKey": receipt_key(request.transaction_id, request.client_id),
        "schemaVersion": RECORD_SCHEMA_VERSION,
    }
    if request.client_id:
        item["clientId"] = request.client_id
    if api_request_id:
        item["apiRequestId"] = api_request_id
    return item


#: The claim of a (client, transaction id): one item on a fixed key in the transactions table,
#: written conditionally before the record.  Its key cannot collide with a record's: record
#: keys are raw transaction ids (no ``#``) with an epoch-ms sort key, claims sort at 0.
CLAIM_PREFIX = "claim#"
CLAIM_SORT_KEY = 0


def claim_key(request: PaymentRequest) -> dict[str, Any]:
    return {"transactionId": CLAIM_PREFIX + request.scoped_id, "timestamp": CLAIM_SORT_KEY}


def build_claim(request: PaymentRequest, *, now_ms: int, region: str, region_role: str,
                api_request_id: str | None = None) -> dict[str, Any]:
    """The claim: everything the record takes from the accepting attempt (time, region, request
    id), so that any region derives the identical record from it (:func:`record_from_claim`).

    No ``customerId`` and no ``status``: the claim stays out of both GSIs (and so out of the
    reconciliation's ``status-index`` window)."""
    item: dict[str, Any] = {
        **claim_key(request),
        "kind": "claim",
        "paymentTransactionId": request.transaction_id,
        "requestHash": request.request_hash(),
        "recordTimestamp": now_ms,
        "acceptedRegion": region,
        "regionRole": region_role,
        "schemaVersion": RECORD_SCHEMA_VERSION,
    }
    if request.client_id:
        item["clientId"] = request.client_id
    if api_request_id:
        item["apiRequestId"] = api_request_id
    return item


def record_from_claim(request: PaymentRequest, claim: Mapping[str, Any]) -> dict[str, Any]:
    """The record of a claim (the request is the claimed one: same hash)."""
    api_request_id = claim.get("apiRequestId")
    return build_record(request, now_ms=int(claim["recordTimestamp"]), region=str(claim["acceptedRegion"]),
                        region_role=str(claim["regionRole"]),
                        api_request_id=str(api_request_id) if api_request_id else None)


def _amount_text(record: Mapping[str, Any]) -> str:
    digits = minor_units(str(record["currency"])) or 0
    return format(Decimal(record["amount"]).quantize(Decimal(1).scaleb(-digits)), "f")


def build_receipt(record: Mapping[str, Any]) -> bytes:
    """Receipt JSON derived only from the stored record, so a retry writes identical bytes."""
    receipt = {
        "receiptVersion": RECEIPT_SCHEMA_VERSION,
        "transactionId": record["transactionId"],
        "customerId": record["customerId"],
        "amount": _amount_text(record),
        "currency": record["currency"],
        "status": record["status"],
        "acceptedRegion": record["acceptedRegion"],
        "regionRole": record["regionRole"],
        "timestamp": int(record["timestamp"]),
        "acceptedAt": record["acceptedAt"],
        "requestHash": record["requestHash"],
    }
    if record.get("clientId"):
        receipt["clientId"] = record["clientId"]
    return json.dumps(receipt, sort_keys=True, separators=(",", ":")).encode("utf-8")


def build_result(record: Mapping[str, Any]) -> dict[str, Any]:
    """The 200 response body (JSON-serialisable; stored by the idempotency layer)."""
    return {
        "transactionId": record["transactionId"],
        "status": record["status"],
        "region": record["acceptedRegion"],
        "amount": _amount_text(record),
        "currency": record["currency"],
        "acceptedAt": record["acceptedAt"],
    }
