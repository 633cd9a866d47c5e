"""`drctl duplicates list|resolve`: payments accepted twice, marked by reconciliation (issue 20).

With TRANSACTIONS_CONSISTENCY=EVENTUAL one (client, transactionId) can be accepted in both
regions within the replication lag. The reconciliation job marks every later acceptance
`DUPLICATE` (lambda/ops/duplicates.py: the first acceptance is the payment) and its
`DuplicateTransactions` metric, with its alarm, stays up until each marked record is resolved:

    drctl duplicates list
    drctl duplicates resolve --transaction-id T --timestamp MS --action void|keep --reason TEXT
    ... --apply            # without it: a dry run that prints what it would write

`void`: the record is not a payment (status VOIDED; settle only the first). `keep`: the client
meant two payments (status VALIDATED again, never marked again). The decision, who made it,
when and why are written on the record, and logged (stderr, like every drctl command).
The table is a global table: use `--region dr` while the primary region is down.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from drctl import exitcodes
from drctl.command import Command, Context
from drctl.config import DUPLICATES_REQUIRES, DrConfig
from drctl.log import EventLog

_LAMBDA_DIR = Path(__file__).resolve().parent.parent / "lambda"
if str(_LAMBDA_DIR) not in sys.path:
    sys.path.append(str(_LAMBDA_DIR))   # lambda/ops: the module the reconciliation job uses
from ops import duplicates as marking  # noqa: E402

REQUIRES = DUPLICATES_REQUIRES
ACTIONS = ("list", "resolve")


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("action", choices=ACTIONS)
    p.add_argument("--transaction-id", help="resolve: the marked record's transactionId")
    p.add_argument("--timestamp", type=int, help="resolve: the marked record's timestamp (ms), "
                                                 "as `list` prints it")
    p.add_argument("--action", dest="resolution", choices=tuple(marking.RESOLUTIONS),
                   help="resolve: void (not a payment) or keep (a second payment the client meant)")
    p.add_argument("--reason", default="", help="resolve: why (required; written on the record)")
    p.add_argument("--apply", action="store_true", help="resolve: write (default: dry run)")
    p.add_argument("--region", dest="table_region", choices=("primary", "dr"), default="primary",
                   help="region role whose replica to use (default primary)")
    p.add_argument("--operator", default=os.environ.get("DRCTL_OPERATOR"),
                   help="who resolves, for the record and the log (default: env DRCTL_OPERATOR "
                        "or login)")


@dataclass
class DuplicatesResult:
    action: str
    region: str
    table: str
    exit_code: int = exitcodes.OK
    marked: list[dict[str, Any]] = field(default_factory=list)
    change: dict[str, Any] | None = None
    message: str = ""

    def to_json(self) -> str:
        return json.dumps({"action": self.action, "region": self.region, "table": self.table,
                           "exit_code": self.exit_code, "marked": self.marked,
                           "change": self.change, "message": self.message}, indent=2)

    def to_text(self) -> str:
        lines = [f"duplicates {self.action}: {self.table} in {self.region}"]
        if self.message:
            lines.append(self.message)
        for row in self.marked:
            lines.append(f"  {row['transactionId']} client={row['clientId'] or '-'} "
                         f"timestamp={row['timestamp']} region={row['region']} "
                         f"duplicate of timestamp={row['duplicateOf']} (marked by {row['markedBy']})")
        if self.change:
            verb = "written" if self.change["applied"] else "dry run, would write"
            lines.append(f"  {verb}: status {self.change['from']} -> {self.change['to']} "
                         f"({self.change['resolution']}, by {self.change['resolvedBy']}: "
                         f"{self.change['resolutionReason']})")
        return "\n".join(lines)


def run(args: argparse.Namespace, cfg: DrConfig, gw: Any, log: EventLog, *, operator: str,
        now_ms: int) -> DuplicatesResult:
    from drctl.gateways import error_code, is_unreachable

    table = cfg.dynamodb_table_name or cfg.names.transactions_table
    if not getattr(cfg, f"{args.table_region}_region"):
        return _fail(DuplicatesResult(args.action, "?", table), exitcodes.USAGE,
                     f"--region {args.table_region} needs --{args.table_region}-region (or that "
                     "stack's outputs)")
    region = cfg.region(args.table_region)
    result = DuplicatesResult(args.action, region, table)
    dynamodb = gw.client("dynamodb", region, "action")
    try:
        if args.action == "list":
            result.marked = marking.list_marked(dynamodb, table)
            result.message = (f"{len(result.marked)} record(s) marked DUPLICATE, awaiting "
                              "`drctl duplicates resolve`")
            return result
        if not (args.transaction_id and args.timestamp is not None and args.resolution):
            return _fail(result, exitcodes.USAGE,
                         "resolve needs --transaction-id, --timestamp and --action void|keep")
        result.change = marking.resolve(
            dynamodb, table, transaction_id=args.transaction_id, timestamp=args.timestamp,
            action=args.resolution, operator=operator, reason=args.reason, now_ms=now_ms,
            apply=args.apply)
        log.info("duplicate_resolved" if args.apply else "duplicate_resolve_dry_run",
                 **{k: v for k, v in result.change.items() if k != "applied"}, region=region)
        if not args.apply:
            result.message = "dry run: nothing written (add --apply)"
        return result
    except marking.NotMarked as error:
        return _fail(result, exitcodes.REFUSED, str(error))
    except ValueError as error:
        return _fail(result, exitcodes.USAGE, str(error))
    except Exception as error:
        if is_unreachable(error):
            other = "dr" if args.table_region == "primary" else "primary"
            return _fail(result, exitcodes.UNREACHABLE,
                         f"{region} unreachable: {error}. The table is global: --region {other}")
        if error_code(error):
            return _fail(result, exitcodes.FAILED, f"{error_code(error)}: {error}")
        raise


def _fail(result: DuplicatesResult, code: int, message: str) -> DuplicatesResult:
    result.exit_code, result.message = code, message
    return result


def _run(ctx: Context) -> DuplicatesResult:
    return run(ctx.args, ctx.config, ctx.gw, ctx.log, operator=ctx.operator,
               now_ms=int(ctx.clock.now().timestamp() * 1000))


COMMAND = Command("duplicates", "list payments marked as accepted twice, or resolve one "
                                "(TRANSACTIONS_CONSISTENCY=EVENTUAL; dry run unless --apply)",
                  add_arguments, _run, requires=REQUIRES)
