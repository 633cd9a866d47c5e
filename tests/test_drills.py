"""FIS drill templates of one region (modules/drills.py), synthesized in a one-region stack.

The lead has not wired `RegionalDrills` into the regional stacks yet, so these tests build a
small stack holding one region's provider, key and the drills, exactly as a regional stack
would. Targets are stand-in ARNs; what is checked is the template, role and log wiring.
"""

from __future__ import annotations

import json

import pytest
from cdktf import App, TerraformOutput, TerraformStack, Testing
from helpers import one, ref, resources

from contract import DRILL_REGIONAL_FAILOVER, DRILL_REPLICATION, DRILL_TAG, FOUNDATION_STACK, REGIONAL_STACKS
from modules.drills import (
    FIS_EXTENSION_LAYER_PARAMETER,
    RegionalDrills,
    alarm_arn,
    default_stop_alarm_arns,
    drill_tags,
    grant_extension_read,
    health_function_environment,
)
from modules.keys import RegionalKey
from modules.naming import Names
from modules.regions import PeerRegion, build_region
from modules.settings import Settings

Testing.__test__ = False  # a cdktf helper class, not a test

NAMES = Names("dev")
HEALTH_ARN = "arn:aws:lambda:us-east-1:111122223333:function:payment-health-primary-dev"
BUCKET_ARN = "arn:aws:s3:::payments-dr-audit-dev-111122223333-us-east-1"
TABLE_ARNS = ["arn:aws:dynamodb:us-east-1:111122223333:table/payment-transactions-dev",
              "arn:aws:dynamodb:us-east-1:111122223333:table/payment-idempotency-dev"]


def _build(role="primary", region_name="us-east-1", peer="us-east-2", stop=None,
           health_arn=HEALTH_ARN):
    app = App()
    stack = TerraformStack(app, f"drills-{role}")
    region = build_region(stack, role=role, name=region_name, settings=Settings.from_env({}))
    key = RegionalKey(stack, f"key-{role}", region=region, names=NAMES)
    if stop is None:
        stop = {DRILL_REGIONAL_FAILOVER: [alarm_arn(region, NAMES.alarm("lambda-errors-validator", role))],
                DRILL_REPLICATION: [alarm_arn(region, NAMES.alarm("api-5xx", role)),
                                    alarm_arn(region, NAMES.alarm("lambda-errors-validator", role))]}
    drills = RegionalDrills(stack, f"drills-{role}", region=region, names=NAMES, key=key,
                            peer=PeerRegion(role="dr" if role == "primary" else "primary",
                                            name=peer, of=region),
                            health_function_arn=health_arn,
                            audit_bucket_arn=BUCKET_ARN, table_arns=TABLE_ARNS,
                            stop_alarm_arns=stop, log_retention_days=365)
    # What the lead hands to the health function, resolved the way compute would use it.
    TerraformOutput(stack, "health-environment", value=health_function_environment(region, NAMES))
    TerraformOutput(stack, "health-grants",
                    value=json.dumps(grant_extension_read(region, NAMES, key.arn)))
    return drills, json.loads(Testing.synth(stack)), region, key


@pytest.fixture(scope="module")
def primary():
    return _build()


@pytest.fixture(scope="module")
def synth(primary):
    return primary[1]


def test_health_function_arn_defaults_to_its_contract_name():
    _, synth, _, _ = _build(health_arn=None)
    sids = _by_sid(_policy(synth, DRILL_REGIONAL_FAILOVER))
    [arn] = sids["InspectHealthFunction"]["Resource"]
    assert arn.endswith(":lambda:us-east-1:${data.aws_caller_identity.identity-primary.account_id}"
                        ":function:payment-health-primary-dev")


def _template(synth, drill):
    return one(synth, "aws_fis_experiment_template", path_contains=f"_{drill}_")


def _policy(synth, drill):
    _, body = one(synth, "aws_iam_role_policy", path_contains=f"{drill}-policy")
    return json.loads(body["policy"])["Statement"]


def _by_sid(statements):
    return {s["Sid"]: s for s in statements}


def test_failover_drill_fails_every_health_invocation_without_running_it(synth):
    _, t = _template(synth, DRILL_REGIONAL_FAILOVER)
    [action] = t["action"]
    assert action["action_id"] == "aws:lambda:invocation-error"
    assert action["target"] == {"key": "Functions", "value": "health"}
    assert {p["key"]: p["value"] for p in action["parameter"]} == {
        "duration": "PT10M", "invocationPercentage": "100", "preventExecution": "true"}
    [target] = t["target"]
    assert target["resource_type"] == "aws:lambda:function"
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
    for drill, whats in ((DRILL_REGIONAL_FAILOVER, ["lambda-errors-validator"]),
                         (DRILL_REPLICATION, ["api-5xx", "lambda-errors-validator"])):
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
        DRILL_REGIONAL_FAILOVER: ["payments-dev-lambda-errors-validator-primary",
                                  "payments-dev-dynamodb-replication-latency-transactions-primary"],
        DRILL_REPLICATION: ["payments-dev-api-5xx-primary",
                            "payments-dev-lambda-errors-validator-primary"]}
    assert not any("api-5xx" in n for n in names[DRILL_REGIONAL_FAILOVER])


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


def test_failover_role_may_only_touch_the_health_function_and_the_config_prefix(synth):
    sids = _by_sid(_policy(synth, DRILL_REGIONAL_FAILOVER))
    assert sids["InspectHealthFunction"]["Action"] == ["lambda:GetFunction"]
    assert sids["InspectHealthFunction"]["Resource"] == [HEALTH_ARN]
    assert sids["WriteFaultConfigurations"]["Action"] == ["s3:DeleteObject", "s3:PutObject"]
    [objects] = sids["WriteFaultConfigurations"]["Resource"]
    assert objects.endswith("/FisConfigs/*") and "aws_s3_bucket." in objects
    everything = [s for s in sids.values() if s["Resource"] == ["*"]]
    assert sorted(a for s in everything for a in s["Action"]) == [
        "logs:CreateLogDelivery", "tag:GetResources"]
    assert not any("dynamodb" in a or ("s3:Put" in a and "Replication" in a)
                   for s in sids.values() for a in s["Action"])


def test_replication_role_changes_replication_only_as_a_fis_pause(synth):
    sids = _by_sid(_policy(synth, DRILL_REPLICATION))
    assert sids["PauseTableReplication"]["Resource"] == TABLE_ARNS
    assert "dynamodb:PutResourcePolicy" in sids["PauseTableReplication"]["Action"]
    put = sids["PauseBucketReplicationConfiguration"]
    assert put["Action"] == ["s3:PutReplicationConfiguration"]
    assert put["Resource"] == [BUCKET_ARN]
    assert put["Condition"] == {"Bool": {"s3:isReplicationPauseRequest": "true"}}
    assert "lambda:GetFunction" not in {a for s in sids.values() for a in s["Action"]}


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


def test_health_function_wiring_the_lead_adds(synth):
    _, bucket = one(synth, "aws_s3_bucket")
    env = synth["output"]["health-environment"]["value"]
    assert env["AWS_LAMBDA_EXEC_WRAPPER"] == "/opt/aws-fis/bootstrap"
    # The location names the bucket the construct creates, by its contract name.
    assert bucket["bucket"] == ("payments-dr-fis-dev-${data.aws_caller_identity.identity-primary"
                                ".account_id}-us-east-1")
    assert env["AWS_FIS_CONFIGURATION_LOCATION"] == (
        f"arn:${{data.aws_partition.partition-primary.partition}}:s3:::{bucket['bucket']}/FisConfigs/")
    assert FIS_EXTENSION_LAYER_PARAMETER == "/aws/service/fis/lambda-extension/AWS-FIS-extension-arm64/1.x.x"
    grants = _by_sid(json.loads(synth["output"]["health-grants"]["value"]))
    assert grants["ListFaultConfigurations"]["Condition"] == {
        "StringLike": {"s3:prefix": ["FisConfigs/*"]}}
    assert grants["ReadFaultConfigurations"]["Action"] == ["s3:GetObject"]
    assert grants["ReadFaultConfigurations"]["Resource"] == [
        env["AWS_FIS_CONFIGURATION_LOCATION"] + "*"]
    key_name, _ = one(synth, "aws_kms_key")
    assert grants["DecryptFaultConfigurations"]["Resource"] == [ref("aws_kms_key", key_name, "arn")]
    assert grants["DecryptFaultConfigurations"]["Condition"] == {
        "StringEquals": {"kms:ViaService": "s3.us-east-1.amazonaws.com"}}
    assert drill_tags(DRILL_REPLICATION, NAMES)[DRILL_TAG] == "replication"


# -- what `terraform plan` would check, without a provider download --------------------------

# Provider 6.25 plan-time validation (internal/service/fis/experiment_template.go): the action
# target keys it accepts (`Functions` since 6.22.0, CHANGELOG #41209) and the string rules.
ACTION_TARGET_KEYS = {"AutoScalingGroups", "Buckets", "Cluster", "Clusters", "DBInstances",
                      "Functions", "Instances", "Nodegroups", "Pods", "ReplicationGroups", "Roles",
                      "SpotInstances", "Subnets", "Tables", "Tasks", "TransitGateways", "Volumes"}


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
        for target in t["target"]:
            assert re.fullmatch(r"ALL|COUNT\(\d+\)|PERCENT\(\d+\)", target["selection_mode"])
            assert len(target["resource_tag"]) <= 50 and "resource_arns" not in target
        report = ParamValidator().validate(_create_request(t), shape)
        assert not report.has_errors(), report.generate_report()


# -- wired into the split platform exactly as docs/drills.md tells the lead --------------------

def _wire(stack, key):
    """The call docs/drills.md gives for RegionalStack (modules/stack.py)."""
    return RegionalDrills(
        stack, f"drills-{stack.region.role}", region=stack.region, names=stack.names, key=key,
        peer=stack.peer, audit_bucket_arn=stack.audit.bucket.bucket.arn,
        table_arns=[stack.table_access.table_arn(t) for t in ("transactions", "idempotency")],
        stop_alarm_arns=default_stop_alarm_arns(stack.region, stack.names),
        log_retention_days=stack.settings.log_retention_days)


@pytest.fixture(scope="module")
def wired(tmp_path_factory):
    from modules.stack import build_platform
    outdir = tmp_path_factory.mktemp("drills-wired")
    app = App(outdir=str(outdir))
    stacks = build_platform(app, Settings.from_env({}))
    foundation = stacks[FOUNDATION_STACK]
    for role, name in REGIONAL_STACKS.items():
        _wire(stacks[name], foundation.keys[role])
    app.synth()
    return {name: json.loads((outdir / "stacks" / name / "cdk.tf.json").read_text())
            for name in ("payments-dr-primary", "payments-dr-dr")}


def test_the_dr_stacks_drills_use_dr_providers_only_and_name_no_primary_resource(wired):
    dr = wired["payments-dr-dr"]
    templates = resources(dr, "aws_fis_experiment_template")
    assert len(templates) == 2
    for rtype, items in dr["resource"].items():
        for name, body in items.items():
            assert body.get("provider") == "aws.dr", f"{rtype}.{name}"
    [provider] = dr["provider"]["aws"]
    assert (provider["alias"], provider["region"]) == ("dr", "us-east-2")
    [replication] = [t for t in templates.values() if t["tags"][DRILL_TAG] == DRILL_REPLICATION]
    pause = next(a for a in replication["action"]
                 if a["action_id"] == "aws:s3:bucket-pause-replication")
    assert {p["key"]: p["value"] for p in pause["parameter"]}["region"] == "us-east-1"
    stops = sorted(s["value"].rsplit(":alarm:", 1)[1] for s in replication["stop_condition"])
    assert stops == ["payments-dev-api-5xx-dr", "payments-dev-lambda-errors-validator-dr"]
    assert all(":cloudwatch:us-east-2:" in s["value"] for s in replication["stop_condition"])


def test_the_primary_stacks_drills_target_its_own_tables_and_bucket(wired):
    primary = wired["payments-dr-primary"]
    policies = [json.loads(p["policy"]) for p in resources(primary, "aws_iam_role_policy").values()]
    pause = next(s for p in policies for s in p["Statement"] if s["Sid"] == "PauseTableReplication")
    assert [r.rsplit(":", 1)[1] for r in pause["Resource"]] == [
        "table/payment-transactions-dev", "table/payment-idempotency-dev"]
    assert all(":dynamodb:us-east-1:" in r for r in pause["Resource"])
