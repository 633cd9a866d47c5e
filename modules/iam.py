"""Small IAM helpers, so tiers express statements and roles, not string plumbing."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from cdktf_cdktf_provider_aws.iam_role import IamRole
from cdktf_cdktf_provider_aws.iam_role_policy_attachment import IamRolePolicyAttachment
from constructs import Construct

if TYPE_CHECKING:
    from modules.regions import Region

# One IAM policy statement: a JSON object whose values are strings, lists and nested objects
# (cdktf tokens included), so `Any` is the honest value type.
Statement = dict[str, Any]


def statement(sid: str, actions: Iterable[str], resources: Iterable[str] | None, *,
              effect: str = "Allow", principal: Mapping[str, Any] | str | None = None,
              condition: Mapping[str, Any] | None = None) -> Statement:
    """One statement; `resources=None` is for trust policies, which name no resource."""
    doc: Statement = {"Sid": sid, "Effect": effect, "Action": sorted(set(actions))}
    if principal is not None:
        doc["Principal"] = principal
    if resources is not None:
        doc["Resource"] = list(resources)
    if condition:
        doc["Condition"] = condition
    return doc


def function_role_name(function_name: str) -> str:
    """A function's execution role (compute.ServiceFunction), named so other stacks and
    resource policies can name it without a reference."""
    return f"{function_name}-role"


def policy_document(statements: Iterable[Statement]) -> str:
    """A JSON policy; cdktf string tokens inside survive json.dumps and resolve at synth."""
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def assume_role_policy(service: str, *, source_account: str | None = None) -> str:
    """Trust policy for an AWS service, pinned to our account against confused deputies."""
    condition = {"StringEquals": {"aws:SourceAccount": source_account}} if source_account else None
    return policy_document([
        statement("TrustService", ["sts:AssumeRole"], None,
                  principal={"Service": service}, condition=condition)
    ])


def managed_service_role(scope: Construct, id_prefix: str, *, region: Region, name: str,
                         service: str, managed_policy: str) -> IamRole:
    """A role an AWS service assumes in our account, with one AWS-managed policy attached.

    Construct ids are `<id_prefix>role` and `<id_prefix>policy`, so callers keep their ids.
    """
    role = IamRole(scope, f"{id_prefix}role", provider=region.provider, name=name,
                   assume_role_policy=assume_role_policy(service, source_account=region.account_id))
    IamRolePolicyAttachment(
        scope, f"{id_prefix}policy", provider=region.provider, role=role.name,
        policy_arn=f"arn:{region.partition}:iam::aws:policy/{managed_policy}",
    )
    return role
