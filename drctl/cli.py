"""Command line: `python -m drctl COMMAND [options]` (see `--help` and docs/runbook.md)."""

from __future__ import annotations

import argparse
import getpass
import os
import sys
from collections.abc import Callable, Sequence
from typing import Any, TextIO

from drctl import exitcodes
from drctl.clock import Clock
from drctl.config import (
    CLIENT_KEYS_REQUIRES,
    DUPLICATES_REQUIRES,
    FAILBACK_REQUIRES,
    FAILOVER_REQUIRES,
    LOST_WRITES_REQUIRES,
    OUTPUTS,
    REJOIN_REQUIRES,
    STATUS_REQUIRES,
    SWITCHOVER_REQUIRES,
    VERIFY_REQUIRES,
    ConfigError,
    DrConfig,
    flag_of,
    load_outputs_files,
)
from drctl.drill import REQUIRES as DRILL_REQUIRES
from drctl.log import EventLog

EPILOG = "exit codes:\n" + "\n".join(f"  {code:>3}  {text}" for code, text in exitcodes.DESCRIPTIONS.items())


def build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    src = common.add_argument_group("deployment (stack outputs; flags override the files)")
    env_outputs = os.environ.get("DRCTL_OUTPUTS")
    src.add_argument("--outputs", metavar="FILE", action="append",
                     default=env_outputs.split(os.pathsep) if env_outputs else None,
                     help="`terraform output -json` file of one stack, or a cdktf outputs file "
                          "holding several; repeat for each stack (env DRCTL_OUTPUTS, "
                          f"'{os.pathsep}'-separated)")
    src.add_argument("--stack", action="append", help="only these stacks of a cdktf outputs file")
    for name, text in OUTPUTS.items():
        src.add_argument(flag_of(name), dest=name, metavar="VALUE", help=text)
    aws = common.add_argument_group("AWS")
    aws.add_argument("--profile", default=None, help="AWS profile (default: standard credential chain)")
    aws.add_argument("--endpoint-url", default=os.environ.get("DRCTL_ENDPOINT_URL"),
                     help="send every call to this endpoint (testing against moto/localstack only)")
    out = common.add_argument_group("output")
    out.add_argument("--json", action="store_true", help="machine-readable report on stdout")
    out.add_argument("--quiet", action="store_true", help="no event log on stderr")

    parser = argparse.ArgumentParser(
        prog="drctl", description="Disaster-recovery operations for the payments platform "
        "(see docs/runbook.md).", epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def add(name: str, help: str) -> argparse.ArgumentParser:
        return sub.add_parser(name, parents=[common], help=help, description=help, epilog=EPILOG,
                              formatter_class=argparse.RawDescriptionHelpFormatter)

    add("status", "report every replication channel, failover control and the failback gate")
    for name, help in (("switchover", "planned switchover of the Aurora writer to the DR region "
                                      "(no data loss; asks for confirmation)"),
                       ("failback", "back to the primary region: switchover once replication from DR "
                                    "caught up, then open the failback gate (asks for confirmation)"),
                       ("failover", "UNPLANNED failover to the DR region (primary region down; may "
                                    "lose unreplicated writes); calls the DR region only")):
        p = add(name, help)
        p.add_argument("--dry-run", action="store_true", help="run the checks, print the plan, change nothing")
        p.add_argument("--timeout", type=float, default=1800, help="max seconds to wait (default 1800)")
        p.add_argument("--poll-interval", type=float, default=15, help="seconds between polls (default 15)")
        p.add_argument("--override", action="append", default=[], metavar="CHECK",
                       help="proceed although pre-check CHECK (its id, e.g. alarms:dr-alarms) failed; "
                            "needs --reason; logged and printed in the summary")
        p.add_argument("--reason", default="", help="why (required with --override; recorded)")
        p.add_argument("--operator", default=os.environ.get("DRCTL_OPERATOR"),
                       help="who runs this, for the audit trail (default: env DRCTL_OPERATOR or login)")
        if name == "failover":
            p.add_argument("--confirm-data-loss", action="store_true",
                           help="required: accept losing writes not yet replicated to the DR region")
            p.add_argument("--escalate-after", type=float, default=120,
                           help="a switchover toward DR stuck this long is escalated to a failover "
                                "(default 120 s)")
        else:
            p.add_argument("--yes", action="store_true",
                           help="do not ask for confirmation (required when not on a terminal)")
    p = add("lost-writes", "after a failover, once the old primary's region answers: preserve its "
                           "unplanned-failover snapshot, report write fencing and what to reconcile")
    p.add_argument("--dry-run", action="store_true", help="find and report; copy nothing")
    p.add_argument("--old-primary", choices=("primary", "dr"), default="primary",
                   help="role of the cluster that was failed away from (default primary)")
    p = add("rejoin", "read-only: the exact procedure that brings the old primary back as a secondary")
    p.add_argument("--old-primary", choices=("primary", "dr"), default="primary")
    p = add("verify", "write canaries in one region and time their arrival in the other")
    p.add_argument("--from", dest="source", choices=("primary", "dr"), default="primary",
                   help="region role to write the canaries in (default primary)")
    p.add_argument("--timeout", type=float, default=120, help="max seconds to wait (default 120)")
    p.add_argument("--poll-interval", type=float, default=1.0, help="seconds between reads (default 1)")
    from drctl import clientkeys, drill, duplicates, preflight
    drill.add_parser(add)
    clientkeys.add_parser(add)
    duplicates.add_parser(add)
    preflight.add_parser(sub, EPILOG)
    return parser


REQUIRES = {"status": STATUS_REQUIRES, "switchover": SWITCHOVER_REQUIRES,
            "failback": FAILBACK_REQUIRES, "failover": FAILOVER_REQUIRES, "verify": VERIFY_REQUIRES,
            "lost-writes": LOST_WRITES_REQUIRES, "rejoin": REJOIN_REQUIRES, "drill": DRILL_REQUIRES,
            "client-keys": CLIENT_KEYS_REQUIRES, "duplicates": DUPLICATES_REQUIRES}


def load_config(args: argparse.Namespace) -> DrConfig:
    outputs = load_outputs_files(args.outputs, args.stack) if args.outputs else {}
    overrides = {name: getattr(args, name) for name in OUTPUTS}
    cfg = DrConfig.build(outputs, overrides)
    cfg.require(REQUIRES[args.command])
    if getattr(args, "override", None) and not args.reason.strip():
        raise ConfigError(["--override needs --reason TEXT (recorded in the log and the summary)"])
    return cfg


def default_gateways(args: argparse.Namespace) -> Any:
    import boto3

    from drctl.gateways import AwsGateways
    session = boto3.Session(profile_name=args.profile) if args.profile else boto3.Session()
    return AwsGateways(session, endpoint_url=args.endpoint_url)


def terminal_confirm(stdin: TextIO, stderr: TextIO) -> Callable[[str], bool]:
    def confirm(question: str) -> bool:
        if not stdin.isatty():
            return False
        stderr.write(f"{question} Type 'yes' to proceed: ")
        stderr.flush()
        return stdin.readline().strip().lower() == "yes"
    return confirm


def main(argv: Sequence[str] | None = None, *,
         gateways: Callable[[argparse.Namespace], Any] = default_gateways,
         clock: Clock | None = None, stdout: TextIO | None = None,
         stderr: TextIO | None = None, stdin: TextIO | None = None) -> int:
    stdout, stderr = stdout or sys.stdout, stderr or sys.stderr
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_:
        return int(exit_.code or 0)
    clock = clock or Clock()
    log = EventLog(stderr, clock, command=args.command, quiet=args.quiet)
    if args.command == "preflight":  # reads settings (environment), not stack outputs
        from drctl import preflight
        return preflight.main(args, log=log, stdout=stdout, stderr=stderr)
    try:
        cfg = load_config(args)
    except ConfigError as error:
        log.error("config_error", problems=error.problems)
        print(f"drctl: {error}", file=stderr)
        return exitcodes.USAGE
    confirm = (lambda question: True) if getattr(args, "yes", False) else terminal_confirm(
        stdin or sys.stdin, stderr)
    try:
        gw = gateways(args)
        result = run(args, cfg, gw, clock, log, confirm)
    except KeyboardInterrupt:
        log.error("interrupted", hint="re-running the same command is safe")
        print("drctl: interrupted; re-running the same command is safe", file=stderr)
        return exitcodes.INTERRUPTED
    stdout.write((result.to_json() if args.json else
                  (result.to_table() if hasattr(result, "to_table") else result.to_text())) + "\n")
    stdout.flush()
    return int(result.exit_code)


def run(args: argparse.Namespace, cfg: DrConfig, gw: Any, clock: Clock, log: EventLog,
        confirm: Callable[[str], bool]) -> Any:
    from drctl import operations, recovery, status, verify
    if args.command == "status":
        return status.collect_status(cfg, gw, clock, log)
    if args.command == "client-keys":
        from drctl import clientkeys
        return clientkeys.run(args, cfg, gw, log)
    operator = getattr(args, "operator", None) or _login()
    if args.command == "duplicates":
        from drctl import duplicates
        return duplicates.run(args, cfg, gw, log, operator=operator,
                              now_ms=int(clock.now().timestamp() * 1000))
    overrides = operations.Overrides(tuple(getattr(args, "override", []) or ()),
                                     getattr(args, "reason", ""), operator)
    if args.command in ("switchover", "failback"):
        return operations.planned_switchover(
            cfg, gw, clock, log, to_role="dr" if args.command == "switchover" else "primary",
            dry_run=args.dry_run, timeout=args.timeout, poll=args.poll_interval,
            operation=args.command, confirm=confirm, overrides=overrides, operator=operator)
    if args.command == "failover":
        return operations.failover(cfg, gw, clock, log, confirm_data_loss=args.confirm_data_loss,
                                   dry_run=args.dry_run, timeout=args.timeout, poll=args.poll_interval,
                                   overrides=overrides, operator=operator,
                                   escalate_after=args.escalate_after)
    if args.command == "lost-writes":
        return recovery.lost_writes(cfg, gw, clock, log, old_role=args.old_primary, dry_run=args.dry_run)
    if args.command == "rejoin":
        return recovery.rejoin(cfg, gw, clock, log, old_role=args.old_primary)
    if args.command == "drill":
        from drctl import drill
        return drill.run_from_args(args, cfg, gw, clock, log, confirm=confirm, operator=operator)
    if args.command == "verify":
        return verify.verify(cfg, gw, clock, log, source_role=args.source, timeout=args.timeout,
                             poll=args.poll_interval)
    raise AssertionError(args.command)


def _login() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"
