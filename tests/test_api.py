"""Regional REST APIs: routes, auth, error contract, capacity, redeployment, logging, metrics.

On the platform stacks as built (modules/stack.py RegionalStack: `api-{role}` with the
authorizer `compute-{role}/authorizer` and the peer's probe role, alarms in
`monitoring-{role}/api-alarms`); `platform` merges them (tests/conftest.py).
"""

from __future__ import annotations

import hashlib
import json
import re
import sys
from pathlib import Path

import pytest
from helpers import one, outputs, ref, resources
from platform_support import merged

from contract import LAMBDA_MIN_UNRESERVED_CONCURRENCY, REGIONAL_STACKS

ROLES = ("primary", "dr")
PEER = {"primary": "dr", "dr": "primary"}
ROUTES = (("validate", "POST", "validator"), ("health", "GET", "health"), ("probe", "GET", "health"))
LAMBDA_DIR = Path(__file__).resolve().parent.parent / "lambda"


def _p(role):
    """Construct path prefix of the API of `role` (RegionalStack's `api-{role}`)."""
    return f"api-{role}/"


def _api(stack, role):
    return one(stack, "aws_api_gateway_rest_api", role, f"{_p(role)}rest-api")


def _fn(stack, role, purpose):
    """The function of `purpose` in the compute tier of `role` (RegionalCompute)."""
    return one(stack, "aws_lambda_function", role, f"compute-{role}/{purpose}/function")


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
        api_name, _ = _api(platform, role)
        api_id = ref("aws_api_gateway_rest_api", api_name, "id")
        for path, verb, purpose in ROUTES:
            res_name, res = one(platform, "aws_api_gateway_resource", role, f"{_p(role)}{path}-resource")
            assert res["path_part"] == path and res["rest_api_id"] == api_id
            assert res["parent_id"] == ref("aws_api_gateway_rest_api", api_name, "root_resource_id")
            _method_name, method = one(platform, "aws_api_gateway_method", role, f"{_p(role)}{path}-method")
            assert method["http_method"] == verb
            assert method["resource_id"] == ref("aws_api_gateway_resource", res_name, "id")
            _, integration = one(platform, "aws_api_gateway_integration", role,
                                 f"{_p(role)}{path}-integration")
            fn_name, _ = _fn(platform, role, purpose)
            assert integration["type"] == "AWS_PROXY"
            assert integration["integration_http_method"] == "POST"
            assert integration["uri"] == ref("aws_lambda_function", fn_name, "invoke_arn")
            assert integration["rest_api_id"] == api_id
            assert integration["provider"] == f"aws.{role}"


def test_health_is_open_probe_is_sigv4_and_validate_needs_the_authorizer(platform):
    for role in ROLES:
        auth = {path: one(platform, "aws_api_gateway_method", role, f"{_p(role)}{path}-method")[1]
                for path, _, _ in ROUTES}
        assert auth["health"]["authorization"] == "NONE"  # Route 53 cannot sign
        assert auth["probe"]["authorization"] == "AWS_IAM"  # the peer probe knows its region
        assert auth["validate"]["authorization"] == "CUSTOM"
        assert "authorizer_id" not in auth["health"] and "authorizer_id" not in auth["probe"]
        # One authorizer per region, on that region's API only.
        (_, authorizer), = resources(platform, "aws_api_gateway_authorizer", role).items()
        assert authorizer["rest_api_id"] == ref("aws_api_gateway_rest_api", _api(platform, role)[0], "id")


def test_validate_uses_a_request_authorizer_on_every_signature_header(platform):
    (_secret_name, secret), = [
        (n, s) for n, s in resources(platform, "aws_secretsmanager_secret", "primary").items()
        if "/client-keys/" in s["//"]["metadata"]["path"]]
    for role in ROLES:
        auth_name, authorizer = one(platform, "aws_api_gateway_authorizer", role, f"{_p(role)}authorizer")
        _, method = one(platform, "aws_api_gateway_method", role, f"{_p(role)}validate-method")
        fn_name, fn = _fn(platform, role, "authorizer")
        api_name, _ = _api(platform, role)
        assert method["authorization"] == "CUSTOM"
        assert method["authorizer_id"] == ref("aws_api_gateway_authorizer", auth_name, "id")
        assert authorizer["type"] == "REQUEST"
        assert authorizer["provider"] == f"aws.{role}"
        # This region's own authorizer function: it keeps working while the peer is down.
        assert authorizer["authorizer_uri"] == ref("aws_lambda_function", fn_name, "invoke_arn")
        assert fn["provider"] == f"aws.{role}"
        assert authorizer["identity_source"].split(",") == [
            f"method.request.header.{h}"
            for h in ("X-Client-Id", "X-Timestamp", "X-Nonce", "X-Signature", "X-Content-SHA256")]
        # No result cache: every legitimate request has a fresh nonce, a cache would only
        # ever answer a replay without the authorizer's nonce check.
        assert authorizer["authorizer_result_ttl_in_seconds"] == 0
        _, permission = one(platform, "aws_lambda_permission", role, f"{_p(role)}authorizer-permission")
        assert permission["function_name"] == ref("aws_lambda_function", fn_name, "function_name")
        assert permission["principal"] == "apigateway.amazonaws.com"
        assert permission["source_arn"] == (
            ref("aws_api_gateway_rest_api", api_name, "execution_arn") + "/authorizers/"
            + ref("aws_api_gateway_authorizer", auth_name, "id"))
        assert fn["handler"] == "authorizer.lambda_handler"
        # The secret the stack creates (a replica keeps its primary's name in the DR region).
        assert fn["environment"]["variables"]["CLIENT_KEYS_SECRET"] == secret["name"] == (
            "payments-dr/dev/client-keys")


def _policy(stack, role):
    _, policy = one(stack, "aws_api_gateway_rest_api_policy", role, f"{_p(role)}resource-policy")
    return json.loads(policy["policy"])["Statement"]


def test_probe_only_for_the_two_probe_roles(platform, stacks):
    for role in ROLES:
        peer = PEER[role]
        api_name, _ = _api(platform, role)
        arn = ref("aws_api_gateway_rest_api", api_name, "execution_arn")
        allow, deny = _policy(platform, role)
        assert allow["Effect"] == "Allow" and allow["Resource"] == [f"{arn}/*"]
        assert "Condition" not in allow
        assert deny["Effect"] == "Deny" and deny["Resource"] == [f"{arn}/*/GET/probe"]
        # Exactly the two probe roles (this region's checks the domain, which this region may
        # serve; the peer's checks this region), in this stack's own account, by name: no
        # reference into the peer's stack.
        probe_role_arns = [(f"arn:${{data.aws_partition.partition-{role}.partition}}:iam::"
                            f"${{data.aws_caller_identity.identity-{role}.account_id}}:role/"
                            f"payment-probe-{r}-dev-role") for r in (role, peer)]
        assert deny["Condition"] == {"ArnNotLike": {"aws:PrincipalArn": probe_role_arns}}
        own = stacks[REGIONAL_STACKS[role]]["data"]
        assert own["aws_caller_identity"][f"identity-{role}"]["provider"] == f"aws.{role}"
        assert own["aws_partition"][f"partition-{role}"]["provider"] == f"aws.{role}"
        # ... and that name is the role the peer's probe function runs as, which may call
        # this region's GET /probe.
        _, peer_role = one(platform, "aws_iam_role", peer, f"probe-{peer}/probe/role")
        assert peer_role["name"] == f"payment-probe-{peer}-dev-role"
        _, peer_policy = one(platform, "aws_iam_role_policy", peer, f"probe-{peer}/probe/policy")
        grants = [s for s in json.loads(peer_policy["policy"])["Statement"]
                  if s["Action"] == ["execute-api:Invoke"]]
        region = {"primary": "us-east-1", "dr": "us-east-2"}[role]
        assert [
            f"arn:${{data.aws_partition.partition-{peer}.partition}}:execute-api:{region}:"
            f"${{data.aws_caller_identity.identity-{peer}.account_id}}:*/prod/GET/probe"] in [
            g["Resource"] for g in grants]
        assert len(grants) == 2  # its own region's /probe (the domain) and this one


def test_probe_invoke_grant_targets_the_other_regions_probe_route_by_pattern():
    from modules.api import probe_invoke_grant
    grant = probe_invoke_grant(target_region="us-east-2", partition="aws", account_id="123456789012")
    assert grant["Action"] == ["execute-api:Invoke"]
    assert grant["Resource"] == ["arn:aws:execute-api:us-east-2:123456789012:*/prod/GET/probe"]


def test_post_body_is_validated_against_a_json_model(platform):
    for role in ROLES:
        _, method = one(platform, "aws_api_gateway_method", role, f"{_p(role)}validate-method")
        validator_name, validator = one(platform, "aws_api_gateway_request_validator", role,
                                        f"{_p(role)}body-validator")
        model_name, model = one(platform, "aws_api_gateway_model", role, f"{_p(role)}payment-model")
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
            _, permission = one(platform, "aws_lambda_permission", role, f"{_p(role)}{path}-permission")
            fn_name, _ = _fn(platform, role, purpose)
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
    # an authenticated client with no API key in this region's usage plan (drctl client-keys sync)
    "INVALID_API_KEY": ("403", "CLIENT_NOT_PROVISIONED", None),
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
            # One error shape: every 5xx (and the 429) says what is known about the payment,
            # as the functions' errors do.
            if (status is None and rtype == "DEFAULT_5XX") or (status or "").startswith("5") or status == "429":
                assert body["error"]["outcome"] in ("not_recorded", "unknown"), rtype
            else:
                assert "outcome" not in body["error"], rtype
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
    from modules.api import GATEWAY_RESPONSES
    from payments.core import MAX_BODY_BYTES
    too_large = next(e for e in GATEWAY_RESPONSES if e.response_type == "REQUEST_TOO_LARGE")
    assert str(MAX_BODY_BYTES) in too_large.message


# -- capacity -------------------------------------------------------------------------------


def _method_settings(stack, role):
    return {s["method_path"]: s["settings"]
            for s in resources(stack, "aws_api_gateway_method_settings", role).values()}


@pytest.fixture(scope="module")
def reserved_platform(tuned_platform) -> dict:
    """The platform with LAMBDA_RESERVED_CONCURRENCY=50 (the default reserves nothing)."""
    return tuned_platform


def test_validate_burst_never_exceeds_the_validators_concurrency(reserved_platform):
    for role in ROLES:
        _, fn = _fn(reserved_platform, role, "validator")
        default = _method_settings(reserved_platform, role)["*/*"]
        reserved = fn["reserved_concurrent_executions"]
        assert reserved == 50
        assert default["throttling_burst_limit"] <= reserved
        assert default["throttling_rate_limit"] <= reserved  # <= 1 s per request assumed
        assert default["metrics_enabled"] is True
        assert default["logging_level"] == "INFO"
        assert default["data_trace_enabled"] is False


def test_validate_throttle_is_sized_from_the_declared_peak_with_headroom():
    from modules.api import validate_throttle
    from modules.settings import CAPACITY_HEADROOM, Settings
    assert validate_throttle(Settings()) == (20, 20.0)  # 10 payments/s declared, 2x headroom
    assert validate_throttle(Settings(peak_payments_per_second=2.5)) == (5, 5.0)
    assert validate_throttle(Settings(peak_payments_per_second=100, lambda_reserved_concurrency=200)) == (
        200, 100 * CAPACITY_HEADROOM)
    # Capacity above the old unreserved floor (10 rps) is what the issue asked for: 10/s fits.
    _, rate = validate_throttle(Settings())
    assert rate >= 10 * CAPACITY_HEADROOM > LAMBDA_MIN_UNRESERVED_CONCURRENCY


# -- per-client quotas (usage plans keyed by the authorizer) ----------------------------------


@pytest.mark.parametrize("fixture", ["platform", "prod_platform"])
def test_validate_meters_each_authenticated_client_by_its_usage_plan(fixture, request):
    """API Gateway applies a usage plan only to methods that require an API key, and with
    the AUTHORIZER source takes that key from the authorizer (never from a caller's header)."""
    stack = request.getfixturevalue(fixture)
    for role in ROLES:
        api_name, api = _api(stack, role)
        assert api["api_key_source"] == "AUTHORIZER"
        methods = {path: one(stack, "aws_api_gateway_method", role, f"{_p(role)}{path}-method")[1]
                   for path, _, _ in ROUTES}
        assert methods["validate"]["api_key_required"] is True
        # Route 53 and the peer probe carry no client: no key may be asked of them.
        assert not methods["health"].get("api_key_required")
        assert not methods["probe"].get("api_key_required")
        _, plan = one(stack, "aws_api_gateway_usage_plan", role, f"{_p(role)}client-usage-plan")
        stage_name, _ = one(stack, "aws_api_gateway_stage", role, f"{_p(role)}stage")
        assert plan["provider"] == f"aws.{role}"
        assert plan["name"] == f"payments-clients-{role}-{api['name'].rsplit('-', 1)[1]}"
        assert plan["api_stages"] == [{"api_id": ref("aws_api_gateway_rest_api", api_name, "id"),
                                       "stage": ref("aws_api_gateway_stage", stage_name, "stage_name")}]
        assert "quota_settings" not in plan  # no daily cut-off of a merchant's payments


def test_one_clients_plan_carries_the_peak_and_leaves_the_rest_to_others(platform, prod_platform):
    """A client alone at the declared peak is never throttled by its plan; one client at its
    limit leaves (headroom - 1) x the peak of the method's bucket to every other client."""
    from modules.settings import CAPACITY_HEADROOM, Settings
    for stack in (platform, prod_platform):
        for role in ROLES:
            _, plan = one(stack, "aws_api_gateway_usage_plan", role, f"{_p(role)}client-usage-plan")
            stage = _method_settings(stack, role)["*/*"]
            client = plan["throttle_settings"]
            peak = Settings().peak_payments_per_second
            assert client["rate_limit"] >= peak
            assert stage["throttling_rate_limit"] - client["rate_limit"] >= (CAPACITY_HEADROOM - 1) * peak
            assert 1 <= client["burst_limit"] <= stage["throttling_burst_limit"]
    settings = Settings(peak_payments_per_second=250, lambda_reserved_concurrency=600)
    assert (settings.client_throttle_rate, settings.client_throttle_burst) == (250, 250)
    assert settings.validate_throttle_rate - settings.client_throttle_rate == 250


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


def _trigger(stack, role):
    _, deployment = one(stack, "aws_api_gateway_deployment", role, f"{_p(role)}deployment")
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


def test_trigger_hashes_every_definition_the_stage_serves(platform):
    served = ("aws_api_gateway_resource", "aws_api_gateway_method", "aws_api_gateway_integration",
              "aws_api_gateway_model", "aws_api_gateway_request_validator",
              "aws_api_gateway_gateway_response", "aws_api_gateway_rest_api_policy",
              "aws_api_gateway_authorizer")
    for role in ROLES:
        trigger = _trigger(platform, role)
        whole = {(t, n) for t, n, a in _ADDRESS.findall(trigger) if not a}
        for rtype in served:
            assert resources(platform, rtype, role), rtype  # every served kind is wired
            for name in resources(platform, rtype, role):
                assert (rtype, name) in whole, f"{rtype}.{name} changes would not redeploy"
        api_name, _ = _api(platform, role)
        assert f"aws_api_gateway_rest_api.{api_name}.disable_execute_api_endpoint" in trigger
        assert f"aws_api_gateway_rest_api.{api_name}.api_key_source" in trigger
        _, deployment = one(platform, "aws_api_gateway_deployment", role, f"{_p(role)}deployment")
        assert deployment["lifecycle"] == {"create_before_destroy": True}


def _synth_default(outdir: Path) -> dict:
    """main.build_app with default settings (as the `platform` fixture), synthesized into
    `outdir` and merged: for code-level changes that no setting reaches."""
    import main
    from modules.settings import Settings
    main.build_app(Settings.from_env({}), outdir=str(outdir)).synth()
    return merged({d.name: json.loads((d / "cdk.tf.json").read_text())
                   for d in sorted((outdir / "stacks").iterdir())})


# What `changed_platform` changes -> the served resources it is in, and how it shows there.
CHANGES = {
    "schema": ("aws_api_gateway_model", ("payment-model",),
               lambda r: json.loads(r["schema"]).get("maxProperties") == 4),
    "gateway response": ("aws_api_gateway_gateway_response", ("response-throttled",),
                         lambda r: r["response_parameters"]["gatewayresponse.header.Retry-After"] == "'5'"),
    # One timeout for both integrations that Route 53 / the peer probe call.
    "integration timeout": ("aws_api_gateway_integration", ("health-integration", "probe-integration"),
                            lambda r: r["timeout_milliseconds"] == 3000),
}


@pytest.fixture(scope="module")
def changed_platform(tmp_path_factory):
    """The platform synthesized again, in a new app, with three served configurations changed
    (module constants of modules/api.py: no setting reaches them). One synth for all three:
    each change is put into the default platform alone to see what it does to the hash."""
    from dataclasses import replace

    import modules.api as api
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(api, "PAYMENT_REQUEST_SCHEMA", json.dumps(
            {**json.loads(api.PAYMENT_REQUEST_SCHEMA), "maxProperties": 4}))
        mp.setattr(api, "GATEWAY_RESPONSES", tuple(
            replace(e, retry_after_s=5) if e.response_type == "THROTTLED" else e
            for e in api.GATEWAY_RESPONSES))
        mp.setattr(api, "HEALTH_INTEGRATION_TIMEOUT_MS", 3000)
        return _synth_default(tmp_path_factory.mktemp("changed"))


def _moved(into: dict, source: dict, role: str, change: str) -> dict:
    """A copy of `into` with the resources of one change taken from `source`."""
    rtype, paths, _ = CHANGES[change]
    bodies = dict(into["resource"][rtype])
    for path in paths:
        name, body = one(source, rtype, role, f"{_p(role)}{path}")
        assert name in bodies, (change, name)
        bodies[name] = body
    return {**into, "resource": {**into["resource"], rtype: bodies}}


def test_changing_served_configuration_changes_the_trigger(platform, changed_platform):
    for role in ROLES:
        trigger = _trigger(platform, role)
        base = evaluate_trigger(platform, trigger)
        assert _trigger(changed_platform, role) == trigger  # the same references
        for what, (rtype, paths, shows) in CHANGES.items():
            for path in paths:
                # The change is in the synthesized resource (and not in the default one) ...
                assert shows(one(changed_platform, rtype, role, f"{_p(role)}{path}")[1]), what
                assert not shows(one(platform, rtype, role, f"{_p(role)}{path}")[1]), what
            # ... and, alone, it changes what Terraform hashes.
            assert evaluate_trigger(_moved(platform, changed_platform, role, what), trigger) != base, what


def test_unchanged_configuration_keeps_the_trigger(platform, changed_platform):
    """Every other hashed definition, synthesized again in a new app, hashes the same."""
    for role in ROLES:
        restored = changed_platform
        for what in CHANGES:
            restored = _moved(restored, platform, role, what)
        assert _trigger(restored, role) == _trigger(platform, role)
        assert (evaluate_trigger(restored, _trigger(restored, role))
                == evaluate_trigger(platform, _trigger(platform, role)))


# -- logs ----------------------------------------------------------------------------------


@pytest.mark.parametrize("profile, traced, retention", [("dev", False, 14), ("standard", True, 365)])
def test_prod_stage_logs_json_encrypted_and_traces(profile, traced, retention, platform, standard_platform):
    """The dev profile does not trace (README: cost profiles); the standard one does."""
    platform = platform if profile == "dev" else standard_platform
    for role in ROLES:
        deployment_name, _ = one(platform, "aws_api_gateway_deployment", role, f"{_p(role)}deployment")
        _, stage = one(platform, "aws_api_gateway_stage", role, f"{_p(role)}stage")
        group_name, group = one(platform, "aws_cloudwatch_log_group", role, f"{_p(role)}access-logs")
        key_name, _ = one(platform, "aws_kms_key", role, f"key-{role}")
        assert stage["stage_name"] == "prod"
        assert stage["deployment_id"] == ref("aws_api_gateway_deployment", deployment_name, "id")
        assert stage["xray_tracing_enabled"] is traced
        assert stage["access_log_settings"]["destination_arn"] == ref(
            "aws_cloudwatch_log_group", group_name, "arn")
        fields = json.loads(stage["access_log_settings"]["format"])
        assert fields["requestId"] == "$context.requestId" and "status" in fields
        assert fields["apiId"] == "$context.apiId"
        assert group["kms_key_id"] == ref("aws_kms_key", key_name, "arn")
        assert group["retention_in_days"] == retention


def test_execution_log_group_is_created_first_with_the_key_and_retention(platform):
    for role in ROLES:
        api_name, _ = _api(platform, role)
        key_name, _ = one(platform, "aws_kms_key", role, f"key-{role}")
        group_name, group = one(platform, "aws_cloudwatch_log_group", role, f"{_p(role)}execution-logs")
        _, stage = one(platform, "aws_api_gateway_stage", role, f"{_p(role)}stage")
        assert group["name"] == f"API-Gateway-Execution-Logs_{ref('aws_api_gateway_rest_api', api_name, 'id')}/prod"
        assert group["kms_key_id"] == ref("aws_kms_key", key_name, "arn")
        assert group["retention_in_days"] == 14  # the dev profile (LOG_RETENTION_DAYS)
        assert stage["depends_on"] == [f"aws_cloudwatch_log_group.{group_name}"]


def test_account_settings_are_not_declared_per_environment(platform):
    """aws_api_gateway_account is per region per ACCOUNT: modules/account_baseline.py."""
    assert not resources(platform, "aws_api_gateway_account")


# -- metrics ---------------------------------------------------------------------------------


def test_throttled_requests_are_counted_from_the_access_logs(platform):
    for role in ROLES:
        group_name, _ = one(platform, "aws_cloudwatch_log_group", role, f"{_p(role)}access-logs")
        _, metric_filter = one(platform, "aws_cloudwatch_log_metric_filter", role,
                               f"{_p(role)}throttled-metric")
        assert metric_filter["log_group_name"] == ref("aws_cloudwatch_log_group", group_name, "name")
        assert metric_filter["pattern"] == '{ $.status = "429" }'
        transformation = metric_filter["metric_transformation"]
        assert transformation["dimensions"] == {"ApiId": "$.apiId"}
        assert (transformation["namespace"], transformation["name"]) == ("PaymentsDR", "ApiThrottledRequests")


def _alarm(stack, name, role=None):
    """The alarm called `name`; with `role`, also that it is composed by that region's
    monitoring (`monitoring-{role}/api-alarms`) on that region's provider."""
    found = [a for a in resources(stack, "aws_cloudwatch_metric_alarm").values() if a["alarm_name"] == name]
    assert len(found) == 1, name
    if role is not None:
        assert f"/monitoring-{role}/api-alarms/" in found[0]["//"]["metadata"]["path"], name
        assert found[0]["provider"] == f"aws.{role}", name
    return found[0]


def _topic_arn(stack, role):
    """The region's alarm topic (RegionalMonitoring): API alarms page where the others do."""
    topic_name, _ = one(stack, "aws_sns_topic", role, f"monitoring-{role}/topic/topic")
    return ref("aws_sns_topic", topic_name, "arn")


def test_rate_alarms_divide_errors_by_requests_of_the_same_stage(platform):
    for role in ROLES:
        api_name, _ = _api(platform, role)
        topic = [_topic_arn(platform, role)]
        stage_dims = {"ApiName": ref("aws_api_gateway_rest_api", api_name, "name"), "Stage": "prod"}
        for what, metric, threshold in (("api-5xx-rate", "5XXError", 1),
                                        ("api-4xx-rate", "4XXError", 25)):
            alarm = _alarm(platform, f"payments-dev-{what}-{role}", role)
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
            assert alarm["alarm_actions"] == alarm["ok_actions"] == topic
        throttled_alarm = _alarm(platform, f"payments-dev-api-429-rate-{role}", role)
        assert throttled_alarm["alarm_actions"] == throttled_alarm["ok_actions"] == topic
        throttled = {q["id"]: q for q in throttled_alarm["metric_query"]}
        assert throttled["errors"]["metric"]["namespace"] == "PaymentsDR"
        assert throttled["errors"]["metric"]["dimensions"] == {
            "ApiId": ref("aws_api_gateway_rest_api", api_name, "id")}


def test_latency_and_function_alarms(platform):
    for role in ROLES:
        topic = [_topic_arn(platform, role)]
        latency = _alarm(platform, f"payments-dev-api-latency-p99-{role}", role)
        assert latency["metric_name"] == "Latency" and latency["extended_statistic"] == "p99"
        assert "statistic" not in latency
        assert latency["alarm_actions"] == topic
        for purpose in ("validator", "health", "authorizer"):
            fn_name, fn = _fn(platform, role, purpose)
            dims = {"FunctionName": ref("aws_lambda_function", fn_name, "function_name")}
            throttles = _alarm(platform, f"payments-dev-lambda-throttles-{purpose}-{role}", role)
            assert (throttles["metric_name"], throttles["dimensions"], throttles["threshold"]) == (
                "Throttles", dims, 0)
            assert throttles["alarm_actions"] == topic
            duration = _alarm(platform, f"payments-dev-lambda-duration-near-timeout-{purpose}-{role}", role)
            assert duration["metric_name"] == "Duration" and duration["dimensions"] == dims
            assert duration["threshold"] == fn["timeout"] * 1000 * 0.8
            assert duration["alarm_actions"] == topic


def test_concurrency_alarms_for_every_reserved_function(reserved_platform):
    reserved_purposes = set()
    names = {a["alarm_name"] for a in resources(reserved_platform, "aws_cloudwatch_metric_alarm").values()}
    for role in ROLES:
        for purpose in ("validator", "health", "authorizer"):
            fn_name, fn = _fn(reserved_platform, role, purpose)
            name = f"payments-dev-lambda-concurrency-{purpose}-{role}"
            if fn["reserved_concurrent_executions"] == -1:
                assert name not in names  # nothing reserved: no reservation to approach
                continue
            reserved_purposes.add(purpose)
            concurrency = _alarm(reserved_platform, name, role)
            assert concurrency["metric_name"] == "ConcurrentExecutions"
            assert concurrency["dimensions"] == {
                "FunctionName": ref("aws_lambda_function", fn_name, "function_name")}
            assert concurrency["threshold"] == fn["reserved_concurrent_executions"] * 0.8
            assert concurrency["alarm_actions"] == [_topic_arn(reserved_platform, role)]
    # LAMBDA_RESERVED_CONCURRENCY reserves the validator and the health function.
    assert {"validator", "health"} <= reserved_purposes


def test_no_concurrency_alarm_without_a_reservation(platform):
    for role in ROLES:
        assert _fn(platform, role, "validator")[1]["reserved_concurrent_executions"] == -1  # default
    names = {a["alarm_name"] for a in resources(platform, "aws_cloudwatch_metric_alarm").values()}
    assert "payments-dev-lambda-throttles-validator-primary" in names
    assert not [n for n in names if "lambda-concurrency" in n]
    # and POST /validate carries the declared peak (10/s) with 2x headroom: 20 rps, burst 20
    for role in ROLES:
        default = _method_settings(platform, role)["*/*"]
        assert (default["throttling_burst_limit"], default["throttling_rate_limit"]) == (20, 20)


def test_api_outputs_name_the_regions_custom_domain_not_the_disabled_execute_api_url(platform):
    out = outputs(platform)
    for role in ROLES:
        stage_name, _ = one(platform, "aws_api_gateway_stage", role, f"{_p(role)}stage")
        api_name, _ = _api(platform, role)
        domain_name, domain = one(platform, "aws_api_gateway_domain_name", role, f"domains-{role}/own-domain")
        _, mapping = one(platform, "aws_api_gateway_base_path_mapping", role, f"domains-{role}/own-base-path-mapping")
        # The stage at the root of the region's own domain, so `<endpoint>/health` is served.
        assert mapping["api_id"] == ref("aws_api_gateway_rest_api", api_name, "id")
        assert mapping["stage_name"] == ref("aws_api_gateway_stage", stage_name, "stage_name")
        assert mapping["domain_name"] == ref("aws_api_gateway_domain_name", domain_name, "domain_name")
        assert "base_path" not in mapping
        assert out[f"{role}_api_host"]["value"] == domain["domain_name"]
        assert out[f"{role}_api_endpoint"]["value"] == f"https://{domain['domain_name']}"
        assert out[f"{role}_api_id"]["value"] == ref("aws_api_gateway_rest_api", api_name, "id")

