"""parliament (IAM policy linter, 1.6.4, Pipfile dev packages) over every IAM policy document
of the default and prod-like synths: no finding above LOW unless parliament-accepted.yaml
accepts it with a reason, and no accepted entry that matches nothing.

Documents as AWS would see them: tests/parliament_support.py.
"""

from __future__ import annotations

import json
import warnings
from fnmatch import fnmatchcase
from pathlib import Path

import pytest
import yaml
from parliament_support import policy_documents, resolve

with warnings.catch_warnings():
    warnings.simplefilter("ignore")     # parliament imports pkg_resources (deprecated)
    import parliament

ROOT = Path(__file__).resolve().parent.parent
ACCEPTED = ROOT / "parliament-accepted.yaml"
ABOVE_LOW = ("MEDIUM", "HIGH", "CRITICAL")


def findings(stacks: dict[str, dict]) -> list[tuple[str, str, str, str]]:
    """(document, severity, issue, detail) of every finding above LOW."""
    found = []
    for where, document in policy_documents(stacks):
        policy = parliament.analyze_policy_string(json.dumps(document))
        for finding in map(parliament.enhance_finding, policy.findings):
            if finding.severity in ABOVE_LOW:
                found.append((where, finding.severity, finding.issue, str(finding.detail)))
    return found


def load_accepted(path: Path = ACCEPTED) -> list[dict]:
    entries = yaml.safe_load(path.read_text())["accepted"]
    for entry in entries:
        assert set(entry) == {"issue", "documents", "detail", "reason"}, entry
        assert entry["documents"] and "*" not in entry["documents"], entry
        assert len(entry["reason"]) >= 80, f"a reason an assessor can judge: {entry}"
    return entries


def unaccepted(found, entries) -> tuple[list, list]:
    """Findings no entry accepts, and entries that accept nothing."""
    used = [False] * len(entries)
    left = []
    for where, severity, issue, detail in found:
        hits = [i for i, e in enumerate(entries)
                if e["issue"] == issue and e["detail"] in detail
                and any(fnmatchcase(where, pattern) for pattern in e["documents"])]
        for i in hits:
            used[i] = True
        if not hits:
            left.append((where, severity, issue, detail[:300]))
    return left, [e for e, u in zip(entries, used, strict=True) if not u]


def test_no_policy_document_has_an_unaccepted_finding_above_low(stacks, prod_stacks):
    entries = load_accepted()
    found = findings(stacks) + findings(prod_stacks)
    left, stale = unaccepted(found, entries)
    assert not left, "parliament findings above LOW (fix, or accept in parliament-accepted.yaml):\n" + \
        "\n".join(map(str, left))
    assert not stale, f"entries in parliament-accepted.yaml that match nothing: {stale}"


def test_every_kind_of_policy_document_is_read(prod_stacks):
    kinds = {where.split(".", 1)[0] + ":" + where.rsplit(":", 1)[1]
             for where, _ in policy_documents(prod_stacks)}
    assert {"aws_iam_role:assume_role_policy", "aws_iam_role_policy:policy", "aws_kms_key:policy",
            "aws_s3_bucket_policy:policy", "aws_sns_topic_policy:policy", "aws_vpc_endpoint:policy",
            "aws_secretsmanager_secret_policy:policy", "aws_cloudwatch_log_resource_policy:policy_document",
            "aws_api_gateway_rest_api_policy:policy"} <= kinds
    assert len(list(policy_documents(prod_stacks))) > 70


def test_the_gate_catches_a_real_finding_and_a_stale_entry():
    """A grant whose resource cannot match its action (the FIS log-delivery mistake of stop 25)."""
    stack = {"resource": {"aws_iam_role_policy": {"p": {
        "//": {"metadata": {"path": "s/fis/policy"}},
        "policy": json.dumps({"Version": "2012-10-17", "Statement": [{
            "Effect": "Allow", "Action": ["logs:DescribeResourcePolicies"],
            "Resource": ["${aws_cloudwatch_log_group.g.arn}"]}]})}}}}
    found = findings({"s": stack})
    assert [(w, i) for w, _, i, _ in found] == [("aws_iam_role_policy.s/fis/policy:policy",
                                                 "RESOURCE_MISMATCH")]
    left, stale = unaccepted(found, load_accepted())
    assert len(left) == 1 and len(stale) == len(load_accepted())


def test_an_unknown_token_stops_the_run_rather_than_guessing():
    with pytest.raises(AssertionError, match="no stand-in value"):
        resolve("${aws_lambda_function.f.arn}")
