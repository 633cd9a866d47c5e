"""Small helpers for IAM JSON documents, so tiers express statements, not string plumbing."""

from __future__ import annotations

import json
from typing import Iterable, Mapping


def statement(sid: str, actions: Iterable[str], resources: Iterable[str] | None, *,
              effect: str = "Allow", principal: Mapping | None = None,
              condition: Mapping | None = None) -> dict:
    """One statement; `resources=None` is for trust policies, which name no resource."""
    doc: dict = {"Sid": sid, "Effect": effect, "Action": sorted(set(actions))}
    if principal is not None:
        doc["Principal"] = principal
    if resources is not None:
        doc["Resource"] = list(resources)
    if condition:
        doc["Condition"] = condition
    return doc


def policy_document(statements: Iterable[dict]) -> str:
    """A JSON policy; cdktf string tokens inside survive json.dumps and resolve at synth."""
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def assume_role_policy(service: str, *, source_account: str | None = None) -> str:
    """Trust policy for an AWS service, pinned to our account against confused deputies."""
    condition = {"StringEquals": {"aws:SourceAccount": source_account}} if source_account else None
    return policy_document([
        statement("TrustService", ["sts:AssumeRole"], None,
                  principal={"Service": service}, condition=condition)
    ])
