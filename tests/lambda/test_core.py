"""Pure validation and money rules (no AWS)."""

from __future__ import annotations

import json
from decimal import Decimal

import lambda_support  # noqa: F401  (puts lambda/ on sys.path)
import pytest

from payments import core
from payments.currencies import MINOR_UNITS

MAX = Decimal("1000000.00")


def validate(body: dict | str) -> core.PaymentRequest:
    text = body if isinstance(body, str) else json.dumps(body)
    return core.parse_request(text, content_type="application/json", is_base64_encoded=False, max_amount=MAX)


def rejected(body: dict | str, **kwargs) -> core.RequestError:
    with pytest.raises(core.RequestError) as info:
        if kwargs:
            core.parse_request(body, max_amount=MAX, **kwargs)
        else:
            validate(body)
    return info.value


def test_seed_example_is_valid_and_defaults_to_usd():
    req = validate('{"transactionId": "test-123", "customerId": "cust-456", "amount": 100.00}')
    assert req == core.PaymentRequest("test-123", "cust-456", Decimal("100.00"), "USD")
    assert req.amount_text == "100.00"
    assert req.amount_minor_units == 10000


def test_equivalent_amounts_share_one_canonical_form_and_hash():
    a = validate('{"transactionId": "t", "customerId": "c", "amount": 100}')
    b = validate('{"transactionId": "t", "customerId": "c", "amount": 100.0}')
    c = validate('{"transactionId": "t", "customerId": "c", "amount": "100.00"}')
    assert a.canonical() == b.canonical() == c.canonical()
    assert a.request_hash() == c.request_hash()
    d = validate('{"transactionId": "t", "customerId": "c", "amount": 100.01}')
    assert d.request_hash() != a.request_hash()


def test_amount_is_exact_not_float():
    req = validate('{"transactionId": "t", "customerId": "c", "amount": 0.10}')
    assert req.amount == Decimal("0.10")
    big = validate('{"transactionId": "t", "customerId": "c", "amount": 999999.99}')
    assert big.amount_minor_units == 99999999


@pytest.mark.parametrize(
    ("currency", "amount", "ok"),
    [
        ("USD", "10.25", True),
        ("USD", "10.255", False),
        ("USD", "10.250", False),  # trailing zeros count: precision as written
        ("JPY", "1000", True),
        ("JPY", "1000.5", False),
        ("JPY", "1000.0", False),
        ("BHD", "1.125", True),
        ("BHD", "1.1255", False),
        ("KWD", "0.001", True),
        ("CLF", "1.2345", True),
    ],
)
def test_minor_units_per_currency(currency, amount, ok):
    body = f'{{"transactionId": "t", "customerId": "c", "amount": {amount}, "currency": "{currency}"}}'
    if ok:
        assert validate(body).amount == Decimal(amount)
    else:
        err = rejected(body)
        assert (err.code, err.field, err.status) == ("AMOUNT_PRECISION", "amount", 400)


def test_currency_table_has_iso_minor_units():
    assert MINOR_UNITS["USD"] == 2 and MINOR_UNITS["EUR"] == 2 and MINOR_UNITS["GBP"] == 2
    assert MINOR_UNITS["JPY"] == 0 and MINOR_UNITS["KRW"] == 0
    assert MINOR_UNITS["BHD"] == 3 and MINOR_UNITS["KWD"] == 3 and MINOR_UNITS["OMR"] == 3
    assert len(MINOR_UNITS) >= 40
    assert all(len(code) == 3 and code.isupper() for code in MINOR_UNITS)


@pytest.mark.parametrize(
    ("amount", "code"),
    [
        ("0", "INVALID_AMOUNT"),
        ("0.00", "INVALID_AMOUNT"),
        ("-5", "INVALID_AMOUNT"),
        ("-0.01", "INVALID_AMOUNT"),
        ("1e2", "INVALID_AMOUNT"),
        ("1E2", "INVALID_AMOUNT"),
        ("1.5e-1", "INVALID_AMOUNT"),
        ("NaN", "INVALID_AMOUNT"),
        ("Infinity", "INVALID_AMOUNT"),
        ("-Infinity", "INVALID_AMOUNT"),
        ("1000000.01", "AMOUNT_TOO_LARGE"),
        ("99999999999", "AMOUNT_TOO_LARGE"),
        ('"01.00"', "INVALID_AMOUNT"),
        ('" 1.00"', "INVALID_AMOUNT"),
        ('"+1.00"', "INVALID_AMOUNT"),
        ('"1,00"', "INVALID_AMOUNT"),
        ('"\u0661"', "INVALID_AMOUNT"),  # Arabic-Indic digit one: not ASCII
        ('"1."', "INVALID_AMOUNT"),
        ('""', "INVALID_AMOUNT"),
        ("true", "INVALID_TYPE"),
        ("false", "INVALID_TYPE"),
        ("null", "INVALID_TYPE"),
        ("[100]", "INVALID_TYPE"),
        ('{"value": 100}', "INVALID_TYPE"),
        ("1" * 40, "INVALID_AMOUNT"),
    ],
)
def test_bad_amounts(amount, code):
    err = rejected(f'{{"transactionId": "t", "customerId": "c", "amount": {amount}}}')
    assert (err.code, err.field, err.status) == (code, "amount", 400)


def test_max_amount_is_inclusive():
    assert validate('{"transactionId": "t", "customerId": "c", "amount": 1000000.00}').amount == MAX


@pytest.mark.parametrize("field", ["transactionId", "customerId", "amount"])
def test_each_missing_field(field):
    body = {"transactionId": "t", "customerId": "c", "amount": 1}
    del body[field]
    err = rejected(body)
    assert (err.code, err.field) == ("MISSING_FIELD", field)


@pytest.mark.parametrize("field", ["transactionId", "customerId"])
@pytest.mark.parametrize(
    ("value", "code"),
    [
        (123, "INVALID_TYPE"),
        (None, "INVALID_TYPE"),
        (True, "INVALID_TYPE"),
        (["a"], "INVALID_TYPE"),
        ("", "INVALID_FORMAT"),
        ("a" * 65, "INVALID_FORMAT"),
        ("has space", "INVALID_FORMAT"),
        ("semi;colon", "INVALID_FORMAT"),
        ("trailing\n", "INVALID_FORMAT"),
        ("caf\u00e9", "INVALID_FORMAT"),
        ("\u0661\u0662", "INVALID_FORMAT"),
        ("../etc", "INVALID_FORMAT"),
    ],
)
def test_bad_identifiers(field, value, code):
    body = {"transactionId": "t", "customerId": "c", "amount": 1}
    body[field] = value
    err = rejected(body)
    assert (err.code, err.field) == (code, field)


def test_identifier_boundaries():
    assert validate({"transactionId": "a" * 64, "customerId": "Z-9_", "amount": 1}).transaction_id == "a" * 64


@pytest.mark.parametrize(
    ("currency", "code"),
    [("XXX", "UNSUPPORTED_CURRENCY"), ("ABC", "UNSUPPORTED_CURRENCY"), ("usd", "INVALID_FORMAT"),
     ("US", "INVALID_FORMAT"), ("USDD", "INVALID_FORMAT"), (840, "INVALID_TYPE"), (None, "INVALID_TYPE")],
)
def test_bad_currency(currency, code):
    err = rejected({"transactionId": "t", "customerId": "c", "amount": 1, "currency": currency})
    assert (err.code, err.field) == (code, "currency")


def test_unknown_field_is_rejected_and_named():
    err = rejected({"transactionId": "t", "customerId": "c", "amount": 1, "cardNumber": "4111111111111111"})
    assert (err.code, err.field, err.status) == ("UNKNOWN_FIELD", "cardNumber", 400)
    assert "4111" not in err.message


def test_duplicate_keys_are_rejected():
    err = rejected('{"transactionId": "t", "customerId": "c", "amount": 1, "amount": 900000}')
    assert (err.code, err.field) == ("DUPLICATE_FIELD", "amount")


@pytest.mark.parametrize("body", ["", "{", "not json", "[1, 2]", '"a string"', "42", "null", "{'a': 1}"])
def test_non_object_or_invalid_json(body):
    if body == "":
        err = rejected(body)
        assert err.code == "INVALID_JSON"
        return
    err = rejected(body)
    assert err.status == 400 and err.code in {"INVALID_JSON", "INVALID_BODY"}


def test_deep_nesting_is_invalid_json_not_a_crash():
    with pytest.raises(core.RequestError) as info:
        core.parse_json("[" * 100_000 + "]" * 100_000)
    assert info.value.code == "INVALID_JSON"


@pytest.mark.parametrize(
    ("content_type", "ok"),
    [
        ("application/json", True),
        ("Application/JSON; charset=UTF-8", True),
        ('application/json; charset="utf-8"', True),
        (None, False),
        ("", False),
        ("text/plain", False),
        ("application/x-www-form-urlencoded", False),
        ("application/json; charset=latin-1", False),
        ("application/jsonp", False),
    ],
)
def test_content_type(content_type, ok):
    body = '{"transactionId": "t", "customerId": "c", "amount": 1}'
    if ok:
        core.parse_request(body, content_type=content_type, is_base64_encoded=False, max_amount=MAX)
    else:
        err = rejected(body, content_type=content_type, is_base64_encoded=False)
        assert (err.status, err.code) == (415, "UNSUPPORTED_MEDIA_TYPE")


def test_body_size_limit_counts_bytes():
    ok = json.dumps({"transactionId": "t", "customerId": "c", "amount": 1}) + " " * 100
    core.parse_request(ok, content_type="application/json", is_base64_encoded=False, max_amount=MAX)
    # 3000 three-byte characters: 3000 chars but 9000 bytes
    err = rejected('{"transactionId": "' + "\u20ac" * 3000 + '"}', content_type="application/json",
                   is_base64_encoded=False)
    assert (err.status, err.code) == (413, "PAYLOAD_TOO_LARGE")
    err = rejected("x" * (8 * 1024 + 1), content_type="application/json", is_base64_encoded=False)
    assert err.status == 413


def test_base64_bodies():
    import base64

    good = base64.b64encode(b'{"transactionId": "t", "customerId": "c", "amount": 1}').decode()
    assert core.parse_request(good, content_type="application/json", is_base64_encoded=True,
                              max_amount=MAX).transaction_id == "t"
    err = rejected("!!!not-base64", content_type="application/json", is_base64_encoded=True)
    assert err.code == "INVALID_JSON"
    bad_utf8 = base64.b64encode(b'{"transactionId": "\xff"}').decode()
    assert rejected(bad_utf8, content_type="application/json", is_base64_encoded=True).code == "INVALID_JSON"


def test_error_body_shape():
    err = rejected({"transactionId": "t", "customerId": "c"})
    assert err.to_body() == {"error": {"code": "MISSING_FIELD", "message": "amount is required", "field": "amount"}}


def test_record_and_receipt_are_exact_and_deterministic():
    req = validate({"transactionId": "t-1", "customerId": "c-1", "amount": 12.5, "currency": "EUR"})
    record = core.build_record(req, now_ms=1_700_000_000_123, region="us-east-2", region_role="dr")
    assert record["amount"] == Decimal("12.50") and isinstance(record["amount"], Decimal)
    assert record["amountMinorUnits"] == 1250
    assert record["acceptedAt"] == "2023-11-14T22:13:20.123Z"
    assert record["timestamp"] == 1_700_000_000_123
    assert (record["acceptedRegion"], record["regionRole"], record["status"]) == ("us-east-2", "dr", "VALIDATED")
    assert record["requestHash"] == req.request_hash()
    receipt = json.loads(core.build_receipt(record))
    assert receipt["amount"] == "12.50" and receipt["transactionId"] == "t-1"
    # DynamoDB may return 12.5 for 12.50: the receipt must not change on a retry.
    reread = dict(record, amount=Decimal("12.5"), timestamp=Decimal(1_700_000_000_123))
    assert core.build_receipt(reread) == core.build_receipt(record)


@pytest.mark.parametrize("raw", ["0", "-1", "abc", "1e6", ""])
def test_max_amount_setting_is_validated(raw):
    with pytest.raises(ValueError):
        core.parse_max_amount(raw)
