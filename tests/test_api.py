"""Regional REST APIs: routes, Lambda wiring, stage logging/tracing/throttling, redeployment."""

from __future__ import annotations

import json

from helpers import one, outputs, ref, resources

ROLES = ("primary", "dr")
ROUTES = (("validate", "POST", "validator"), ("health", "GET", "health"))


def _api(platform, role):
    return one(platform, "aws_api_gateway_rest_api", role, f"api/{role}/rest-api")


def test_one_regional_rest_api_per_region(platform):
    assert len(resources(platform, "aws_api_gateway_rest_api")) == 2
    for role in ROLES:
        _, api = _api(platform, role)
        assert api["provider"] == f"aws.{role}"
        assert api["endpoint_configuration"]["types"] == ["REGIONAL"]
        assert api["name"] == f"payments-api-{role}-dev"


def test_routes_integrate_with_the_same_regions_function(platform):
    for role in ROLES:
        api_name, api = _api(platform, role)
        api_id = ref("aws_api_gateway_rest_api", api_name, "id")
        for path, verb, purpose in ROUTES:
            res_name, res = one(platform, "aws_api_gateway_resource", role, f"api/{role}/{path}-resource")
            assert res["path_part"] == path and res["rest_api_id"] == api_id
            assert res["parent_id"] == ref("aws_api_gateway_rest_api", api_name, "root_resource_id")
            method_name, method = one(platform, "aws_api_gateway_method", role, f"api/{role}/{path}-method")
            assert method["http_method"] == verb
            assert method["resource_id"] == ref("aws_api_gateway_resource", res_name, "id")
            _, integration = one(platform, "aws_api_gateway_integration", role,
                                 f"api/{role}/{path}-integration")
            fn_name, _ = one(platform, "aws_lambda_function", role, f"compute/{role}/{purpose}/function")
            assert integration["type"] == "AWS_PROXY"
            assert integration["integration_http_method"] == "POST"
            assert integration["uri"] == ref("aws_lambda_function", fn_name, "invoke_arn")
            assert integration["rest_api_id"] == api_id
            assert integration["provider"] == f"aws.{role}"


def test_no_region_bound_sigv4_auth_so_signed_clients_survive_failover(platform):
    for role in ROLES:
        _, validate = one(platform, "aws_api_gateway_method", role, f"api/{role}/validate-method")
        _, health = one(platform, "aws_api_gateway_method", role, f"api/{role}/health-method")
        assert validate["authorization"] == "NONE"
        assert health["authorization"] == "NONE"


def test_post_body_is_validated_against_a_json_model(platform):
    for role in ROLES:
        _, method = one(platform, "aws_api_gateway_method", role, f"api/{role}/validate-method")
        validator_name, validator = one(platform, "aws_api_gateway_request_validator", role,
                                        f"api/{role}/body-validator")
        model_name, model = one(platform, "aws_api_gateway_model", role, f"api/{role}/payment-model")
        assert validator["validate_request_body"] is True
        assert method["request_validator_id"] == ref("aws_api_gateway_request_validator",
                                                     validator_name, "id")
        assert method["request_models"] == {
            "application/json": ref("aws_api_gateway_model", model_name, "name")}
        assert json.loads(model["schema"])["type"] == "object"


def test_lambda_permissions_are_scoped_to_the_regions_api_and_route(platform):
    for role in ROLES:
        api_name, _ = _api(platform, role)
        for path, verb, purpose in ROUTES:
            _, permission = one(platform, "aws_lambda_permission", role, f"api/{role}/{path}-permission")
            fn_name, _ = one(platform, "aws_lambda_function", role, f"compute/{role}/{purpose}/function")
            assert permission["principal"] == "apigateway.amazonaws.com"
            assert permission["action"] == "lambda:InvokeFunction"
            assert permission["function_name"] == ref("aws_lambda_function", fn_name, "function_name")
            assert permission["source_arn"] == (
                ref("aws_api_gateway_rest_api", api_name, "execution_arn") + f"/*/{verb}/{path}")


def test_deployment_redeploys_on_any_route_change(platform):
    for role in ROLES:
        _, deployment = one(platform, "aws_api_gateway_deployment", role, f"api/{role}/deployment")
        assert deployment["lifecycle"] == {"create_before_destroy": True}
        trigger = deployment["triggers"]["redeployment"]
        assert trigger.startswith("${sha1(jsonencode([")
        for path, _, _ in ROUTES:
            for kind in ("resource", "method", "integration"):
                name, _ = one(platform, f"aws_api_gateway_{kind}", role, f"api/{role}/{path}-{kind}")
                assert f"aws_api_gateway_{kind}.{name}.id" in trigger


def test_prod_stage_logs_json_encrypted_and_traces(platform):
    for role in ROLES:
        deployment_name, _ = one(platform, "aws_api_gateway_deployment", role, f"api/{role}/deployment")
        _, stage = one(platform, "aws_api_gateway_stage", role, f"api/{role}/stage")
        group_name, group = one(platform, "aws_cloudwatch_log_group", role, f"api/{role}/access-logs")
        key_name, _ = one(platform, "aws_kms_key", role, f"key-{role}")
        account_name, _ = one(platform, "aws_api_gateway_account", role, f"api/{role}/")
        assert stage["stage_name"] == "prod"
        assert stage["deployment_id"] == ref("aws_api_gateway_deployment", deployment_name, "id")
        assert stage["xray_tracing_enabled"] is True
        assert stage["access_log_settings"]["destination_arn"] == ref(
            "aws_cloudwatch_log_group", group_name, "arn")
        fields = json.loads(stage["access_log_settings"]["format"])
        assert fields["requestId"] == "$context.requestId" and "status" in fields
        assert group["kms_key_id"] == ref("aws_kms_key", key_name, "arn")
        assert group["retention_in_days"] == 365
        assert f"aws_api_gateway_account.{account_name}" in stage["depends_on"]


def test_account_cloudwatch_role_once_per_region(platform):
    for role in ROLES:
        _, account = one(platform, "aws_api_gateway_account", role)
        role_name, iam_role = one(platform, "aws_iam_role", role, f"api/{role}/cloudwatch-role/role")
        assert account["cloudwatch_role_arn"] == ref("aws_iam_role", role_name, "arn")
        trust = json.loads(iam_role["assume_role_policy"])["Statement"][0]
        assert trust["Principal"] == {"Service": "apigateway.amazonaws.com"}
        _, attachment = one(platform, "aws_iam_role_policy_attachment", role,
                            f"api/{role}/cloudwatch-role/policy")
        assert attachment["policy_arn"].endswith(
            ":iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs")


def test_method_settings_throttle_and_never_log_bodies(platform):
    for role in ROLES:
        _, settings = one(platform, "aws_api_gateway_method_settings", role)
        s = settings["settings"]
        assert settings["method_path"] == "*/*"
        assert s["metrics_enabled"] is True
        assert s["logging_level"] == "INFO"
        assert s["data_trace_enabled"] is False
        assert s["throttling_burst_limit"] > 0 and s["throttling_rate_limit"] > 0


def test_api_outputs(platform):
    out = outputs(platform)
    for role in ROLES:
        stage_name, _ = one(platform, "aws_api_gateway_stage", role, f"api/{role}/stage")
        api_name, _ = _api(platform, role)
        assert out[f"{role}_api_endpoint"]["value"] == ref("aws_api_gateway_stage", stage_name, "invoke_url")
        assert out[f"{role}_api_id"]["value"] == ref("aws_api_gateway_rest_api", api_name, "id")
