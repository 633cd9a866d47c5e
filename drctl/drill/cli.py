"""`drctl drill NAME`: its flags and its `Command` in drctl's registry (drctl/command.py)."""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable
from typing import Any

from contract import DR, DRILL_TAG, PRIMARY
from drctl.clock import Clock
from drctl.command import Command
from drctl.config import SWITCHOVER_REQUIRES, DrConfig
from drctl.drill.models import DrillOptions, DrillPorts, DrillResult
from drctl.drill.ports import aws_ports
from drctl.drill.report import DEFAULT_REPORT_DIR
from drctl.drill.run import run_drill
from drctl.drill.strategies import DRILLS
from drctl.log import EventLog

# What `drctl drill` needs from the outputs: the database drill runs drctl's own switchover.
REQUIRES = tuple(dict.fromkeys(("environment_suffix", *SWITCHOVER_REQUIRES)))


def add_arguments(p: argparse.ArgumentParser) -> None:
    """`drctl drill NAME` (the common flags come from cli.py)."""
    p.add_argument("name", choices=tuple(DRILLS), help="which drill")
    p.add_argument("--target", choices=(PRIMARY, DR), default=PRIMARY,
                   help="region role that receives the fault (default primary)")
    p.add_argument("--domain-name", default=os.environ.get("DOMAIN_NAME"),
                   help="custom domain clients use (env DOMAIN_NAME); regional-failover needs it")
    p.add_argument("--dry-run", action="store_true", help="print the plan; start nothing")
    p.add_argument("--timeout", type=float, default=1800,
                   help="max seconds for the fault phase (default 1800)")
    p.add_argument("--recovery-timeout", type=float, default=900,
                   help="max seconds to wait for recovery after the fault (default 900)")
    p.add_argument("--poll-interval", type=float, default=10, help="seconds between polls (default 10)")
    p.add_argument("--yes", action="store_true",
                   help="database drill: do not ask before each switchover (required when not on "
                        "a terminal)")
    p.add_argument("--operator", default=os.environ.get("DRCTL_OPERATOR"),
                   help="who runs this, for the audit trail (default: env DRCTL_OPERATOR or login)")
    p.add_argument("--template-id", help="FIS experiment template id (default: found by its "
                                         f"{DRILL_TAG} and Environment tags)")
    p.add_argument("--report-dir", default=DEFAULT_REPORT_DIR,
                   help=f"where reports go (default {DEFAULT_REPORT_DIR}/, gitignored)")


def run_from_args(args: Any, cfg: DrConfig, gw: Any, clock: Clock, log: EventLog, *,
                  confirm: Callable[[str], bool] | None = None, operator: str = "drctl",
                  ports: DrillPorts | None = None) -> DrillResult:
    # --domain-name / DOMAIN_NAME, else the `domain_name` output once drctl's config reads it.
    domain = args.domain_name or getattr(cfg, "domain_name", None)
    opts = DrillOptions(name=args.name, target_role=args.target, domain_name=domain,
                        timeout=args.timeout, recovery_timeout=args.recovery_timeout,
                        poll=args.poll_interval, dry_run=args.dry_run, report_dir=args.report_dir,
                        template_id=args.template_id)
    ports = ports or aws_ports(cfg, gw, clock, log, opts, confirm=confirm, operator=operator)
    return run_drill(cfg, ports, clock, log, opts)


COMMAND = Command("drill", "run a DR drill (FIS fault or planned switchover) and measure RTO/RPO; "
                           "see docs/drills.md",
                  add_arguments, lambda ctx: run_from_args(ctx.args, ctx.config, ctx.gw, ctx.clock, ctx.log,
                                                           confirm=ctx.confirm, operator=ctx.operator),
                  requires=REQUIRES)
