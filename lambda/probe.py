"""Scheduled probe (every minute, in each region): the other region's health, seen from outside.

Handler string: ``probe.lambda_handler``; an EventBridge schedule invokes it.

Each run, in its own region:

1. GETs the peer region's health URL (``PEER_HEALTH_URL``) and the custom domain's
   (``DOMAIN_HEALTH_URL``) concurrently, each bounded (see ``ops.httpcheck``); healthy =
   HTTP 200 whose body contains ``HEALTH_SEARCH_STRING``. With ``PEER_REGION`` set, the
   requests are signed with SigV4 (the ``GET /probe`` route is IAM-authenticated; WAF admits
   only Route 53's checkers to ``/health``): the peer's for the peer's region, the domain's
   twice, once per region, since a signature is valid in one region only and the domain may
   be served by either; the domain is healthy when either answers.
2. When ``FAILBACK_PARAMETER`` is set (the DR region, watching the primary), updates the
   failback latch in SSM (``ops.latch``): ``PEER_FAILURES_TO_BLOCK`` consecutive failures
   block failback once the custom domain is answered by this region (traffic failed over
   here); only an operator opens it again.
3. Publishes to CloudWatch (``POWERTOOLS_METRICS_NAMESPACE``): ``PeerHealthy``/``PeerLatency``
   {Peer}, ``DomainHealthy``/``DomainLatency`` (no dimension), and with a latch
   ``FailbackBlocked`` {Peer} (1 = the peer may not take traffic back), plus
   ``FailbackLatchInvalid`` / ``FailbackLatchError`` {Peer} when the latch cannot be used.

It never raises for what the network or AWS does (those are the signal, logged and
published); only a deployment error (a missing environment variable) fails the init.
Worst case ~ ``PROBE_BUDGET_SECONDS`` (6 s) + 0.25 s for the checks, then at most
``AWS_CALLS_PER_RUN`` = 3 AWS calls (SSM get, SSM put, PutMetricData) of at most
``ops.aws.call_worst_case_seconds()`` each (2 attempts x (1 s connect + 2 s read) and one
retry wait of up to 6 s: 12 s): 36 s. Function timeout: 45 s (modules/probes.py), so the
checks keep their whole budget (`check_budget`; tests/lambda/test_ops_sizing.py).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from aws_lambda_powertools import Logger
from ops import aws, env, httpcheck, latch
from ops.metrics import COUNT, MILLISECONDS, MetricBatch

from contract import (
    ENV_DOMAIN_HEALTH_URL,
    ENV_FAILBACK_PARAMETER,
    ENV_HEALTH_SEARCH_STRING,
    ENV_METRICS_NAMESPACE,
    ENV_PEER_FAILURES_TO_BLOCK,
    ENV_PEER_HEALTH_URL,
    ENV_PEER_REGION,
    ENV_PROBE_BUDGET_SECONDS,
    ENV_PROBE_CONNECT_TIMEOUT_SECONDS,
    ENV_PROBE_READ_TIMEOUT_SECONDS,
    ENV_REGION_ROLE,
    HEALTH_SEARCH_STRING,
    LATCH_FAILURES,
    METRICS_NAMESPACE,
    PEER_HEALTHY,
)

ROLES = ("primary", "dr")
DEFAULT_SEARCH_STRING = HEALTH_SEARCH_STRING  # the health function's healthy verdict (contract.py)
AWS_CALLS_PER_RUN = 3
AWS_WORST_CASE_SECONDS = AWS_CALLS_PER_RUN * aws.call_worst_case_seconds()

logger = Logger(service=os.environ.get("POWERTOOLS_SERVICE_NAME", "payments-probe"))


@dataclass(frozen=True)
class ProbeSettings:
    region: str
    role: str
    peer_role: str
    peer_url: str
    domain_url: str
    search: str
    namespace: str
    failback_parameter: str  # "" = this region keeps no latch
    peer_region: str  # "" = unsigned requests (tests, or a /health open to the probe)
    failures_to_block: int
    connect_timeout: float
    read_timeout: float
    budget_seconds: float

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> ProbeSettings:
        role = env.required(environ, ENV_REGION_ROLE).lower()
        if role not in ROLES:
            raise env.ConfigError(f"environment variable {ENV_REGION_ROLE} must be one of {ROLES}, got {role!r}")
        connect = env.number(environ, ENV_PROBE_CONNECT_TIMEOUT_SECONDS, 2.0, minimum=0.1, maximum=5.0)
        read = env.number(environ, ENV_PROBE_READ_TIMEOUT_SECONDS, 3.0, minimum=0.1, maximum=10.0)
        budget = env.number(environ, ENV_PROBE_BUDGET_SECONDS, 6.0, minimum=0.2, maximum=15.0)
        return cls(
            region=env.region(environ),
            role=role,
            peer_role="dr" if role == "primary" else "primary",
            peer_url=env.https_url(environ, ENV_PEER_HEALTH_URL),
            domain_url=env.https_url(environ, ENV_DOMAIN_HEALTH_URL),
            search=env.optional(environ, ENV_HEALTH_SEARCH_STRING, DEFAULT_SEARCH_STRING),
            namespace=env.optional(environ, ENV_METRICS_NAMESPACE, METRICS_NAMESPACE),
            failback_parameter=env.optional(environ, ENV_FAILBACK_PARAMETER),
            peer_region=env.optional(environ, ENV_PEER_REGION),
            failures_to_block=env.integer(environ, ENV_PEER_FAILURES_TO_BLOCK, 2, minimum=1, maximum=60),
            connect_timeout=connect,
            read_timeout=read,
            budget_seconds=budget,
        )


class Probe:
    """Settings, clients and clocks of one execution environment."""

    def __init__(self, settings: ProbeSettings, *, ssm: Any = None, cloudwatch: Any = None,
                 wall_clock: Callable[[], float] = time.time, clock: Callable[[], float] = time.monotonic,
                 credentials: Any = None):
        self.settings = settings
        self.credentials = credentials  # None: the function's own (signed requests only)
        self.ssm = ssm if ssm is not None else aws.client("ssm", settings.region)
        self.cloudwatch = cloudwatch if cloudwatch is not None else aws.client("cloudwatch", settings.region)
        self.pool = httpcheck.new_pool(settings.connect_timeout, settings.read_timeout)
        self.wall_clock = wall_clock
        self.clock = clock
        self.last_blocked: bool | None = None  # the latch as this environment last read it

    def run(self, remaining_ms: int | None = None) -> dict[str, Any]:
        cfg = self.settings
        budget = check_budget(cfg, remaining_ms)
        checks = httpcheck.run_checks(self.pool, self._targets(), cfg.search,
                                      budget_seconds=budget, clock=self.clock,
                                      credentials=self.credentials)
        peer = checks["peer"]
        domain = checks.get("domain") or _either(checks["domain-own"], checks["domain-peer"])
        batch = MetricBatch(cfg.namespace)
        batch.add(PEER_HEALTHY.name, 1 if peer.healthy else 0, COUNT, **PEER_HEALTHY.dims(cfg.peer_role))
        if peer.latency_ms is not None:
            batch.add("PeerLatency", peer.latency_ms, MILLISECONDS, Peer=cfg.peer_role)
        batch.add("DomainHealthy", 1 if domain.healthy else 0, COUNT)
        if domain.latency_ms is not None:
            batch.add("DomainLatency", domain.latency_ms, MILLISECONDS)
        summary: dict[str, Any] = {"peer": peer.as_log(), "domain": domain.as_log()}
        if cfg.failback_parameter:
            summary["latch"] = self._update_latch(peer, domain, batch)
        error = batch.publish(self.cloudwatch)
        summary["metricsPublished"] = error is None
        if error:
            logger.error("could not publish metrics", extra={"aws_error": error})
        log = logger.info if peer.healthy and domain.healthy else logger.warning
        log("probe finished", extra=summary)
        return summary

    def _targets(self) -> dict[str, httpcheck.Target]:
        cfg = self.settings
        if not cfg.peer_region:
            return {"peer": httpcheck.Target(cfg.peer_url), "domain": httpcheck.Target(cfg.domain_url)}
        return {"peer": httpcheck.Target(cfg.peer_url, cfg.peer_region),
                "domain-own": httpcheck.Target(cfg.domain_url, cfg.region),
                "domain-peer": httpcheck.Target(cfg.domain_url, cfg.peer_region)}

    def _update_latch(self, peer: httpcheck.CheckResult, domain: httpcheck.CheckResult,
                      batch: MetricBatch) -> dict[str, Any]:
        from botocore.exceptions import BotoCoreError, ClientError

        cfg = self.settings
        name, now = cfg.failback_parameter, self.wall_clock()
        try:
            value = latch.read(self.ssm, name)
        except (ClientError, BotoCoreError) as exc:
            # Unknown state. A latch this environment last saw blocked is reported blocked
            # (only an operator opens it); otherwise no FailbackBlocked datapoint: Route 53's
            # gate keeps its last status on missing data (modules/dns.py), so a failed read
            # neither opens a closed gate nor fails a healthy primary over.
            batch.add("FailbackLatchError", 1, COUNT, Peer=cfg.peer_role)
            logger.error("cannot read the failback latch", extra={"parameter": name, "aws_error": aws.error_code(exc)})
            if self.last_blocked:
                batch.add("FailbackBlocked", 1, COUNT, Peer=cfg.peer_role)
            return {"state": latch.BLOCKED if self.last_blocked else "unknown", "error": aws.error_code(exc)}
        try:
            current = latch.parse(value, now=now)
        except latch.LatchInvalid as exc:
            batch.add("FailbackLatchInvalid", 1, COUNT, Peer=cfg.peer_role)
            batch.add("FailbackBlocked", 1, COUNT, Peer=cfg.peer_role)
            logger.error("failback latch is not valid; treated as blocked and left unchanged",
                         extra={"parameter": name, "problem": str(exc)})
            self.last_blocked = True
            return {"state": latch.BLOCKED, "invalid": str(exc)}
        batch.add("FailbackLatchInvalid", 0, COUNT, Peer=cfg.peer_role)
        failed_over = domain.healthy and domain.served_by == cfg.region
        new = latch.next_latch(current, peer_healthy=peer.healthy, threshold=cfg.failures_to_block, now=now,
                               peer=cfg.peer_role, detail=f"{peer.outcome} {peer.detail}".strip(),
                               failed_over=failed_over)
        if not peer.healthy and not failed_over and current.failures + 1 >= cfg.failures_to_block:
            logger.warning("peer unreachable from here but the domain is not served by this region: not blocking",
                           extra={"domain_served_by": domain.served_by, "domain_outcome": domain.outcome})
        effective = current
        if new is not None:
            try:
                latch.write(self.ssm, name, new)
                effective = new
                if new.blocked:
                    logger.warning("failback blocked", extra={"parameter": name, "reason": new.reason})
            except (ClientError, BotoCoreError) as exc:
                batch.add("FailbackLatchError", 1, COUNT, Peer=cfg.peer_role)
                logger.error("cannot write the failback latch",
                             extra={"parameter": name, "aws_error": aws.error_code(exc)})
                # Fail closed: a latch that should have blocked is reported blocked.
                effective = new if new.blocked else current
        batch.add("FailbackBlocked", 1 if effective.blocked else 0, COUNT, Peer=cfg.peer_role)
        self.last_blocked = effective.blocked
        return {"state": effective.state, LATCH_FAILURES: effective.failures, "written": new is not None}


def check_budget(cfg: ProbeSettings, remaining_ms: int | None) -> float:
    """Seconds the HTTPS checks may take: the configured budget, less whatever would not leave
    the worst case of the 3 AWS calls (36 s) before the function's timeout. The deployed
    timeout (modules/probes.py) must leave the whole budget (tests/lambda/test_probe.py)."""
    if remaining_ms is None:
        return cfg.budget_seconds
    return max(0.5, min(cfg.budget_seconds, remaining_ms / 1000 - AWS_WORST_CASE_SECONDS))


def _either(own: httpcheck.CheckResult, peer: httpcheck.CheckResult) -> httpcheck.CheckResult:
    """The domain seen through two signatures: healthy if either region answered it."""
    for result in (own, peer):
        if result.healthy:
            return result
    # Neither. The signature for the region not serving the name is always refused (403), so a
    # 403 explains nothing while the other failed otherwise (a timeout, a 503): report that one.
    # Both 403: the serving region refused its own signature too. Otherwise the one that got
    # furthest (an HTTP answer beats a network error).
    if (own.status == 403) != (peer.status == 403):
        return peer if own.status == 403 else own
    return own if own.status is not None or peer.status is None else peer


# The handler's runtime cache (one style for every handler in lambda/): `init()` builds it,
# `_get_runtime()` returns it (building it on first use), `reset_runtime()` drops it (tests).
_runtime: Probe | None = None


def init(environ: Mapping[str, str] | None = None, **overrides: Any) -> Probe:
    """(Re)build the execution environment's probe; at import with the real environment."""
    global _runtime
    _runtime = Probe(ProbeSettings.from_env(os.environ if environ is None else environ), **overrides)
    return _runtime


def _get_runtime() -> Probe:
    return _runtime or init()


def reset_runtime() -> None:
    global _runtime
    _runtime = None


@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: dict, context: Any) -> dict[str, Any]:
    probe = _get_runtime()
    remaining = context.get_remaining_time_in_millis() if hasattr(context, "get_remaining_time_in_millis") else None
    logger.append_keys(region=probe.settings.region, region_role=probe.settings.role)
    return probe.run(remaining)


if env.in_lambda(os.environ):
    init()  # in Lambda: settings, clients and the TLS context at init (a bad setting fails the init)
