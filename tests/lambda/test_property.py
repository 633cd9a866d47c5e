"""Property test: malformed API Gateway events -> 4xx JSON, and no write of any kind (1,000
examples in CI, 100 locally: the Hypothesis profiles in tests/conftest.py).

moto resources are created once for the module.  "Nothing written" is checked two
ways: per example, a botocore hook on the validator's own clients counts every
write-type API call (PutItem, UpdateItem, DeleteItem, PutObject, ...) - it must stay
zero, so not even an idempotency record is created and then released; at the end,
both regions' tables and buckets are counted and must be empty.
"""

from __future__ import annotations

import json
import string
from collections.abc import Iterator
from typing import Any

import pytest
import validator
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lambda_support import (
    IDEMPOTENCY_TABLE,
    PRIMARY,
    REGIONS,
    api_event,
    bucket_keys,
    create_resources,
    invoke,
    item_count,
    reset_test_clients,
    use_region,
)

from payments.currencies import MINOR_UNITS

WRITE_OPERATIONS = {
    "PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem", "TransactWriteItems",
    "PutObject", "CopyObject", "DeleteObject", "DeleteObjects", "CreateMultipartUpload",
}


@pytest.fixture(scope="module")
def module_aws() -> Iterator[list[str]]:
    from moto import mock_aws

    reset_test_clients()
    with mock_aws():
        for region in REGIONS:
            create_resources(region)
        use_region(PRIMARY)
        runtime = validator._get_runtime()
        writes: list[str] = []

        def record_write(model: Any, **kwargs: Any) -> None:
            if model.name in WRITE_OPERATIONS:
                writes.append(model.name)

        for client in (runtime.store.dynamodb, runtime.store.s3):
            client.meta.events.register("before-call.*.*", record_write)
        # Self-test of the detector: a harmless write must be seen.
        runtime.store.dynamodb.delete_item(
            TableName=runtime.settings.transactions_table,
            Key={"transactionId": {"S": "probe"}, "timestamp": {"N": "0"}},
        )
        assert writes == ["DeleteItem"]
        writes.clear()
        yield writes
        for region in REGIONS:
            assert item_count(region) == 0
            assert item_count(region, IDEMPOTENCY_TABLE) == 0
            assert bucket_keys(region) == []
    reset_test_clients()
    use_region(PRIMARY)


# --------------------------------------------------------------------------- strategies

GOOD = {"transactionId": "tx-1", "customerId": "cust-1", "amount": "10.00", "currency": "USD"}
FIELDS = ["transactionId", "customerId", "amount", "currency"]

json_scalars = st.one_of(
    st.none(), st.booleans(), st.integers(-10**12, 10**12), st.text(max_size=20),
    st.floats(allow_nan=False, allow_infinity=False),
)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=5), inner, max_size=3)),
    max_leaves=6,
)

bad_identifier = st.one_of(
    st.just(""),
    st.text(alphabet=string.ascii_letters, min_size=65, max_size=80),
    st.text(min_size=1, max_size=30).filter(
        lambda s: any(c not in string.ascii_letters + string.digits + "_-" for c in s)
    ),
    st.integers(), st.booleans(), st.none(), st.lists(st.text(max_size=3), max_size=2),
)

bad_amount_literal = st.one_of(
    st.sampled_from(["0", "0.00", "-1", "-0.01", "1e2", "1E-2", "NaN", "Infinity", "-Infinity", "1.0001",
                     "1000000.01", "99999999999999999999", "true", "false", "null", "[]", "{}",
                     '"1,00"', '"abc"', '" 1"', '"01"', '"1."', '"-5"', '""', "00", "1.0e0"]),
    st.decimals(min_value=-10**9, max_value=0, allow_nan=False, places=2).map(lambda d: str(d)),
    st.integers(min_value=4, max_value=8).flatmap(
        lambda n: st.integers(1, 10**6).map(lambda i: f"{i}.{'1' * n}")  # more decimals than USD, JPY or BHD allow
    ),
    st.integers(1_000_001, 10**15).map(str),
)

bad_currency = st.one_of(
    st.sampled_from(["XXX", "ABC", "usd", "US", "USDD", "", "€"]),
    st.integers(), st.booleans(), st.none(),
    st.text(min_size=1, max_size=5).filter(lambda s: s not in MINOR_UNITS),
)


def render(obj: dict[str, Any], raw_amount: str | None = None) -> str:
    """Serialise ``obj``; ``raw_amount`` is spliced in verbatim as the amount literal."""
    if raw_amount is None:
        return json.dumps(obj)
    without = {k: v for k, v in obj.items() if k != "amount"}
    head = json.dumps(without)[:-1]
    sep = ", " if without else ""
    return f'{head}{sep}"amount": {raw_amount}}}'


@st.composite
def missing_field(draw):
    obj = dict(GOOD)
    for field in draw(st.lists(st.sampled_from(["transactionId", "customerId", "amount"]), min_size=1, unique=True)):
        del obj[field]
    return render(obj)


@st.composite
def wrong_identifier(draw):
    obj = dict(GOOD)
    obj[draw(st.sampled_from(["transactionId", "customerId"]))] = draw(bad_identifier)
    return render(obj)


@st.composite
def wrong_amount(draw):
    obj = dict(GOOD)
    if draw(st.booleans()):
        obj["currency"] = draw(st.sampled_from(["USD", "JPY", "BHD"]))
    literal = draw(bad_amount_literal)
    if obj["currency"] == "JPY" and draw(st.booleans()):
        literal = f"{draw(st.integers(1, 10**5))}.{draw(st.integers(0, 99))}"  # any fraction is bad for JPY
    return render(obj, literal)


@st.composite
def wrong_currency(draw):
    obj = dict(GOOD)
    obj["currency"] = draw(bad_currency)
    return render(obj)


@st.composite
def unknown_fields(draw):
    obj = dict(GOOD)
    extra = draw(st.dictionaries(st.text(min_size=1, max_size=12).filter(lambda k: k not in FIELDS),
                                 json_values, min_size=1, max_size=3))
    obj.update(extra)
    return render(obj)


@st.composite
def wrong_top_level(draw):
    return json.dumps(draw(st.one_of(json_scalars, st.lists(json_values, max_size=4))))


@st.composite
def junk_text(draw):
    text = draw(st.text(max_size=200))
    try:
        json.loads(text)
        return text + "{"  # make sure it does not parse
    except ValueError:
        return text


@st.composite
def truncated_json(draw):
    text = render(dict(GOOD))
    return text[: draw(st.integers(0, len(text) - 1))]


@st.composite
def oversized(draw):
    pad = "a" * draw(st.integers(8 * 1024 - 40, 12 * 1024))
    return json.dumps({**GOOD, "transactionId": pad})


body_strategy = st.one_of(
    missing_field(), wrong_identifier(), wrong_amount(), wrong_currency(), unknown_fields(),
    wrong_top_level(), junk_text(), truncated_json(), oversized(),
)


@st.composite
def malformed_event(draw):
    kind = draw(st.sampled_from(["body", "body", "body", "body", "bytes", "content-type"]))
    if kind == "bytes":
        raw = draw(st.binary(max_size=300))
        try:
            json.loads(raw)
            raw = raw + b"\xff{"
        except ValueError:
            pass
        return api_event(raw)
    if kind == "content-type":
        content_type = draw(st.one_of(st.none(), st.sampled_from(
            ["text/plain", "application/xml", "application/x-www-form-urlencoded", "multipart/form-data",
             "application/json; charset=iso-8859-1", "application/jsonx", "json"])))
        return api_event(render(dict(GOOD)), content_type=content_type)
    return api_event(draw(body_strategy), base64_body=draw(st.booleans()))


@settings(deadline=None, database=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                   HealthCheck.too_slow,
                                                                   HealthCheck.data_too_large])
@given(event=malformed_event())
def test_malformed_events_get_4xx_json_and_write_nothing(module_aws, event):
    writes = module_aws
    status, body, _headers = invoke(validator, event)
    assert 400 <= status < 500, (status, body)
    assert set(body) == {"error"}
    assert isinstance(body["error"]["code"], str) and body["error"]["code"].isupper()
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]
    assert writes == []


def test_ci_runs_a_thousand_examples_and_this_test_follows_the_profile():
    assert settings.get_profile("ci").max_examples == 1000
    inner = test_malformed_events_get_4xx_json_and_write_nothing
    assert inner._hypothesis_internal_use_settings.max_examples == settings.default.max_examples
