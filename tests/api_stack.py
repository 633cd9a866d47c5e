"""A small stack with the API tier fully protected, for tests until the stacks wire it.

`synth_protected(tmp_dir, **settings)` builds, per region: key, validator/health/authorizer
functions, `RegionalApi` with the authorizer and probe principals, `RegionalWaf`, `ApiAlarms`;
plus the client-keys secret (primary, replicated to DR) and the account baseline stack.
Returns {stack name: parsed cdk.tf.json} (with "//" metadata, so `helpers.one` paths work).
The `protected` fixture is the default-settings synth, once per session.
"""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import pytest

PROTECTED_STACK = "api-protection-test"
PROBE_ROLE_PATTERN = "arn:aws:iam::123456789012:role/payment-probe-*-dev"
TOPIC_ARN = "arn:aws:sns:us-east-1:123456789012:alarms"


def synth_protected(outdir: Path, *, settings=None) -> dict[str, dict]:
    from cdktf import App, TerraformStack

    from contract import ACCOUNT_STACK
    from modules.account_baseline import AccountBaselineStack
    from modules.api import AUTHORIZER_HANDLER, RegionalApi
    from modules.api_monitoring import ApiAlarms
    from modules.client_keys import ENV_CLIENT_KEYS_SECRET, ClientKeysSecret, client_keys_secret_name, grant_read
    from modules.compute import FunctionCode, ServiceFunction
    from modules.keys import RegionalKey
    from modules.naming import Names
    from modules.regions import build_region_pair
    from modules.settings import Settings
    from modules.waf import RegionalWaf

    settings = settings or Settings()
    app = App(outdir=str(outdir))
    stack = TerraformStack(app, PROTECTED_STACK)
    names = Names(settings.environment_suffix)
    regions = build_region_pair(stack, settings)
    code = FunctionCode(stack, "code")
    keys = {r.role: RegionalKey(stack, f"key-{r.role}", region=r, names=names) for r in regions}
    stack.client_keys = ClientKeysSecret(stack, "client-keys", names=names, primary=regions.primary,
                                         dr=regions.dr, primary_key=keys["primary"])
    stack.apis, stack.wafs, stack.alarms = {}, {}, {}
    for r in regions:
        def function(purpose, handler, timeout, env=None, grants=()):
            return ServiceFunction(
                stack, f"{purpose}-{r.role}", region=r, key=keys[r.role], settings=settings,
                function_name=names.function(purpose, r.role), handler=handler, memory_mb=256,
                timeout_s=timeout, reserved_concurrency=settings.lambda_reserved_concurrency,
                environment=env or {}, grants=list(grants), code=code,
                layer_arn="arn:aws:lambda:us-east-1:017000801446:layer:powertools:1")
        compute = SimpleNamespace(validator=function("validator", "validator.lambda_handler", 25),
                                  health=function("health", "health.lambda_handler", 5))
        authorizer = function(
            "authorizer", AUTHORIZER_HANDLER, 5,
            env={ENV_CLIENT_KEYS_SECRET: client_keys_secret_name(names)},
            grants=grant_read(r, names, key_arn=keys[r.role].arn))
        api = RegionalApi(stack, f"api-{r.role}", region=r, settings=settings, names=names,
                          key=keys[r.role], compute=compute, authorizer=authorizer,
                          probe_principal_arns=[PROBE_ROLE_PATTERN])
        waf = RegionalWaf(stack, f"waf-{r.role}", region=r, names=names, settings=settings,
                          key=keys[r.role], api=api)
        alarms = ApiAlarms(stack, f"api-alarms-{r.role}", region=r, names=names,
                           topic_arn=TOPIC_ARN, api=api,
                           functions={"validator": compute.validator, "health": compute.health,
                                      "authorizer": authorizer}, waf=waf)
        stack.apis[r.role], stack.wafs[r.role], stack.alarms[r.role] = api, waf, alarms
    AccountBaselineStack(app, ACCOUNT_STACK, settings=settings)
    app.synth()
    return {d.name: json.loads((d / "cdk.tf.json").read_text())
            for d in sorted((Path(outdir) / "stacks").iterdir())}


@pytest.fixture(scope="session")
def protected_stacks(tmp_path_factory) -> dict[str, dict]:
    return synth_protected(tmp_path_factory.mktemp("protected"))


@pytest.fixture(scope="session")
def protected(protected_stacks) -> dict:
    return protected_stacks[PROTECTED_STACK]
