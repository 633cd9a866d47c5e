"""The platform's contract: physical names, stack names, output keys, roles and thresholds.

Dependency-free on purpose (standard library only): `modules/` (infrastructure), `drctl/`
(operations), the Lambda functions and `tests/` all import this one module, so a name,
format or threshold has exactly one definition. `modules/compute.py` ships this file in the
Lambda package (its root, importable as `contract`); per-deployment values (table names,
roles) still reach the functions as environment variables, whose names are defined here.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass

# -- roles ------------------------------------------------------------------------------
# A role is fixed at deploy time; a failover swaps which cluster writes, not the roles.
PRIMARY = "primary"
DR = "dr"
ROLES = (PRIMARY, DR)


def other_role(role: str) -> str:
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r}: use one of {', '.join(ROLES)}")
    return DR if role == PRIMARY else PRIMARY


# -- AWS facts ---------------------------------------------------------------------------
# Route 53 publishes health-check metrics (AWS/Route53 HealthCheckStatus) in us-east-1 only:
# the health-check alarms, and whatever reads them, live there.
# Route 53 and IAM are global services whose control plane (and SigV4 signing region) is
# us-east-1: drctl's Route 53 calls and preflight's IAM/quota reads go there.
GLOBAL_CONTROL_REGION = "us-east-1"
ROUTE53_METRICS_REGION = GLOBAL_CONTROL_REGION
# Route 53 health checks one environment creates (modules/dns.py): an HTTPS check per region,
# the primary record's CALCULATED check and the failback gate's CLOUDWATCH_METRIC check. They
# count against the account's MAX_HEALTH_CHECKS_BY_OWNER quota (drctl preflight).
ROUTE53_HEALTH_CHECKS_PER_ENVIRONMENT = 4


def aws_error_code(error: BaseException, missing: str = "Unknown") -> str:
    """The code of an AWS error response (botocore's ClientError keeps it in
    `.response["Error"]["Code"]`), `missing` when the response names none, and the class name
    when there was no response at all (a connection error, a timeout). Functions and drctl
    read error codes only through this."""
    response = getattr(error, "response", None)
    if not isinstance(response, dict):
        return type(error).__name__
    return str(response.get("Error", {}).get("Code") or missing)


# -- stacks -----------------------------------------------------------------------------
# One Terraform state each. The regional stacks hold only resources of their own region, so
# either can be planned and applied while the other region is down (docs/failover.md).
BOOTSTRAP_STACK = "payments-dr-bootstrap"  # state bucket + key, local state, applied once
# Account-wide singletons (API Gateway's CloudWatch logging role, per region): once per account,
# shared by every environment in it, so no environment overwrites or destroys another's.
ACCOUNT_STACK = "payments-dr-account"
# Foundation: each region's KMS key, the DNS zone and the certificates. Applied first, changed
# rarely; both regional stacks read its outputs from remote state (state lives outside the
# primary region), so it is the only stack that holds keys the other region's stack needs.
FOUNDATION_STACK = "payments-dr-foundation"
EDGE_STACK = FOUNDATION_STACK  # earlier name of the same stack
REGIONAL_STACKS = {PRIMARY: "payments-dr-primary", DR: "payments-dr-dr"}
ROUTING_STACK = "payments-dr-routing"  # health checks, failover records: after them
PLATFORM_STACKS = (FOUNDATION_STACK, REGIONAL_STACKS[PRIMARY], REGIONAL_STACKS[DR], ROUTING_STACK)
ALL_STACKS = (ACCOUNT_STACK, BOOTSTRAP_STACK, *PLATFORM_STACKS)

# -- thresholds -------------------------------------------------------------------------
# Alarms (modules/monitoring.py) and drctl's checks read the same numbers.
DEFAULT_REPLICATION_LAG_THRESHOLD_S = 1.0  # Aurora RPO lag alarm (REPLICATION_LAG_THRESHOLD)
DYNAMODB_REPLICATION_LATENCY_THRESHOLD_S = 10.0  # DynamoDB ReplicationLatency alarm
S3_REPLICATION_MINUTES = 15  # S3 Replication Time Control target
S3_REPLICATION_LATENCY_THRESHOLD_S = S3_REPLICATION_MINUTES * 60
# `drctl failback` takes replication evidence (DynamoDB and S3 DR->primary latency, Aurora RPO
# lag) only when its newest datapoint is at most this old: the heartbeat canary writes to both
# stores every minute, so replication that works keeps publishing; an older datapoint says
# nothing about the writes DR accepted since. Missing or older evidence refuses the failback.
FAILBACK_EVIDENCE_MAX_AGE_S = 300.0
# `drctl failback`'s S3 evidence: the newest minute's ReplicationLatency Maximum (AWS: the most
# seconds the destination bucket is behind the source for the rule) at most this, no operation
# failed, both datapoints fresh (above). Then every receipt DR wrote more than this long before
# the datapoint is in the primary's bucket; the later ones are in flight, which never ends while
# DR takes payments (so OperationsPendingReplication > 0 is not a refusal). Why a minute and not
# RTC's 15: the outage's backlog must have drained, not merely be inside the SLA; and what is in
# flight is bounded and repairable: receipts are audit artifacts, which the primary's reconcile
# job writes from its table replica when missing (after its grace); the payment records
# themselves are in DynamoDB (STRONG by default), which failback checks separately.
S3_FAILBACK_LATENCY_MAX_S = 60.0
# Route 53 considers an endpoint healthy when more than 18 % of its checkers report healthy.
ROUTE53_HEALTHY_CHECKER_FRACTION = 0.18

# -- alarms -----------------------------------------------------------------------------
# Alarm name = Names.alarm(what, role): "{prefix}{what}-{role}", role = the region it lives in
# (except health-check alarms: role = the endpoint they watch; they live in us-east-1).
ALARM_AURORA_RPO_LAG = "aurora-rpo-lag"  # each cluster, own region; silent (OK) while writer
ALARM_DYNAMODB_REPLICATION = "dynamodb-replication-latency-{table}"  # table: transactions|idempotency
ALARM_S3_REPLICATION_FAILED = "s3-replication-failed"
ALARM_S3_REPLICATION_LATENCY = "s3-replication-latency"
ALARM_HEALTH_CHECK = "health-check"  # Route 53 HealthCheckStatus, us-east-1
ALARM_PEER_UNREACHABLE = "peer-unreachable"  # this region's probe cannot reach the other region
ALARM_DOMAIN_UNREACHABLE = "domain-unreachable"  # this region's probe cannot reach DOMAIN_NAME
ALARM_FAILBACK_BLOCKED = "failback-blocked"  # gate: the watched peer may not take traffic back

# -- failback gate ------------------------------------------------------------------------
# The region watching a peer keeps a latch in SSM (Names.failback_parameter): its probe sets
# it to BLOCKED when the peer has been unreachable; only an operator (`drctl failback`) opens
# it. While BLOCKED, the peer's Route 53 record stays unhealthy even after it recovers.
FAILBACK_BLOCKED = "blocked"
FAILBACK_OPEN = "open"
# The latch's value: one JSON object, written by the probe (lambda/ops/latch.py) and by
# `drctl failback` (drctl/gateways.py), read by both. A writer keeps the fields it does not
# know; `consecutiveFailures` is the probe's count (missing = 0).
LATCH_STATE, LATCH_SINCE, LATCH_BY, LATCH_REASON = "state", "since", "by", "reason"
LATCH_FAILURES = "consecutiveFailures"
LATCH_FIELDS = (LATCH_STATE, LATCH_SINCE, LATCH_BY, LATCH_REASON, LATCH_FAILURES)


def latch_json(state: str, since: str, by: str, reason: str, failures: int = 0,
               extra: Mapping[str, object] | None = None) -> str:
    """The latch's SSM value: `extra` (fields another writer added) plus the five fields."""
    doc = dict(extra or {})
    doc.update({LATCH_STATE: state, LATCH_SINCE: since, LATCH_BY: by, LATCH_REASON: reason,
                LATCH_FAILURES: failures})
    return json.dumps(doc, sort_keys=True, separators=(",", ":"))


# The failback hold (lambda/ops/hold.py): one item in the transactions table, armed by the DR
# validator before it accepts a payment through the failover name, honoured by the primary's /health, cleared only by
# `drctl failback` (state CLEARED + clearedAt) after its replication evidence.
FAILBACK_HOLD_ID = "__failback_hold__"  # transactionId; sort key timestamp = 0
FAILBACK_HOLD_ARMED = "armed"
FAILBACK_HOLD_CLEARED = "cleared"

# -- domains ------------------------------------------------------------------------------
# RFC 2606 / RFC 6761 names that can never be delegated: Route 53 rejects them and ACM can
# never validate them. A synth with one works (tests, review); a plan stops (precondition).
RESERVED_DOMAINS = ("example.com", "example.net", "example.org")
RESERVED_TLDS = ("example", "test", "invalid", "localhost")


def reserved_domain(name: str) -> str | None:
    """Why `name` can never be served (a sentence), or None when it is not reserved."""
    name = name.lower().rstrip(".")
    for domain in RESERVED_DOMAINS:
        if name == domain or name.endswith("." + domain):
            return f"{name} is under {domain}, reserved by RFC 2606"
    tld = name.rsplit(".", 1)[-1]
    if tld in RESERVED_TLDS:
        return f"{name} is under .{tld}, a reserved top-level domain (RFC 2606/6761)"
    return None


# -- Lambda ----------------------------------------------------------------------------------
LAMBDA_RUNTIME = "python3.13"
LAMBDA_ARCHITECTURE = "arm64"
# Powertools for AWS Lambda (Python): the release the tests run against (Pipfile pins it).
POWERTOOLS_VERSION = "3.37.0"
POWERTOOLS_LAYER_PARAMETER = (
    f"/aws/service/powertools/python/{LAMBDA_ARCHITECTURE}/{LAMBDA_RUNTIME}/{POWERTOOLS_VERSION}")
# Lambda always keeps this much of the account's concurrency unreserved.
LAMBDA_MIN_UNRESERVED_CONCURRENCY = 10
# With LAMBDA_RESERVED_CONCURRENCY on, the validator reserves that many and the health function
# this many (per region), so a validator spike never throttles the health check. drctl preflight
# compares the sum with the account's quota.
LAMBDA_HEALTH_RESERVED_CONCURRENCY = 5

# -- function environment -----------------------------------------------------------------
# The names of the environment variables our functions read: modules/ sets them on each
# aws_lambda_function, lambda/ reads them, both through these constants (no tier spells one
# again: tests/drctl/test_contract_facts.py). Not ours, so not here and spelled as literals:
# the Lambda runtime's own (AWS_REGION, AWS_DEFAULT_REGION, AWS_EXECUTION_ENV, AWS_LAMBDA_*)
# and Powertools' (POWERTOOLS_SERVICE_NAME, POWERTOOLS_LOG_LEVEL, POWERTOOLS_TRACE_DISABLED;
# POWERTOOLS_METRICS_NAMESPACE is here because our functions read it themselves).
ENV_METRICS_NAMESPACE = "POWERTOOLS_METRICS_NAMESPACE"  # every function; Powertools' Metrics too
ENV_REGION_ROLE = "REGION_ROLE"  # every function: primary | dr
# payments.settings (validator, health, reconcile, dupcheck)
ENV_TRANSACTIONS_TABLE = "TRANSACTIONS_TABLE"  # ... and the heartbeat
ENV_IDEMPOTENCY_TABLE = "IDEMPOTENCY_TABLE"
ENV_AUDIT_BUCKET = "AUDIT_BUCKET"  # ... and the heartbeat
ENV_KMS_KEY_ARN = "KMS_KEY_ARN"
ENV_MAX_AMOUNT = "MAX_AMOUNT"
ENV_TRANSACTIONS_CONSISTENCY_MODE = "TRANSACTIONS_CONSISTENCY_MODE"
ENV_HEALTH_SEARCH_STRING = "HEALTH_SEARCH_STRING"  # ... and the probe
ENV_FAILOVER_DOMAIN_NAME = "FAILOVER_DOMAIN_NAME"
ENV_IDEMPOTENCY_TTL_SECONDS = "IDEMPOTENCY_TTL_SECONDS"
# the authorizer
ENV_CLIENT_KEYS_SECRET = "CLIENT_KEYS_SECRET"
ENV_NONCE_TABLE = "NONCE_TABLE"
ENV_NONCE_KEY_ATTRIBUTE = "NONCE_KEY_ATTRIBUTE"
ENV_NONCE_TTL_ATTRIBUTE = "NONCE_TTL_ATTRIBUTE"
ENV_MAX_CLOCK_SKEW_SECONDS = "MAX_CLOCK_SKEW_SECONDS"
ENV_CLIENT_KEYS_CACHE_SECONDS = "CLIENT_KEYS_CACHE_SECONDS"
ENV_CLIENT_KEYS_MAX_STALE_SECONDS = "CLIENT_KEYS_MAX_STALE_SECONDS"
# the probe (and the heartbeat: PEER_REGION)
ENV_PEER_ROLE = "PEER_ROLE"  # set, not read: the probe derives it from REGION_ROLE
ENV_PEER_REGION = "PEER_REGION"
ENV_PEER_HEALTH_URL = "PEER_HEALTH_URL"
ENV_DOMAIN_HEALTH_URL = "DOMAIN_HEALTH_URL"
ENV_PEER_FAILURES_TO_BLOCK = "PEER_FAILURES_TO_BLOCK"
ENV_FAILBACK_PARAMETER = "FAILBACK_PARAMETER"
ENV_PROBE_CONNECT_TIMEOUT_SECONDS = "PROBE_CONNECT_TIMEOUT_SECONDS"
ENV_PROBE_READ_TIMEOUT_SECONDS = "PROBE_READ_TIMEOUT_SECONDS"
ENV_PROBE_BUDGET_SECONDS = "PROBE_BUDGET_SECONDS"
# the reconcile job and the duplicate check
ENV_STATUS_INDEX = "STATUS_INDEX"
ENV_RECONCILE_WORKERS = "RECONCILE_WORKERS"
ENV_RECONCILE_CHECKPOINT_KEY = "RECONCILE_CHECKPOINT_KEY"
ENV_RECONCILE_LOOKBACK_MINUTES = "RECONCILE_LOOKBACK_MINUTES"
ENV_RECONCILE_GRACE_MINUTES = "RECONCILE_GRACE_MINUTES"
ENV_DUPCHECK_WORKERS = "DUPCHECK_WORKERS"

# Tuning knobs a handler reads with a default of its own and the deployment leaves unset
# (tests/test_function_environment.py: every other variable a function reads, its
# aws_lambda_function sets).
FUNCTION_TUNING_VARIABLES = frozenset({
    ENV_CLIENT_KEYS_CACHE_SECONDS, ENV_CLIENT_KEYS_MAX_STALE_SECONDS,  # authorizer key cache
    ENV_IDEMPOTENCY_TTL_SECONDS,  # validator (payments.settings, read by every payment function)
    ENV_PROBE_CONNECT_TIMEOUT_SECONDS, ENV_PROBE_READ_TIMEOUT_SECONDS, ENV_PROBE_BUDGET_SECONDS,
    ENV_FAILBACK_PARAMETER,  # probe: set only in the region that keeps a latch
    ENV_RECONCILE_LOOKBACK_MINUTES, ENV_RECONCILE_GRACE_MINUTES,
})

# -- health ------------------------------------------------------------------------------
# Route 53 health checks match this string in the body of GET /health (HTTPS_STR_MATCH), so
# a 200 from anything but a healthy payment path (a proxy, an error page) is not "healthy".
HEALTH_SEARCH_STRING = "PAYMENTS_HEALTHY"
# Routes of the health function: /health (Route 53, through WAF) and /probe (the peer
# region's SigV4 probe). API Gateway's path part is the same without the slash.
HEALTH_PATH = "/health"
PROBE_PATH = "/probe"

# -- the API's error shape -------------------------------------------------------------------
# Every error the API answers (the functions, API Gateway's gateway responses, WAF's custom
# responses) has this body and these headers: an error must never be cached and replayed.
ERROR_HEADERS = {"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"}


def api_error(code: str, message: str, *, field: str | None = None, outcome: str | None = None,
              retry_after_s: int | None = None) -> dict[str, dict[str, object]]:
    """`{"error": {code, message[, field][, outcome][, retryable, retryAfterSeconds]}}`;
    `outcome` (not_recorded / unknown / recorded) says what is known about the payment."""
    error: dict[str, object] = {"code": code, "message": message}
    if field is not None:
        error["field"] = field
    if outcome is not None:
        error["outcome"] = outcome
    if retry_after_s is not None:
        error["retryable"] = True
        error["retryAfterSeconds"] = retry_after_s
    return {"error": error}


# -- metrics published by our own functions ---------------------------------------------
METRICS_NAMESPACE = "PaymentsDR"  # the functions read it from ENV_METRICS_NAMESPACE
# RPO canary (lambda/heartbeat.py): dimensions Store=dynamodb|s3, From=<peer region name>.
CANARY_DELAY_METRIC = "ObservedReplicationDelay"
CANARY_HEARTBEAT_AGE_METRIC = "HeartbeatAge"
CANARY_STORES = ("dynamodb", "s3")

# -- metrics that an alarm (modules/) and a reader (drctl/, the functions) both name ----------


@dataclass(frozen=True)
class MetricSpec:
    """Namespace, name, dimension names (in order) and the statistic the alarm evaluates: a
    reader judging the same metric against the alarm's threshold asks for the same statistic."""

    namespace: str
    name: str
    dimensions: tuple[str, ...]
    statistic: str

    def dims(self, *values: str) -> dict[str, str]:
        if len(values) != len(self.dimensions):
            raise ValueError(f"{self.name} has dimensions {self.dimensions}, got {values}")
        return dict(zip(self.dimensions, values, strict=True))


# Aurora PostgreSQL global database: milliseconds, published by each SECONDARY cluster.
AURORA_RPO_LAG = MetricSpec("AWS/RDS", "AuroraGlobalDBRPOLag", ("DBClusterIdentifier",), "Maximum")
# DynamoDB global tables: milliseconds for this replica's writes to reach ReceivingRegion.
DYNAMODB_REPLICATION_LATENCY = MetricSpec(
    "AWS/DynamoDB", "ReplicationLatency", ("TableName", "ReceivingRegion"), "Average")
_S3_REPLICATION_DIMENSIONS = ("SourceBucket", "DestinationBucket", "RuleId")
S3_REPLICATION_LATENCY = MetricSpec("AWS/S3", "ReplicationLatency", _S3_REPLICATION_DIMENSIONS, "Maximum")
S3_REPLICATION_FAILED = MetricSpec(
    "AWS/S3", "OperationsFailedReplication", _S3_REPLICATION_DIMENSIONS, "Sum")
S3_REPLICATION_PENDING = MetricSpec(
    "AWS/S3", "OperationsPendingReplication", _S3_REPLICATION_DIMENSIONS, "Maximum")
# Where AWS publishes them (S3 User Guide, "Using S3 Replication metrics", column "Which Region
# is this metric published in?"): BytesPendingReplication, ReplicationLatency and
# OperationsPendingReplication in the DESTINATION bucket's Region, OperationsFailedReplication
# in the SOURCE bucket's. Alarms and drctl read each one there.
S3_METRICS_IN_DESTINATION_REGION = frozenset(
    {"BytesPendingReplication", S3_REPLICATION_LATENCY.name, S3_REPLICATION_PENDING.name})


def s3_metric_region(spec: MetricSpec, *, source: str, destination: str) -> str:
    """The region whose CloudWatch holds S3 replication metric `spec` for source -> destination."""
    return destination if spec.name in S3_METRICS_IN_DESTINATION_REGION else source


# RPO canary (lambda/heartbeat.py): seconds, Store=dynamodb|s3, From=<peer region name>.
CANARY_DELAY = MetricSpec(METRICS_NAMESPACE, CANARY_DELAY_METRIC, ("Store", "From"), "Maximum")
# The probes (lambda/probe.py): 1 when the peer's GET /probe answered healthy, per Peer role;
# its alarm and drctl's failback evidence for a held primary read the Minimum.
PEER_HEALTHY = MetricSpec(METRICS_NAMESPACE, "PeerHealthy", ("Peer",), "Minimum")
# The validator's outcome metrics (Powertools EMF: dimensions service and region).
VALIDATOR_SERVICE = "payment-validator"
METRIC_OUTCOME_UNKNOWN = "OutcomeUnknown"  # the client got "outcome unknown" and must retry
METRIC_UNHANDLED_ERROR = "UnhandledError"
METRIC_RECEIPT_WRITE_FAILED = "ReceiptWriteFailed"
METRIC_DEPENDENCY_FAILURE = "DependencyFailure"
VALIDATOR_OUTCOME_DIMENSIONS = ("service", "region")

# -- transactions table indexes ---------------------------------------------------------------
# The sparse GSIs of the transactions table (modules/tables.py); reconcile and the duplicate
# commands read STATUS_INDEX (hash ``status``, range ``timestamp``).
CUSTOMER_INDEX = "customer-index"
STATUS_INDEX = "status-index"

# -- idempotency table ----------------------------------------------------------------------
# Key and TTL attributes of the idempotency table (modules/tables.py), as Powertools'
# idempotency layer (the validator) and the authorizer's nonce records use them. Nonce keys
# start with NONCE_KEY_PREFIX, the only keys the authorizer's IAM lets it write.
IDEMPOTENCY_KEY_ATTRIBUTE = "id"
IDEMPOTENCY_TTL_ATTRIBUTE = "expiration"
NONCE_KEY_PREFIX = "nonce#"
# Powertools keys the validator's records `<key_prefix>#<sha256>`: its IAM admits only those.
VALIDATOR_IDEMPOTENCY_KEY_PREFIX = "payment-validator"

# -- client keys ------------------------------------------------------------------------
# Each key in the client-keys secret (lambda/ops/clientkeys.py) carries its end of validity
# (`notAfter`, UTC, `2027-12-07T18:00:00Z`); the authorizer refuses a key past it. drctl issues
# keys for at most CLIENT_KEY_MAX_DAYS and `drctl client-keys check` flags keys that end
# within CLIENT_KEY_WARN_DAYS. A key written before expiry existed (a bare string) is refused
# where the authorizer's ENV_CLIENT_KEYS_REQUIRE_EXPIRY is "true" (prod-like environments).
CLIENT_KEY_NOT_AFTER = "notAfter"
CLIENT_KEY_TIME_FORMAT = "%Y-%m-%dT%H:%M:%SZ"
CLIENT_KEY_MAX_DAYS = 365
CLIENT_KEY_WARN_DAYS = 30
ENV_CLIENT_KEYS_REQUIRE_EXPIRY = "CLIENT_KEYS_REQUIRE_EXPIRY"
# The authorizer publishes (EMF, at most once a minute per instance) the days until the first
# enabled client is left without a valid key (per client: its latest-ending key), dimension
# {service: AUTHORIZER_SERVICE}; ALARM_CLIENT_KEY_EXPIRY pages below CLIENT_KEY_ALARM_DAYS.
AUTHORIZER_SERVICE = "payments-authorizer"
METRIC_CLIENT_KEY_DAYS_LEFT = "ClientKeyDaysLeft"
ALARM_CLIENT_KEY_EXPIRY = "client-key-expiry"
CLIENT_KEY_ALARM_DAYS = 14

# -- per-client quotas (API Gateway usage plans, docs/api-protection.md) -----------------
# The API's key source is AUTHORIZER: the authorizer answers an allowed request with
# `usageIdentifierKey` = the value of the client's API key, and API Gateway applies the
# usage plan that key belongs to. The value is derived (below) from the client-keys secret's
# name and the client id, so the authorizer needs nothing new in the secret, drctl can
# (re)create the key in either region at any time, and two environments sharing a region
# never collide (API key values are unique per account and region). It is an identifier, not
# a credential: with the AUTHORIZER source API Gateway never reads a key a caller sends.
USAGE_KEY_PREFIX = "usage-"


def usage_identifier_key(secret_id: str, client_id: str) -> str:
    """The API key value of `client_id` (70 characters; API Gateway wants at least 20)."""
    digest = hashlib.sha256(f"{secret_id}\n{client_id}".encode()).hexdigest()
    return f"{USAGE_KEY_PREFIX}{digest}"

# -- audit bucket key prefixes ------------------------------------------------------------
# IAM grants and lifecycle rules (modules/) and the functions' writes (lambda/) use these.
RECEIPTS_PREFIX = "receipts/"  # receipts/<clientId>/<transactionId>.json (validator, reconcile)
HEALTH_PREFIX = "health/"  # health/<region>.json, the health check's short-locked write
HEARTBEAT_PREFIX = "heartbeat/"  # heartbeat/<region>.json, the RPO canary (replicated)

# Receipt reconciliation (lambda/reconcile.py, modules/jobs.py): the watermark item it keeps in
# the transactions table (key prefix + region, no customer/status attributes, so no index sees
# it) and how far behind it is: seconds of eligible records (older than the grace period) not
# yet checked. The alarm pages when the job falls that far behind.
RECONCILE_CHECKPOINT_KEY_PREFIX = "__reconcile__#"
RECONCILE_LAG_METRIC = "ReconcileLagSeconds"
ALARM_RECONCILE_LAG = "reconcile-lag"
RECONCILE_LAG_THRESHOLD_S = 600.0

# Duplicate acceptances marked as they land (TRANSACTIONS_CONSISTENCY=EVENTUAL only:
# lambda/dupcheck.py on each replica's DynamoDB stream, modules/jobs.py DuplicateCheck). How far
# behind it is, is Lambda's own IteratorAge; the alarm pages above DUPCHECK_LAG_THRESHOLD_S.
DUPCHECK_SERVICE = "payment-dupcheck"
ALARM_DUPCHECK_LAG = "duplicates-stream-lag"
DUPCHECK_LAG_THRESHOLD_S = 60.0
ALARM_DUPLICATES_MARKED = "duplicates-marked"
ALARM_DUPCHECK_FAILED = "duplicates-check-failed"
# The documented window (docs/runbook.md section 12): a second acceptance is marked within this
# many seconds of itself while the alarms that bound its parts are quiet: replication into the
# other replica (DynamoDB ReplicationLatency alarm, 10 s), the stream's delivery to the function
# (IteratorAge alarm, 60 s), Lambda's batching window (1 s) and the batch's own checks (the rest).
DUPLICATE_DETECTION_WINDOW_S = 120.0

# -- objectives ----------------------------------------------------------------------------
# What the platform promises. `make review` budgets them from configuration; `drctl drill`
# measures them (drills/last-report.json).
RTO_TARGET_S = 300.0
RPO_TARGET_S = 1.0

# -- drills (modules/drills.py, drctl drill, docs/drills.md) -------------------------------
DRILL_REGIONAL_FAILOVER = "regional-failover"  # FIS: private subnets cut off from DynamoDB
DRILL_REPLICATION = "replication"  # FIS: DynamoDB and S3 replication paused
DRILL_DATABASE = "database"  # drctl: planned switchover to DR and back (no FIS)
# The table of drills is drctl's (drctl/drill/strategies.py, DRILLS): one strategy per name.
# Tag naming the drill that may target a resource (FIS selects targets by tags): the private
# subnets carry DRILL_REGIONAL_FAILOVER, audit buckets and global tables DRILL_REPLICATION.
# Experiment templates carry it too, so `drctl drill` finds them by tag.
DRILL_TAG = "DrDrill"

# -- outputs ----------------------------------------------------------------------------
# Output key -> (stack that writes it, description). drctl reads these keys; a test checks
# every key is written by exactly the stack named here.
OUTPUTS: dict[str, tuple[str, str]] = {}


def _outputs(stack: str, **described: str) -> None:
    for key, description in described.items():
        OUTPUTS[key] = (stack, description)


for _role in ROLES:
    _outputs(
        REGIONAL_STACKS[_role],
        **{
            f"{_role}_region": f"{_role} region",
            f"{_role}_cluster_id": f"{_role} Aurora cluster identifier",
            f"{_role}_cluster_arn": f"{_role} Aurora cluster ARN",
            f"{_role}_aurora_endpoint": f"{_role} Aurora cluster (writer) endpoint",
            f"{_role}_aurora_reader_endpoint": f"{_role} Aurora cluster reader endpoint",
            f"{_role}_s3_bucket": f"{_role} audit bucket",
            f"{_role}_api_endpoint": f"{_role} region's own API URL (its custom domain, https://<region>.<domain>)",
            f"{_role}_api_id": f"{_role} REST API id",
            f"{_role}_api_host": f"{_role} API hostname probed by health checks",
            f"{_role}_sns_topic": f"{_role} alarm topic ARN",
        },
    )
_outputs(
    REGIONAL_STACKS[PRIMARY],
    environment_suffix="environment suffix (dev, prod, ...)",
    global_cluster_id="Aurora global cluster identifier",
    aurora_global_writer_endpoint="global writer endpoint (follows switchover/failover)",
    aurora_secret_arn="master credential secret (replicated to the DR region)",
    dynamodb_table_name="payment transactions global table",
    idempotency_table_name="idempotency records global table",
    replication_lag_threshold_seconds="Aurora RPO lag alarm threshold (s)",
    alarm_name_prefix="prefix of every CloudWatch alarm",
    api_stage_name="API stage in both regions",
)
_outputs(
    ROUTING_STACK,
    primary_health_check_id="Route 53 health check of the primary API",
    dr_health_check_id="Route 53 health check of the DR API",
    health_check_alarm_topic="topic the Route 53 health-check alarms notify",
    custom_domain_url="payments API URL (follows failover)",
)
_outputs(
    FOUNDATION_STACK,
    hosted_zone_id="Route 53 zone holding the failover records",
    domain_name="the payments API's custom domain",
)
del _role


def regional_host(domain_name: str, region: str) -> str:
    """The custom-domain name that always reaches one region (health checks, probes, drills)."""
    return f"{region}.{domain_name}"


# -- physical names -----------------------------------------------------------------------


@dataclass(frozen=True)
class Names:
    """Every physical name of one environment. A rename is one edit, here."""

    env: str

    @property
    def transactions_table(self) -> str:
        return f"payment-transactions-{self.env}"

    @property
    def idempotency_table(self) -> str:
        return f"payment-idempotency-{self.env}"

    @property
    def global_cluster(self) -> str:
        return f"payments-global-{self.env}"

    def cluster(self, role: str) -> str:
        """payments-primary-dev / payments-dr-dev."""
        return f"payments-{role}-{self.env}"

    def cluster_instance(self, role: str, number: int) -> str:
        return f"{self.cluster(role)}-{number}"

    @property
    def database(self) -> str:
        return "payments"

    @property
    def master_username(self) -> str:
        return "payments_admin"

    @property
    def db_secret(self) -> str:
        return f"payments-dr/{self.env}/aurora-master"

    @property
    def client_keys_secret(self) -> str:
        """Per-client HMAC keys (primary region, replicated under the same name to DR)."""
        return f"payments-dr/{self.env}/client-keys"

    def usage_plan(self, role: str) -> str:
        """The usage plan every client's API key joins in that region (drctl client-keys)."""
        return f"payments-clients-{role}-{self.env}"

    def client_api_key(self, client_id: str) -> str:
        """The API key (name) of one client: one per client per region."""
        return f"payments-dr-{self.env}-client-{client_id}"

    def audit_bucket(self, account_id: str, region: str) -> str:
        """Globally unique: account id and region; at most 18+12+1+12+1+14 = 58 characters."""
        return f"payments-dr-audit-{self.env}-{account_id}-{region}"

    def code_bucket(self, account_id: str, region: str) -> str:
        """Function packages (unsigned upload + Signer output) of one region; <= 57 characters."""
        return f"payments-dr-code-{self.env}-{account_id}-{region}"

    def state_bucket(self, account_id: str, region: str) -> str:
        """Terraform state: account and region make it unique across all AWS accounts."""
        return f"payments-dr-tfstate-{self.env}-{account_id}-{region}"

    def function(self, purpose: str, role: str) -> str:
        """payment-validator-primary-dev, as the seed's log group names expect."""
        return f"payment-{purpose}-{role}-{self.env}"

    def regional(self, what: str, role: str) -> str:
        return f"payments-{what}-{role}-{self.env}"

    def key_alias(self, role: str) -> str:
        return f"alias/payments-dr-{self.env}-{role}"

    @property
    def alarm_prefix(self) -> str:
        return f"payments-{self.env}-"

    def alarm(self, what: str, role: str) -> str:
        return f"{self.alarm_prefix}{what}-{role}"

    def failback_gate_alarm(self, peer_role: str) -> str:
        """The alarm Route 53's failback gate for `peer_role` reads; it lives in (and is named
        for) the region that watches the peer: failback to the primary -> `...-dr`."""
        return self.alarm(ALARM_FAILBACK_BLOCKED, other_role(peer_role))

    def failback_parameter(self, peer_role: str) -> str:
        """SSM parameter (in the region that watches `peer_role`) holding the failback latch."""
        return f"/payments-dr/{self.env}/failback/{peer_role}"

    def state_key(self, stack: str) -> str:
        return f"payments-dr/{self.env}/{stack}.tfstate"
