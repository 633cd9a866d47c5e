"""Regional REST APIs: routes, auth, error contract, capacity, redeployment, logging, metrics.

`platform` is the app as the stacks wire it today; `protected` (tests/api_stack.py) is the
API with every keyword input given (authorizer, probe principals, WAF, alarms).
"""

from __future__ import annotations

import hashlib
import json
import re
import sys
from pathlib import Path

import pytest

from api_stack import PROBE_ROLE_PATTERN, TOPIC_ARN, protected, protected_stacks, synth_protected  # noqa: F401
from helpers import one, outputs, ref, resources

ROLES = ("primary", "dr")
ROUTES = (("validate", "POST", "validator"), ("health", "GET", "health"), ("probe", "GET", "health"))
LAMBDA_DIR = Path(__file__).resolve().parent.parent / "lambda"


def _api(stack, role, prefix="api/"):
    return one(stack, "aws_api_gateway_rest_api", role, f"{prefix}{role}/rest-api")


def _p(role):
    """Construct path prefix of the protected stack's API of `role`."""
    return f"api-{role}/"


# -- routes and auth --------------------------------------------------------------------


def test_one_regional_rest_api_per_region_without_the_execute_api_endpoint(platform):
    assert len(resources(platform, "aws_api_gateway_rest_api")) == 2
    for role in ROLES:
        _, api = _api(platform, role)
        assert api["provider"] == f"aws.{role}"
        assert api["endpoint_configuration"]["types"] == ["REGIONAL"]
        assert api["name"] == f"payments-api-{role}-dev"
        # No bypass: only the custom domains (behind WAF and the authorizer) serve the API.
        assert api["disable_execute_api_endpoint"] is True


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


def test_health_is_open_probe_is_sigv4_and_validate_open_until_an_authorizer_is_wired(platform):
    for role in ROLES:
        auth = {path: one(platform, "aws_api_gateway_method", role, f"api/{role}/{path}-method")[1]
                for path, _, _ in ROUTES}
        assert auth["health"]["authorization"] == "NONE"  # Route 53 cannot sign
        assert auth["probe"]["authorization"] == "AWS_IAM"  # the peer probe knows its region
        assert auth["validate"]["authorization"] == "NONE"
        assert not resources(platform, "aws_api_gateway_authorizer", role)


def test_validate_uses_a_request_authorizer_on_every_signature_header(protected):
    for role in ROLES:
        auth_name, authorizer = one(protected, "aws_api_gateway_authorizer", role, _p(role))
        _, method = one(protected, "aws_api_gateway_method", role, f"{_p(role)}validate-method")
        fn_name, _ = one(protected, "aws_lambda_function", role, f"authorizer-{role}/function")
        api_name, _ = _api(protected, role, prefix="api-")
        assert method["authorization"] == "CUSTOM"
        assert method["authorizer_id"] == ref("aws_api_gateway_authorizer", auth_name, "id")
        assert authorizer["type"] == "REQUEST"
        assert authorizer["authorizer_uri"] == ref("aws_lambda_function", fn_name, "invoke_arn")
        assert authorizer["identity_source"].split(",") == [
            f"method.request.header.{h}"
            for h in ("X-Client-Id", "X-Timestamp", "X-Nonce", "X-Signature", "X-Content-SHA256")]
        # No result cache: every legitimate request has a fresh nonce, a cache would only
        # ever answer a replay without the authorizer's nonce check.
        assert authorizer["authorizer_result_ttl_in_seconds"] == 0
        _, permission = one(protected, "aws_lambda_permission", role, f"{_p(role)}authorizer-permission")
        assert permission["function_name"] == ref("aws_lambda_function", fn_name, "function_name")
        assert permission["principal"] == "apigateway.amazonaws.com"
        assert permission["source_arn"] == (
            ref("aws_api_gateway_rest_api", api_name, "execution_arn") + "/authorizers/"
            + ref("aws_api_gateway_authorizer", auth_name, "id"))
        _, fn = one(protected, "aws_lambda_function", role, f"authorizer-{role}/function")
        assert fn["handler"] == "authorizer.lambda_handler"
        assert fn["environment"]["variables"]["CLIENT_KEYS_SECRET"] == "payments-dr/dev/client-keys"


def _policy(stack, role, prefix):
    _, policy = one(stack, "aws_api_gateway_rest_api_policy", role, f"{prefix}{role}/resource-policy")
    return json.loads(policy["policy"])["Statement"]


def test_probe_is_denied_to_everyone_until_probe_roles_are_given(platform):
    for role in ROLES:
        api_name, _ = _api(platform, role)
        arn = ref("aws_api_gateway_rest_api", api_name, "execution_arn")
        allow, deny = _policy(platform, role, "api/")
        assert allow["Effect"] == "Allow" and allow["Resource"] == [f"{arn}/*"]
        assert deny["Effect"] == "Deny" and deny["Resource"] == [f"{arn}/*/GET/probe"]
        assert "Condition" not in deny


def test_probe_only_for_the_given_probe_roles(protected):
    for role in ROLES:
        _, deny = _policy(protected, role, "api-")
        assert deny["Effect"] == "Deny" and deny["Resource"][0].endswith("/*/GET/probe")
        assert deny["Condition"] == {"ArnNotLike": {"aws:PrincipalArn": [PROBE_ROLE_PATTERN]}}


def test_probe_invoke_grant_targets_the_other_regions_probe_route_by_pattern():
    from modules.api import probe_invoke_grant
    grant = probe_invoke_grant(target_region="us-east-2", partition="aws", account_id="123456789012")
    assert grant["Action"] == ["execute-api:Invoke"]
    assert grant["Resource"] == ["arn:aws:execute-api:us-east-2:123456789012:*/prod/GET/probe"]


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


# -- error contract -------------------------------------------------------------------------

EXPECTED_RESPONSES = {
    # type: (status, code, Retry-After)
    "DEFAULT_4XX": (None, "REQUEST_REJECTED", None),
    "DEFAULT_5XX": (None, "OUTCOME_UNKNOWN", "2"),
    "BAD_REQUEST_BODY": ("400", "INVALID_BODY", None),
    "MISSING_AUTHENTICATION_TOKEN": ("404", "NOT_FOUND", None),
    "RESOURCE_NOT_FOUND": ("404", "NOT_FOUND", None),
    "REQUEST_TOO_LARGE": ("413", "PAYLOAD_TOO_LARGE", None),
    "THROTTLED": ("429", "TOO_MANY_REQUESTS", "1"),
    "UNAUTHORIZED": ("401", "UNAUTHENTICATED", None),
    "ACCESS_DENIED": ("403", "FORBIDDEN", None),
    "WAF_FILTERED": ("403", "REQUEST_BLOCKED", None),
    "AUTHORIZER_FAILURE": ("503", "AUTHENTICATION_UNAVAILABLE", "2"),
    "AUTHORIZER_CONFIGURATION_ERROR": ("503", "AUTHENTICATION_UNAVAILABLE", "2"),
    "INTEGRATION_TIMEOUT": ("504", "OUTCOME_UNKNOWN", "2"),
    "INTEGRATION_FAILURE": ("502", "OUTCOME_UNKNOWN", "2"),
}


def _render(template: str) -> dict:
    """What API Gateway sends: $context.error.messageString is a quoted JSON string."""
    return json.loads(template.replace("$context.error.messageString", '"Invalid request body"'))


def test_gateway_errors_answer_in_the_functions_error_shape(platform):
    for role in ROLES:
        api_name, _ = _api(platform, role)
        found = {r["response_type"]: r for r in resources(platform, "aws_api_gateway_gateway_response", role).values()}
        assert set(found) == set(EXPECTED_RESPONSES)
        for rtype, (status, code, retry_after) in EXPECTED_RESPONSES.items():
            response = found[rtype]
            assert response["rest_api_id"] == ref("aws_api_gateway_rest_api", api_name, "id")
            # DEFAULT_4XX/5XX keep API Gateway's status: setting one rewrites every other's.
            assert response.get("status_code") == status, rtype
            body = _render(response["response_templates"]["application/json"])
            assert set(body) == {"error"} and body["error"]["code"] == code, rtype
            assert isinstance(body["error"]["message"], str) and body["error"]["message"]
            headers = response["response_parameters"]
            assert headers["gatewayresponse.header.Cache-Control"] == "'no-store'"
            if retry_after is None:
                assert "gatewayresponse.header.Retry-After" not in headers, rtype
                assert "retryable" not in body["error"]
            else:
                assert headers["gatewayresponse.header.Retry-After"] == f"'{retry_after}'", rtype
                assert body["error"]["retryable"] is True
                assert body["error"]["retryAfterSeconds"] == int(retry_after)


def test_gateway_codes_shared_with_the_function_mean_the_same(platform):
    """NOT_FOUND and PAYLOAD_TOO_LARGE are the validator's own codes, with its statuses."""
    source = "\n".join(p.read_text() for p in (LAMBDA_DIR / "payments").glob("*.py"))
    assert re.search(r'404,\s*"NOT_FOUND"', source)
    assert re.search(r'413,\s*"PAYLOAD_TOO_LARGE"', source)
    sys.path.insert(0, str(LAMBDA_DIR))
    from payments.core import MAX_BODY_BYTES
    from modules.api import GATEWAY_RESPONSES
    too_large = next(e for e in GATEWAY_RESPONSES if e.response_type == "REQUEST_TOO_LARGE")
    assert str(MAX_BODY_BYTES) in too_large.message


# -- capacity -------------------------------------------------------------------------------


def _method_settings(stack, role):
    return {s["method_path"]: s["settings"]
            for s in resources(stack, "aws_api_gateway_method_settings", role).values()}


def test_validate_burst_never_exceeds_the_validators_concurrency(platform):
    for role in ROLES:
        _, fn = one(platform, "aws_lambda_function", role, f"compute/{role}/validator/function")
        default = _method_settings(platform, role)["*/*"]
        reserved = fn["reserved_concurrent_executions"]
        assert reserved > 0
        assert default["throttling_burst_limit"] <= reserved
        assert default["throttling_rate_limit"] <= reserved  # <= 1 s per request assumed
        assert default["metrics_enabled"] is True
        assert default["logging_level"] == "INFO"
        assert default["data_trace_enabled"] is False


def test_unreserved_validator_is_held_to_the_accounts_unreserved_floor():
    from contract import LAMBDA_MIN_UNRESERVED_CONCURRENCY
    from modules.api import validate_throttle
    from modules.settings import Settings
    assert validate_throttle(Settings(lambda_reserved_concurrency=-1)) == (
        LAMBDA_MIN_UNRESERVED_CONCURRENCY, float(LAMBDA_MIN_UNRESERVED_CONCURRENCY))
    assert validate_throttle(Settings(lambda_reserved_concurrency=200)) == (200, 200.0)


def test_health_has_its_own_bucket_far_above_route53s_load(platform):
    """Route 53: ~15 checkers, one request each per 10 s, uncoordinated (~1.5 rps average,
    all at once at worst). Its bucket is per method, so payment traffic cannot drain it."""
    for role in ROLES:
        health = _method_settings(platform, role)["health/GET"]
        assert health["throttling_rate_limit"] >= 5 * 1.5
        assert health["throttling_burst_limit"] >= 2 * 15
        assert _method_settings(platform, role)["probe/GET"]["throttling_burst_limit"] > 0


# -- redeployment ----------------------------------------------------------------------------

_ADDRESS = re.compile(r"\b(aws_[a-z0-9_]+)\.([A-Za-z0-9_-]+)(?:\.([a-z_]+))?")


def _trigger(stack, role, prefix):
    _, deployment = one(stack, "aws_api_gateway_deployment", role, f"{prefix}{role}/deployment")
    return deployment["triggers"]["redeployment"]


def evaluate_trigger(stack: dict, trigger: str) -> str:
    """What Terraform computes at plan time for sha1(jsonencode([refs...])), for configured
    (known) arguments: each whole-resource reference becomes the resource's arguments, each
    attribute reference its value. Simulated here: Terraform's exact JSON encoding differs,
    but the digest depends on the same inputs, which is what the redeploy needs."""
    inner = re.fullmatch(r"\$\{sha1\(jsonencode\(\[(.*)\]\)\)\}", trigger).group(1)
    values = []
    for rtype, name, attribute in _ADDRESS.findall(inner):
        config = {k: v for k, v in stack["resource"][rtype][name].items()
                  if k not in ("//", "depends_on", "lifecycle", "provider")}
        values.append(config[attribute] if attribute else config)
    return hashlib.sha1(json.dumps(values, sort_keys=True).encode()).hexdigest()


def test_trigger_hashes_every_definition_the_stage_serves(platform, protected):
    served = ("aws_api_gateway_resource", "aws_api_gateway_method", "aws_api_gateway_integration",
              "aws_api_gateway_model", "aws_api_gateway_request_validator",
              "aws_api_gateway_gateway_response", "aws_api_gateway_rest_api_policy",
              "aws_api_gateway_authorizer")
    for stack, prefix in ((platform, "api/"), (protected, "api-")):
        for role in ROLES:
            trigger = _trigger(stack, role, prefix)
            whole = {(t, n) for t, n, a in _ADDRESS.findall(trigger) if not a}
            for rtype in served:
                for name in resources(stack, rtype, role):
                    assert (rtype, name) in whole, f"{rtype}.{name} changes would not redeploy"
            api_name, _ = _api(stack, role, prefix)
            assert f"aws_api_gateway_rest_api.{api_name}.disable_execute_api_endpoint" in trigger
    _, deployment = one(platform, "aws_api_gateway_deployment", "primary", "api/primary/deployment")
    assert deployment["lifecycle"] == {"create_before_destroy": True}


@pytest.fixture(scope="module")
def changed_configurations(tmp_path_factory, protected):
    """The protected stack synthesized again with one served setting changed at a time."""
    import modules.api as api
    from dataclasses import replace
    synths = {}
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(api, "PAYMENT_REQUEST_SCHEMA", json.dumps(
            {**json.loads(api.PAYMENT_REQUEST_SCHEMA), "maxProperties": 4}))
        synths["schema"] = synth_protected(tmp_path_factory.mktemp("schema"))["api-protection-test"]
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(api, "GATEWAY_RESPONSES", tuple(
            replace(e, retry_after_s=5) if e.response_type == "THROTTLED" else e
            for e in api.GATEWAY_RESPONSES))
        synths["gateway response"] = synth_protected(tmp_path_factory.mktemp("gw"))["api-protection-test"]
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(api, "HEALTH_INTEGRATION_TIMEOUT_MS", 3000)
        synths["integration timeout"] = synth_protected(tmp_path_factory.mktemp("timeout"))["api-protection-test"]
    return synths


def test_changing_served_configuration_changes_the_trigger(protected, changed_configurations):
    for role in ROLES:
        base = evaluate_trigger(protected, _trigger(protected, role, "api-"))
        for what, changed in changed_configurations.items():
            assert _trigger(changed, role, "api-") == _trigger(protected, role, "api-")  # same refs
            assert evaluate_trigger(changed, _trigger(changed, role, "api-")) != base, what


def test_unchanged_configuration_keeps_the_trigger(protected, tmp_path_factory):
    again = synth_protected(tmp_path_factory.mktemp("again"))["api-protection-test"]
    for role in ROLES:
        assert (evaluate_trigger(again, _trigger(again, role, "api-"))
                == evaluate_trigger(protected, _trigger(protected, role, "api-")))


# -- logs ----------------------------------------------------------------------------------


def test_prod_stage_logs_json_encrypted_and_traces(platform):
    for role in ROLES:
        deployment_name, _ = one(platform, "aws_api_gateway_deployment", role, f"api/{role}/deployment")
        _, stage = one(platform, "aws_api_gateway_stage", role, f"api/{role}/stage")
        group_name, group = one(platform, "aws_cloudwatch_log_group", role, f"api/{role}/access-logs")
        key_name, _ = one(platform, "aws_kms_key", role, f"key-{role}")
        assert stage["stage_name"] == "prod"
        assert stage["deployment_id"] == ref("aws_api_gateway_deployment", deployment_name, "id")
        assert stage["xray_tracing_enabled"] is True
        assert stage["access_log_settings"]["destination_arn"] == ref(
            "aws_cloudwatch_log_group", group_name, "arn")
        fields = json.loads(stage["access_log_settings"]["format"])
        assert fields["requestId"] == "$context.requestId" and "status" in fields
        assert fields["apiId"] == "$context.apiId"
        assert group["kms_key_id"] == ref("aws_kms_key", key_name, "arn")
        assert group["retention_in_days"] == 365


def test_execution_log_group_is_created_first_with_the_key_and_retention(platform):
    for role in ROLES:
        api_name, _ = _api(platform, role)
        key_name, _ = one(platform, "aws_kms_key", role, f"key-{role}")
        group_name, group = one(platform, "aws_cloudwatch_log_group", role, f"api/{role}/execution-logs")
        _, stage = one(platform, "aws_api_gateway_stage", role, f"api/{role}/stage")
        assert group["name"] == f"API-Gateway-Execution-Logs_{ref('aws_api_gateway_rest_api', api_name, 'id')}/prod"
        assert group["kms_key_id"] == ref("aws_kms_key", key_name, "arn")
        assert group["retention_in_days"] == 365
        assert stage["depends_on"] == [f"aws_cloudwatch_log_group.{group_name}"]


def test_account_settings_are_not_declared_per_environment(platform):
    """aws_api_gateway_account is per region per ACCOUNT: modules/account_baseline.py."""
    assert not resources(platform, "aws_api_gateway_account")


# -- metrics ---------------------------------------------------------------------------------


def test_throttled_requests_are_counted_from_the_access_logs(platform):
    for role in ROLES:
        group_name, _ = one(platform, "aws_cloudwatch_log_group", role, f"api/{role}/access-logs")
        _, metric_filter = one(platform, "aws_cloudwatch_log_metric_filter", role, f"api/{role}/")
        assert metric_filter["log_group_name"] == ref("aws_cloudwatch_log_group", group_name, "name")
        assert metric_filter["pattern"] == '{ $.status = "429" }'
        transformation = metric_filter["metric_transformation"]
        assert transformation["dimensions"] == {"ApiId": "$.apiId"}
        assert (transformation["namespace"], transformation["name"]) == ("PaymentsDR", "ApiThrottledRequests")


def _alarm(stack, name):
    found = [a for a in resources(stack, "aws_cloudwatch_metric_alarm").values() if a["alarm_name"] == name]
    assert len(found) == 1, name
    return found[0]


def test_rate_alarms_divide_errors_by_requests_of_the_same_stage(protected):
    for role in ROLES:
        api_name, _ = _api(protected, role, prefix="api-")
        stage_dims = {"ApiName": ref("aws_api_gateway_rest_api", api_name, "name"), "Stage": "prod"}
        for what, metric, threshold in (("api-5xx-rate", "5XXError", 1),
                                        ("api-4xx-rate", "4XXError", 25)):
            alarm = _alarm(protected, f"payments-dev-{what}-{role}")
            assert alarm["provider"] == f"aws.{role}"
            queries = {q["id"]: q for q in alarm["metric_query"]}
            assert queries["errors"]["metric"]["metric_name"] == metric
            assert queries["requests"]["metric"]["metric_name"] == "Count"
            for q in ("errors", "requests"):
                assert queries[q]["metric"]["namespace"] == "AWS/ApiGateway"
                assert queries[q]["metric"]["dimensions"] == stage_dims
                assert queries[q]["metric"]["stat"] == "Sum" and queries[q]["return_data"] is False
            assert queries["rate"]["return_data"] is True
            assert "100 * errors / requests" in queries["rate"]["expression"]
            assert alarm["threshold"] == threshold
            assert alarm["treat_missing_data"] == "notBreaching"
            assert alarm["alarm_actions"] == alarm["ok_actions"] == [TOPIC_ARN]
        throttled = {q["id"]: q for q in _alarm(protected, f"payments-dev-api-429-rate-{role}")["metric_query"]}
        assert throttled["errors"]["metric"]["namespace"] == "PaymentsDR"
        assert throttled["errors"]["metric"]["dimensions"] == {
            "ApiId": ref("aws_api_gateway_rest_api", api_name, "id")}


def test_latency_and_function_alarms(protected):
    for role in ROLES:
        latency = _alarm(protected, f"payments-dev-api-latency-p99-{role}")
        assert latency["metric_name"] == "Latency" and latency["extended_statistic"] == "p99"
        assert "statistic" not in latency
        for purpose in ("validator", "health", "authorizer"):
            fn_name, fn = one(protected, "aws_lambda_function", role, f"{purpose}-{role}/function")
            dims = {"FunctionName": ref("aws_lambda_function", fn_name, "function_name")}
            throttles = _alarm(protected, f"payments-dev-lambda-throttles-{purpose}-{role}")
            assert (throttles["metric_name"], throttles["dimensions"], throttles["threshold"]) == (
                "Throttles", dims, 0)
            duration = _alarm(protected, f"payments-dev-lambda-duration-near-timeout-{purpose}-{role}")
            assert duration["metric_name"] == "Duration" and duration["dimensions"] == dims
            assert duration["threshold"] == fn["timeout"] * 1000 * 0.8
            concurrency = _alarm(protected, f"payments-dev-lambda-concurrency-{purpose}-{role}")
            assert concurrency["metric_name"] == "ConcurrentExecutions"
            assert concurrency["threshold"] == fn["reserved_concurrent_executions"] * 0.8


def test_no_concurrency_alarm_without_a_reservation(tmp_path_factory):
    from modules.settings import Settings
    stack = synth_protected(tmp_path_factory.mktemp("unreserved"),
                            settings=Settings(lambda_reserved_concurrency=-1))["api-protection-test"]
    names = {a["alarm_name"] for a in resources(stack, "aws_cloudwatch_metric_alarm").values()}
    assert "payments-dev-lambda-throttles-validator-primary" in names
    assert not [n for n in names if "lambda-concurrency" in n]
    # and the API promises no more than the account's unreserved floor
    default = _method_settings(stack, "primary")["*/*"]
    assert default["throttling_burst_limit"] == 10


def test_api_outputs(platform):
    out = outputs(platform)
    for role in ROLES:
        stage_name, _ = one(platform, "aws_api_gateway_stage", role, f"api/{role}/stage")
        api_name, _ = _api(platform, role)
        assert out[f"{role}_api_endpoint"]["value"] == ref("aws_api_gateway_stage", stage_name, "invoke_url")
        assert out[f"{role}_api_id"]["value"] == ref("aws_api_gateway_rest_api", api_name, "id")
