"""Scenario 1, a normal day, on the twin (issue 19): the synthesized platform stood up from
cdktf.out alone (twin/), both regions, clients signing requests exactly as
docs/calling-the-api.md tells them to.

What is real here: the JSON, the functions' code from their synthesized package, moto's
answers for DynamoDB/S3/Secrets Manager/KMS. What is simulated: API Gateway (twin/apigw.py),
replication (twin/replication.py), DNS (twin/core.py), and for the day on the scenario clock
at the end, the EventBridge schedules (twin/schedules.py), CloudWatch alarms and Route 53.
docs/twin.md has the full list.
"""

from __future__ import annotations

import json
import time
import uuid

import pytest
from ops import hold, httpcheck
from ops.signing import new_key, signed_headers
from twin_support import CLIENT_ID, WARM_UP_MINUTES, operator_failback, validator_env, warm_up

from twin.alarms import ALARM, INSUFFICIENT, OK
from twin.apigw import RegionalGateway
from twin.provision import FAKE_CREDENTIALS

pytestmark = pytest.mark.twin

# Every route the JSON declares, and how a legitimate caller calls it. A route added to the
# JSON fails test_the_routes_are_the_ones_the_json_declares until it is added here.
ROUTES = {
    ("GET", "/health"): "anyone (Route 53 health checkers)",
    ("GET", "/probe"): "the other region's probe function, SigV4-signed",
    ("POST", "/validate"): "a client, HMAC-signed (ops/signing.py)",
}


def _fn(twin, region: str, handler: str):
    return next(fn for (r, _), fn in twin.pool.functions.items() if r == region and fn.handler == handler)


def _own_name(twin, region: str) -> str:
    return next(name for name, r in twin.names.items() if r == region and name.startswith(region))


def _failover_name(twin) -> str:
    return next(name for name in twin.names if not any(name.startswith(r + ".") for r in twin.ports))


def _payment(key: str, **fields) -> tuple[bytes, dict[str, str]]:
    body = json.dumps({"transactionId": f"txn-{uuid.uuid4().hex[:16]}", "customerId": "cust-twin",
                       "amount": 125.5, "currency": "USD", **fields}).encode()
    return body, {"Content-Type": "application/json",
                  **signed_headers(key_b64=key, client_id=CLIENT_ID, body=body)}


def _record(twin, region: str, transaction_id: str) -> list[dict]:
    table = _fn(twin, region, "validator.lambda_handler").environment["TRANSACTIONS_TABLE"]
    return twin.client("dynamodb", region).query(
        TableName=table, KeyConditionExpression="transactionId = :t",
        ExpressionAttributeValues={":t": {"S": transaction_id}})["Items"]


def _receipt(twin, region: str, transaction_id: str) -> dict | None:
    bucket = _fn(twin, region, "validator.lambda_handler").environment["AUDIT_BUCKET"]
    try:
        obj = twin.client("s3", region).get_object(Bucket=bucket, Key=f"receipts/{CLIENT_ID}/{transaction_id}.json")
    except twin.client("s3", region).exceptions.NoSuchKey:
        return None
    return json.loads(obj["Body"].read())


def _call(twin, region: str, route: tuple[str, str], client_key: str):
    """`route` called on `region`'s own name the way its legitimate caller calls it."""
    method, path = route
    url = f"https://{_own_name(twin, region)}{path}"
    if route == ("POST", "/validate"):
        body, headers = _payment(client_key)
        return twin.request(method, url, headers=headers, body=body)
    if route == ("GET", "/probe"):
        # ops/httpcheck.py's own signer, with the credentials the probe function has in the twin
        from botocore.credentials import Credentials

        credentials = Credentials(FAKE_CREDENTIALS["AWS_ACCESS_KEY_ID"], FAKE_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
                                  FAKE_CREDENTIALS["AWS_SESSION_TOKEN"])
        return twin.request(method, url, headers=httpcheck.signed_headers(url, region, credentials))
    return twin.request(method, url)


# -- the platform as the JSON declares it ---------------------------------------------------


def test_the_twin_creates_every_store_the_json_declares_in_each_region(twin):
    p = twin.platform
    for res in p.resources("aws_dynamodb_table"):
        name = p.get(res, "name")
        gsis = sorted(g["name"] for g in p.get(res, "global_secondary_index", []))
        for region in [res.region, *(r["region_name"] for r in p.get(res, "replica", []))]:
            table = twin.client("dynamodb", region).describe_table(TableName=name)["Table"]
            assert [k["AttributeName"] for k in table["KeySchema"]] == [
                k for k in (p.get(res, "hash_key"), p.get(res, "range_key")) if k]
            assert sorted(g["IndexName"] for g in table.get("GlobalSecondaryIndexes", [])) == gsis
    for res in p.resources("aws_s3_bucket"):
        twin.client("s3", res.region).head_bucket(Bucket=p.get(res, "bucket"))
    for res in p.resources("aws_secretsmanager_secret"):
        for region in [res.region, *(r["region"] for r in p.get(res, "replica", []))]:
            twin.client("secretsmanager", region).describe_secret(SecretId=p.get(res, "name"))
    for res in p.resources("aws_ssm_parameter"):
        value = twin.client("ssm", res.region).get_parameter(Name=p.get(res, "name"))["Parameter"]["Value"]
        assert value == p.get(res, "value")
    for res in p.resources("aws_sns_topic"):
        arns = [t["TopicArn"] for t in twin.client("sns", res.region).list_topics()["Topics"]]
        assert any(arn.endswith(":" + p.get(res, "name")) for arn in arns)
    for res in p.resources("aws_kms_alias"):
        aliases = [a["AliasName"] for a in twin.client("kms", res.region).list_aliases()["Aliases"]]
        assert p.get(res, "name") in aliases


def test_each_region_serves_its_own_name_and_the_failover_name(twin):
    assert len(twin.ports) == 2 and len(set(twin.ports.values())) == 2
    for region in twin.ports:
        assert _own_name(twin, region) in twin.gateways[region].domains
        assert _failover_name(twin) in twin.gateways[region].domains


def test_the_routes_are_the_ones_the_json_declares(twin):
    for gateway in twin.gateways.values():
        assert set(gateway.routes()) == set(ROUTES)


# -- every route reaches a handler that knows it --------------------------------------------


@pytest.mark.parametrize("route", list(ROUTES), ids=lambda r: f"{r[0]} {r[1]}")
@pytest.mark.parametrize("role", ["primary", "dr"])
def test_every_route_reaches_a_handler_that_knows_it(twin, client_key, role, route):
    region = twin.region_of(role)
    response = _call(twin, region, route, client_key)
    entry = twin.gateways[region].access_log[-1]
    assert entry.function is not None, f"the gateway answered itself: {response.status} {response.body[:200]!r}"
    assert response.gateway_error is None
    assert response.status == 200, f"{route} on {region}: {response.status} {response.body[:300]!r}"
    if route[0] == "GET":  # what Route 53 and the peer's probe match on
        search = _fn(twin, region, "probe.lambda_handler").environment["HEALTH_SEARCH_STRING"]
        assert search.encode() in response.body


# -- payments ---------------------------------------------------------------------------------


@pytest.mark.parametrize("role", ["primary", "dr"])
def test_a_signed_payment_is_recorded_with_its_receipt_in_the_region_that_took_it(twin, client_key, role):
    region = twin.region_of(role)
    body, headers = _payment(client_key)
    transaction_id = json.loads(body)["transactionId"]
    response = twin.request("POST", f"https://{_own_name(twin, region)}/validate", headers=headers, body=body)
    assert response.status == 200, response.body
    assert response.json()["status"] == "VALIDATED" and response.json()["region"] == region
    [record] = _record(twin, region, transaction_id)
    assert record["acceptedRegion"]["S"] == region
    receipt = _receipt(twin, region, transaction_id)
    assert receipt is not None and receipt["transactionId"] == transaction_id


def test_replication_brings_each_regions_payments_to_the_other(twin, client_key):
    """Paused: a payment stays in its region. Resumed: record and receipt reach the other one."""
    primary, dr = twin.region_of("primary"), twin.region_of("dr")
    twin.replication.pause("dynamodb", "s3")
    try:
        accepted = {}
        for region in (primary, dr):
            body, headers = _payment(client_key)
            response = twin.request("POST", f"https://{_own_name(twin, region)}/validate", headers=headers,
                                    body=body)
            assert response.status == 200, response.body
            accepted[region] = json.loads(body)["transactionId"]
        time.sleep(twin.lag_s + 2 * twin.replication.interval_s)
        for region, other in ((primary, dr), (dr, primary)):
            assert _record(twin, other, accepted[region]) == []
            assert _receipt(twin, other, accepted[region]) is None
    finally:
        twin.replication.resume("dynamodb", "s3")
    assert twin.replication.wait_caught_up(15)
    for region, other in ((primary, dr), (dr, primary)):
        assert _record(twin, other, accepted[region]) == _record(twin, region, accepted[region])
        assert _receipt(twin, other, accepted[region]) == _receipt(twin, region, accepted[region])


def test_a_strongly_consistent_table_is_written_in_both_regions_before_the_writer_has_its_answer(twin):
    """MRSC (the JSON's replica consistency_mode STRONG) as the twin simulates it: the write is
    in the other region the moment the call returns (no wait at all; the asynchronous tables,
    e.g. the idempotency table, are polled and copied after the twin's lag). Paused, the STRONG
    write waits; resumed, it is copied."""
    primary, dr = twin.region_of("primary"), twin.region_of("dr")
    env = validator_env(twin, dr)
    strong, eventual = env["TRANSACTIONS_TABLE"], env["IDEMPOTENCY_TABLE"]
    assert strong in twin.inventory.strong_tables and eventual not in twin.inventory.strong_tables
    key = {"transactionId": {"S": f"twin-mrsc-{uuid.uuid4().hex[:8]}"}, "timestamp": {"N": "0"}}
    twin.client("dynamodb", dr).update_item(TableName=strong, Key=key, UpdateExpression="SET probe = :v",
                                            ExpressionAttributeValues={":v": {"S": "written in DR"}})
    read = twin.client("dynamodb", primary).get_item(TableName=strong, Key=key, ConsistentRead=True)
    assert read.get("Item", {}).get("probe") == {"S": "written in DR"}
    twin.replication.pause("dynamodb")
    try:
        twin.client("dynamodb", dr).delete_item(TableName=strong, Key=key)
        assert "Item" in twin.client("dynamodb", primary).get_item(TableName=strong, Key=key, ConsistentRead=True)
    finally:
        twin.replication.resume("dynamodb")
    assert "Item" not in twin.client("dynamodb", primary).get_item(TableName=strong, Key=key, ConsistentRead=True)
    assert twin.replication.wait_caught_up(10)


def test_payments_through_the_failover_name_in_each_regions_turn(twin, client_key):
    """The failover name answers with its PRIMARY record's region (static until the day below
    turns Route 53's evaluation on); pointed at DR by hand, DR takes the payments."""
    name = _failover_name(twin)
    assert twin.names[name] == twin.region_of("primary")
    try:
        for role in ("primary", "dr"):
            twin.point(name, twin.region_of(role))
            body, headers = _payment(client_key)
            response = twin.request("POST", f"https://{name}/validate", headers=headers, body=body)
            assert response.status == 200, response.body
            assert response.json()["region"] == twin.region_of(role)
        # DR took a payment through the failover name: it armed the failback hold (the
        # primary's /health now answers 503 until the operator's failback clears it).
        primary = twin.region_of("primary")
        assert twin.replication.wait_caught_up(10)  # the hold is written in DR's replica
        table = validator_env(twin, primary)["TRANSACTIONS_TABLE"]
        item = twin.client("dynamodb", primary).get_item(TableName=table, Key=hold.KEY,
                                                         ConsistentRead=True).get("Item")
        assert item is not None and item["state"]["S"] == hold.ARMED, item
    finally:
        twin.point(name, twin.region_of("primary"))
        operator_failback(twin, "normal day: the name was pointed at DR by hand")


# -- what the gateway answers itself -------------------------------------------------------


def test_the_gateway_refuses_unsigned_and_badly_signed_payments_before_the_function(twin, client_key):
    region = twin.region_of("primary")
    url = f"https://{_own_name(twin, region)}/validate"
    validator = _fn(twin, region, "validator.lambda_handler")
    authorizer = _fn(twin, region, "authorizer.lambda_handler")
    before = (validator.invocations, authorizer.invocations)

    unsigned = twin.request("POST", url, headers={"Content-Type": "application/json"}, body=b'{"a": 1}')
    assert (unsigned.status, unsigned.json()["error"]["code"]) == (401, "UNAUTHENTICATED")
    assert (validator.invocations, authorizer.invocations) == before  # identity source missing: no call

    body, headers = _payment(new_key())  # a key the secret does not hold
    forged = twin.request("POST", url, headers=headers, body=body)
    assert (forged.status, forged.json()["error"]["code"]) == (403, "FORBIDDEN")
    assert forged.gateway_error and validator.invocations == before[0]

    empty = twin.request("POST", url, headers={**signed_headers(key_b64=client_key, client_id=CLIENT_ID, body=b"{}"),
                                               "Content-Type": "application/json"}, body=b"{}")
    assert (empty.status, empty.json()["error"]["code"]) == (400, "INVALID_BODY")  # the model's minProperties
    assert validator.invocations == before[0]


def test_an_unknown_route_is_the_gateways_404(twin):
    region = twin.region_of("primary")
    response = twin.request("GET", f"https://{_own_name(twin, region)}/nowhere")
    assert response.status == 404 and response.gateway_error == "MissingAuthenticationTokenException"
    assert response.json()["error"]["code"] == "NOT_FOUND"


def test_the_probe_route_refuses_an_unsigned_caller(twin):
    region = twin.region_of("primary")
    health = _fn(twin, region, "health.lambda_handler")
    before = health.invocations
    response = twin.request("GET", f"https://{_own_name(twin, region)}/probe")
    assert response.gateway_error == "MissingAuthenticationTokenException" and health.invocations == before


def test_the_stage_throttle_answers_429_past_the_burst(twin):
    """POST /validate's token bucket from the JSON's method settings: `burst` requests pass
    (here unsigned, so 401 without a function call), the next ones get 429 THROTTLED."""
    region = twin.region_of("primary")
    gateway = RegionalGateway(twin.platform, twin.pool, region)  # fresh buckets, same functions
    settings = {twin.platform.get(r, "method_path"): twin.platform.get(r, "settings")
                for r in twin.platform.resources("aws_api_gateway_method_settings") if r.region == region}
    burst = int(settings.get("validate/POST", settings["*/*"])["throttling_burst_limit"])
    host = _own_name(twin, region)
    statuses = [gateway.handle("POST", "/validate", [("Host", host)], b"{}")[0] for _ in range(burst + 5)]
    assert statuses.count(401) >= burst and 429 in statuses
    status, headers, body = gateway.handle("POST", "/validate", [("Host", host)], b"{}")
    assert status == 429 and ("Retry-After", "1") in headers
    assert json.loads(body)["error"]["code"] == "TOO_MANY_REQUESTS"


def test_the_rpo_canary_reads_the_peers_heartbeat_through_replication(twin):
    """The heartbeat functions, invoked by hand as their schedule would (the schedules start
    with the day below), each find the other region's heartbeat once replication has carried it.
    The delay they report is the twin's simulated lag plus the polls, not AWS's."""
    primary, dr = twin.region_of("primary"), twin.region_of("dr")
    heartbeat = {region: _fn(twin, region, "heartbeat.lambda_handler") for region in (primary, dr)}
    event = {"version": "0", "detail-type": "Scheduled Event", "source": "aws.events", "detail": {}}
    for region in (primary, dr):
        outcome = twin.pool.invoke(heartbeat[region], {**event, "region": region})
        assert outcome.ok, outcome.payload
    assert twin.replication.wait_caught_up(15)
    outcome = twin.pool.invoke(heartbeat[primary], {**event, "region": primary})
    assert outcome.ok, outcome.payload
    for store in ("dynamodb", "s3"):
        assert outcome.payload[store].get("peerWrittenAt"), outcome.payload
        assert outcome.payload[store]["observedDelaySeconds"] >= 0


# -- the day on the scenario clock: schedules, alarms, health checks ----------------------------
# Runs last in this module: from here on the failover name is Route 53's answer.

DAY_MINUTES = 5  # after the warm-up
# What CloudWatch does with an alarm whose every period is missing (treat_missing_data).
MISSING_DATA_STATE = {"notBreaching": OK, "breaching": ALARM, "missing": INSUFFICIENT}
# Metrics under AWS/ the twin emits itself besides the functions' own (PutMetricData, EMF):
# Route 53's HealthCheckStatus (twin/route53.py) and the replication metrics of S3 and DynamoDB
# (twin/awsmetrics.py). Everything else under AWS/ is published by AWS services the twin does
# not run.
TWIN_EMITTED_AWS_NAMESPACES = {"AWS/Route53"}
TWIN_EMITTED_AWS_METRICS = {("AWS/DynamoDB", "ReplicationLatency"), ("AWS/S3", "ReplicationLatency"),
                            ("AWS/S3", "OperationsPendingReplication"), ("AWS/S3", "BytesPendingReplication"),
                            ("AWS/S3", "OperationsFailedReplication")}


def _metrics(alarm) -> set[tuple[str, str]]:
    if alarm.metric is not None:
        return {(alarm.metric[0], alarm.metric[1])}
    return {(ns, name) for ns, name, *_ in alarm.queries.values()}


def _namespaces(alarm) -> set[str]:
    return {ns for ns, _ in _metrics(alarm)}


def _aws_published_only(alarm) -> bool:
    """The alarm reads at least one metric that only an AWS service publishes (not the twin)."""
    return any(ns.startswith("AWS/") and ns not in TWIN_EMITTED_AWS_NAMESPACES
               and (ns, name) not in TWIN_EMITTED_AWS_METRICS for ns, name in _metrics(alarm))


@pytest.fixture(scope="module")
def day(twin, client_key):
    """Warm-up with the schedules running, then DAY_MINUTES of signed payments through the
    failover name, one a scenario minute; every alarm transition after the warm-up is kept."""
    warmed = warm_up(twin)
    name = _failover_name(twin)
    answers = []
    try:
        for _ in range(DAY_MINUTES):
            body, headers = _payment(client_key)
            response = twin.request("POST", f"https://{name}/validate", headers=headers, body=body)
            answers.append((response.status, response.region))
            twin.advance(60)
        transitions = {alarm.name: [h for h in alarm.history if h[0] > warmed]
                       for alarm in twin.alarms.alarms.values()}
        pages = [p for p in twin.alarms.pages if p.t > warmed]
        print("normal day: alarms on AWS-published metrics (missing data here):",
              sorted(a.name for a in twin.alarms.alarms.values() if _aws_published_only(a)))
        print("normal day: health check changes", {c.name: [(t - twin.clock.start, h, why) for t, h, why in c.history]
                                                   for c in twin.route53.checks.values()},
              "DNS answers", [(t - twin.clock.start, r) for t, _, r in twin.route53.answers])
        yield {"warmed": warmed, "answers": answers, "transitions": transitions, "pages": pages}
    finally:
        twin.evaluate(False)


def test_no_alarm_on_the_twins_data_is_in_alarm_after_warm_up(twin, day):
    assert twin.alarms.unsupported == {}
    evaluated = [a for a in twin.alarms.alarms.values() if not _aws_published_only(a)]
    assert len(evaluated) >= 20, "the alarms on the platform's own metrics and Route 53's"
    replication = [a for a in evaluated if _metrics(a) & TWIN_EMITTED_AWS_METRICS]
    assert len(replication) >= 6, "the S3 and DynamoDB replication alarms read the twin's metrics"
    assert all(v is not None for a in replication
               for v in a.period_values(twin.metrics, twin.alarms.last_evaluation)), \
        {a.name: a.period_values(twin.metrics, twin.alarms.last_evaluation) for a in replication}
    firing = {a.name: a.history[-1][2] for a in evaluated if a.state != OK}
    assert firing == {}, firing
    went = {n: h for n, h in day["transitions"].items() if any(state == ALARM for _, state, _ in h)}
    assert went == {}, went
    assert day["pages"] == [], [(p.alarm, p.t - day["warmed"]) for p in day["pages"]]


def test_alarms_on_aws_published_metrics_are_in_their_missing_data_state(twin, day):
    """The twin does not emit AWS/Lambda, AWS/ApiGateway, AWS/RDS, AWS/WAFV2, nor AWS/DynamoDB and
    AWS/S3 beyond replication: these alarms see no data here, and their state is what treat_missing_data says
    (listed, not silently left out). In AWS they read real data."""
    aws_only = [a for a in twin.alarms.alarms.values() if _aws_published_only(a)]
    namespaces = set().union(*(_namespaces(a) for a in aws_only))
    assert {"AWS/Lambda", "AWS/ApiGateway", "AWS/DynamoDB"} <= namespaces
    for alarm in aws_only:
        values = alarm.period_values(twin.metrics, twin.alarms.last_evaluation)
        assert values == [None] * alarm.evaluation_periods, (alarm.name, values)
        assert alarm.state == MISSING_DATA_STATE[alarm.treat_missing_data], (alarm.name, alarm.treat_missing_data)


def test_the_probes_are_green_in_both_regions(twin, day):
    for region in twin.ports:
        runs = twin.schedules.runs_of("probe.lambda_handler", region)
        assert len(runs) >= WARM_UP_MINUTES + DAY_MINUTES, "the probe runs every scenario minute"
        assert all(r.ok for r in runs), [r.outcome.payload for r in runs if not r.ok]
        last = [(r.t - day["warmed"], r.outcome.payload) for r in runs if r.t >= day["warmed"]]
        assert len(last) >= DAY_MINUTES and all(p["metricsPublished"] for _, p in last), last
        failed = [(t, {k: p[k] for k in ("peer", "domain") if not p[k]["healthy"]}) for t, p in last
                  if not (p["peer"]["healthy"] and p["domain"]["healthy"])]
        # The gateways' non-200 /probe answers, but the domain's request signed for the region not
        # serving it (refused every run, as it must be: counted, not listed).
        errors = [e for g in twin.gateways.values() for e in g.access_log if e.resource_path == "/probe"
                  and e.status != 200]
        probe_errors = {"wrongRegionSignature403": sum(e.error_type == "INVALID_SIGNATURE" for e in errors),
                        "others": [(e.host, e.status, e.error_type, e.cause) for e in errors
                                   if e.error_type != "INVALID_SIGNATURE"]}
        # Every run green. (CI once saw one red: the twin's gateway closed the probe's socket
        # without `Connection: close`, twin/apigw.py; the report below named it.)
        report = json.dumps({"region": region, "failed": failed, "gateway": probe_errors}, default=str)
        assert failed == [], report
        role = twin.roles[region]
        peer_role = "dr" if role == "primary" else "primary"
        end = twin.clock.now()
        for metric, dims in (("PeerHealthy", {"Peer": peer_role}), ("DomainHealthy", {})):
            values = twin.metrics.values(region, "PaymentsDR", metric, dims, day["warmed"], end)
            assert len(values) >= DAY_MINUTES and set(values) == {1.0}, (metric, values)


def test_the_failback_gate_is_open_and_the_name_answers_the_primary(twin, day):
    dr = twin.region_of("dr")
    end = twin.clock.now()
    blocked = twin.metrics.values(dr, "PaymentsDR", "FailbackBlocked", {"Peer": "primary"}, day["warmed"], end)
    assert blocked and set(blocked) == {0.0}, "the DR probe reports the latch open every minute"
    for run in twin.schedules.runs_of("probe.lambda_handler", dr):
        assert run.outcome.payload["latch"]["state"] == "open", run.outcome.payload
    gate = next(c for c in twin.route53.checks.values() if c.type == "CLOUDWATCH_METRIC")
    assert gate.healthy, gate.history
    assert twin.alarms.data_state(gate.alarm_name, gate.alarm_region) == OK  # from data, not LastKnownStatus
    assert day["answers"] == [(200, twin.region_of("primary"))] * DAY_MINUTES
    assert all(region == twin.region_of("primary") for _, _, region in twin.route53.answers), \
        (twin.route53.answers, {c.name: c.history for c in twin.route53.checks.values()})


def test_heartbeat_and_reconcile_run_on_their_schedules_and_report(twin, day):
    end = twin.clock.now()
    for region in twin.ports:
        peer = next(r for r in twin.ports if r != region)
        heartbeats = twin.schedules.runs_of("heartbeat.lambda_handler", region)
        reconciles = twin.schedules.runs_of("reconcile.lambda_handler", region)
        assert len(heartbeats) >= WARM_UP_MINUTES + DAY_MINUTES and all(r.ok for r in heartbeats)
        assert reconciles and all(r.ok for r in reconciles), [r.outcome.payload for r in reconciles]
        for store, limit in (("dynamodb", 120), ("s3", 1020)):  # the alarms' thresholds
            delays = twin.metrics.values(region, "PaymentsDR", "ObservedReplicationDelay",
                                         {"Store": store, "From": peer}, day["warmed"], end)
            assert len(delays) >= DAY_MINUTES and max(delays) < limit, (region, store, delays)
        checked = twin.metrics.values(region, "PaymentsDR", "RecordsChecked",
                                      {"service": "payment-reconcile", "region": region}, twin.clock.start, end)
        assert checked, f"reconcile in {region} published no RecordsChecked (EMF)"
