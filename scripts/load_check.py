"""Load check (issue 22): the declared peak of signed payments, sustained, through the local twin.

Stands up the twin of a synthesized folder (twin/, docs/twin.md: the JSON's throttles, gateway
and authorizer, the functions from their package, moto as AWS), seeds a client key the way
operators do (the client-keys secret in the primary region), and sends signed `POST /validate`
requests through the failover name at a fixed rate (open loop: each request leaves at its
scheduled time, whatever the earlier ones are doing) for a sustained period. Meanwhile it runs
each region's reconcile function, from its package, on its schedule's event (a scheduled run:
the watermark moves), and after the load until every record has been checked.

Reported (printed, and written as JSON to build/load-check.json): sustained rate, duration,
latency p50/p99/max (from each request's scheduled send time, so a queue behind a slow answer
counts), status counts (5xx and 429 separately), how late the sender fell behind schedule, and
per region the reconcile runs: records checked, their rate, missing receipts, duplicates and the
lag (window end - watermark) during and at the end. Every non-2xx answer is joined, through its
x-amzn-RequestId, to the twin gateway's trace of that request and reported with its cause (the
gateway's response type; Lambda's throttle with what the busy executions were doing; the
function's error type, message and stack frame; or the function's own error code), counted by
cause; and the CPU the harness itself used during the load (the twin's process, each function
kind's environments), so a cause in this machine is told apart by evidence, never by filtering:
any 5xx fails the check.

LOCAL figures, not AWS: moto answers for DynamoDB, S3, KMS and Secrets Manager on this machine's
shared cores, the twin's gateway stands for API Gateway (no WAF, plain HTTP), and replication is
simulated. Two overrides, printed with the result: the reconcile functions' grace period is 1
minute instead of 15 (RECONCILE_GRACE_MINUTES, a whole number of minutes), so the records of a
few minutes' run become eligible during the check; and the serving region's validator and
authorizer may grow to the concurrency the settings size the validator for at that peak (20 at
10/s): the twin otherwise allows 4 per function, its own cap, not the platform's (without a
reservation AWS draws on the account's unreserved concurrency, which `drctl preflight` checks),
and answers 500 past it as API Gateway does for a throttled Lambda. `--environments` of them
(default: all of that concurrency) are started before the load, because the twin's cold start
is a new Python process on this machine's shared cores (seconds, and it takes CPU from the
running invocations; Lambda's does neither): docs/twin.md "Load check".

    python scripts/load_check.py [cdktf.out] [--rate 10] [--duration 90] [--json build/load-check.json]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import sys
import threading
import time
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
if str(ROOT / "lambda") not in sys.path:
    sys.path.append(str(ROOT / "lambda"))  # ops.signing: how clients sign

from contract import ENV_CLIENT_KEYS_SECRET, ENV_RECONCILE_GRACE_MINUTES, ENV_TRANSACTIONS_TABLE  # noqa: E402

CLIENT_ID = "load-check-client"
RECONCILE_HANDLER = "reconcile.lambda_handler"
AUTHORIZER_HANDLER = "authorizer.lambda_handler"
SCHEDULED_EVENT = {"source": "aws.events", "detail-type": "Scheduled Event", "detail": {}}
GRACE_OVERRIDE_MINUTES = 1
WARM_PARALLEL = 4  # environments started at once before the load (each init is a process)


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100) of a non-empty list."""
    ordered = sorted(values)
    rank = max(1, min(len(ordered), int(-(-q * len(ordered) // 100))))
    return ordered[rank - 1]


def failover_name(twin: Any) -> str:
    """The name clients use: the one no region's own name is (`<region>.<domain>`)."""
    return str(next(name for name in twin.names if not any(name.startswith(r + ".") for r in twin.ports)))


def _functions(twin: Any, handler: str) -> dict[str, str]:
    return {region: fn.name for (region, _), fn in twin.pool.functions.items() if fn.handler == handler}


def seed_client_key(twin: Any) -> str:
    """A client key in the client-keys secret of the primary region (replicated by the twin)."""
    from ops.clientkeys import key_item
    from ops.signing import new_key

    key = new_key()
    primary = twin.region_of("primary")
    secret = twin.function(primary, _functions(twin, AUTHORIZER_HANDLER)[primary]).environment[ENV_CLIENT_KEYS_SECRET]
    secrets = twin.client("secretsmanager", primary)
    try:  # keep the clients already there (the twin's scenario tests share one twin)
        value = json.loads(secrets.get_secret_value(SecretId=secret)["SecretString"])
    except Exception:  # no value yet: the secret is created empty
        value = {}
    clients = value.get("clients") if isinstance(value.get("clients"), dict) else {}
    clients[CLIENT_ID] = {"keys": [key_item(key)], "disabled": False}
    secrets.put_secret_value(SecretId=secret, SecretString=json.dumps({**value, "clients": clients}))
    if not twin.replication.wait_caught_up(10):
        raise RuntimeError("the client-keys secret did not reach the DR region")
    return key


class _Reconciler:
    """Each region's reconcile function on its scheduled event, every `every_s` seconds."""

    def __init__(self, twin: Any, every_s: float):
        self.twin = twin
        self.every_s = every_s
        self.functions = _functions(twin, RECONCILE_HANDLER)
        for region, name in self.functions.items():
            twin.function(region, name).environment[ENV_RECONCILE_GRACE_MINUTES] = str(GRACE_OVERRIDE_MINUTES)
        self.runs: dict[str, list[dict[str, Any]]] = {region: [] for region in self.functions}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def run_once(self) -> None:
        for region, name in self.functions.items():
            started = time.monotonic()
            outcome = self.twin.invoke(region, name, SCHEDULED_EVENT)
            payload = outcome.payload if isinstance(outcome.payload, dict) else {}
            self.runs[region].append({"ok": outcome.ok, "durationS": round(outcome.duration_s, 3),
                                      "at": time.time(), "startedMono": started,
                                      "endedMono": time.monotonic(), **{k: payload.get(k) for k in (
                                          "recordsChecked", "missingReceipts", "receiptsRepaired",
                                          "receiptRepairFailed", "duplicateTransactions", "truncated",
                                          "lagSeconds", "checkedUntilMs")},
                                      **({} if outcome.ok else {"error": str(outcome.payload)[:300]})})

    def start(self) -> None:
        if self.every_s <= 0:  # --reconcile-every 0: no runs during the load, only after it
            return

        def loop() -> None:
            while not self._stop.wait(self.every_s):
                self.run_once()

        self._thread = threading.Thread(target=loop, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()

    def caught_up(self, last_accepted_ms: int) -> bool:
        """Every region's watermark has passed the last accepted payment."""
        return all(runs and runs[-1]["ok"] and (runs[-1]["checkedUntilMs"] or 0) >= last_accepted_ms
                   for runs in self.runs.values())

    def summary(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for region, runs in self.runs.items():
            ok = [r for r in runs if r["ok"]]
            checked = sum(r["recordsChecked"] or 0 for r in ok)
            busy = sum(r["durationS"] for r in ok if r["recordsChecked"])
            out[region] = {
                "runs": len(runs), "failedRuns": len(runs) - len(ok),
                "recordsChecked": checked,
                "checkRatePerSecond": round(checked / busy, 1) if busy else None,
                "missingReceipts": sum(r["missingReceipts"] or 0 for r in ok),
                "receiptRepairFailed": sum(r["receiptRepairFailed"] or 0 for r in ok),
                "duplicates": sum(len(r["duplicateTransactions"] or []) for r in ok),
                "truncatedRuns": sum(1 for r in ok if r["truncated"]),
                "maxLagSeconds": max((r["lagSeconds"] or 0 for r in ok), default=None),
                "finalLagSeconds": ok[-1]["lagSeconds"] if ok else None,
                "maxRunSeconds": max((r["durationS"] for r in ok), default=None),
            }
        return out


def warm_api_functions(twin: Any, region: str, environments: int, concurrency: int) -> float:
    """Start `environments` execution environments of `region`'s validator and authorizer, and
    let them grow to `concurrency` (what the settings size the validator for at the peak).
    Returns the seconds it took."""
    started = time.monotonic()
    for (fn_region, _), fn in twin.pool.functions.items():
        if fn_region == region and fn.handler in ("validator.lambda_handler", AUTHORIZER_HANDLER):
            fn.concurrency = max(fn.concurrency, concurrency, environments)
            missing = environments - len(fn._idle) - fn._busy
            if missing > 0:
                twin.pool.warm(fn, missing, parallel=WARM_PARALLEL)
    return time.monotonic() - started


def run_load_check(twin: Any, key: str, *, rate: float, duration_s: float, senders: int = 32,
                   reconcile_every_s: float = 20.0, wait_for_reconcile_s: float = 150.0,
                   environments: int | None = None, concurrency: int | None = None) -> dict[str, Any]:
    """Send `rate` payments/s for `duration_s` through the failover name; reconcile alongside.

    `wait_for_reconcile_s`: after the load, keep running reconcile until every region's watermark
    passes the last accepted payment (the grace period first), at most this long (0: one run)."""
    from ops.signing import signed_headers

    name = failover_name(twin)
    url = f"https://{name}/validate"
    if concurrency is None:
        concurrency = sized_concurrency(rate)
    if environments is None:
        environments = concurrency
    serving = twin.region_for(name)
    warm_s = warm_api_functions(twin, serving, environments, concurrency)
    counters_before = {name: _counters(f) for name, f in _api_functions(twin, serving).items()}
    cpu_before = cpu_by_part(twin)
    load_before = os.getloadavg()
    log_start = len(twin.gateways[serving].access_log)
    started_ms = int(time.time() * 1000)
    total = max(1, round(rate * duration_s))
    results: list[dict[str, Any]] = [{} for _ in range(total)]

    def send(index: int, scheduled: float) -> None:
        body = json.dumps({"transactionId": f"load-{uuid.uuid4().hex[:20]}", "customerId": "cust-load",
                           "amount": 42.5, "currency": "USD"}).encode()
        headers = {"Content-Type": "application/json",
                   **signed_headers(key_b64=key, client_id=CLIENT_ID, body=body)}
        started = time.monotonic()
        try:
            response = twin.request("POST", url, headers=headers, body=body, timeout=35.0)
            status, region, error = response.status, response.region, response.gateway_error
            detail = "" if status == 200 else response.body[:300].decode(errors="replace")
            request_id = next((v for k, v in response.headers.items() if k.lower() == "x-amzn-requestid"), "")
        except OSError as exc:
            status, region, error, detail, request_id = 0, "", type(exc).__name__, str(exc)[:300], ""
        ended = time.monotonic()
        results[index] = {"status": status, "region": region, "gatewayError": error, "detail": detail,
                          "requestId": request_id, "sentAtS": started - begun,
                          "latencyS": ended - scheduled, "serviceS": ended - started,
                          "lateS": started - scheduled, "acceptedMs": int(time.time() * 1000)}

    reconciler = _Reconciler(twin, reconcile_every_s)
    reconciler.start()
    begun = time.monotonic()
    with ThreadPoolExecutor(max_workers=senders, thread_name_prefix="load") as pool:
        for index in range(total):
            scheduled = begun + index / rate
            delay = scheduled - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            pool.submit(send, index, scheduled)
    elapsed = time.monotonic() - begun
    cpu_during = {part: round(used - cpu_before.get(part, 0.0), 1) for part, used in cpu_by_part(twin).items()}
    reconciler.stop()

    accepted = [r for r in results if r.get("status") == 200]
    last_accepted_ms = max((r["acceptedMs"] for r in accepted), default=0)
    waited_from = time.monotonic()
    reconciler.run_once()
    while (wait_for_reconcile_s > 0 and not reconciler.caught_up(last_accepted_ms)
           and time.monotonic() - waited_from < wait_for_reconcile_s):
        time.sleep(min(reconcile_every_s, 10.0) if reconcile_every_s > 0 else 10.0)
        reconciler.run_once()
    statuses = Counter(str(r.get("status")) for r in results)
    entries = twin.gateways[serving].access_log[log_start:]
    gateway_errors = Counter(str(e.error_type) for e in entries if e.error_type)
    failures = explain_failures(results, entries)
    api_functions = function_figures(twin, serving, counters_before)
    replicated = twin.replication.wait_caught_up(30)
    in_replica = {region: _records_since(twin, region, started_ms) for region in twin.ports}
    latencies = [r["latencyS"] for r in results if r.get("status")]
    timeline = _timeline(results, {region: [(run["startedMono"] - begun, run["endedMono"] - begun)
                                             for run in runs] for region, runs in reconciler.runs.items()})
    return {
        "label": "LOCAL: the twin on this machine (moto, simulated gateway and replication), not AWS",
        "cpuCount": os.cpu_count(),
        "loadAverage1mBeforeAfter": [round(load_before[0], 1), round(os.getloadavg()[0], 1)],
        # CPU the harness itself used during the load (all on this machine's cores): demand above
        # the cores' count means every invocation waited for CPU, whatever AWS would do.
        "cpuSecondsDuringLoad": dict(sorted(cpu_during.items(), key=lambda kv: -kv[1])),
        "coresDemandedDuringLoad": round(sum(cpu_during.values()) / elapsed, 2),
        "apiEnvironments": environments,
        "warmUpS": round(warm_s, 1),
        "apiConcurrency": concurrency,
        "failoverName": name,
        "regions": dict(Counter(r.get("region") for r in results)),
        "targetRatePerSecond": rate,
        "requests": total,
        "durationS": round(elapsed, 2),
        "sustainedRatePerSecond": round(total / elapsed, 2),
        "acceptedRatePerSecond": round(len(accepted) / elapsed, 2),
        "statusCounts": dict(sorted(statuses.items())),
        "status5xx": sum(n for s, n in statuses.items() if s.startswith("5")),
        "status429": statuses.get("429", 0),
        "connectionErrors": statuses.get("0", 0),
        # API Gateway's own answers (x-amzn-ErrorType's response type): DEFAULT_5XX is a throttled
        # Lambda (the function's concurrency busy), INTEGRATION_TIMEOUT no answer within 4 s.
        "gatewayResponseTypes": dict(sorted(gateway_errors.items())),
        "latencyMs": {
            "p50": round(percentile(latencies, 50) * 1000, 1) if latencies else None,
            "p99": round(percentile(latencies, 99) * 1000, 1) if latencies else None,
            "max": round(max(latencies) * 1000, 1) if latencies else None,
            "mean": round(statistics.fmean(latencies) * 1000, 1) if latencies else None,
        },
        # Every non-2xx with its cause, from the twin's trace of that request (its access log
        # entry: the gateway's response type, the function, and what Lambda reported).
        "failures": failures,
        "failureCauses": dict(Counter(f["causeClass"] for f in failures).most_common()),
        "apiFunctions": api_functions,
        # Per 10 s of scheduled sends: where the slow answers and the non-2xx fell, and which
        # region's reconcile was running then (the harness's shared CPU, not AWS).
        "timeline": timeline,
        "maxLateS": round(max((r.get("lateS", 0.0) for r in results), default=0.0), 3),
        "reconcile": {
            "graceMinutes": GRACE_OVERRIDE_MINUTES,
            "graceNote": "overridden from the default 15 so the run's records become eligible",
            "everyS": reconcile_every_s,
            "caughtUp": reconciler.caught_up(last_accepted_ms),
            "replicationCaughtUpAfterwards": replicated,
            "recordsInReplica": in_replica,
            # On a fresh twin: records that reached a replica behind its watermark (replicated in
            # later than the grace period after their timestamp), which no scheduled run checks.
            "behindWatermark": {region: max(0, in_replica[region] - r["recordsChecked"])
                                for region, r in reconciler.summary().items()},
            "secondsAfterLoadUntilCaughtUp": round(time.monotonic() - waited_from, 1),
            "regions": reconciler.summary(),
        },
    }


def cause_class(cause: str) -> str:
    """A cause without its figures, so equal causes count together."""
    head, _, rest = cause.partition(": ")
    if "throttled" in head:
        what = "busy executions still in their init (cold starts)" if "in their init" in rest else \
            "every busy execution running"
        return f"{head}: {what}"
    if head.startswith("the function answered"):
        code = re.search(r'"code"\s*:\s*"([A-Z_]+)"', rest)  # the error contract's code (body may be cut)
        return f"{head} {code.group(1)}" if code else head
    if head.endswith("function error"):  # its error type: ReadTimeoutError, Sandbox.Timedout, ...
        return f"{head}: {rest.partition(':')[0]}"
    return head


def explain_failures(results: list[dict[str, Any]], entries: list[Any]) -> list[dict[str, Any]]:
    """Each non-2xx answer, joined to the gateway's trace of it through x-amzn-RequestId."""
    by_id = {e.request_id: e for e in entries}
    out = []
    for r in results:
        if r.get("status") == 200 or not r:
            continue
        entry = by_id.get(r.get("requestId", ""))
        if entry is None:
            cause = (f"no answer from the twin's HTTP server: {r.get('gatewayError')} {r.get('detail')}"
                     if r.get("status") == 0 else "no trace of this request in the gateway's log")
        elif entry.cause:
            cause = entry.cause
        elif entry.error_type:
            cause = f"{entry.error_type} answered {entry.status}"
        else:  # the function's own 4xx: its error code says why
            cause = f"the function answered {entry.status}: {r.get('detail', '')[:200]}"
        out.append({"status": r.get("status"), "gatewayError": r.get("gatewayError"),
                    "errorType": getattr(entry, "error_type", None), "function": getattr(entry, "function", None),
                    "sentAtS": round(r.get("sentAtS", 0.0), 2), "latencyS": round(r.get("latencyS", 0.0), 3),
                    "cause": cause, "causeClass": cause_class(cause)})
    return out


def _api_functions(twin: Any, region: str) -> dict[str, Any]:
    """The serving region's validator and authorizer, by handler module."""
    return {fn.handler.split(".")[0]: fn for (fn_region, _), fn in twin.pool.functions.items()
            if fn_region == region and fn.handler in ("validator.lambda_handler", AUTHORIZER_HANDLER)}


def process_cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a live process (/proc; 0 once it has exited)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime, stime


def cpu_by_part(twin: Any) -> dict[str, float]:
    """CPU seconds used so far by the twin's own process (moto, the gateways, replication, the
    sender's threads) and by each kind of function's execution environments (all regions)."""
    out: dict[str, float] = {"twin process (moto, gateways, replication, sender)": time.process_time()}
    for fn in twin.pool.functions.values():
        kind = fn.handler.split(".")[0]
        out[kind] = out.get(kind, 0.0) + sum(process_cpu_seconds(pid) for pid in fn.pids)
    return out


def _counters(fn: Any) -> tuple[int, int, int]:
    return fn.invocations, fn.cold_starts, fn.throttles


def function_figures(twin: Any, region: str, before: dict[str, tuple[int, int, int]] | None = None) -> dict[str, Any]:
    """The serving region's validator and authorizer during the load: invocations, cold starts
    (with the twin's measured init times) and throttles, counted from `before`."""
    out: dict[str, Any] = {}
    for name, fn in _api_functions(twin, region).items():
        invocations, cold, throttles = (now - was for now, was in zip(
            _counters(fn), (before or {}).get(name, (0, 0, 0)), strict=True))
        inits = fn.init_seconds[len(fn.init_seconds) - cold:] if cold else []
        out[name] = {"invocations": invocations, "coldStarts": cold, "throttles": throttles,
                     "concurrency": fn.concurrency,
                     "initSeconds": {"p50": round(percentile(inits, 50), 2), "max": round(max(inits), 2)}
                     if inits else None}
    return out


def _records_since(twin: Any, region: str, since_ms: int) -> int:
    """Accepted records in `region`'s replica since the load began (status-index, counted)."""
    fn = twin.function(region, _functions(twin, RECONCILE_HANDLER)[region])
    ddb = twin.client("dynamodb", region)
    kwargs: dict[str, Any] = {
        "TableName": fn.environment[ENV_TRANSACTIONS_TABLE],
        "IndexName": fn.environment.get("STATUS_INDEX", "status-index"),
        "KeyConditionExpression": "#s = :s AND #t >= :t", "Select": "COUNT",
        "ExpressionAttributeNames": {"#s": "status", "#t": "timestamp"},
        "ExpressionAttributeValues": {":s": {"S": "VALIDATED"}, ":t": {"N": str(since_ms)}}}
    count = 0
    while True:
        page = ddb.query(**kwargs)
        count += int(page.get("Count", 0))
        if not page.get("LastEvaluatedKey"):
            return count
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def _timeline(results: list[dict[str, Any]], reconcile_runs: dict[str, list[tuple[float, float]]],
              window_s: float = 10.0) -> list[dict[str, Any]]:
    """Latency and non-2xx per `window_s` of send time, with the reconcile runs overlapping it."""
    windows: dict[int, list[dict[str, Any]]] = {}
    for r in results:
        if r.get("status") is not None:
            windows.setdefault(int(r["sentAtS"] // window_s), []).append(r)
    rows = []
    for index in sorted(windows):
        start, end = index * window_s, (index + 1) * window_s
        lat = [r["latencyS"] for r in windows[index]]
        rows.append({"fromS": start, "requests": len(lat),
                     "p50Ms": round(percentile(lat, 50) * 1000), "p99Ms": round(percentile(lat, 99) * 1000),
                     "maxMs": round(max(lat) * 1000),
                     "non2xx": sum(1 for r in windows[index] if r["status"] != 200),
                     "reconcileRunning": sorted(region for region, runs in reconcile_runs.items()
                                                if any(a < end and b > start for a, b in runs))})
    return rows


def render(report: dict[str, Any]) -> str:
    latency = report["latencyMs"]
    lines = [
        f"Load check ({report['label']}; {report['cpuCount']} cores, load average "
        f"{report['loadAverage1mBeforeAfter'][0]:g} before, {report['loadAverage1mBeforeAfter'][1]:g} after; "
        f"{report['apiEnvironments']} warm environments per API function started in {report['warmUpS']:g} s "
        f"before the load, at most {report['apiConcurrency']})",
        f"  {report['requests']} signed payments through {report['failoverName']} "
        f"(served by {report['regions']})",
        f"  target {report['targetRatePerSecond']:g}/s, sustained {report['sustainedRatePerSecond']:g}/s "
        f"over {report['durationS']:g} s (sender at most {report['maxLateS']:g} s behind schedule)",
        f"  latency p50 {latency['p50']} ms, p99 {latency['p99']} ms, max {latency['max']} ms",
        f"  CPU during the load: {report['coresDemandedDuringLoad']:g} cores' worth of the {report['cpuCount']} "
        f"({', '.join(f'{part} {cpu:g} s' for part, cpu in report['cpuSecondsDuringLoad'].items() if cpu)})",
        f"  statuses {report['statusCounts']}: 5xx {report['status5xx']}, 429 {report['status429']}, "
        f"connection errors {report['connectionErrors']}; gateway answers {report['gatewayResponseTypes']}",
        *[f"  non-2xx cause: {n} x {cause}" for cause, n in report["failureCauses"].items()],
        *[f"    {f['status']} {f['errorType'] or ''} at +{f['sentAtS']:g} s: {f['cause']}"
          for f in report["failures"][:10]],
        "  " + "; ".join(f"{name}: {f['invocations']} invocations, {f['coldStarts']} cold starts "
                         f"(init p50 {(f['initSeconds'] or {}).get('p50')} s, max "
                         f"{(f['initSeconds'] or {}).get('max')} s), {f['throttles']} throttled, "
                         f"concurrency {f['concurrency']}" for name, f in report["apiFunctions"].items()),
        f"  reconcile (grace {report['reconcile']['graceMinutes']} min, overridden; every "
        f"{report['reconcile']['everyS']:g} s): caught up {report['reconcile']['caughtUp']} "
        f"{report['reconcile']['secondsAfterLoadUntilCaughtUp']:g} s after the load; records in each "
        f"replica {report['reconcile']['recordsInReplica']} (replication caught up: "
        f"{report['reconcile']['replicationCaughtUpAfterwards']}); arrived behind the watermark "
        f"(unchecked) {report['reconcile']['behindWatermark']}",
    ]
    lines.append("  per 10 s of sends (p50/p99/max ms, non-2xx, reconcile running): " + "; ".join(
        f"+{w['fromS']:g} {w['p50Ms']}/{w['p99Ms']}/{w['maxMs']} {w['non2xx']} "
        f"{'+'.join(w['reconcileRunning']) or '-'}" for w in report.get("timeline", [])))
    for region, r in report["reconcile"]["regions"].items():
        lines.append(f"    {region}: {r['runs']} runs ({r['failedRuns']} failed), {r['recordsChecked']} records "
                     f"checked at {r['checkRatePerSecond']}/s while running, missing receipts "
                     f"{r['missingReceipts']}, duplicates {r['duplicates']}, lag max {r['maxLagSeconds']} s, "
                     f"final {r['finalLagSeconds']} s, longest run {r['maxRunSeconds']} s")
    return "\n".join(lines)


def sized_concurrency(rate: float) -> int:
    """What the settings size the validator's concurrency for at this peak (modules/settings.py)."""
    from modules.settings import Settings

    return int(Settings(peak_payments_per_second=rate).validator_concurrency_needed)


def _default_rate() -> float:
    from modules.settings import DEFAULT_PEAK_PAYMENTS_PER_SECOND

    return float(os.environ.get("PEAK_PAYMENTS_PER_SECOND") or DEFAULT_PEAK_PAYMENTS_PER_SECOND)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("outdir", nargs="?", default="cdktf.out")
    parser.add_argument("--rate", type=float, default=None,
                        help="payments/s (default: PEAK_PAYMENTS_PER_SECOND, else the settings' default)")
    parser.add_argument("--duration", type=float, default=90.0, help="seconds of sustained load")
    parser.add_argument("--senders", type=int, default=32, help="concurrent client connections at most")
    parser.add_argument("--reconcile-every", type=float, default=20.0,
                        help="seconds between reconcile runs during the load (0: none during it, only after)")
    parser.add_argument("--wait", type=float, default=150.0,
                        help="after the load, seconds to let reconcile catch up (0: one run)")
    parser.add_argument("--environments", type=int, default=None,
                        help="execution environments of the serving validator and authorizer started "
                             "before the load (default: the sized concurrency, 20 at 10/s)")
    parser.add_argument("--json", default=str(ROOT / "build" / "load-check.json"))
    args = parser.parse_args(argv)
    rate = args.rate if args.rate is not None else _default_rate()

    from twin.core import Twin

    with Twin(args.outdir, lag_s=0.3) as twin:
        key = seed_client_key(twin)
        report = run_load_check(twin, key, rate=rate, duration_s=args.duration, senders=args.senders,
                                reconcile_every_s=args.reconcile_every, wait_for_reconcile_s=args.wait,
                                environments=args.environments)
    print(render(report))
    path = Path(args.json)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=2, sort_keys=True) + "\n")
    print(f"  written to {path}")
    return verdict(report)


def verdict(report: dict[str, Any]) -> int:
    """1 on any 5xx or connection error (whatever its cause: causes are reported, never
    excused), or a reconcile that did not catch up; else 0."""
    failed = (report["status5xx"] or report["connectionErrors"] or not report["reconcile"]["caughtUp"]
              or any(report["reconcile"]["behindWatermark"].values()))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
