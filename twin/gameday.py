"""Game day on the twin: play an outage of the primary region, run the runbook, write a report.

    python -m twin gameday --outage hang --minutes 10     # or: make gameday

One scenario, end to end, on the twin (everything in it is the twin's SIMULATION: docs/twin.md):

1. warm-up (2 scenario minutes): signed payments through the failover name;
2. the primary region breaks (``hang`` | ``refuse`` | ``5xx``: its API Gateway and, for
   drctl, its AWS APIs; replication both ways stops). A client keeps sending a payment every
   10 s through the failover name and retries a payment that got no answer (same
   transactionId);
3. the operator follows docs/runbook.md section 4 once the name has moved and a page went
   out (or 3 minutes after the fault): ``drctl status``, ``failover --dry-run``, ``failover
   --confirm-data-loss``;
4. after ``--minutes`` the region answers again: ``lost-writes``, ``rejoin``, ``failback
   --dry-run`` until the evidence allows it, ``failback``, ``verify``; the scenario runs on
   until the name answers the primary again (or 5 minutes);
5. every payment is looked up in both regions: accepted, refused, lost, duplicated.

The report (build/gameday/<time>/report.md and report.json) lists faults, pages (alarm, its
region, the topic's region, scenario time), DNS answers, drctl steps with exit codes,
payments per region, RTO and RPO as the twin observed them.
"""

from __future__ import annotations

import datetime as dt
import json
import time
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from contract import ENV_CLIENT_KEYS_SECRET, ENV_TRANSACTIONS_TABLE
from twin.awsmetrics import CLOUDWATCH_BUCKET_WAIT_S
from twin.core import Twin
from twin.rehearsal import Rehearsal

STEP_S = 10.0
CLIENT_TIMEOUT_S = 2.0
PROBE_ALARMS = ("peer-unreachable", "domain-unreachable")
CLIENT_ID = "gameday-client"


@dataclass
class Payment:
    txn: str
    sent_t: float  # scenario seconds from the fault (negative: before it)
    attempts: list[tuple[float, int, str]] = field(default_factory=list)  # (t, HTTP status or 0, region)
    accepted_by: str | None = None
    records: dict[str, int] = field(default_factory=dict)  # region -> records at the end


@dataclass
class GameDay:
    outage: str
    minutes: float
    primary: str = ""
    dr: str = ""
    name: str = ""
    payments: dict[str, Payment] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    figures: dict[str, Any] = field(default_factory=dict)


def _signed(key: str, txn: str) -> tuple[bytes, dict[str, str]]:
    from ops.signing import signed_headers  # lambda/ops: what clients use (docs/calling-the-api.md)

    body = json.dumps({"transactionId": txn, "customerId": "cust-gameday", "amount": 10.0,
                       "currency": "USD"}).encode()
    return body, {"Content-Type": "application/json", **signed_headers(key_b64=key, client_id=CLIENT_ID, body=body)}


def play(outdir: str | Path = "cdktf.out", *, outage: str = "hang", minutes: float = 10.0,
         report_dir: str | Path = "build/gameday", lag_s: float = 0.3) -> tuple[GameDay, Path]:
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "lambda"))
    from ops.signing import new_key

    day = GameDay(outage, minutes)
    with Twin(outdir, lag_s=lag_s) as twin:
        rehearsal = Rehearsal(twin, switch_s=2.0, resync_s=15.0).start()
        try:
            _run(day, twin, rehearsal, new_key())
            report = _report(day, twin, rehearsal)
        finally:
            rehearsal.stop()
    folder = Path(report_dir) / dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "report.json").write_text(json.dumps(report, indent=1, default=str))
    (folder / "report.md").write_text(render(report))
    return day, folder


def _run(day: GameDay, twin: Twin, rehearsal: Rehearsal, key: str) -> None:
    from ops.clientkeys import seed_document
    primary, dr = twin.region_of("primary"), twin.region_of("dr")
    assert twin.route53 is not None and twin.alarms is not None and twin.replication is not None
    name = next(iter(twin.route53.records))
    day.primary, day.dr, day.name = primary, dr, name
    authorizer = next(fn for (r, _), fn in (twin.pool.functions.items() if twin.pool else [])
                      if r == primary and fn.handler == "authorizer.lambda_handler")
    twin.client("secretsmanager", primary).put_secret_value(
        SecretId=authorizer.environment[ENV_CLIENT_KEYS_SECRET],
        SecretString=seed_document(CLIENT_ID, key))
    twin.replication.wait_caught_up(10)
    fault_t = rehearsal.now() + 120  # after the warm-up: warm-up times are negative

    def t() -> float:
        return rehearsal.now() - fault_t

    def pay(txn: str | None = None) -> None:
        txn = txn or f"gd-{uuid.uuid4().hex[:12]}"
        payment = day.payments.setdefault(txn, Payment(txn, t()))
        body, headers = _signed(key, txn)
        try:
            answer = twin.request("POST", f"https://{name}/validate", headers=headers, body=body,
                                  timeout=CLIENT_TIMEOUT_S)
            payment.attempts.append((t(), answer.status, answer.region))
            if answer.status == 200:
                payment.accepted_by = answer.region
        except OSError:
            payment.attempts.append((t(), 0, twin.region_for(name)))

    def retry_unanswered() -> None:
        """Clients retry a payment that got no answer (same transactionId) once the name
        answers a region that is not broken (before that each retry would just time out)."""
        if twin.region_for(name) in twin.faults:
            return
        for p in list(day.payments.values()):
            if p.accepted_by is None and p.attempts and p.attempts[-1][1] in (0, 500, 502, 503, 504):
                pay(p.txn)

    answered = {"region": primary}

    def step(seconds: float) -> None:
        remaining = seconds
        while remaining > 1e-9:
            pay()
            retry_unanswered()
            rehearsal.step(STEP_S)
            remaining -= STEP_S
            region = twin.region_for(name)
            if region != answered["region"]:
                answered["region"] = region
                if region == primary and t() > 0:  # traffic back: are DR's payments there?
                    missing = [p.txn for p in day.payments.values()
                               if p.accepted_by == dr and _records(twin, primary, p.txn) == 0]
                    day.figures.setdefault("dns_back_missing_in_primary", len(missing))

    # 1. warm-up
    step(120)
    rehearsal.drctl("status")
    # 2. the fault
    fault_t = rehearsal.now()
    day.figures["fault_t0"] = fault_t
    rehearsal.outage(primary, outage_kind(day.outage))
    acted = False
    while t() < day.minutes * 60:
        step(STEP_S)
        paged = [p for p in twin.alarms.pages if p.t - rehearsal.t0 >= fault_t]
        if not acted and ((twin.region_for(name) == dr and paged) or t() >= 180):
            # 3. the operator, runbook section 4
            rehearsal.drctl("status")
            rehearsal.drctl("failover", "--dry-run")
            rehearsal.drctl("failover", "--confirm-data-loss", "--poll-interval", "1", "--timeout", "120")
            day.figures["failover_done_s"] = t()
            acted = True
    # 4. the region answers again
    day.figures["restored_s"] = t()
    snapshot = rehearsal.restore(primary)
    day.notes.append(f"on recovery Aurora took {snapshot or 'no snapshot'}")
    step(STEP_S)
    if not acted:  # the outage ended before the operator failed over: nothing to fail back
        day.notes.append("the outage ended before the operator acted (no page and < 3 min): no drctl "
                         "failover, so no failback; Route 53 returns traffic on its own when the primary "
                         "check is healthy and the gate allows it")
        _after(day, twin, rehearsal, t, step)
        return
    rehearsal.drctl("lost-writes")
    rehearsal.drctl("rejoin")
    if not twin.replication.wait_caught_up(30):
        with twin.replication._lock:
            stuck = [(p.kind, p.name, str(p.key)[:60]) for p in twin.replication._pending.values()]
        day.notes.append(f"replication did not catch up in 30 s: {len(stuck)} pending, e.g. {stuck[:3]}")
    day.figures["caught_up_s"] = t()
    # drctl reads the newest 60 s datapoint of moto's CloudWatch, in REAL time, and moto's
    # buckets start at the window's first datapoint: for 60 s real after the catch-up the newest
    # one still averages in the outage's backlog latency (hundreds of scenario seconds of it at
    # this clock's pace). Let that pass in real time, without advancing the scenario, so the
    # failback's figures stay scenario time (docs/twin.md "Replication metrics"). On AWS a
    # minute is a minute. First one scenario minute, so that the catch-up's own latencies (the
    # writes held by the outage, applied now) are published before the wait, not after it.
    step(60)
    time.sleep(CLOUDWATCH_BUCKET_WAIT_S)
    day.notes.append(f"after replication caught up: one scenario minute, then the harness waited "
                     f"{CLOUDWATCH_BUCKET_WAIT_S:g} s real (no scenario time) for moto's newest 60 s CloudWatch "
                     "bucket to pass the outage's backlog")
    overrides: list[str] = []
    started = t()
    while t() - started < 300:
        dry = rehearsal.drctl("failback", "--dry-run")
        failed = _failed(dry.report)
        if dry.exit_code == 0:
            break
        if failed and all(probe_alarm_row(r) for r in failed):
            overrides = [r["id"] for r in failed]
            break
        step(STEP_S)
    if overrides:
        day.notes.append("failback overrode " + ", ".join(overrides) + ": the probe cannot reach the twin's "
                         "names on this branch, so its alarms are in ALARM from the start (docs/twin.md)")
    args = [a for check in overrides for a in ("--override", check)]
    if overrides:
        args += ["--reason", "twin rehearsal: probe alarms (see the gameday notes)"]
    for txn, p in day.payments.items():
        if p.accepted_by == dr:
            p.records[f"{primary}@failback"] = _records(twin, primary, txn)
    back = rehearsal.drctl("failback", "--yes", "--poll-interval", "1", "--timeout", "120", *args)
    day.figures["failback_s"] = t()
    day.figures["failback_exit"] = back.exit_code
    _after(day, twin, rehearsal, t, step)
    rehearsal.drctl("verify", "--timeout", "30")
    rehearsal.drctl("status")


def _after(day: GameDay, twin: Twin, rehearsal: Rehearsal, t: Any, step: Any) -> None:
    """Until the name answers the primary again (5 minutes at most); then count the records."""
    assert twin.replication is not None
    started = t()
    while twin.region_for(day.name) != day.primary and t() - started < 300:
        step(STEP_S)
    back = [a["t"] for a in _answers(twin, rehearsal, day) if a["region"] == day.primary]
    day.figures["dns_back_s"] = back[-1] if back and twin.region_for(day.name) == day.primary else None
    twin.replication.wait_caught_up(30)
    for txn, p in day.payments.items():
        for region in (day.primary, day.dr):
            p.records[region] = _records(twin, region, txn)


def _answers(twin: Twin, rehearsal: Rehearsal, day: GameDay) -> list[dict[str, Any]]:
    assert twin.route53 is not None
    t0 = rehearsal.t0 + day.figures.get("fault_t0", 0.0)
    return [{"t": t - t0, "name": name, "region": region} for t, name, region in twin.route53.answers]


def outage_kind(kind: str) -> str:
    if kind not in ("hang", "refuse", "5xx"):
        raise ValueError(f"outage must be hang, refuse or 5xx, not {kind!r}")
    return kind


def _records(twin: Twin, region: str, txn: str) -> int:
    assert twin.pool is not None
    fn = next(f for (r, _), f in twin.pool.functions.items() if r == region and f.handler == "validator.lambda_handler")
    found = twin.client("dynamodb", region).query(
        TableName=fn.environment[ENV_TRANSACTIONS_TABLE], KeyConditionExpression="transactionId = :t",
        ExpressionAttributeValues={":t": {"S": txn}}, ConsistentRead=True)["Items"]
    return len(found)


def _failed(report: Any) -> list[dict[str, Any]]:
    doc = report or {}
    rows = doc.get("checks", []) + doc.get("pre_checks", []) + doc.get("post_checks", [])
    return [c for c in rows if c.get("state") not in ("OK", "WARN", "OVERRIDDEN")]


def _why(report: Any) -> list[str]:
    """Failed rows of a drctl report: check id, and the alarms at fault for an alarms row."""
    out = []
    for row in _failed(report):
        data = row.get("data") or {}
        alarms = (data.get("in_alarm") or []) + [f"{a} (INSUFFICIENT_DATA)"
                                                 for a in data.get("insufficient_data") or []]
        text = ", ".join(alarms) if alarms else f"{row.get('state')}: {str(row.get('detail'))[:160]}"
        out.append(f"{row.get('id')}: {text}")
    return out


def probe_alarm_row(row: dict[str, Any]) -> bool:
    data = row.get("data") or {}
    return (row.get("component") == "alarms" and not data.get("insufficient_data") and bool(data.get("in_alarm"))
            and all(any(p in a for p in PROBE_ALARMS) for a in data["in_alarm"]))


# -- the report ----------------------------------------------------------------------------

def _report(day: GameDay, twin: Twin, rehearsal: Rehearsal) -> dict[str, Any]:
    assert twin.alarms is not None and twin.route53 is not None
    t0 = rehearsal.t0 + day.figures.get("fault_t0", 0.0)
    pages = [{"alarm": p.alarm, "alarm_region": p.alarm_region, "topic_region": p.topic_region, "t": p.t - t0,
              "from_data": p.from_data, "under_fault": p.under_fault} for p in twin.alarms.pages]
    dns = _answers(twin, rehearsal, day)
    steps = [{"t": r.t - day.figures.get("fault_t0", 0.0), "command": r.command, "exit_code": r.exit_code,
              "outcome": (r.report or {}).get("outcome") or (r.report or {}).get("overall"),
              "seconds": round(r.seconds, 1), "failed": _why(r.report)} for r in rehearsal.runs]
    faults = [{"t": t - t0, "region": region, "kind": kind} for t, region, kind in twin.fault_log]
    accepted = {region: sum(1 for p in day.payments.values() if p.accepted_by == region)
                for region in (day.primary, day.dr)}
    refused = {region: sum(1 for p in day.payments.values() for a in p.attempts if a[2] == region
                           and a[1] not in (0, 200)) for region in (day.primary, day.dr)}
    unanswered = {region: sum(1 for p in day.payments.values() for a in p.attempts if a[2] == region and a[1] == 0)
                  for region in (day.primary, day.dr)}
    lost = [p.txn for p in day.payments.values() if p.accepted_by and
            (p.records.get(day.primary, 0) == 0 or p.records.get(day.dr, 0) == 0)]
    duplicates = [p.txn for p in day.payments.values() if max(p.records.get(day.primary, 0),
                                                              p.records.get(day.dr, 0)) > 1]
    never = [p.txn for p in day.payments.values() if p.accepted_by is None]
    early = [p.txn for p in day.payments.values() if p.accepted_by == day.dr
             and p.records.get(f"{day.primary}@failback", 1) == 0]
    first_dr = min((a[0] for p in day.payments.values() for a in p.attempts
                    if a[0] >= 0 and a[1] == 200 and a[2] == day.dr), default=None)
    last_primary_ok = max((a[0] for p in day.payments.values() for a in p.attempts
                           if a[0] < 0 and a[1] == 200 and a[2] == day.primary), default=None)
    failover = next((r for r in rehearsal.runs if r.argv[:2] == ["failover", "--confirm-data-loss"]), None)
    rpo_estimate = ((failover.report or {}).get("data") or {}).get("last_lag_ms") if failover else None
    moved = next((d["t"] for d in dns if d["t"] >= 0 and d["region"] == day.dr), None)
    dr_pages = [p for p in pages if p["t"] >= 0 and p["topic_region"] == day.dr]
    figures = {
        "outage": day.outage, "minutes": day.minutes, "primary": day.primary, "dr": day.dr, "name": day.name,
        "dns_moved_s": moved, "first_page_s": min((p["t"] for p in pages if p["t"] >= 0), default=None),
        "first_page_via_dr_s": min((p["t"] for p in dr_pages), default=None),
        "rto_client_s": first_dr, "rto_note": "fault to the first payment a client got accepted in DR",
        "rpo_s": 0.0 if not lost else None, "rpo_aurora_estimate_ms": rpo_estimate,
        "rpo_note": "payments accepted before the fault and missing in DR (replication lag 0.3 s, paused at "
                    "the fault): none means RPO 0 for the payments; Aurora's figure is drctl's RPO estimate "
                    "from the simulated AuroraGlobalDBRPOLag",
        "last_primary_payment_before_fault_s": last_primary_ok,
        "payments": len(day.payments), "accepted": accepted, "refused_answers": refused,
        "unanswered_attempts": unanswered, "client_timeout_s": CLIENT_TIMEOUT_S, "never_accepted": never,
        "lost": lost, "duplicates": duplicates,
        "accepted_in_dr_missing_in_primary_at_failback": early, **day.figures,
    }
    return {"figures": figures, "faults": faults, "pages": pages, "dns": dns, "drctl": steps, "notes": day.notes,
            "payments": [asdict(p) for p in day.payments.values()],
            "simulated": "everything: the twin (docs/twin.md); times are scenario seconds from the fault"}


def _s(value: Any) -> str:
    return "-" if value is None else (f"{value:+.0f} s" if isinstance(value, (int, float)) else str(value))


def render(report: dict[str, Any]) -> str:
    f = report["figures"]
    out = [f"# Game day on the twin: {f['primary']} {f['outage']} for {f['minutes']:g} min", "",
           "**Simulated** on the local twin (docs/twin.md): scenario seconds from the fault, not AWS.", "",
           "| figure | value |", "|---|---|",
           f"| DNS ({f['name']}) moved to {f['dr']} | {_s(f['dns_moved_s'])} |",
           f"| first page | {_s(f['first_page_s'])} |",
           f"| first page through {f['dr']}'s topic | {_s(f['first_page_via_dr_s'])} |",
           f"| RTO (first payment accepted in DR) | {_s(f['rto_client_s'])} |",
           f"| RPO (payments) | {'0 s (none lost)' if f['rpo_s'] == 0 else 'payments lost: see below'} |",
           f"| Aurora RPO estimate (drctl failover) | {f['rpo_aurora_estimate_ms']} ms |",
           f"| failover done | {_s(f.get('failover_done_s'))} |",
           f"| region restored | {_s(f.get('restored_s'))} |",
           f"| failback (exit {f.get('failback_exit')}) | {_s(f.get('failback_s'))} |",
           f"| DNS back to {f['primary']} | {_s(f.get('dns_back_s'))} |",
           f"| payments | {f['payments']}: accepted {f['accepted']}, refused answers {f['refused_answers']}, "
           f"no answer within {f['client_timeout_s']:g} s {f['unanswered_attempts']} |",
           f"| lost / duplicates / never accepted | {len(f['lost'])} / {len(f['duplicates'])} / "
           f"{len(f['never_accepted'])} |",
           f"| DR-accepted payments missing in {f['primary']} at failback | "
           f"{len(f['accepted_in_dr_missing_in_primary_at_failback'])} |",
           f"| ... when DNS answered {f['primary']} again | {f.get('dns_back_missing_in_primary', '-')} |", "",
           "## Faults", ""]
    out += [f"- {_s(x['t'])}: {x['region']} {x['kind'] or 'restored'}" for x in report["faults"]]
    out += ["", "## Pages", ""]
    out += [f"- {_s(p['t'])}: {p['alarm']} ({p['alarm_region']}) via the {p['topic_region']} topic"
            + ("" if p["from_data"] else " (missing data only)") + (" (region under fault)" if p["under_fault"] else "")
            for p in report["pages"]]
    out += ["", "## DNS answers", ""]
    out += [f"- {_s(d['t'])}: {d['name']} -> {d['region']}" for d in report["dns"]]
    out += ["", "## drctl", "", "| t | command | exit | outcome | failed rows | real s |", "|---|---|---|---|---|---|"]
    out += [f"| {_s(s['t'])} | `{s['command']}` | {s['exit_code']} | {s['outcome']} | "
            f"{'; '.join(s['failed']) or '-'} | {s['seconds']} |" for s in report["drctl"]]
    if report["notes"]:
        out += ["", "## Notes", ""] + [f"- {n}" for n in report["notes"]]
    return "\n".join(out) + "\n"


def main(argv: list[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(prog="python -m twin gameday", description=__doc__.splitlines()[0])
    parser.add_argument("--outdir", default="cdktf.out")
    parser.add_argument("--outage", default="hang", choices=("hang", "refuse", "5xx"))
    parser.add_argument("--minutes", type=float, default=10.0, help="scenario minutes the region stays down")
    parser.add_argument("--report-dir", default="build/gameday")
    args = parser.parse_args(argv)
    started = time.monotonic()
    _, folder = play(args.outdir, outage=args.outage, minutes=args.minutes, report_dir=args.report_dir)
    print((folder / "report.md").read_text())
    print(f"report: {folder}/report.md, report.json ({time.monotonic() - started:.0f} s real time)")
    return 0
