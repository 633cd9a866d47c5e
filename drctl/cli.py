"""Command line: `python -m drctl COMMAND [options]` (see `--help` and docs/runbook.md)."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence
from typing import Any, TextIO

from drctl import clientkeys, drill, duplicates, exitcodes, operations, preflight, recovery, status, verify
from drctl.clock import Clock
from drctl.command import Command, Context
from drctl.config import OUTPUTS, ConfigError, DrConfig, flag_of, load_outputs_files
from drctl.log import EventLog

# Every subcommand, in `--help` order; each is defined next to the code it runs (drctl/command.py).
COMMANDS: tuple[Command, ...] = (status.COMMAND, *operations.COMMANDS, *recovery.COMMANDS, verify.COMMAND,
                                 drill.COMMAND, clientkeys.COMMAND, duplicates.COMMAND, preflight.COMMAND)
BY_NAME = {command.name: command for command in COMMANDS}

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

    for command in COMMANDS:
        p = sub.add_parser(command.name, parents=[common] if command.outputs else [], help=command.help,
                           description=command.help, epilog=EPILOG,
                           formatter_class=argparse.RawDescriptionHelpFormatter)
        command.add_arguments(p)
    return parser


def load_config(args: argparse.Namespace) -> DrConfig:
    outputs = load_outputs_files(args.outputs, args.stack) if args.outputs else {}
    overrides = {name: getattr(args, name) for name in OUTPUTS}
    cfg = DrConfig.build(outputs, overrides)
    cfg.require(BY_NAME[args.command].requires)
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
    command = BY_NAME[args.command]
    if not command.outputs:
        result = command.run(Context(args, None, None, clock, log, terminal_confirm(stdin or sys.stdin, stderr),
                                     stdout, stderr))
        return _report(result, args, stdout)
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
        result = command.run(Context(args, cfg, gw, clock, log, confirm, stdout, stderr))
    except KeyboardInterrupt:
        log.error("interrupted", hint="re-running the same command is safe")
        print("drctl: interrupted; re-running the same command is safe", file=stderr)
        return exitcodes.INTERRUPTED
    return _report(result, args, stdout)


def _report(result: Any, args: argparse.Namespace, stdout: TextIO) -> int:
    """Print a command's report and return its exit code; an int: the command printed its own."""
    if isinstance(result, int):
        return result
    stdout.write((result.to_json() if args.json else
                  (result.to_table() if hasattr(result, "to_table") else result.to_text())) + "\n")
    stdout.flush()
    return int(result.exit_code)
