"""One `drctl` subcommand = one `Command`, defined next to the code it runs.

cli.py builds the parser and dispatches from `cli.COMMANDS` alone, so adding a subcommand is
one `Command` in its module plus one entry in that list (no parser, table or if-chain to edit).
"""

from __future__ import annotations

import argparse
import getpass
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from typing import Any, TextIO

from drctl.clock import Clock
from drctl.config import DrConfig
from drctl.log import EventLog


@dataclass
class Context:
    """What a command's `run` gets; `cfg`/`gw` are None for a command that reads no stack outputs."""

    args: argparse.Namespace
    cfg: DrConfig | None
    gw: Any
    clock: Clock
    log: EventLog
    confirm: Callable[[str], bool]
    stdout: TextIO
    stderr: TextIO

    @property
    def config(self) -> DrConfig:
        assert self.cfg is not None, "command declared outputs=False"
        return self.cfg

    @cached_property
    def operator(self) -> str:
        """Who runs this, for the audit trail: --operator (env DRCTL_OPERATOR), else the login."""
        return getattr(self.args, "operator", None) or login()


@dataclass(frozen=True)
class Command:
    """A subcommand: its parser (`add_arguments`), what it needs and what it does.

    `run` returns a report (cli prints `to_json()`, `to_table()` or `to_text()`, and exits with
    its `exit_code`) or an int (the command printed its own output; that is the exit code).
    `outputs=False`: the command reads settings, not stack outputs: no deployment/AWS/output
    flags are added for it, no config is loaded and no gateways are built (`drctl preflight`).
    """

    name: str
    help: str
    add_arguments: Callable[[argparse.ArgumentParser], None]
    run: Callable[[Context], Any]
    requires: tuple[str, ...] = ()
    outputs: bool = True


def no_arguments(parser: argparse.ArgumentParser) -> None:
    """`add_arguments` of a command with only the common flags."""


def login() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"
