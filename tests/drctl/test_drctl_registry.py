"""The command registry (drctl/command.py): a subcommand is one `Command`, and cli.py needs no edit
beyond listing it -- parser, required outputs and dispatch all come from that object."""

import argparse
import io
import json

import pytest

from drctl import cli, exitcodes
from drctl.command import Command, Context
from drctl.config import OUTPUTS


class Echo:
    exit_code = exitcodes.OK

    def __init__(self, ctx: Context):
        self.seen = {"what": ctx.args.what, "region": ctx.config.primary_region, "gw": ctx.gw,
                     "operator": ctx.operator}

    def to_json(self) -> str:
        return json.dumps(self.seen)


def _echo_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("what")


ECHO = Command("echo", "say what you were given", _echo_arguments, Echo, requires=("primary_region",))


@pytest.fixture
def with_echo(monkeypatch):
    monkeypatch.setattr(cli, "COMMANDS", (*cli.COMMANDS, ECHO))
    monkeypatch.setattr(cli, "BY_NAME", {**cli.BY_NAME, "echo": ECHO})


def _subcommands() -> dict[str, argparse.ArgumentParser]:
    return cli.build_parser()._subparsers._group_actions[0].choices  # type: ignore[union-attr]


def test_a_registered_command_is_parsed_configured_and_dispatched(with_echo):
    out = io.StringIO()
    code = cli.main(["echo", "hi", "--primary-region", "eu-west-1", "--json", "--quiet"],
                    gateways=lambda args: "fake-gw", stdout=out, stderr=io.StringIO())
    assert code == exitcodes.OK
    seen = json.loads(out.getvalue())
    assert seen["what"] == "hi" and seen["region"] == "eu-west-1" and seen["gw"] == "fake-gw"
    assert seen["operator"]  # --operator absent: the login


def test_a_registered_command_gets_the_common_flags_and_its_help(with_echo):
    sub = _subcommands()["echo"]
    flags = set(sub._option_string_actions)
    assert {"--outputs", "--stack", "--profile", "--endpoint-url", "--json", "--quiet"} <= flags
    assert "say what you were given" in sub.format_help() and "exit codes:" in sub.format_help()


def test_a_registered_commands_requires_are_enforced(with_echo):
    err = io.StringIO()
    code = cli.main(["echo", "hi", "--quiet"], gateways=lambda args: pytest.fail("no gateways without config"),
                    stdout=io.StringIO(), stderr=err)
    assert code == exitcodes.USAGE and "primary_region" in err.getvalue()


def test_the_parser_lists_exactly_the_registry_in_order():
    assert list(_subcommands()) == [c.name for c in cli.COMMANDS]
    assert len(cli.BY_NAME) == len(cli.COMMANDS)  # no name registered twice


def test_every_required_output_is_a_known_output():
    for command in cli.COMMANDS:
        assert set(command.requires) <= set(OUTPUTS), command.name
        assert command.outputs or not command.requires, command.name  # preflight reads settings
