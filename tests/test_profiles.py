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
    ("aws_vpc_endpoint", "subnet_ids"): "KMS interface endpoint in one zone",
    ("aws_cloudwatch_log_group", "retention_in_days"): "14-day logs instead of 365",
    ("aws_s3_bucket", "force_destroy"): "audit buckets emptied by terraform destroy",
    ("aws_s3_bucket_object_lock_configuration", "rule/default_retention/days"):
        "1-day GOVERNANCE lock instead of 365",
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
    assert all("kms-interface" in w for w in found[("aws_vpc_endpoint", "subnet_ids")])
    # Every log group and every function of both regions; both Aurora members; both checks.
    assert found[("aws_cloudwatch_log_group", "retention_in_days")] == {
        f"{s}:aws_cloudwatch_log_group.{lid}" for s, doc in stacks.items()
        for lid in doc.get("resource", {}).get("aws_cloudwatch_log_group", {})}
    assert found[("aws_lambda_function", "tracing_config/mode")] == {
        f"{s}:aws_lambda_function.{lid}" for s, doc in stacks.items()
        for lid in doc.get("resource", {}).get("aws_lambda_function", {})}
    assert len(found[("aws_rds_cluster_instance", "instance_class")]) == 2
    assert len(found[("aws_route53_health_check", "request_interval")]) == 2
    assert all("audit" in w for w in found[("aws_s3_bucket", "force_destroy")])


def test_the_comparison_fails_on_an_undocumented_difference(stacks, standard_stacks):
    import copy
    changed = copy.deepcopy(stacks)
    waf = changed["payments-dr-primary"]["resource"]["aws_wafv2_web_acl"]
    next(iter(waf.values()))["description"] = "changed"
    found = _profile_differences(changed, standard_stacks)
    assert ("aws_wafv2_web_acl", "description") in found
    assert ("aws_wafv2_web_acl", "description") not in DOCUMENTED
