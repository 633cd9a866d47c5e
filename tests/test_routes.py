"""Every API route reaches a handler that knows it.

For each regional stack of a synthesized profile, every method API Gateway integrates with
a Lambda function (AWS_PROXY) is sent as API Gateway sends it (the REST proxy event: resource
path, method, stage prod) to the function the integration names, run from its synthesized
package with the JSON's handler string and environment in a process of its own
(tests/route_support.py says what is simulated). The answer must come from a route of the
function, not from its router's "no such route" (404) or a wrong-method 405: API Gateway
would relay that answer to the caller as if the region had none of it.

The first piece of the twin of issue 19: routing only; AWS answers from an empty moto server,
so the handlers' own answers (health: 503, no tables) are expected and accepted here.
"""

from __future__ import annotations

import json

import pytest
from platform_support import PROD
from route_support import answers, integrated_functions, proxy_event, start, unpack

from contract import REGIONAL_STACKS

PROFILES = {"default": {}, "prod-like": PROD}
ROUTER_NOT_FOUND = {"error": {"code": "NOT_FOUND", "message": "no such route"}}


@pytest.fixture(scope="module", params=sorted(PROFILES))
def routed(request, synth_stacks, moto_server, tmp_path_factory):
    """(function, (method, path), answer) for every route of both regional stacks."""
    environ = PROFILES[request.param]
    stacks = synth_stacks(**environ)
    outdir = synth_stacks.outdir_of(**environ)
    unpacked = tmp_path_factory.mktemp("packages")
    running = []
    for stack_name in REGIONAL_STACKS.values():
        for fn in integrated_functions(stacks[stack_name], outdir / "stacks" / stack_name).values():
            events = [proxy_event(method, path, fn.region) for method, path in fn.routes]
            running.append((fn, start(fn, unpack(fn, unpacked), moto_server, events)))
    results = []
    for fn, process in running:
        for route, answer in zip(fn.routes, answers(process, timeout_s=60), strict=True):
            results.append((fn, route, answer))
    return results


def test_every_declared_route_is_exercised(routed):
    """The routes the API declares are the ones sent (both regions, same routes)."""
    by_region: dict[str, set[tuple[str, str]]] = {}
    for fn, route, _ in routed:
        by_region.setdefault(fn.region, set()).add(route)
    assert len(by_region) == 2
    for routes in by_region.values():
        assert routes == {("POST", "/validate"), ("GET", "/health"), ("GET", "/probe")}


def test_every_api_route_reaches_a_handler_that_knows_it(routed):
    unknown = []
    for fn, (method, path), answer in routed:
        assert "hostError" not in answer, f"{fn.name} {method} {path}: {answer['hostError']}"
        status = answer["statusCode"]
        body = json.loads(answer["body"]) if answer.get("body") else None
        if status in (404, 405) or body == ROUTER_NOT_FOUND:
            unknown.append(f"{fn.region} {method} {path} -> {fn.name} ({fn.handler}): {status} {body}")
    assert not unknown, "API Gateway routes these to a function that does not know them:\n" + "\n".join(unknown)


def test_probe_runs_the_same_deep_check_as_health(routed):
    """/probe is the SigV4 door to the health check (modules/api.py): the same verdict body."""
    for fn, (_method, path), answer in routed:
        if path not in ("/health", "/probe"):
            continue
        body = json.loads(answer["body"])
        assert body.get("verdict") in ("PAYMENTS_UNAVAILABLE", fn.environment["HEALTH_SEARCH_STRING"]), \
            (fn.region, path, body)
        assert set(body.get("checks", {})) >= {"transactions", "idempotency"}, (fn.region, path, body)
