"""API Gateway (REST) per region, as the JSON declares it, served over HTTP on 127.0.0.1.

SIMULATED: this is the twin's reading of API Gateway's documented behaviour, not AWS code.
What it takes from the JSON: custom domain names and base path mappings (which API and stage
a Host reaches), the aws_api_gateway_resource tree, methods (authorization NONE / AWS_IAM /
CUSTOM, request validator, request models), AWS_PROXY integrations (the function from the
``uri``, ``timeout_milliseconds``), the REQUEST authorizer (identity sources, result TTL, its
function), gateway responses (status, headers, templates) and the stage's method settings
(throttling rate and burst per method, ``*/*`` for the rest), the API's ``api_key_source``,
each method's ``api_key_required`` and the throttle of the usage plan bound to the stage.

A request goes through, in this order:

1. Host -> domain name -> base path mapping -> API and stage (unknown host: 403 Forbidden);
2. path and method -> resource and method (none: MISSING_AUTHENTICATION_TOKEN, as AWS);
3. throttling: one token bucket per method (rate per second, burst) -> THROTTLED;
4. authorization: AWS_IAM checks a SigV4 signature (service execute-api, this region, the
   twin's credentials; the resource policy is NOT evaluated); CUSTOM calls the REQUEST
   authorizer unless an identity source is missing (UNAUTHORIZED, authorizer not called),
   caches its policy for the TTL, and applies Allow/Deny to the method ARN;
4b. API key (``api_key_required``): with the AUTHORIZER source, the authorizer's
   ``usageIdentifierKey``; with HEADER, ``x-api-key``. None -> INVALID_API_KEY (403). Each key
   has its own token bucket at the stage's usage plan throttle -> THROTTLED. SIMULATED: any
   key is taken as a member of that plan (the twin holds no API keys, so a key drctl did
   not create in a region is NOT refused here as AWS would; tests/drctl checks creation);
5. request validation (the body against the method's JSON model: type, required,
   minProperties, properties) -> BAD_REQUEST_BODY;
6. the Lambda proxy integration (payload 1.0 event). Function error or timeout ->
   INTEGRATION_FAILURE (502), malformed answer -> API_CONFIGURATION_ERROR (502), no answer
   within the integration timeout -> INTEGRATION_TIMEOUT (504), Lambda throttled -> 500.

Gateway answers carry ``x-amzn-ErrorType`` as API Gateway's do; answers from a function do not.
Not simulated: WAF, TLS, the resource policy, API keys' existence and plan membership, usage
plan quotas (none are declared), account-level throttling,
binary media types, caching of responses, execute-api hostnames (disabled in the JSON anyway).
"""

from __future__ import annotations

import base64
import datetime
import json
import re
import threading
import time
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from twin.functions import CallerTimeout, FunctionPool, Throttled
from twin.model import Platform, Resource
from twin.provision import FAKE_CREDENTIALS

FAULTS = (None, "hang", "refuse", "5xx")
DEFAULT_INTEGRATION_TIMEOUT_MS = 29_000
MAX_PAYLOAD_BYTES = 10 * 1024 * 1024
SIGV4_MAX_SKEW_S = 300
# API Gateway's default status per response type (docs: "Gateway response types").
DEFAULT_STATUS = {
    "ACCESS_DENIED": 403, "API_CONFIGURATION_ERROR": 500, "AUTHORIZER_CONFIGURATION_ERROR": 500,
    "AUTHORIZER_FAILURE": 500, "BAD_REQUEST_PARAMETERS": 400, "BAD_REQUEST_BODY": 400,
    "EXPIRED_TOKEN": 403, "INTEGRATION_FAILURE": 504, "INTEGRATION_TIMEOUT": 504, "INVALID_API_KEY": 403,
    "INVALID_SIGNATURE": 403, "MISSING_AUTHENTICATION_TOKEN": 403, "QUOTA_EXCEEDED": 429,
    "REQUEST_TOO_LARGE": 413, "RESOURCE_NOT_FOUND": 404, "THROTTLED": 429, "UNAUTHORIZED": 401,
    "UNSUPPORTED_MEDIA_TYPE": 415, "WAF_FILTERED": 403, "DEFAULT_4XX": 400, "DEFAULT_5XX": 500,
}
ERROR_TYPE_HEADER = {
    "ACCESS_DENIED": "AccessDeniedException", "UNAUTHORIZED": "UnauthorizedException",
    "MISSING_AUTHENTICATION_TOKEN": "MissingAuthenticationTokenException", "THROTTLED": "ThrottlingException",
    "INVALID_SIGNATURE": "InvalidSignatureException", "BAD_REQUEST_BODY": "BadRequestException",
    "AUTHORIZER_CONFIGURATION_ERROR": "AuthorizerConfigurationException",
    "AUTHORIZER_FAILURE": "AuthorizerFailureException", "REQUEST_TOO_LARGE": "RequestTooLargeException",
    "INTEGRATION_TIMEOUT": "InternalServerErrorException", "INTEGRATION_FAILURE": "InternalServerErrorException",
    "API_CONFIGURATION_ERROR": "InternalServerErrorException", "DEFAULT_5XX": "InternalServerErrorException",
    "DEFAULT_4XX": "BadRequestException", "INCOMPLETE_SIGNATURE": "IncompleteSignatureException",
}


class TokenBucket:
    """API Gateway's throttle: `burst` tokens, refilled at `rate` per second."""

    def __init__(self, rate: float, burst: int, clock: Any = time.monotonic):
        self.rate, self.burst, self.clock = float(rate), int(burst), clock
        self.tokens = float(burst)
        self.stamp = clock()
        self.lock = threading.Lock()

    def take(self) -> bool:
        with self.lock:
            now = self.clock()
            self.tokens = min(float(self.burst), self.tokens + (now - self.stamp) * self.rate)
            self.stamp = now
            if self.tokens >= 1.0:
                self.tokens -= 1.0
                return True
            return False


@dataclass
class Authorizer:
    name: str
    type: str
    function_arn: str
    identity_sources: list[str]
    ttl_s: int
    cache: dict[tuple[str, ...], tuple[float, dict[str, Any]]] = field(default_factory=dict)


@dataclass
class Method:
    resource_path: str
    http_method: str
    authorization: str
    authorizer: Authorizer | None
    validate_body: bool
    models: dict[str, dict[str, Any]]
    function_arn: str | None
    integration_timeout_ms: int
    bucket: TokenBucket | None
    api_key_required: bool = False


@dataclass
class Api:
    id: str
    name: str
    region: str
    stage: str
    methods: dict[tuple[str, str], Method]  # (resource path, METHOD or ANY)
    responses: dict[str, dict[str, Any]]
    execution_arn: str
    api_key_source: str = "HEADER"
    # (rate, burst) of the usage plan bound to the stage; one bucket per API key
    plan_throttle: tuple[float, int] | None = None
    key_buckets: dict[str, TokenBucket] = field(default_factory=dict)


class GatewayError(Exception):
    def __init__(self, response_type: str, message: str, status: int | None = None):
        super().__init__(message)
        self.response_type, self.message, self.status = response_type, message, status


@dataclass
class AccessLogEntry:
    """Fields of the stage's access log format the scenarios read."""

    request_id: str
    host: str
    http_method: str
    resource_path: str
    status: int
    error_type: str | None
    integration_status: int | None
    authorizer_status: int | None
    principal_id: str | None
    function: str | None
    at: float
    usage_key: str | None = None
    # Why the gateway answered an error (twin-only, not an access log field): the integration's
    # or the authorizer's failure as Lambda reported it, or the function pool's busy state.
    cause: str | None = None
    integration_latency_s: float | None = None


def _quoted(value: str) -> str:
    """A gateway response header value: API Gateway takes static values in single quotes."""
    return value[1:-1] if len(value) >= 2 and value[0] == value[-1] == "'" else value


def _check_schema(schema: dict[str, Any], value: Any, where: str = "body") -> str | None:
    """The subset of JSON Schema draft 4 API Gateway models use here; an error or None."""
    kinds = {"object": dict, "array": list, "string": str, "boolean": bool, "null": type(None)}
    kind = schema.get("type")
    if kind in kinds and not isinstance(value, kinds[kind]):
        return f"{where}: expected type {kind}"
    if kind in ("number", "integer") and (isinstance(value, bool) or not isinstance(value, (int, float))):
        return f"{where}: expected type {kind}"
    if isinstance(value, dict):
        if len(value) < int(schema.get("minProperties", 0)):
            return f"{where}: object has too few properties (minimum {schema['minProperties']})"
        for name in schema.get("required", []):
            if name not in value:
                return f"{where}: object has missing required properties ([\"{name}\"])"
        for name, sub in (schema.get("properties") or {}).items():
            if name in value:
                error = _check_schema(sub, value[name], f"{where}.{name}")
                if error:
                    return error
    if isinstance(value, str):
        if len(value) < int(schema.get("minLength", 0)):
            return f"{where}: string too short"
        if "maxLength" in schema and len(value) > int(schema["maxLength"]):
            return f"{where}: string too long"
    return None


def _error_summary(payload: Any) -> str:
    """Lambda's error payload in one line: type, message and the innermost stack frame."""
    if not isinstance(payload, dict):
        return str(payload)[:300]
    stack = payload.get("stackTrace") or []
    where = str(stack[-2] if len(stack) >= 2 else stack[-1]).strip().replace("\n", " | ") if stack else ""
    summary = f"{payload.get('errorType')}: {str(payload.get('errorMessage'))[:200]}"
    return summary + (f" at {where[:300]}" if where else "")


def _arn_matches(pattern: str, arn: str) -> bool:
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.fullmatch(regex, arn) is not None


class RegionalGateway:
    """Every REST API of one region and the custom domains that reach them."""

    def __init__(self, platform: Platform, pool: FunctionPool, region: str, *, clock: Any = time.monotonic):
        self.platform, self.pool, self.region, self.clock = platform, pool, region, clock
        self.apis: dict[str, Api] = {}
        self.domains: dict[str, tuple[str, str, str]] = {}  # name -> (api id, stage, base path)
        self.access_log: list[AccessLogEntry] = []
        self._log_lock = threading.Lock()
        for res in platform.resources("aws_api_gateway_rest_api"):
            if res.region == region:
                api = self._api(res)
                self.apis[api.id] = api
        for res in platform.resources("aws_api_gateway_base_path_mapping"):
            if res.region == region:
                self.domains[str(platform.get(res, "domain_name")).lower()] = (
                    str(platform.get(res, "api_id")), str(platform.get(res, "stage_name", "")),
                    str(platform.get(res, "base_path", "") or "").strip("/"))
        self.server: ThreadingHTTPServer | None = None
        self.port = 0
        self.fault: str | None = None

    # -- reading the JSON -------------------------------------------------------------------

    def _of_api(self, rtype: str, api_id: str) -> list[Resource]:
        return [r for r in self.platform.resources(rtype)
                if r.region == self.region and str(self.platform.get(r, "rest_api_id")) == api_id]

    def _api(self, rest_api: Resource) -> Api:
        p = self.platform
        api_id = str(p.attribute(rest_api, "id"))
        root = str(p.attribute(rest_api, "root_resource_id"))
        paths = {root: "/"}
        pending = self._of_api("aws_api_gateway_resource", api_id)
        while pending:
            progressed = False
            for res in list(pending):
                parent = str(p.get(res, "parent_id"))
                if parent in paths:
                    base = paths[parent].rstrip("/")
                    paths[str(p.attribute(res, "id"))] = f"{base}/{p.get(res, 'path_part')}"
                    pending.remove(res)
                    progressed = True
            if not progressed:
                raise ValueError(f"{rest_api.address}: resources without a reachable parent: {pending}")
        authorizers = {}
        for res in self._of_api("aws_api_gateway_authorizer", api_id):
            authorizers[str(p.attribute(res, "id"))] = Authorizer(
                name=str(p.get(res, "name")), type=str(p.get(res, "type", "TOKEN")),
                function_arn=str(p.get(res, "authorizer_uri")),
                identity_sources=[s.strip() for s in str(p.get(res, "identity_source", "")).split(",") if s.strip()],
                ttl_s=int(p.get(res, "authorizer_result_ttl_in_seconds", 300)))
        validators = {str(p.attribute(r, "id")): r for r in self._of_api("aws_api_gateway_request_validator", api_id)}
        models = {str(p.get(r, "name")): json.loads(str(p.get(r, "schema", "{}")))
                  for r in self._of_api("aws_api_gateway_model", api_id)}
        integrations = {(str(p.get(r, "resource_id")), str(p.get(r, "http_method"))): r
                        for r in self._of_api("aws_api_gateway_integration", api_id)}
        stages = self._of_api("aws_api_gateway_stage", api_id)
        stage = str(p.get(stages[0], "stage_name")) if stages else ""
        settings = {str(p.get(r, "method_path")): p.get(r, "settings", {})
                    for r in self._of_api("aws_api_gateway_method_settings", api_id)}
        methods: dict[tuple[str, str], Method] = {}
        for res in self._of_api("aws_api_gateway_method", api_id):
            resource_id, verb = str(p.get(res, "resource_id")), str(p.get(res, "http_method")).upper()
            path = paths[resource_id]
            validator = validators.get(str(p.get(res, "request_validator_id", "")))
            integration = integrations.get((resource_id, verb))
            function_arn = None
            timeout_ms = DEFAULT_INTEGRATION_TIMEOUT_MS
            if integration is not None:
                if str(p.get(integration, "type")) != "AWS_PROXY":
                    raise NotImplementedError(f"{integration.address}: only AWS_PROXY integrations are simulated")
                function_arn = str(p.get(integration, "uri"))
                timeout_ms = int(p.get(integration, "timeout_milliseconds", DEFAULT_INTEGRATION_TIMEOUT_MS))
            throttle = settings.get(f"{path.lstrip('/')}/{verb}", settings.get("*/*", {}))
            bucket = None
            if "throttling_rate_limit" in throttle or "throttling_burst_limit" in throttle:
                bucket = TokenBucket(float(throttle.get("throttling_rate_limit", 10000)),
                                     int(throttle.get("throttling_burst_limit", 5000)), self.clock)
            methods[(path, verb)] = Method(
                resource_path=path, http_method=verb, authorization=str(p.get(res, "authorization", "NONE")).upper(),
                authorizer=authorizers.get(str(p.get(res, "authorizer_id", ""))),
                validate_body=bool(validator is not None and p.get(validator, "validate_request_body")),
                models={ct: models[str(name)] for ct, name in (p.get(res, "request_models") or {}).items()
                        if str(name) in models},
                function_arn=function_arn, integration_timeout_ms=timeout_ms, bucket=bucket,
                api_key_required=bool(p.get(res, "api_key_required", False)))
        responses = {str(p.get(r, "response_type")): p.resolve(r.stack, r.body)
                     for r in self._of_api("aws_api_gateway_gateway_response", api_id)}
        return Api(id=api_id, name=str(p.get(rest_api, "name")), region=self.region, stage=stage, methods=methods,
                   responses=responses, execution_arn=str(p.attribute(rest_api, "execution_arn")),
                   api_key_source=str(p.get(rest_api, "api_key_source", "HEADER") or "HEADER").upper(),
                   plan_throttle=self._plan_throttle(api_id, stage))

    def _plan_throttle(self, api_id: str, stage: str) -> tuple[float, int] | None:
        """The plan-level throttle of the usage plan bound to this API's stage (per key)."""
        p = self.platform
        for res in p.resources("aws_api_gateway_usage_plan"):
            if res.region != self.region:
                continue
            bound = [s for s in p.get(res, "api_stages", []) or []
                     if str(s.get("api_id")) == api_id and str(s.get("stage")) == stage]
            throttle = p.get(res, "throttle_settings") or {}
            throttle = throttle[0] if isinstance(throttle, list) and throttle else throttle
            if bound and throttle:
                return (float(throttle.get("rate_limit", 10000)), int(throttle.get("burst_limit", 5000)))
        return None

    def routes(self) -> list[tuple[str, str]]:
        """(METHOD, resource path) of every method the JSON declares in this region."""
        return sorted((verb, path) for api in self.apis.values() for (path, verb) in api.methods)

    # -- serving ------------------------------------------------------------------------------

    def serve(self, port: int = 0) -> int:
        gateway = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _any(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                if gateway.fault == "hang":  # accepted, never answered: the caller times out
                    while gateway.fault == "hang":
                        time.sleep(0.05)
                    self.close_connection = True
                    return
                if gateway.fault == "5xx":
                    payload = b'{"message":"Service Unavailable"}'
                    self.send_response(503)
                    self.send_header("x-amzn-ErrorType", "ServiceUnavailableException")
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(payload)))
                    self._closing()
                    self.end_headers()
                    self.wfile.write(payload)
                    return
                status, headers, payload = gateway.handle(self.command, self.path, list(self.headers.items()), body,
                                                          source_ip=self.client_address[0])
                self.send_response(status)
                for name, value in headers:
                    if name.lower() not in ("content-length", "connection", "transfer-encoding"):
                        self.send_header(name, value)
                self.send_header("Content-Length", str(len(payload)))
                self._closing()
                self.end_headers()
                self.wfile.write(payload)

            def _closing(self) -> None:
                """The caller asked for `Connection: close` (the probe does): say so, as an HTTP/1.1
                server should, or its client pools the socket this server closes, and its next
                request on it finds it closed (RemoteDisconnected)."""
                if self.close_connection:
                    self.send_header("Connection", "close")

            do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = do_OPTIONS = _any

            def log_message(self, format: str, *args: Any) -> None:  # the access log is gateway.access_log
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.port = int(self.server.server_address[1])
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, name=f"apigw-{self.region}", daemon=True).start()
        return int(self.server.server_address[1])

    def stop(self) -> None:
        self.fault = None  # releases hung requests
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            self.server = None

    def set_fault(self, kind: str | None) -> None:
        """A region fault (SIMULATED): ``hang`` accepts and never answers (until the fault is
        cleared, then drops the connection), ``refuse`` closes the port (connection refused),
        ``5xx`` answers every request 503 ServiceUnavailableException; None restores."""
        if kind not in FAULTS:
            raise ValueError(f"unknown fault {kind!r}: one of {FAULTS}")
        if kind == "refuse" and self.server is not None:
            self.stop()
        elif kind != "refuse" and self.server is None and self.port:
            self.serve(self.port)
        self.fault = kind

    def handle(self, verb: str, target: str, header_list: list[tuple[str, str]], body: bytes, *,
               source_ip: str = "127.0.0.1") -> tuple[int, list[tuple[str, str]], bytes]:
        """One HTTP request -> (status, headers, body), as the custom domain would answer."""
        request_id = str(uuid.uuid4())
        headers = {k: v for k, v in header_list}
        host = (headers.get("Host") or headers.get("host") or "").split(":")[0].lower()
        url = urlsplit(target)
        entry = AccessLogEntry(request_id, host, verb.upper(), "", 0, None, None, None, None, None, time.time())
        mapping = self.domains.get(host)
        if mapping is None or mapping[0] not in self.apis:
            entry.status = 403
            self._log(entry)
            return 403, [("Content-Type", "application/json"), ("x-amzn-RequestId", request_id),
                         ("x-amzn-ErrorType", "ForbiddenException")], b'{"message":"Forbidden"}'
        api = self.apis[mapping[0]]
        path = url.path or "/"
        if mapping[2]:
            prefix = "/" + mapping[2]
            path = path[len(prefix):] or "/" if path == prefix or path.startswith(prefix + "/") else "\0"
        try:
            status, out_headers, payload = self._route(api, mapping[1], verb.upper(), path, url.query, header_list,
                                                       body, request_id, host, source_ip, entry)
        except GatewayError as exc:
            status, out_headers, payload = self._gateway_response(api, exc, request_id)
            entry.error_type = exc.response_type
        entry.status = status
        self._log(entry)
        return status, [*out_headers, ("x-amzn-RequestId", request_id)], payload

    def _log(self, entry: AccessLogEntry) -> None:
        with self._log_lock:
            self.access_log.append(entry)

    def _gateway_response(self, api: Api, exc: GatewayError,
                          request_id: str) -> tuple[int, list[tuple[str, str]], bytes]:
        family = "DEFAULT_4XX" if DEFAULT_STATUS.get(exc.response_type, 500) < 500 else "DEFAULT_5XX"
        declared = api.responses.get(exc.response_type) or api.responses.get(family) or {}
        status = int(declared.get("status_code") or exc.status or DEFAULT_STATUS.get(exc.response_type, 500))
        if exc.response_type not in api.responses and exc.status:
            status = exc.status
        templates = declared.get("response_templates") or {}
        template = templates.get("application/json")
        if template is None:
            body = json.dumps({"message": exc.message})
        else:
            body = template.replace("$context.error.messageString", json.dumps(exc.message)).replace(
                "$context.error.message", exc.message).replace("$context.requestId", request_id)
        out = [("Content-Type", "application/json"),
               ("x-amzn-ErrorType", ERROR_TYPE_HEADER.get(exc.response_type, "Exception"))]
        for name, value in (declared.get("response_parameters") or {}).items():
            if name.startswith("gatewayresponse.header."):
                out.append((name[len("gatewayresponse.header."):], _quoted(str(value))))
        return status, out, body.encode()

    def _route(self, api: Api, stage: str, verb: str, path: str, query: str, header_list: list[tuple[str, str]],
               body: bytes, request_id: str, host: str, source_ip: str,
               entry: AccessLogEntry) -> tuple[int, list[tuple[str, str]], bytes]:
        norm = path.rstrip("/") or "/"
        method = api.methods.get((norm, verb)) or api.methods.get((norm, "ANY"))
        if method is None:
            raise GatewayError("MISSING_AUTHENTICATION_TOKEN", "Missing Authentication Token")
        entry.resource_path = method.resource_path
        if method.bucket is not None and not method.bucket.take():
            raise GatewayError("THROTTLED", "Too Many Requests")
        if len(body) > MAX_PAYLOAD_BYTES:
            raise GatewayError("REQUEST_TOO_LARGE", "Request Too Long")
        headers: dict[str, str] = {}
        multi: dict[str, list[str]] = {}
        for name, value in header_list:
            headers[name] = value
            multi.setdefault(name, []).append(value)
        queries = parse_qs(query, keep_blank_values=True)
        method_arn = (f"arn:aws:execute-api:{self.region}:{self.platform.account_id}:{api.id}/{stage}/{verb}"
                      f"{method.resource_path}")
        context: dict[str, Any] = {
            "resourcePath": method.resource_path, "httpMethod": verb, "path": path, "stage": stage,
            "requestId": request_id, "extendedRequestId": request_id, "accountId": self.platform.account_id,
            "apiId": api.id, "domainName": host, "domainPrefix": host.split(".")[0], "protocol": "HTTP/1.1",
            "requestTime": datetime.datetime.now(datetime.UTC).strftime("%d/%b/%Y:%H:%M:%S +0000"),
            "requestTimeEpoch": int(time.time() * 1000),
            "identity": {"sourceIp": source_ip, "userAgent": headers.get("User-Agent"), "caller": None,
                         "user": None, "userArn": None, "accessKey": None, "accountId": None},
        }
        event: dict[str, Any] = {
            "resource": method.resource_path, "path": path, "httpMethod": verb, "headers": headers or None,
            "multiValueHeaders": multi or None,
            "queryStringParameters": {k: v[-1] for k, v in queries.items()} or None,
            "multiValueQueryStringParameters": queries or None, "pathParameters": None, "stageVariables": None,
            "requestContext": context,
        }
        if method.authorization == "AWS_IAM":
            context["identity"].update(self._sigv4(verb, host, path, query, headers, body))
        elif method.authorization == "CUSTOM" and method.authorizer is not None:
            context["authorizer"] = self._authorize(method.authorizer, event, method_arn, entry)
        if method.api_key_required:
            self._meter(api, headers, entry)
        if method.validate_body:
            self._validate_body(method, headers, body)
        if method.function_arn is None:
            raise GatewayError("API_CONFIGURATION_ERROR", "Internal server error", 500)
        try:
            text = body.decode("utf-8")
            event.update(body=text if body else None, isBase64Encoded=False)
        except UnicodeDecodeError:
            event.update(body=base64.b64encode(body).decode(), isBase64Encoded=True)
        fn = self.pool.by_arn(method.function_arn)
        entry.function = fn.name
        invoked = time.monotonic()
        try:
            outcome = self.pool.invoke(fn, event, timeout_s=method.integration_timeout_ms / 1000.0)
        except CallerTimeout as exc:
            entry.cause = f"integration timeout: {exc}"
            raise GatewayError("INTEGRATION_TIMEOUT", "Endpoint request timed out") from None
        except Throttled as exc:
            entry.cause = f"Lambda throttled the integration (TooManyRequestsException): {exc}"
            raise GatewayError("DEFAULT_5XX", "Internal server error", 500) from None
        finally:
            entry.integration_latency_s = time.monotonic() - invoked
        if not outcome.ok:
            entry.cause = f"integration function error: {_error_summary(outcome.payload)}"
            raise GatewayError("INTEGRATION_FAILURE", "Internal server error", 502)
        return self._proxy_response(outcome.payload, entry)

    @staticmethod
    def _proxy_response(result: Any, entry: AccessLogEntry) -> tuple[int, list[tuple[str, str]], bytes]:
        if not isinstance(result, dict) or not isinstance(result.get("statusCode"), int):
            raise GatewayError("API_CONFIGURATION_ERROR", "Internal server error", 502)
        status = int(result["statusCode"])
        entry.integration_status = status
        if status >= 500:
            entry.cause = f"the function answered {status}: {str(result.get('body') or '')[:200]}"
        out: list[tuple[str, str]] = []
        for name, value in (result.get("headers") or {}).items():
            out.append((name, str(value)))
        for name, values in (result.get("multiValueHeaders") or {}).items():
            out.extend((name, str(v)) for v in values if (name, str(v)) not in out)
        raw = result.get("body") or ""
        payload = base64.b64decode(raw) if result.get("isBase64Encoded") else str(raw).encode()
        return status, out, payload

    def _meter(self, api: Api, headers: dict[str, str], entry: AccessLogEntry) -> None:
        """A method requiring an API key: the key (from the authorizer or the header), and
        its own bucket at the stage's usage plan throttle."""
        if api.api_key_source == "HEADER":
            entry.usage_key = next((v for k, v in headers.items() if k.lower() == "x-api-key"), None)
        if not entry.usage_key:
            raise GatewayError("INVALID_API_KEY", "Forbidden")
        if api.plan_throttle is None:
            return
        rate, burst = api.plan_throttle
        bucket = api.key_buckets.setdefault(entry.usage_key, TokenBucket(rate, burst, self.clock))
        if not bucket.take():
            raise GatewayError("THROTTLED", "Too Many Requests")

    def _validate_body(self, method: Method, headers: dict[str, str], body: bytes) -> None:
        content_type = next((v for k, v in headers.items() if k.lower() == "content-type"), "application/json")
        schema = method.models.get(content_type.split(";")[0].strip().lower()) or method.models.get("$default")
        if schema is None:
            return
        try:
            value = json.loads(body or b"null")
        except ValueError:
            raise GatewayError("BAD_REQUEST_BODY", "Invalid request body") from None
        error = _check_schema(schema, value)
        if error:
            raise GatewayError("BAD_REQUEST_BODY", f"Invalid request body: {error}")

    def _authorize(self, authorizer: Authorizer, event: dict[str, Any], method_arn: str,
                   entry: AccessLogEntry) -> dict[str, Any]:
        values = []
        lowered = {k.lower(): v for k, v in (event["headers"] or {}).items()}
        queries = event["queryStringParameters"] or {}
        for source in authorizer.identity_sources:
            if source.startswith("method.request.header."):
                value = lowered.get(source[len("method.request.header."):].lower())
            elif source.startswith("method.request.querystring."):
                value = queries.get(source[len("method.request.querystring."):])
            else:
                value = "?"
            if not value:
                entry.authorizer_status = 401
                raise GatewayError("UNAUTHORIZED", "Unauthorized")
            values.append(value)
        key = tuple(values)
        cached = authorizer.cache.get(key)
        if cached and authorizer.ttl_s > 0 and time.monotonic() - cached[0] < authorizer.ttl_s:
            result = cached[1]
        else:
            request = {"type": "REQUEST", "methodArn": method_arn,
                       **{k: v for k, v in event.items() if k != "requestContext"},
                       "requestContext": event["requestContext"]}
            fn = self.pool.by_arn(authorizer.function_arn)
            try:
                outcome = self.pool.invoke(fn, request)
            except Throttled as exc:
                entry.cause = f"Lambda throttled the authorizer: {exc}"
                raise GatewayError("AUTHORIZER_CONFIGURATION_ERROR", "Authorizer error") from None
            if not outcome.ok:
                if isinstance(outcome.payload, dict) and outcome.payload.get("errorMessage") == "Unauthorized":
                    entry.authorizer_status = 401
                    raise GatewayError("UNAUTHORIZED", "Unauthorized")
                entry.authorizer_status = 500
                entry.cause = f"authorizer function error: {_error_summary(outcome.payload)}"
                raise GatewayError("AUTHORIZER_CONFIGURATION_ERROR", "Authorizer error")
            result = outcome.payload
            if not isinstance(result, dict) or "policyDocument" not in result or "principalId" not in result:
                entry.authorizer_status = 500
                raise GatewayError("AUTHORIZER_CONFIGURATION_ERROR", "Authorizer error")
            if authorizer.ttl_s > 0:
                authorizer.cache[key] = (time.monotonic(), result)
        entry.principal_id = str(result["principalId"])
        usage_key = result.get("usageIdentifierKey")
        entry.usage_key = usage_key if isinstance(usage_key, str) and usage_key else None
        if not self._policy_allows(result["policyDocument"], method_arn):
            entry.authorizer_status = 403
            raise GatewayError("ACCESS_DENIED", "User is not authorized to access this resource with an explicit deny")
        entry.authorizer_status = 200
        context = {k: v if isinstance(v, (str, int, float, bool)) else json.dumps(v)
                   for k, v in (result.get("context") or {}).items()}
        return {"principalId": result["principalId"], "integrationLatency": 0, **context}

    @staticmethod
    def _policy_allows(document: Any, method_arn: str) -> bool:
        statements = document.get("Statement", []) if isinstance(document, dict) else []
        statements = [statements] if isinstance(statements, dict) else statements
        allowed = False
        for statement in statements:
            resources = statement.get("Resource", [])
            resources = [resources] if isinstance(resources, str) else resources
            if not any(_arn_matches(str(r), method_arn) for r in resources):
                continue
            if statement.get("Effect") == "Deny":
                return False
            allowed = allowed or statement.get("Effect") == "Allow"
        return allowed

    def _sigv4(self, verb: str, host: str, path: str, query: str, headers: dict[str, str],
               body: bytes) -> dict[str, Any]:
        """Check a SigV4 signature against the twin's credentials (service execute-api, this region)."""
        from botocore.auth import SigV4Auth
        from botocore.awsrequest import AWSRequest
        from botocore.credentials import Credentials

        lowered = {k.lower(): v for k, v in headers.items()}
        authorization = lowered.get("authorization", "")
        if not authorization:
            raise GatewayError("MISSING_AUTHENTICATION_TOKEN", "Missing Authentication Token")
        match = re.fullmatch(r"AWS4-HMAC-SHA256 Credential=([^/]+)/(\d{8})/([^/]+)/([^/]+)/aws4_request,\s*"
                             r"SignedHeaders=([^,]+),\s*Signature=([0-9a-f]{64})", authorization.strip())
        if not match or "x-amz-date" not in lowered:
            raise GatewayError("INCOMPLETE_SIGNATURE", "Authorization header requires Credential, SignedHeaders "
                                                       "and Signature, and X-Amz-Date", 403)
        access_key, _day, region, service, signed, signature = match.groups()
        if access_key != FAKE_CREDENTIALS["AWS_ACCESS_KEY_ID"]:
            raise GatewayError("INVALID_SIGNATURE", "The security token included in the request is invalid.", 403)
        if service != "execute-api" or region != self.region:
            raise GatewayError("INVALID_SIGNATURE", f"Credential should be scoped to a valid region/service, "
                                                    f"not '{region}/{service}'.", 403)
        stamp = datetime.datetime.strptime(lowered["x-amz-date"], "%Y%m%dT%H%M%SZ").replace(tzinfo=datetime.UTC)
        if abs((datetime.datetime.now(datetime.UTC) - stamp).total_seconds()) > SIGV4_MAX_SKEW_S:
            raise GatewayError("INVALID_SIGNATURE", "Signature expired", 403)
        signed_headers = {name: lowered.get(name, "") for name in signed.split(";")}
        url = f"https://{host}{path}" + (f"?{query}" if query else "")
        request = AWSRequest(method=verb, url=url, headers=signed_headers, data=body or None)
        request.context["timestamp"] = lowered["x-amz-date"]
        auth = SigV4Auth(Credentials(FAKE_CREDENTIALS["AWS_ACCESS_KEY_ID"], FAKE_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
                                     FAKE_CREDENTIALS["AWS_SESSION_TOKEN"]), "execute-api", self.region)
        canonical = auth.canonical_request(request)
        expected = auth.signature(auth.string_to_sign(request, canonical), request)
        if expected != signature:
            raise GatewayError("INVALID_SIGNATURE", "The request signature we calculated does not match the "
                                                    "signature you provided.", 403)
        return {"accessKey": access_key, "caller": access_key, "user": access_key}
