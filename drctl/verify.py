"""`drctl verify`: end-to-end replication probe with canaries, cleaned up afterwards.

Writes a canary item (DynamoDB transactions table, transactionId `drctl-canary-<uuid>`) and a
canary object (S3, `drctl-canary/<uuid>.txt`) in the source region, polls the other region
until each is readable (bounded by --timeout), reports how long each took, and always deletes
both canaries in both regions (try/finally: also on error or Ctrl-C), except an S3 canary
that Object Lock retains (the audit buckets of prod-like environments: COMPLIANCE, 365 days):
no one can delete it, so it is reported as retained (`retained`), not as a cleanup failure.
Each is `CANARY_BODY_BYTES` bytes, in the source bucket and its replica (docs/compliance.md).
"""

from __future__ import annotations

import argparse
import json
import uuid as _uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from drctl import exitcodes
from drctl.clock import Clock
from drctl.command import Command, Context
from drctl.config import VERIFY_REQUIRES, DrConfig, other
from drctl.gateways import TableState, is_unreachable
from drctl.log import EventLog

CANARY_ITEM_PREFIX = "drctl-canary-"
CANARY_OBJECT_PREFIX = "drctl-canary/"
# The S3 canary's size: "drctl canary <drctl-canary-uuid4> written in <region> at <iso time>\n"
CANARY_BODY_BYTES = len("drctl canary ") + len(CANARY_ITEM_PREFIX) + 36 + len(" written in us-east-1 at ") \
    + len("2026-01-01T00:00:00.000000+00:00\n")


@dataclass
class Probe:
    channel: str
    replicated: bool = False
    seconds: float | None = None
    written: bool = False

    def as_dict(self) -> dict[str, Any]:
        return {"channel": self.channel, "written": self.written, "replicated": self.replicated,
                "seconds": None if self.seconds is None else round(self.seconds, 3)}


@dataclass
class VerifyResult:
    source_region: str
    target_region: str
    canary_id: str
    exit_code: int = exitcodes.OK
    probes: list[Probe] = field(default_factory=list)
    cleanup_errors: list[str] = field(default_factory=list)
    retained: list[str] = field(default_factory=list)  # canaries Object Lock keeps
    error: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"source_region": self.source_region, "target_region": self.target_region,
                "canary_id": self.canary_id, "exit_code": self.exit_code,
                "probes": [p.as_dict() for p in self.probes], "cleanup_errors": self.cleanup_errors,
                "retained": self.retained, "error": self.error}

    def to_json(self) -> str:
        return json.dumps(self.as_dict(), indent=2)

    def to_text(self) -> str:
        lines = [f"verify {self.source_region} -> {self.target_region} (canary {self.canary_id}): "
                 f"{'OK' if self.exit_code == 0 else 'FAILED'} (exit {self.exit_code})"]
        for p in self.probes:
            if p.replicated:
                lines.append(f"  {p.channel:<9} replicated in {p.seconds:.1f} s")
            elif p.written:
                lines.append(f"  {p.channel:<9} NOT replicated within the timeout")
            else:
                lines.append(f"  {p.channel:<9} canary not written")
        if self.error:
            lines.append(f"  error: {self.error}")
        lines.append("  cleanup: " + ("done" if not self.cleanup_errors
                                      else "INCOMPLETE: " + "; ".join(self.cleanup_errors)))
        lines += [f"  retained: {r}" for r in self.retained]
        return "\n".join(lines)


def _canary_key(table_state: TableState, canary_id: str, ts_ms: int) -> dict[str, Any]:
    key: dict[str, Any] = {}
    for attr, _kind in table_state.key_schema.items():
        kind = table_state.attribute_types.get(attr, "S")
        key[attr] = ts_ms if kind == "N" else canary_id
    return key or {"transactionId": canary_id, "timestamp": ts_ms}


def verify(cfg: DrConfig, gw: Any, clock: Clock, log: EventLog, *, source_role: str = "primary",
           timeout: float = 120, poll: float = 1.0,
           new_id: Callable[[], str] = lambda: str(_uuid.uuid4())) -> VerifyResult:
    target_role = other(source_role)
    src, dst = cfg.region(source_role), cfg.region(target_role)
    uid = new_id()
    canary_id = f"{CANARY_ITEM_PREFIX}{uid}"
    object_key = f"{CANARY_OBJECT_PREFIX}{uid}.txt"
    table = str(cfg.dynamodb_table_name)
    src_bucket, dst_bucket = cfg.bucket(source_role), cfg.bucket(target_role)
    result = VerifyResult(src, dst, canary_id)
    ddb, s3 = Probe("dynamodb"), Probe("s3")
    result.probes = [ddb, s3]
    key: dict[str, Any] | None = None
    stage = src  # the region the current step talks to
    down: set[str] = set()  # regions that did not answer: cleanup does not wait for them again
    log.info("start", operation="verify", source_region=src, target_region=dst, canary=canary_id,
             table=table, object=f"s3://{src_bucket}/{object_key}", timeout_s=timeout)
    try:
        ts_ms = int(clock.now().timestamp() * 1000)
        key = _canary_key(gw.dynamo(src).table(table), canary_id, ts_ms)
        item = {**key, "transactionId": canary_id, "timestamp": ts_ms,
                "drctlCanary": True, "sourceRegion": src}
        gw.dynamo(src).put_item(table, item)
        ddb.written = True
        ddb_start = clock.monotonic()
        log.info("canary_written", channel="dynamodb", region=src, key=key)
        body = f"drctl canary {canary_id} written in {src} at {clock.now().isoformat()}\n".encode()
        gw.s3(src).put_object(src_bucket, object_key, body)
        s3.written = True
        s3_start = clock.monotonic()
        log.info("canary_written", channel="s3", region=src, bucket=src_bucket, key=object_key)

        deadline = clock.monotonic() + timeout
        stage = dst
        while True:
            if not ddb.replicated and gw.dynamo(dst).get_item(table, key) is not None:
                ddb.replicated, ddb.seconds = True, clock.monotonic() - ddb_start
                log.info("canary_replicated", channel="dynamodb", region=dst, seconds=ddb.seconds)
            if not s3.replicated and gw.s3(dst).object_exists(dst_bucket, object_key):
                s3.replicated, s3.seconds = True, clock.monotonic() - s3_start
                log.info("canary_replicated", channel="s3", region=dst, seconds=s3.seconds)
            if ddb.replicated and s3.replicated:
                break
            if clock.monotonic() >= deadline:
                log.error("canary_timeout", pending=[p.channel for p in (ddb, s3) if not p.replicated],
                          timeout_s=timeout)
                break
            clock.sleep(poll)
        result.exit_code = exitcodes.OK if ddb.replicated and s3.replicated else exitcodes.UNHEALTHY
    except Exception as error:
        result.error = str(error)
        result.exit_code = exitcodes.UNREACHABLE if is_unreachable(error) else exitcodes.FAILED
        if is_unreachable(error):
            down.add(getattr(error, "region", None) or stage)
        log.error("verify_error", error=str(error))
    finally:
        _cleanup(gw, log, result, table, key, object_key, {src: src_bucket, dst: dst_bucket},
                 ddb.written, s3.written, down)
    if result.cleanup_errors and result.exit_code == exitcodes.OK:
        result.exit_code = exitcodes.UNHEALTHY
    log.info("done", operation="verify", exit_code=result.exit_code,
             probes=[p.as_dict() for p in result.probes])
    return result


def _cleanup(gw: Any, log: EventLog, result: VerifyResult, table: str,
             key: dict[str, Any] | None, object_key: str, buckets: dict[str, str],
             item_written: bool, object_written: bool,
             down: set[str] | frozenset[str] = frozenset()) -> None:
    """Deletes the canaries in both regions; each step is independent and logged. A region in
    `down` did not answer this run: it is not asked again (its action client retries, 3 x 30 s
    read timeout, would hold the command for minutes); the canary there is reported instead."""
    steps: list[tuple[str, Callable[[], object]]] = []
    skipped: list[str] = []
    if item_written and key is not None:
        for region in buckets:  # delete in both: a late replica must not survive
            what = f"dynamodb {table} {region}"
            (skipped.append(what) if region in down else
             steps.append((what, partial(_delete_item, gw, region, table, key))))
    if object_written:
        for region, bucket in buckets.items():
            what = f"s3 {bucket}/{object_key}"
            (skipped.append(what) if region in down else
             steps.append((what, partial(_delete_object, gw, region, bucket, object_key))))
    for what in skipped:
        result.cleanup_errors.append(f"{what}: not attempted, the region did not answer; delete it "
                                     "once it does")
        log.warning("canary_cleanup_skipped", target=what, reason="region unreachable")
    for what, step in steps:
        try:
            kept = step()
            if isinstance(kept, str):
                result.retained.append(f"{what}: {kept}")
                log.info("canary_retained", target=what, reason=kept)
                continue
            log.info("canary_deleted", target=what)
        except Exception as error:
            result.cleanup_errors.append(f"{what}: {error}")
            log.error("canary_cleanup_failed", target=what, error=str(error))
    for p in result.probes:
        if p.written and not p.replicated:
            log.warning("late_replica_possible", channel=p.channel,
                        hint="the canary may still replicate after cleanup; items with transactionId "
                             f"{CANARY_ITEM_PREFIX}* and objects under {CANARY_OBJECT_PREFIX} are "
                             "safe to delete")


def _delete_item(gw: Any, region: str, table: str, key: dict[str, Any]) -> None:
    gw.dynamo(region).delete_item(table, key)


def _delete_object(gw: Any, region: str, bucket: str, key: str) -> int | str:
    """Deletes the object's versions, or says why Object Lock keeps them (nothing to try)."""
    lock = gw.s3(region).retained_until(bucket, key)
    if lock is not None:
        until, size = lock
        return f"retained by Object Lock until {until:%Y-%m-%d} ({size} bytes)"
    return int(gw.s3(region).delete_all_versions(bucket, key))


# -- command line ---------------------------------------------------------------------------------

def _arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--from", dest="source", choices=("primary", "dr"), default="primary",
                   help="region role to write the canaries in (default primary)")
    p.add_argument("--timeout", type=float, default=120, help="max seconds to wait (default 120)")
    p.add_argument("--poll-interval", type=float, default=1.0, help="seconds between reads (default 1)")


def _run(ctx: Context) -> VerifyResult:
    return verify(ctx.config, ctx.gw, ctx.clock, ctx.log, source_role=ctx.args.source,
                  timeout=ctx.args.timeout, poll=ctx.args.poll_interval)


COMMAND = Command("verify", "write canaries in one region and time their arrival in the other",
                  _arguments, _run, requires=VERIFY_REQUIRES)
