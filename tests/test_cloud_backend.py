"""TFC_ORGANIZATION + TFC_WORKSPACE put every platform stack's state in its own Terraform Cloud /
HCP Terraform workspace, named `{TFC_WORKSPACE}-{stack suffix}`.

cdktf's CloudBackend validates at synth that `terraform version` is >= 1.1 (it runs the
binary; no network needed), so this synth needs terraform on PATH, as CI has.
"""

from __future__ import annotations

import shutil

import pytest

from contract import PLATFORM_STACKS

TFC = {"TFC_ORGANIZATION": "acme-payments", "TFC_WORKSPACE": "payments-dr-dev"}

pytestmark = pytest.mark.skipif(shutil.which("terraform") is None,
                                reason="CloudBackend runs `terraform version` during synth")


@pytest.fixture(scope="module")
def tfc_stacks(synth_stacks):
    return synth_stacks(**TFC)


def test_every_platform_stack_maps_to_its_own_workspace(tfc_stacks):
    workspaces = {}
    for name in PLATFORM_STACKS:
        terraform = tfc_stacks[name]["terraform"]
        assert "backend" not in terraform
        assert terraform["cloud"]["organization"] == "acme-payments"
        workspaces[name] = terraform["cloud"]["workspaces"]["name"]
    assert workspaces == {"payments-dr-foundation": "payments-dr-dev-foundation",
                          "payments-dr-primary": "payments-dr-dev-primary",
                          "payments-dr-dr": "payments-dr-dev-dr",
                          "payments-dr-routing": "payments-dr-dev-routing"}


def test_cross_stack_values_come_from_the_producers_workspace(tfc_stacks):
    [remote] = tfc_stacks["payments-dr-dr"]["data"]["terraform_remote_state"].values()
    assert remote["backend"] == "remote"
    assert remote["config"]["organization"] == "acme-payments"
    assert remote["config"]["workspaces"] == {"name": "payments-dr-dev-foundation"}


def test_bootstrap_stack_keeps_its_local_state(tfc_stacks):
    """The bootstrap stack is unchanged: it is not needed with Terraform Cloud, but harmless."""
    assert set(tfc_stacks["payments-dr-bootstrap"]["terraform"]["backend"]) == {"local"}


def test_only_the_backend_differs_from_the_s3_configuration(tfc_stacks, stacks):
    """Same resources either way: switching state storage must not change infrastructure."""
    for name in PLATFORM_STACKS:
        assert tfc_stacks[name]["resource"] == stacks[name]["resource"]
        assert tfc_stacks[name]["provider"] == stacks[name]["provider"]
