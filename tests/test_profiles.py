"""The dev cost profile (the default synth) and the standard profile of the same environment
differ only in the documented ways (README: "Cost profiles"), compared resource by resource
over the synthesized JSON of every stack; everything else in the documents is identical."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

# (resource type, attribute path) -> the documented saving that changes it. A path ends at the
# first differing key; `*` is "the resource exists only in the standard profile".
DOCUMENTED: dict[tuple[str, str], str] = {
    ("aws_rds_cluster", "serverlessv2_scaling_configuration"): "Aurora Serverless v2, 0.5-4 ACU",
    ("aws_rds_cluster_instance", "instance_class"): "db.serverless instead of db.r6g.large",
    ("aws_rds_cluster", "backup_retention_period"): "1-day backups instead of 35",
    ("aws_rds_cluster", "skip_final_snapshot"): "no final snapshot on destroy",
    ("aws_rds_cluster", "final_snapshot_identifier"): "no final snapshot on destroy",
    ("aws_secretsmanager_secret", "recovery_window_in_days"): "master secret deleted at once",
    ("aws_route53_health_check", "request_interval"): "health checks every 30 s, not 10 s",
    ("aws_route53_health_check", "measure_latency"): "no latency measurement",
    ("aws_lambda_function", "tracing_config/mode"): "no X-Ray tracing",
    ("aws_lambda_function", "environment/variables/POWERTOOLS_TRACE_DISABLED"): "no X-Ray tracing",
    ("aws_api_gateway_stage", "xray_tracing_enabled"): "no X-Ray tracing",
    ("aws_vpc_endpoint", "*"): "no X-Ray interface endpoint",
    ("aws_vpc_endpoint", "subnet_ids"): "KMS and Secrets Manager interface endpoints in one zone",
    ("aws_cloudwatch_log_group", "retention_in_days"): "14-day logs instead of 365",
    ("aws_s3_bucket", "force_destroy"): "audit and code buckets emptied by terraform destroy",
    ("aws_s3_bucket_object_lock_configuration", "rule/default_retention/days"):
        "1-day GOVERNANCE lock instead of 365",
    ("aws_backup_plan", "rule"): "AWS Backup recovery points kept 7 days (the vault lock's minimum), not 35",
    ("aws_kms_key", "policy"): "no key administrators: no Deny on destroying or re-policying the keys",
    ("aws_s3_bucket_policy", "policy"): "no key administrators: no Deny on changing the audit buckets' lock",
    ("aws_secretsmanager_secret_policy", "*"): "no key administrators: no secret resource policies",
}


def _differences(dev: Any, standard: Any, path: str = "") -> Iterator[str]:
    if isinstance(dev, dict) and isinstance(standard, dict):
        for key in sorted(set(dev) | set(standard)):
            sub = f"{path}/{key}" if path else key
            if key not in dev or key not in standard:
                yield sub
            else:
                yield from _differences(dev[key], standard[key], sub)
    elif dev != standard:
        yield path


def _profile_differences(dev: dict[str, dict], standard: dict[str, dict]) -> dict[tuple[str, str], set[str]]:
    """(type, path) -> the resources (stack:type.logical id) where the profiles differ."""
    assert set(dev) == set(standard)
    found: dict[tuple[str, str], set[str]] = {}
    for stack in dev:
        for section in set(dev[stack]) | set(standard[stack]):
            if section == "resource":
                continue
            assert dev[stack].get(section) == standard[stack].get(section), f"{stack}: {section} differs"
        dev_resources, std_resources = dev[stack].get("resource", {}), standard[stack].get("resource", {})
        for rtype in set(dev_resources) | set(std_resources):
            mine, theirs = dev_resources.get(rtype, {}), std_resources.get(rtype, {})
            for logical in set(mine) | set(theirs):
                where = f"{stack}:{rtype}.{logical}"
                assert logical in theirs, f"{where} exists only in the dev profile"
                paths = ["*"] if logical not in mine else _differences(mine[logical], theirs[logical])
                for path in paths:
                    found.setdefault((rtype, path), set()).add(where)
    return found


def test_dev_and_standard_profiles_differ_only_in_the_documented_ways(stacks, standard_stacks):
    found = _profile_differences(stacks, standard_stacks)
    undocumented = {key: sorted(where)[:3] for key, where in found.items() if key not in DOCUMENTED}
    assert not undocumented, f"differences not in the documented list: {undocumented}"
    # and every documented saving is really there (the README's list stays true)
    assert set(found) == set(DOCUMENTED)


def test_each_documented_difference_hits_the_resources_it_names(stacks, standard_stacks):
    found = _profile_differences(stacks, standard_stacks)
    # Only the X-Ray interface endpoints are dropped, one per region; the KMS ones shrink.
    assert sorted(re.sub(r"_[0-9A-F]{8}$", "", w.split(".")[1]) for w in found[("aws_vpc_endpoint", "*")]) == [
        "network-dr_xray-interface", "network-primary_xray-interface"]
    assert sorted(re.sub(r"_[0-9A-F]{8}$", "", w.split(".")[1])
                  for w in found[("aws_vpc_endpoint", "subnet_ids")]) == [
        "network-dr_kms-interface", "network-dr_secretsmanager-interface",
        "network-primary_kms-interface", "network-primary_secretsmanager-interface"]
    # Both secrets' policies (client keys, Aurora master), in the primary stack only.
    assert len(found[("aws_secretsmanager_secret_policy", "*")]) == 2
    # Every log group and every function of both regions; both Aurora members; both checks.
    assert found[("aws_cloudwatch_log_group", "retention_in_days")] == {
        f"{s}:aws_cloudwatch_log_group.{lid}" for s, doc in stacks.items()
        for lid in doc.get("resource", {}).get("aws_cloudwatch_log_group", {})}
    assert found[("aws_lambda_function", "tracing_config/mode")] == {
        f"{s}:aws_lambda_function.{lid}" for s, doc in stacks.items()
        for lid in doc.get("resource", {}).get("aws_lambda_function", {})}
    assert len(found[("aws_rds_cluster_instance", "instance_class")]) == 2
    assert len(found[("aws_route53_health_check", "request_interval")]) == 2
    # The audit and code buckets of both regions; never the state bucket (bootstrap stack).
    assert sorted(re.sub(r"_[0-9A-F]{8}$", "", w.split(".")[1])
                  for w in found[("aws_s3_bucket", "force_destroy")]) == [
        "compute-dr_signing_code-bucket", "compute-primary_signing_code-bucket",
        "storage-dr_audit_bucket", "storage-primary_audit_bucket"]


def test_the_comparison_fails_on_an_undocumented_difference(stacks, standard_stacks):
    import copy
    changed = copy.deepcopy(stacks)
    waf = changed["payments-dr-primary"]["resource"]["aws_wafv2_web_acl"]
    next(iter(waf.values()))["description"] = "changed"
    found = _profile_differences(changed, standard_stacks)
    assert ("aws_wafv2_web_acl", "description") in found
    assert ("aws_wafv2_web_acl", "description") not in DOCUMENTED


# -- teardown (README: "Tearing down a dev environment") ------------------------------------

def _destroy_blockers(doc: dict[str, dict]) -> list[str]:
    """What would stop `terraform destroy` of a platform stack, read from its JSON: deletion
    protection, prevent_destroy, buckets Terraform cannot empty (objects it does not manage:
    receipts, signed packages) and locks nobody can bypass."""
    found = []
    for stack, body in doc.items():
        if stack in ("payments-dr-account", "payments-dr-bootstrap"):
            continue  # shared / holds the state: left in place by the procedure
        res = body.get("resource", {})
        for rtype, items in res.items():
            for logical, r in items.items():
                where = f"{stack}:{rtype}.{logical}"
                if (r.get("lifecycle") or {}).get("prevent_destroy"):
                    found.append(f"{where}: prevent_destroy")
                if r.get("deletion_protection") is True or r.get("deletion_protection_enabled") is True:
                    found.append(f"{where}: deletion protection")
                if rtype == "aws_rds_cluster" and r.get("skip_final_snapshot") is False:
                    found.append(f"{where}: final snapshot left behind")
                if rtype == "aws_s3_bucket" and not r.get("force_destroy"):
                    found.append(f"{where}: not force_destroy")
                if rtype == "aws_s3_bucket_object_lock_configuration" and \
                        r["rule"]["default_retention"]["mode"] == "COMPLIANCE":
                    found.append(f"{where}: COMPLIANCE lock")
    return found


def test_a_dev_profile_environment_can_be_destroyed(stacks, standard_stacks, prod_stacks):
    assert _destroy_blockers(stacks) == []
    # and the check sees what stops the others
    standard = _destroy_blockers(standard_stacks)
    assert any("storage-primary_audit_bucket" in b and "force_destroy" in b for b in standard)
    assert any("final snapshot" in b for b in standard)
    prod = _destroy_blockers(prod_stacks)
    assert any("COMPLIANCE" in b for b in prod) and any("deletion protection" in b for b in prod)


def test_the_documented_destroy_order_is_the_reverse_of_the_apply_order(stacks, synth_stacks):
    import sys
    from pathlib import Path
    root = Path(__file__).resolve().parent.parent
    sys.path.insert(0, str(root / "scripts"))
    import stacks as stack_order
    outdir = synth_stacks.outdir_of()
    apply = stack_order.select(stack_order.ordered(stack_order.load_dependencies(outdir)), platform=True)
    readme = (root / "README.md").read_text()
    section = readme[readme.index("### Tearing down a dev environment"):]
    documented = re.search(r"for stack in ([^;]+); do\n.*destroy", section)
    assert documented, "the README's destroy loop"
    assert documented[1].split() == list(reversed(apply))
