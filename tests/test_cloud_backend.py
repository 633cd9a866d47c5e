"""TFC_ORGANIZATION + TFC_WORKSPACE put the platform stack's state in Terraform Cloud / HCP Terraform.

cdktf's CloudBackend validates at synth that `terraform version` is >= 1.1 (it runs the
binary; no network needed), so this synth needs terraform on PATH, as CI has.
"""

from __future__ import annotations

import shutil

import pytest

TFC = {"TFC_ORGANIZATION": "acme-payments", "TFC_WORKSPACE": "payments-dr-dev"}

pytestmark = pytest.mark.skipif(shutil.which("terraform") is None,
                                reason="CloudBackend runs `terraform version` during synth")


@pytest.fixture(scope="module")
def tfc_stacks(synth_stacks):
    return synth_stacks(**TFC)


def test_platform_stack_uses_a_terraform_cloud_block_and_no_s3_backend(tfc_stacks):
    terraform = tfc_stacks["payments-dr"]["terraform"]
    assert terraform["cloud"] == {"organization": "acme-payments",
                                  "workspaces": {"name": "payments-dr-dev"}}
    assert "backend" not in terraform


def test_bootstrap_stack_keeps_its_local_state(tfc_stacks):
    """The bootstrap stack is unchanged: it is not needed with Terraform Cloud, but harmless."""
    assert set(tfc_stacks["payments-dr-bootstrap"]["terraform"]["backend"]) == {"local"}


def test_only_the_backend_differs_from_the_s3_configuration(tfc_stacks, platform):
    """Same resources either way: switching state storage must not change infrastructure."""
    cloud = tfc_stacks["payments-dr"]
    assert cloud["resource"] == platform["resource"]
    assert cloud["provider"] == platform["provider"]
    assert platform["terraform"]["backend"]["s3"]["key"] == "payments-dr/dev/terraform.tfstate"
