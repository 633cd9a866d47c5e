"""RPO canary (every minute, in each region): write a heartbeat, read the other region's.

Handler string: ``heartbeat.lambda_handler``; an EventBridge schedule invokes it.

Each run, in its own region only (no call leaves the region):

1. Writes this region's heartbeat into the DynamoDB transactions table (a reserved item the
   validator and the indexes never see, ``ops.heartbeat``) and into the audit bucket
   (``heartbeat/<region>.json``, locked for one day only: ``ops.heartbeat.object_lock_params``).
   ``ReturnValues=ALL_OLD`` gives the previous write time.
2. Reads the peer region's heartbeat from this region's replica of the table and from this
   region's bucket (where replication puts it).
3. Publishes (``POWERTOOLS_METRICS_NAMESPACE``):
   ``ObservedReplicationDelay`` {Store=dynamodb|s3, From=<peer region>} in seconds = now -
   the peer's ``writtenAt``: an upper bound that includes up to one write interval (60 s)
   plus schedule jitter; ``HeartbeatMissing`` {Store, From} 1/0 (the peer's heartbeat is not
   here at all); ``HeartbeatAge`` {Store=dynamodb, Region=<this region>} = seconds since this
   region's previous heartbeat (the canary's real write interval, the slack inside the delay);
   ``HeartbeatErrors`` {Store} for failed writes/reads.

Aurora is left out: writing and reading a heartbeat row needs the function in the VPC with a
route and security-group rule to the cluster, database credentials, and a heartbeat table
in the schema; the DR cluster is a read-only secondary, so only the writer's region could
write. That opens the network this canary is meant to stay out of; Aurora's own
``AuroraGlobalDBRPOLag`` (issue 10 item 3) covers the database.

It never raises for AWS errors (they are published and logged); a missing environment
variable fails the init. Per run: ``AWS_CALLS_PER_RUN`` calls (PutItem, GetItem, PutObject,
GetObject, PutMetricData), each at most ``ops.aws.call_worst_case_seconds()`` (12 s): the
function's timeout (modules/jobs.py) covers 60 s (tests/lambda/test_ops_sizing.py).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from aws_lambda_powertools import Logger
from ops import aws, env
from ops import heartbeat as hb
from ops.metrics import COUNT, SECONDS, MetricBatch

from contract import (
    CANARY_DELAY,
    ENV_AUDIT_BUCKET,
    ENV_METRICS_NAMESPACE,
    ENV_PEER_REGION,
    ENV_REGION_ROLE,
    ENV_TRANSACTIONS_TABLE,
    METRICS_NAMESPACE,
)

AWS_CALLS_PER_RUN = 5

logger = Logger(service=os.environ.get("POWERTOOLS_SERVICE_NAME", "payments-heartbeat"))


@dataclass(frozen=True)
class HeartbeatSettings:
    region: str
    role: str
    peer_region: str
    table: str
    bucket: str
    namespace: str

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> HeartbeatSettings:
        region = env.region(environ)
        peer = env.required(environ, ENV_PEER_REGION)
        if peer == region:
            raise env.ConfigError(f"environment variable {ENV_PEER_REGION} must name the other region, not {region}")
        role = env.required(environ, ENV_REGION_ROLE).lower()
        if role not in ("primary", "dr"):
            raise env.ConfigError(f"environment variable {ENV_REGION_ROLE} must be primary or dr, got {role!r}")
        return cls(region=region, role=role, peer_region=peer,
                   table=env.required(environ, ENV_TRANSACTIONS_TABLE), bucket=env.required(environ, ENV_AUDIT_BUCKET),
                   namespace=env.optional(environ, ENV_METRICS_NAMESPACE, METRICS_NAMESPACE))


class Heartbeat:
    def __init__(self, settings: HeartbeatSettings, *, dynamodb: Any = None, s3: Any = None, cloudwatch: Any = None,
                 clock_ms: Callable[[], int] = lambda: time.time_ns() // 1_000_000):
        self.settings = settings
        self.dynamodb = dynamodb if dynamodb is not None else aws.client("dynamodb", settings.region)
        self.s3 = s3 if s3 is not None else aws.client("s3", settings.region)
        self.cloudwatch = cloudwatch if cloudwatch is not None else aws.client("cloudwatch", settings.region)
        self.clock_ms = clock_ms

    def run(self) -> dict[str, Any]:
        cfg = self.settings
        batch = MetricBatch(cfg.namespace)
        summary = {"dynamodb": self._dynamodb(batch), "s3": self._s3(batch)}
        error = batch.publish(self.cloudwatch)
        summary["metricsPublished"] = error is None
        if error:
            logger.error("could not publish metrics", extra={"aws_error": error})
        logger.info("heartbeat finished", extra=summary)
        return summary

    def _observe(self, batch: MetricBatch, store: str, peer_written_at: int | None) -> dict[str, Any]:
        peer = self.settings.peer_region
        batch.add("HeartbeatMissing", 0 if peer_written_at is not None else 1, COUNT, Store=store, From=peer)
        if peer_written_at is None:
            return {"peerHeartbeat": "missing"}
        delay = hb.delay_seconds(self.clock_ms(), peer_written_at)
        batch.add(CANARY_DELAY.name, delay, SECONDS, **CANARY_DELAY.dims(store, peer))
        return {"peerWrittenAt": peer_written_at, "observedDelaySeconds": delay}

    def _dynamodb(self, batch: MetricBatch) -> dict[str, Any]:
        from botocore.exceptions import BotoCoreError, ClientError

        cfg, out = self.settings, {}
        now = self.clock_ms()
        try:
            old = self.dynamodb.put_item(TableName=cfg.table, Item=hb.item(cfg.region, cfg.role, now),
                                         ReturnValues="ALL_OLD").get("Attributes")
            out["written"] = now
            previous = hb.written_at_from_item(old)
            if previous is not None:
                batch.add("HeartbeatAge", hb.delay_seconds(now, previous), SECONDS, Store="dynamodb", Region=cfg.region)
        except (ClientError, BotoCoreError) as exc:
            batch.add("HeartbeatErrors", 1, COUNT, Store="dynamodb")
            out["writeError"] = aws.error_code(exc)
            logger.error("heartbeat write failed", extra={"store": "dynamodb", "aws_error": out["writeError"]})
        try:
            found = self.dynamodb.get_item(TableName=cfg.table, Key=hb.item_key(cfg.peer_region),
                                           ConsistentRead=True).get("Item")
            out.update(self._observe(batch, "dynamodb", hb.written_at_from_item(found)))
        except (ClientError, BotoCoreError) as exc:
            batch.add("HeartbeatErrors", 1, COUNT, Store="dynamodb")
            out["readError"] = aws.error_code(exc)
            logger.error("heartbeat read failed", extra={"store": "dynamodb", "aws_error": out["readError"]})
        return out

    def _s3(self, batch: MetricBatch) -> dict[str, Any]:
        from botocore.exceptions import BotoCoreError, ClientError

        cfg, out = self.settings, {}
        now = self.clock_ms()
        try:
            self.s3.put_object(Bucket=cfg.bucket, Key=hb.object_key(cfg.region),
                               Body=hb.object_body(cfg.region, cfg.role, now), ContentType="application/json",
                               **hb.object_lock_params(now))
            out["written"] = now
        except (ClientError, BotoCoreError) as exc:
            batch.add("HeartbeatErrors", 1, COUNT, Store="s3")
            out["writeError"] = aws.error_code(exc)
            logger.error("heartbeat write failed", extra={"store": "s3", "aws_error": out["writeError"]})
        try:
            body = self.s3.get_object(Bucket=cfg.bucket, Key=hb.object_key(cfg.peer_region))["Body"].read()
            out.update(self._observe(batch, "s3", hb.written_at_from_object(body)))
        except ClientError as exc:
            if aws.error_code(exc) in ("NoSuchKey", "404"):
                out.update(self._observe(batch, "s3", None))
            else:
                batch.add("HeartbeatErrors", 1, COUNT, Store="s3")
                out["readError"] = aws.error_code(exc)
                logger.error("heartbeat read failed", extra={"store": "s3", "aws_error": out["readError"]})
        except (BotoCoreError, ValueError) as exc:
            batch.add("HeartbeatErrors", 1, COUNT, Store="s3")
            out["readError"] = aws.error_code(exc)
            logger.error("heartbeat read failed", extra={"store": "s3", "aws_error": out["readError"]})
        return out


# The handler's runtime cache (one style for every handler in lambda/): `init()` builds it,
# `_get_runtime()` returns it (building it on first use), `reset_runtime()` drops it (tests).
_runtime: Heartbeat | None = None


def init(environ: Mapping[str, str] | None = None, **overrides: Any) -> Heartbeat:
    global _runtime
    _runtime = Heartbeat(HeartbeatSettings.from_env(os.environ if environ is None else environ), **overrides)
    return _runtime


def _get_runtime() -> Heartbeat:
    return _runtime or init()


def reset_runtime() -> None:
    global _runtime
    _runtime = None


@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: dict, context: Any) -> dict[str, Any]:
    canary = _get_runtime()
    logger.append_keys(region=canary.settings.region, region_role=canary.settings.role)
    return canary.run()


if env.in_lambda(os.environ):
    init()  # in Lambda: settings and clients at init (a bad setting fails the init)
