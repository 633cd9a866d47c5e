"""Route 53 health checks and failover answers of the JSON, evaluated on the scenario clock.

SIMULATED (the twin's reading of Route 53's documentation, not AWS):

* HTTPS_STR_MATCH: every ``request_interval`` seconds of scenario time, one checker (AWS
  uses many, from the ``regions`` listed, and calls an endpoint healthy when more than 18 %
  of them say so) requests ``resource_path`` of ``fqdn`` from the twin's gateway (plain HTTP:
  no TLS, no SNI) with a short REAL timeout that stands for Route 53's 4 s connect / 2 s
  answer limits (accelerated, like the clock). Healthy answer: 2xx/3xx with
  ``search_string`` in the first 5,120 bytes of the body. The status changes after
  ``failure_threshold`` consecutive results that disagree with it. A new check is healthy.
* CALCULATED: healthy when at least ``child_health_threshold`` children are healthy.
* CLOUDWATCH_METRIC: reads the named alarm's DATA (:meth:`AlarmEvaluator.data_state`), not
  its state: breaching data is unhealthy; no data is ``insufficient_data_health_status``
  (Healthy, Unhealthy, or LastKnownStatus: the last status from data, healthy when none).
* HealthCheckStatus (AWS/Route53, dimension HealthCheckId, in us-east-1 as AWS publishes it)
  is put into the twin's metric store at every evaluation: the health-check alarms read it.
* Failover records: for a name with PRIMARY and SECONDARY records, the answer is the PRIMARY
  record's region when its health check is healthy, else the SECONDARY's when that is
  healthy, else the PRIMARY's (Route 53 answers the primary when both are unhealthy).
  ``evaluate_target_health`` on the alias is not evaluated (the twin has no target health).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from contract import ROUTE53_METRICS_REGION
from twin.alarms import ALARM, INSUFFICIENT, OK, AlarmEvaluator, MetricStore, ScenarioClock
from twin.model import Platform

SEARCH_BYTES = 5120
# fetch(fqdn, path) -> (status, body); raises OSError (refused, timed out) when no answer.
Fetch = Callable[[str, str], tuple[int, bytes]]


@dataclass
class HealthCheck:
    id: str
    name: str
    type: str
    fqdn: str = ""
    resource_path: str = "/"
    search_string: str = ""
    failure_threshold: int = 3
    request_interval: int = 30
    children: list[str] = field(default_factory=list)
    child_health_threshold: int = 0
    alarm_name: str = ""
    alarm_region: str = ""
    insufficient_data_health_status: str = "LastKnownStatus"
    healthy: bool = True
    streak: int = 0  # consecutive results disagreeing with `healthy`
    last_check: float | None = None
    last_from_data: bool = True
    history: list[tuple[float, bool, str]] = field(default_factory=list)  # status changes (t, healthy, why)


@dataclass
class FailoverRecord:
    name: str
    role: str  # PRIMARY | SECONDARY
    region: str
    health_check_id: str | None


class Route53:
    def __init__(self, platform: Platform, store: MetricStore, clock: ScenarioClock, alarms: AlarmEvaluator,
                 fetch: Fetch):
        self.platform, self.store, self.clock, self.alarms, self.fetch = platform, store, clock, alarms, fetch
        self.checks: dict[str, HealthCheck] = {}
        self.records: dict[str, list[FailoverRecord]] = {}
        self.answers: list[tuple[float, str, str]] = []  # (t, name, region) when an answer changed
        p = platform
        for res in p.resources("aws_route53_health_check"):
            check = HealthCheck(id=str(p.attribute(res, "id")), name=str(p.get(res, "reference_name") or res.name),
                                type=str(p.get(res, "type")))
            if check.type in ("HTTPS_STR_MATCH", "HTTP_STR_MATCH", "HTTPS", "HTTP"):
                check.fqdn = str(p.get(res, "fqdn")).rstrip(".").lower()
                check.resource_path = str(p.get(res, "resource_path") or "/")
                check.search_string = str(p.get(res, "search_string") or "")
                check.failure_threshold = int(p.get(res, "failure_threshold") or 3)
                check.request_interval = int(p.get(res, "request_interval") or 30)
            elif check.type == "CALCULATED":
                check.children = [str(c) for c in p.get(res, "child_healthchecks") or []]
                check.child_health_threshold = int(p.get(res, "child_health_threshold") or 0)
            elif check.type == "CLOUDWATCH_METRIC":
                check.alarm_name = str(p.get(res, "cloudwatch_alarm_name"))
                check.alarm_region = str(p.get(res, "cloudwatch_alarm_region"))
                check.insufficient_data_health_status = str(p.get(res, "insufficient_data_health_status")
                                                            or "LastKnownStatus")
            self.checks[check.id] = check
        domain_region = {str(p.attribute(r, "regional_domain_name")): r.region
                         for r in p.resources("aws_api_gateway_domain_name")}
        for res in p.resources("aws_route53_record"):
            policy, alias = p.get(res, "failover_routing_policy"), p.get(res, "alias")
            region = domain_region.get(str((alias or {}).get("name")))
            if not policy or not region:
                continue
            name = str(p.get(res, "name")).rstrip(".").lower()
            hc = p.get(res, "health_check_id")
            self.records.setdefault(name, []).append(
                FailoverRecord(name, str(policy.get("type")), region, str(hc) if hc else None))
        self._last_answer = {name: self.answer(name) for name in self.records}

    def by_name(self, reference_name: str) -> HealthCheck:
        return next(c for c in self.checks.values() if c.name == reference_name)

    def tick(self) -> None:
        """Run the checks that are due at the current scenario time, then the derived ones."""
        now = self.clock.now()
        for check in self.checks.values():
            if check.fqdn and (check.last_check is None or now - check.last_check >= check.request_interval):
                check.last_check = now
                ok, why = self._probe(check)
                self._observe(check, ok, why, now)
        for check in self.checks.values():
            if check.type == "CLOUDWATCH_METRIC":
                self._metric(check, now)
        for check in self.checks.values():
            if check.type == "CALCULATED":
                healthy = sum(1 for c in check.children if self.checks[c].healthy) >= check.child_health_threshold
                self._set(check, healthy, f"{check.child_health_threshold} of children healthy: {healthy}", now)
        for check in self.checks.values():
            self.store.put(ROUTE53_METRICS_REGION, "AWS/Route53", "HealthCheckStatus", {"HealthCheckId": check.id},
                           1.0 if check.healthy else 0.0, now)
        for name in self.records:
            region = self.answer(name)
            if region != self._last_answer.get(name):
                self._last_answer[name] = region
                self.answers.append((now, name, region))

    def _probe(self, check: HealthCheck) -> tuple[bool, str]:
        try:
            status, body = self.fetch(check.fqdn, check.resource_path)
        except OSError as exc:
            return False, f"no answer: {type(exc).__name__}"
        if not 200 <= status < 400:
            return False, f"HTTP {status}"
        if check.search_string and check.search_string.encode() not in body[:SEARCH_BYTES]:
            return False, "search string not found"
        return True, f"HTTP {status}, search string found"

    def _observe(self, check: HealthCheck, ok: bool, why: str, now: float) -> None:
        if ok == check.healthy:
            check.streak = 0
            return
        check.streak += 1
        if check.streak >= check.failure_threshold:
            check.streak = 0
            self._set(check, ok, f"{check.failure_threshold} consecutive: {why}", now)

    def _metric(self, check: HealthCheck, now: float) -> None:
        state = self.alarms.data_state(check.alarm_name, check.alarm_region)
        if state == INSUFFICIENT:
            setting = check.insufficient_data_health_status
            if setting == "LastKnownStatus":
                healthy = check.last_from_data
            else:
                healthy = setting == "Healthy"
            self._set(check, healthy, f"alarm data insufficient: {setting}", now)
            return
        check.last_from_data = state == OK
        self._set(check, state == OK, f"alarm data {state}", now)
        assert state in (OK, ALARM)

    @staticmethod
    def _set(check: HealthCheck, healthy: bool, why: str, now: float) -> None:
        if healthy != check.healthy or not check.history:
            check.history.append((now, healthy, why))
        check.healthy = healthy

    def answer(self, name: str) -> str:
        records = self.records[name.lower()]
        primary = next(r for r in records if r.role == "PRIMARY")
        secondary = next((r for r in records if r.role == "SECONDARY"), None)
        if self._healthy(primary) or secondary is None:
            return primary.region
        return secondary.region if self._healthy(secondary) else primary.region

    def _healthy(self, record: FailoverRecord) -> bool:
        return record.health_check_id is None or self.checks[record.health_check_id].healthy
