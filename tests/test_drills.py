"""FIS drill templates of one region (modules/drills.py).

Unit part: a small stack holding one region's provider, key and the drills, as a regional
stack would, with stand-in ARNs. Wired part: the platform as `build_platform` builds it
(RegionalStack wires the drills): stop conditions are alarms of that region's stack, and the
tags each template selects are on exactly the resources the drill is meant to hit.
"""

from __future__ import annotations

import json

import pytest
from cdktf import App, TerraformStack, Testing
from helpers import one, ref, resources

from contract import DRILL_REGIONAL_FAILOVER, DRILL_REPLICATION, DRILL_TAG
from modules.drills import (
    RegionalDrills,
    alarm_arn,
    default_stop_alarm_arns,
    drill_tags,
)
from modules.keys import RegionalKey
from modules.naming import Names
from modules.regions import PeerRegion, build_region
from modules.settings import Settings

Testing.__test__ = False  # a cdktf helper class, not a test

NAMES = Names("dev")
BUCKET_ARN = "arn:aws:s3:::payments-dr-audit-dev-111122223333-us-east-1"
TABLE_ARNS = ["arn:aws:dynamodb:us-east-1:111122223333:table/payment-transactions-dev",
              "arn:aws:dynamodb:us-east-1:111122223333:table/payment-idempotency-dev"]
NETWORK_POLICY = ("arn:${data.aws_partition.partition-primary.partition}:iam::aws:policy/"
                  "service-role/AWSFaultInjectionSimulatorNetworkAccess")


def _build(role="primary", region_name="us-east-1", peer="us-east-2", stop=None):
    app = App()
    stack = TerraformStack(app, f"drills-{role}")
    region = build_region(stack, role=role, name=region_name, settings=Settings.from_env({}))
    key = RegionalKey(stack, f"key-{role}", region=region, names=NAMES)
    if stop is None:
        stop = {DRILL_REGIONAL_FAILOVER: [alarm_arn(region, NAMES.alarm("peer-unreachable", role))],
                DRILL_REPLICATION: [alarm_arn(region, NAMES.alarm("api-5xx-rate", role)),
                                    alarm_arn(region, NAMES.alarm("lambda-errors-validator", role))]}
    drills = RegionalDrills(stack, f"drills-{role}", region=region, names=NAMES, key=key,
                            peer=PeerRegion(role="dr" if role == "primary" else "primary",
                                            name=peer, of=region),
                            audit_bucket_arn=BUCKET_ARN, table_arns=TABLE_ARNS,
                            stop_alarm_arns=stop, log_retention_days=365)
    return drills, json.loads(Testing.synth(stack)), region, key


@pytest.fixture(scope="module")
def primary():
    return _build()


@pytest.fixture(scope="module")
def synth(primary):
    return primary[1]


def _template(synth, drill):
    return one(synth, "aws_fis_experiment_template", path_contains=f"_{drill}_")


def _policy(synth, drill):
    _, body = one(synth, "aws_iam_role_policy", path_contains=f"{drill}-policy")
    return json.loads(body["policy"])["Statement"]


def _by_sid(statements):
    return {s["Sid"]: s for s in statements}


def test_failover_drill_cuts_the_private_subnets_off_dynamodb_only(synth):
    _, t = _template(synth, DRILL_REGIONAL_FAILOVER)
    [action] = t["action"]
    assert action["action_id"] == "aws:network:disrupt-connectivity"
    assert action["target"] == {"key": "Subnets", "value": "subnets"}
    # scope=dynamodb: deny the Regional DynamoDB endpoint only (not "all": Aurora and S3 stay).
    assert {p["key"]: p["value"] for p in action["parameter"]} == {
        "duration": "PT10M", "scope": "dynamodb"}
    [target] = t["target"]
    assert target["name"] == "subnets"
    assert target["resource_type"] == "aws:ec2:subnet"
    assert target["selection_mode"] == "ALL"
    assert {tag["key"]: tag["value"] for tag in target["resource_tag"]} == {
        DRILL_TAG: DRILL_REGIONAL_FAILOVER, "Environment": "dev",
        "Application": "payments-dr", "RegionRole": "primary"}
    assert t["experiment_options"] == {"account_targeting": "single-account",
                                       "empty_target_resolution_mode": "fail"}


def test_replication_drill_pauses_tables_and_bucket_towards_the_peer_region(synth):
    _, t = _template(synth, DRILL_REPLICATION)
    actions = {a["action_id"]: a for a in t["action"]}
    assert set(actions) == {"aws:dynamodb:global-table-pause-replication",
                            "aws:s3:bucket-pause-replication"}
    tables = actions["aws:dynamodb:global-table-pause-replication"]
    assert tables["target"] == {"key": "Tables", "value": "tables"}
    assert {p["key"]: p["value"] for p in tables["parameter"]} == {"duration": "PT25M"}
    buckets = actions["aws:s3:bucket-pause-replication"]
    assert buckets["target"] == {"key": "Buckets", "value": "buckets"}
    assert {p["key"]: p["value"] for p in buckets["parameter"]} == {
        "duration": "PT25M", "region": "us-east-2"}
    targets = {x["name"]: x for x in t["target"]}
    assert targets["tables"]["resource_type"] == "aws:dynamodb:global-table"
    assert targets["buckets"]["resource_type"] == "aws:s3:bucket"
    # Replicas carry tags propagated from the primary table: no RegionRole filter on tables.
    assert "RegionRole" not in {tag["key"] for tag in targets["tables"]["resource_tag"]}
    assert {tag["key"]: tag["value"] for tag in targets["buckets"]["resource_tag"]}["RegionRole"] == "primary"


def test_stop_conditions_are_the_given_alarms_of_this_region(synth):
    for drill, whats in ((DRILL_REGIONAL_FAILOVER, ["peer-unreachable"]),
                         (DRILL_REPLICATION, ["api-5xx-rate", "lambda-errors-validator"])):
        _, t = _template(synth, drill)
        values = sorted(s["value"] for s in t["stop_condition"])
        assert [v.rsplit(":alarm:", 1)[1] for v in values] == sorted(
            f"payments-dev-{w}-primary" for w in whats)
        assert all(":cloudwatch:us-east-1:${data.aws_caller_identity.identity-primary.account_id}"
                   in v for v in values)
        assert {s["source"] for s in t["stop_condition"]} == {"aws:cloudwatch:alarm"}


def test_a_drill_without_a_stop_condition_is_refused():
    with pytest.raises(ValueError, match=r"stop_alarm_arns\['replication'\] is empty"):
        _build(stop={DRILL_REGIONAL_FAILOVER: ["arn:aws:cloudwatch:us-east-1:1:alarm:x"],
                     DRILL_REPLICATION: []})


def test_default_stop_conditions_are_the_alarms_docs_drills_md_argues_for(primary):
    _, _, region, _ = primary
    stops = default_stop_alarm_arns(region, NAMES)
    names = {drill: [arn.rsplit(":alarm:", 1)[1] for arn in arns] for drill, arns in stops.items()}
    assert names == {
        DRILL_REGIONAL_FAILOVER: ["payments-dev-peer-unreachable-primary",
                                  "payments-dev-domain-unreachable-primary",
                                  "payments-dev-dynamodb-replication-latency-transactions-primary",
                                  "payments-dev-aurora-rpo-lag-primary"],
        DRILL_REPLICATION: ["payments-dev-api-5xx-rate-primary",
                            "payments-dev-lambda-errors-validator-primary"]}
    # The network fault breaks this region's payment path by design: none of the alarms it
    # raises there (API 5XX, validator errors or dependency failures) may stop the drill.
    assert not any(w in n for n in names[DRILL_REGIONAL_FAILOVER]
                   for w in ("api-", "validator", "lambda-errors"))
    assert all(":cloudwatch:us-east-1:" in arn for arns in stops.values() for arn in arns)


def test_roles_trust_only_fis_experiments_of_this_account(synth):
    roles = resources(synth, "aws_iam_role")
    assert len(roles) == 2
    for _, role in roles.items():
        [stmt] = json.loads(role["assume_role_policy"])["Statement"]
        assert stmt["Principal"] == {"Service": "fis.amazonaws.com"}
        assert stmt["Condition"]["StringEquals"]["aws:SourceAccount"] == \
            "${data.aws_caller_identity.identity-primary.account_id}"
        assert stmt["Condition"]["ArnLike"]["aws:SourceArn"].endswith(":experiment/*")
        assert ":fis:us-east-1:" in stmt["Condition"]["ArnLike"]["aws:SourceArn"]


def test_failover_role_has_the_aws_managed_network_policy_and_only_logging_inline(synth):
    role_name, _ = one(synth, "aws_iam_role", path_contains=f"{DRILL_REGIONAL_FAILOVER}-role")
    # Exactly one managed policy in the stack, on the failover role: the one AWS maintains for
    # the network actions (NACL changes scoped to managedByFIS=true ACLs).
    _, attachment = one(synth, "aws_iam_role_policy_attachment")
    assert attachment["role"] == ref("aws_iam_role", role_name, "name")
    assert attachment["policy_arn"] == NETWORK_POLICY
    sids = _by_sid(_policy(synth, DRILL_REGIONAL_FAILOVER))
    assert set(sids) == {"ResolveTargetsByTag", "DeliverExperimentLogs", "FindExperimentLogGroup"}
    assert not any(a.startswith(("ec2:", "s3:", "dynamodb:", "lambda:", "kms:"))
                   for s in sids.values() for a in s["Action"])
    everything = [s for s in sids.values() if s["Resource"] == ["*"]]
    # Only list/discovery calls on "*": DescribeResourcePolicies has no resource type, so a
    # log-group ARN would never match it (the vended delivery's check would be denied).
    assert sorted(a for s in everything for a in s["Action"]) == [
        "logs:CreateLogDelivery", "logs:DescribeLogGroups", "logs:DescribeResourcePolicies",
        "tag:GetResources"]


def test_replication_role_changes_replication_only_as_a_fis_pause(synth):
    sids = _by_sid(_policy(synth, DRILL_REPLICATION))
    assert sids["PauseTableReplication"]["Resource"] == TABLE_ARNS
    assert "dynamodb:PutResourcePolicy" in sids["PauseTableReplication"]["Action"]
    put = sids["PauseBucketReplicationConfiguration"]
    assert put["Action"] == ["s3:PutReplicationConfiguration"]
    assert put["Resource"] == [BUCKET_ARN]
    assert put["Condition"] == {"Bool": {"s3:isReplicationPauseRequest": "true"}}
    assert not any(a.startswith("ec2:") for s in sids.values() for a in s["Action"])
    # The network policy is the failover role's only, never the replication role's.
    role_name, _ = one(synth, "aws_iam_role", path_contains=f"{DRILL_REPLICATION}-role")
    assert all(a["role"] != ref("aws_iam_role", role_name, "name")
               for a in resources(synth, "aws_iam_role_policy_attachment").values())


def test_experiments_log_to_an_encrypted_retained_group_with_the_suffix_fis_requires(synth):
    log_name, group = one(synth, "aws_cloudwatch_log_group")
    assert group["name"] == "/aws/fis/payments-dr-dev-primary"
    assert group["retention_in_days"] == 365
    key_name, _ = one(synth, "aws_kms_key")
    assert group["kms_key_id"] == ref("aws_kms_key", key_name, "arn")
    for drill in (DRILL_REGIONAL_FAILOVER, DRILL_REPLICATION):
        _, t = _template(synth, drill)
        assert t["log_configuration"]["log_schema_version"] == 2
        assert t["log_configuration"]["cloudwatch_logs_configuration"]["log_group_arn"] == \
            ref("aws_cloudwatch_log_group", log_name, "arn") + ":*"
        assert t["tags"][DRILL_TAG] == drill
    _, policy = one(synth, "aws_cloudwatch_log_resource_policy")
    [stmt] = json.loads(policy["policy_document"])["Statement"]
    assert stmt["Principal"] == {"Service": "delivery.logs.amazonaws.com"}
    assert stmt["Resource"] == [ref("aws_cloudwatch_log_group", log_name, "arn") + ":log-stream:*"]


def test_every_resource_is_on_this_regions_provider_and_names_no_peer_resource():
    _, synth, _, _ = _build(role="dr", region_name="us-east-2", peer="us-east-1")
    for rtype, items in synth["resource"].items():
        for name, body in items.items():
            assert body.get("provider") == "aws.dr", f"{rtype}.{name}"
    text = json.dumps(synth["resource"])
    assert "aws.primary" not in text
    _, t = _template(synth, DRILL_REPLICATION)
    pause = next(a for a in t["action"] if a["action_id"] == "aws:s3:bucket-pause-replication")
    assert {p["key"]: p["value"] for p in pause["parameter"]}["region"] == "us-east-1"


def test_the_drills_create_no_bucket_and_touch_no_function(synth):
    # The failover drill needs no fault-configuration bucket (that was the Lambda extension's).
    assert not resources(synth, "aws_s3_bucket")
    assert "lambda" not in json.dumps(synth["resource"]).replace("lambda-errors", "")
    assert drill_tags(DRILL_REPLICATION, NAMES) == {
        DRILL_TAG: "replication", "Environment": "dev", "Application": "payments-dr"}


# -- what `terraform plan` would check, without a provider download --------------------------

# Provider 6.25 plan-time validation (internal/service/fis/experiment_template.go): the action
# target keys it accepts (`Functions` since 6.22.0, CHANGELOG #41209) and the string rules.
ACTION_TARGET_KEYS = {"AutoScalingGroups", "Buckets", "Cluster", "Clusters", "DBInstances",
                      "Functions", "Instances", "Nodegroups", "Pods", "ReplicationGroups", "Roles",
                      "SpotInstances", "Subnets", "Tables", "Tasks", "TransitGateways", "Volumes"}
# The FIS actions reference (user guide, checked 2026-11) for the actions used here: resource
# type, action target key, required and optional parameters; and disrupt-connectivity's scopes.
DOCUMENTED_ACTIONS = {
    "aws:network:disrupt-connectivity": ("aws:ec2:subnet", "Subnets", {"duration", "scope"},
                                         {"prefixListIdentifier"}),
    "aws:dynamodb:global-table-pause-replication": ("aws:dynamodb:global-table", "Tables",
                                                    {"duration"}, set()),
    "aws:s3:bucket-pause-replication": ("aws:s3:bucket", "Buckets", {"duration", "region"},
                                        {"destinationBuckets", "prefixes"}),
}
DISRUPT_CONNECTIVITY_SCOPES = {"all", "availability-zone", "dynamodb", "prefix-list", "s3",
                               "s3express", "vpc"}


def _create_request(t: dict) -> dict:
    """The CreateExperimentTemplate request the provider builds from the resource (its expand*)."""
    return {
        "clientToken": "token", "description": t["description"], "roleArn": "arn:aws:iam::1:role/r",
        "stopConditions": [{"source": s["source"], "value": "arn:aws:cloudwatch:us-east-1:1:alarm:a"}
                           for s in t["stop_condition"]],
        "targets": {x["name"]: {"resourceType": x["resource_type"], "selectionMode": x["selection_mode"],
                                "resourceTags": {g["key"]: g["value"] for g in x["resource_tag"]}}
                    for x in t["target"]},
        "actions": {a["name"]: {"actionId": a["action_id"],
                                "parameters": {p["key"]: p["value"] for p in a["parameter"]},
                                "targets": {a["target"]["key"]: a["target"]["value"]}}
                    for a in t["action"]},
        "experimentOptions": {"accountTargeting": t["experiment_options"]["account_targeting"],
                              "emptyTargetResolutionMode":
                                  t["experiment_options"]["empty_target_resolution_mode"]},
        "logConfiguration": {"logSchemaVersion": t["log_configuration"]["log_schema_version"],
                             "cloudWatchLogsConfiguration": {
                                 "logGroupArn": "arn:aws:logs:us-east-1:1:log-group:/aws/fis/x:*"}},
        "tags": t["tags"],
    }


def test_templates_pass_the_providers_plan_time_validation_and_the_fis_api_model(synth):
    import re

    import botocore.session
    from botocore.validate import ParamValidator
    model = botocore.session.get_session().get_service_model("fis")
    shape = model.operation_model("CreateExperimentTemplate").input_shape
    for drill in (DRILL_REGIONAL_FAILOVER, DRILL_REPLICATION):
        _, t = _template(synth, drill)
        assert len(t["description"]) <= 512
        target_names = {x["name"] for x in t["target"]}
        for action in t["action"]:
            assert re.fullmatch(r"aws:[0-9a-z-]+:[0-9A-Za-z/-]+", action["action_id"])
            assert len(action["name"]) <= 64
            assert action["target"]["key"] in ACTION_TARGET_KEYS
            assert action["target"]["value"] in target_names
            assert all(len(p["key"]) <= 64 and len(p["value"]) <= 1024 for p in action["parameter"])
            rtype, key, required, optional = DOCUMENTED_ACTIONS[action["action_id"]]
            [target] = [x for x in t["target"] if x["name"] == action["target"]["value"]]
            assert (target["resource_type"], action["target"]["key"]) == (rtype, key)
            params = {p["key"]: p["value"] for p in action["parameter"]}
            assert required <= set(params) <= required | optional, action["name"]
            assert re.fullmatch(r"PT(\d+M|\d+H)", params["duration"])
            if action["action_id"] == "aws:network:disrupt-connectivity":
                assert params["scope"] in DISRUPT_CONNECTIVITY_SCOPES
                assert ("prefixListIdentifier" in params) == (params["scope"] == "prefix-list")
        for target in t["target"]:
            assert re.fullmatch(r"ALL|COUNT\(\d+\)|PERCENT\(\d+\)", target["selection_mode"])
            assert len(target["resource_tag"]) <= 50 and "resource_arns" not in target
        report = ParamValidator().validate(_create_request(t), shape)
        assert not report.has_errors(), report.generate_report()


# -- wired into the regional stacks (modules/stack.py) ------------------------------------------

REGIONS = {"payments-dr-primary": ("primary", "us-east-1"), "payments-dr-dr": ("dr", "us-east-2")}


def _templates_by_drill(stack):
    return {t["tags"][DRILL_TAG]: t for t in resources(stack, "aws_fis_experiment_template").values()}


def _default_tags(stack):
    [provider] = stack["provider"]["aws"]
    return provider["default_tags"][0]["tags"]


def _selected(target):
    return {g["key"]: g["value"] for g in target["resource_tag"]}


def test_every_stop_condition_is_an_alarm_of_that_regions_stack(stacks):
    for name, (role, region) in REGIONS.items():
        stack = stacks[name]
        alarms = {a["alarm_name"]: n
                  for n, a in resources(stack, "aws_cloudwatch_metric_alarm").items()}
        templates = _templates_by_drill(stack)
        assert set(templates) == {DRILL_REGIONAL_FAILOVER, DRILL_REPLICATION}
        for drill, t in templates.items():
            stops = [s["value"] for s in t["stop_condition"]]
            assert stops, drill
            for arn in stops:
                assert f":cloudwatch:{region}:" in arn, arn
                alarm_name = arn.rsplit(":alarm:", 1)[1]
                assert alarm_name.endswith(f"-{role}")
                assert alarm_name in alarms, f"{name}: {drill} stops on missing alarm {alarm_name}"
                # Created after its alarms (same stack).
                # A static reference: Terraform refuses "${...}" in depends_on.
                assert f"aws_cloudwatch_metric_alarm.{alarms[alarm_name]}" in t["depends_on"]


def test_a_stop_condition_naming_no_alarm_of_the_region_stops_the_synth(monkeypatch):
    import modules.stack
    from modules.stack import build_platform

    real = modules.stack.default_stop_alarm_arns

    def with_a_typo(region, names):
        stops = real(region, names)
        stops[DRILL_REPLICATION] = [alarm_arn(region, names.alarm("api-5xx", region.role))]
        return stops

    monkeypatch.setattr(modules.stack, "default_stop_alarm_arns", with_a_typo)
    with pytest.raises(ValueError, match=r"drill 'replication': stop-condition alarms "
                                         r"\['payments-dev-api-5xx-primary'\] are not alarms of "
                                         r"payments-dr-primary"):
        build_platform(App(), Settings.from_env({}))


def test_failover_drill_targets_exactly_the_private_subnets_of_its_region(stacks):
    for name, (role, _) in REGIONS.items():
        stack = stacks[name]
        [target] = _templates_by_drill(stack)[DRILL_REGIONAL_FAILOVER]["target"]
        selected = _selected(target)
        assert selected["RegionRole"] == role
        subnets = resources(stack, "aws_subnet")
        assert len(subnets) == 3
        for subnet in subnets.values():
            tags = {**_default_tags(stack), **subnet["tags"]}
            assert selected.items() <= tags.items()
            assert subnet["tags"]["Tier"] == "private"  # existing tags kept
        # Nothing else in the stack carries the failover drill's tag.
        tagged = [(rtype, n) for rtype, items in stack["resource"].items()
                  for n, body in items.items()
                  if (body.get("tags") or {}).get(DRILL_TAG) == DRILL_REGIONAL_FAILOVER
                  and rtype not in ("aws_subnet", "aws_fis_experiment_template")]
        assert tagged == []


def test_the_functions_reach_dynamodb_only_through_the_subnets_the_drill_cuts(stacks):
    """Why the fault fails /health: the health and validator functions sit in exactly the
    tagged subnets, and DynamoDB is reached through the gateway endpoint there."""
    for name, (role, _) in REGIONS.items():
        stack = stacks[name]
        subnets = {ref("aws_subnet", n, "id") for n in resources(stack, "aws_subnet")}
        for purpose in ("health", "validator"):
            _, fn = one(stack, "aws_lambda_function", role, f"compute-{role}/{purpose}/function")
            assert set(fn["vpc_config"]["subnet_ids"]) == subnets, purpose
        _, endpoint = one(stack, "aws_vpc_endpoint", path_contains="dynamodb-gateway")
        assert endpoint["vpc_endpoint_type"] == "Gateway"


def test_replication_drill_targets_the_tables_and_each_audit_bucket(stacks):
    primary = stacks["payments-dr-primary"]
    tables_target = next(x for x in _templates_by_drill(primary)[DRILL_REPLICATION]["target"]
                         if x["name"] == "tables")
    tables = resources(primary, "aws_dynamodb_table")
    assert sorted(t["name"] for t in tables.values()) == ["payment-idempotency-dev",
                                                          "payment-transactions-dev"]
    for table in tables.values():
        assert _selected(tables_target).items() <= {**_default_tags(primary),
                                                    **table["tags"]}.items()
        # The DR replica carries the same tags (the DR template selects them without RegionRole).
        assert [r["propagate_tags"] for r in table["replica"]] == [True]
    for name, (role, _) in REGIONS.items():
        stack = stacks[name]
        buckets_target = next(x for x in _templates_by_drill(stack)[DRILL_REPLICATION]["target"]
                              if x["name"] == "buckets")
        matching = [n for n, b in resources(stack, "aws_s3_bucket").items()
                    if _selected(buckets_target).items() <= {**_default_tags(stack),
                                                             **(b.get("tags") or {})}.items()]
        [audit] = matching
        assert "storage" in audit and role in audit


def test_the_dr_stacks_drills_use_dr_providers_only_and_name_no_primary_resource(stacks):
    dr = stacks["payments-dr-dr"]
    drill_resources = {(rtype, n): body for rtype, items in dr["resource"].items()
                       for n, body in items.items()
                       if "/drills-dr/" in body["//"]["metadata"]["path"]}
    assert len([k for k in drill_resources if k[0] == "aws_fis_experiment_template"]) == 2
    for (rtype, n), body in drill_resources.items():
        assert body.get("provider") == "aws.dr", f"{rtype}.{n}"
    assert "aws.primary" not in json.dumps(list(drill_resources.values()))
    [provider] = dr["provider"]["aws"]
    assert (provider["alias"], provider["region"]) == ("dr", "us-east-2")
    replication = _templates_by_drill(dr)[DRILL_REPLICATION]
    pause = next(a for a in replication["action"]
                 if a["action_id"] == "aws:s3:bucket-pause-replication")
    assert {p["key"]: p["value"] for p in pause["parameter"]}["region"] == "us-east-1"
    stops = sorted(s["value"].rsplit(":alarm:", 1)[1] for s in replication["stop_condition"])
    assert stops == ["payments-dev-api-5xx-rate-dr", "payments-dev-lambda-errors-validator-dr"]
    assert all(":cloudwatch:us-east-2:" in s["value"] for s in replication["stop_condition"])


def test_the_primary_stacks_drills_target_its_own_tables_and_bucket(stacks):
    primary = stacks["payments-dr-primary"]
    policies = [json.loads(p["policy"]) for p in resources(primary, "aws_iam_role_policy").values()]
    pause = next(s for p in policies for s in p["Statement"] if s["Sid"] == "PauseTableReplication")
    assert [r.rsplit(":", 1)[1] for r in pause["Resource"]] == [
        "table/payment-transactions-dev", "table/payment-idempotency-dev"]
    assert all(":dynamodb:us-east-1:" in r for r in pause["Resource"])
    bucket_name, _ = one(primary, "aws_s3_bucket", path_contains="storage-primary/audit")
    put = next(s for p in policies for s in p["Statement"]
               if s["Sid"] == "PauseBucketReplicationConfiguration")
    assert put["Resource"] == [ref("aws_s3_bucket", bucket_name, "arn")]
