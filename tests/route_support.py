"""API Gateway as the synthesized JSON declares it, enough to route a request to a function.

What is read from the JSON (one regional stack): every ``aws_api_gateway_method`` with an
``AWS_PROXY`` integration, its resource's path (``path_part`` up the ``parent_id`` chain to
the API's root), the integrated ``aws_lambda_function`` (by the integration's ``uri``) and
that function's ``handler``, ``environment``, ``memory_size``, ``timeout`` and package (the
zip Terraform uploads: ``filename``, or the ``aws_s3_object`` a signing job signs).

What is simulated: the REST proxy event API Gateway builds (stage ``prod``, no authorizer
context, no body), and the function process (``lambda_host.py``). AWS APIs answer from a
moto server (``AWS_ENDPOINT_URL``); references the JSON leaves to Terraform (``${...}``) get
stand-in values.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
import uuid
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

STAGE = "prod"
HOST = Path(__file__).resolve().parent / "lambda_host.py"
REF = re.compile(r"^\$\{([a-z0-9_]+)\.([A-Za-z0-9_-]+)\.([a-z_]+)\}$")
ACCOUNT = "123456789012"


@dataclass
class Function:
    key: str  # the aws_lambda_function's logical id
    name: str
    handler: str
    region: str
    environment: dict[str, str]
    memory_mb: int
    timeout_s: int
    package: Path  # the zip
    routes: list[tuple[str, str]] = field(default_factory=list)  # (httpMethod, resource path)


def _region(stack: dict, provider: str) -> str:
    alias = provider.split(".", 1)[1] if "." in provider else None
    for config in stack["provider"]["aws"]:
        if config.get("alias") == alias:
            return str(config["region"])
    raise AssertionError(f"no provider {provider}")


def _resource_path(resources: dict, rest_api: dict, resource_ref: str) -> str:
    parts: list[str] = []
    ref = resource_ref
    while True:
        match = REF.match(ref)
        assert match, f"resource reference {ref!r} is not a reference"
        rtype, name, attribute = match.groups()
        if rtype == "aws_api_gateway_rest_api":
            assert attribute == "root_resource_id", ref
            break
        assert (rtype, attribute) == ("aws_api_gateway_resource", "id"), ref
        body = resources["aws_api_gateway_resource"][name]
        parts.append(body["path_part"])
        ref = body["parent_id"]
    return "/" + "/".join(reversed(parts))


def _package(stack: dict, stack_dir: Path, fn: dict) -> Path:
    if fn.get("filename"):
        return stack_dir / fn["filename"]
    # Signed: s3_key is the signing job's output; the job signs an aws_s3_object uploaded
    # from the synthesized asset.
    match = re.match(r"^\$\{aws_signer_signing_job\.([A-Za-z0-9_-]+)\.", fn["s3_key"])
    assert match, f"package of {fn['function_name']}: neither filename nor a signing job"
    job = stack["resource"]["aws_signer_signing_job"][match.group(1)]
    obj = REF.match(job["source"]["s3"]["key"])
    assert obj and obj.group(1) == "aws_s3_object", job["source"]
    return stack_dir / stack["resource"]["aws_s3_object"][obj.group(2)]["source"]


def _stand_in(value: str, resources: dict, region: str) -> str:
    """A literal for a `${...}` the JSON leaves to Terraform: the referenced resource's own
    literal attribute when it has one, else a made-up value of the right shape."""
    match = REF.match(value)
    if not match:
        return value
    rtype, name, attribute = match.groups()
    literal = resources.get(rtype, {}).get(name, {}).get(attribute)
    if isinstance(literal, str) and "${" not in literal:
        return literal
    if attribute.endswith("arn"):
        return f"arn:aws:kms:{region}:{ACCOUNT}:key/{uuid.uuid5(uuid.NAMESPACE_URL, value)}"
    return f"twin-{name.lower()[:40]}"


def integrated_functions(stack: dict, stack_dir: Path) -> dict[str, Function]:
    """Function logical id -> Function with every (method, path) API Gateway sends it."""
    resources = stack.get("resource", {})
    functions: dict[str, Function] = {}
    methods = resources.get("aws_api_gateway_method", {})
    for integration in resources.get("aws_api_gateway_integration", {}).values():
        if integration["type"] != "AWS_PROXY":
            continue
        uri = REF.match(integration["uri"])
        assert uri and uri.group(1) == "aws_lambda_function" and uri.group(3) == "invoke_arn", integration["uri"]
        method_ref = REF.match(integration["http_method"])
        method = methods[method_ref.group(2)] if method_ref else None
        http_method = method["http_method"] if method else integration["http_method"]
        rest_api = resources["aws_api_gateway_rest_api"]
        path = _resource_path(resources, rest_api, integration["resource_id"])
        key = uri.group(2)
        if key not in functions:
            fn = resources["aws_lambda_function"][key]
            region = _region(stack, fn["provider"])
            env = {k: _stand_in(v, resources, region)
                   for k, v in fn.get("environment", {}).get("variables", {}).items()}
            functions[key] = Function(key, fn["function_name"], fn["handler"], region, env,
                                      int(fn.get("memory_size", 128)), int(fn.get("timeout", 3)),
                                      _package(stack, stack_dir, fn))
        functions[key].routes.append((http_method, path))
    return functions


def proxy_event(http_method: str, path: str, region: str) -> dict[str, Any]:
    """The REST (v1) proxy event for a bodiless request to `path` through the custom domain
    (base path mapping at the root: `path` carries no stage)."""
    host = f"{region}.payments.twin"
    headers = {"Host": host, "Accept": "application/json", "User-Agent": "route-test",
               "X-Forwarded-Proto": "https"}
    return {
        "resource": path, "path": path, "httpMethod": http_method, "headers": headers,
        "multiValueHeaders": {k: [v] for k, v in headers.items()},
        "queryStringParameters": None, "multiValueQueryStringParameters": None,
        "pathParameters": None, "stageVariables": None, "body": None, "isBase64Encoded": False,
        "requestContext": {
            "accountId": ACCOUNT, "apiId": "twin", "domainName": host, "httpMethod": http_method,
            "identity": {"sourceIp": "192.0.2.1", "userAgent": "route-test"},
            "path": path, "protocol": "HTTP/1.1", "requestId": str(uuid.uuid4()),
            "requestTimeEpoch": 0, "resourceId": "twin", "resourcePath": path, "stage": STAGE,
        },
    }


def unpack(fn: Function, into: Path) -> Path:
    target = into / fn.package.parent.name
    if not target.exists():
        with zipfile.ZipFile(fn.package) as archive:
            archive.extractall(target)
    return target


def start(fn: Function, package_dir: Path, aws_endpoint: str, events: list[dict[str, Any]]) -> subprocess.Popen[str]:
    """The function's process (its own environment, as Lambda sets it), fed `events`."""
    env = {
        "PATH": os.environ.get("PATH", ""),
        "AWS_REGION": fn.region, "AWS_DEFAULT_REGION": fn.region,
        "AWS_ACCESS_KEY_ID": "twin", "AWS_SECRET_ACCESS_KEY": "twin", "AWS_SESSION_TOKEN": "twin",
        "AWS_ENDPOINT_URL": aws_endpoint,
        "AWS_LAMBDA_FUNCTION_NAME": fn.name,
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(fn.memory_mb),
        "TWIN_TIMEOUT_MS": str(fn.timeout_s * 1000),
        "POWERTOOLS_TRACE_DISABLED": "true",  # no X-Ray daemon here
        "PYTHONDONTWRITEBYTECODE": "1",
        **fn.environment,
    }
    # Files, not pipes: a chatty function can never block on a full pipe.
    stdin, stdout, stderr = (tempfile.TemporaryFile("w+") for _ in range(3))  # noqa: SIM115  (closed by answers)
    stdin.write(json.dumps(events))
    stdin.seek(0)
    process = subprocess.Popen([sys.executable, str(HOST), str(package_dir), fn.handler],
                               stdin=stdin, stdout=stdout, stderr=stderr, text=True, env=env,
                               cwd=package_dir)
    stdin.close()
    process.outputs = (stdout, stderr)  # type: ignore[attr-defined]
    return process


def answers(process: subprocess.Popen[str], timeout_s: float) -> list[dict[str, Any]]:
    try:
        process.wait(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
        raise
    out, err = (_read(f) for f in process.outputs)  # type: ignore[attr-defined]
    assert process.returncode == 0, f"function process failed: {err[-2000:]}"
    result: list[dict[str, Any]] = json.loads(out)
    return result


def _read(file: Any) -> str:
    file.seek(0)
    text: str = file.read()
    file.close()
    return text
