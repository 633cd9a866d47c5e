"""The twin assembled: moto, the functions, one API Gateway per region, replication, names.

    with Twin("cdktf.out") as twin:
        response = twin.request("GET", "https://us-east-1.payments-dev.example.com/health")

Names: the twin has its own resolver (no real DNS). Each region's custom domain names
(``aws_api_gateway_domain_name`` mapped to its API) resolve to that region's port; a name with
Route 53 failover records (the routing stack) resolves to the region of its PRIMARY record.
By default that answer is static (:meth:`Twin.point` moves it by hand). After
:meth:`Twin.evaluate`, the scenario clock drives CloudWatch alarms (:mod:`twin.alarms`) and
Route 53 health checks (:mod:`twin.route53`), and the failover name resolves to what Route 53's
failover records answer; :meth:`Twin.advance` moves the clock, :meth:`Twin.fault` breaks a
region's gateway.
"""

from __future__ import annotations

import http.client
import json
import logging
import shutil
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from twin import motopatch
from twin.alarms import AlarmEvaluator, MetricCollector, MetricStore, ScenarioClock, moto_metric_counts
from twin.apigw import RegionalGateway
from twin.awsmetrics import ReplicationMetrics
from twin.functions import Function, FunctionPool, Outcome
from twin.model import Platform
from twin.provision import Inventory, client, provision
from twin.replication import Replicator
from twin.route53 import Route53
from twin.schedules import Scheduler

# The functions API Gateway calls are started at `up` (their init done), so the first
# request is not a cold start racing the integration timeout.
API_HANDLERS = ("validator.lambda_handler", "health.lambda_handler", "authorizer.lambda_handler")
# A Route 53 checker's REAL wait for an answer: stands for its 4 s connect + 2 s answer limits
# on the accelerated clock (long enough for /health on a loaded 2-core machine).
CHECK_TIMEOUT_S = 3.0


@dataclass
class Response:
    status: int
    headers: dict[str, str]
    body: bytes
    region: str  # the region whose gateway answered

    def json(self) -> Any:
        return json.loads(self.body)

    @property
    def gateway_error(self) -> str | None:
        """API Gateway's x-amzn-ErrorType: set when the gateway answered, not a function."""
        return next((v for k, v in self.headers.items() if k.lower() == "x-amzn-errortype"), None)


class Twin:
    # moto's backends are process-wide: every ThreadedMotoServer of a process serves the same
    # state. A twin that starts while no other twin of the process is up resets it, so a twin
    # stood up after another one (same names) starts from an empty account.
    _up = 0

    def __init__(self, outdir: Path | str = "cdktf.out", *, lag_s: float = 0.5, warm: bool = True):
        self.platform = Platform(outdir)
        self.lag_s = lag_s
        self.warm = warm
        self.endpoint = ""
        self.inventory = Inventory()
        self.gateways: dict[str, RegionalGateway] = {}
        self.ports: dict[str, int] = {}
        self.roles: dict[str, str] = {}  # region -> role (REGION_ROLE of its functions)
        self._names: dict[str, str] = {}  # DNS name -> region
        self._server: Any = None
        self._workdir: Path | None = None
        self.pool: FunctionPool | None = None
        self.replication: Replicator | None = None
        self.timings: dict[str, float] = {}
        self.clock = ScenarioClock()
        self.metrics = MetricStore()
        self.alarms: AlarmEvaluator | None = None
        self.route53: Route53 | None = None
        self._collector: MetricCollector | None = None
        self.schedules: Scheduler | None = None  # EventBridge schedules (twin/schedules.py), with evaluate()
        self.aws_metrics: ReplicationMetrics | None = None  # S3/DynamoDB replication metrics, with evaluate()
        self._metrics_baseline: dict[tuple[str, str], int] = {}
        self.evaluating = False
        self.faults: dict[str, str] = {}  # region -> fault kind
        self.fault_log: list[tuple[float, str, str | None]] = []  # (scenario t, region, kind)

    # -- lifecycle ------------------------------------------------------------------------

    def up(self) -> Twin:
        from moto.server import ThreadedMotoServer

        started = time.monotonic()
        logging.getLogger("werkzeug").setLevel(logging.ERROR)
        motopatch.install()  # moto's own per-request overheads (twin/motopatch.py)
        self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        self._server.start()
        host, port = self._server.get_host_and_port()
        self.endpoint = f"http://{host}:{port}"
        if Twin._up == 0:
            conn = http.client.HTTPConnection(host, port, timeout=30)
            conn.request("POST", "/moto-api/reset")
            conn.getresponse().read()
            conn.close()
        Twin._up += 1
        self._counted = True
        self._metrics_baseline = moto_metric_counts()  # moto is process-wide: not an earlier twin's
        self.timings["moto"] = time.monotonic() - started
        self.inventory = provision(self.platform, self.endpoint)
        self._warm_moto()
        self.timings["provision"] = time.monotonic() - started
        self._workdir = Path(tempfile.mkdtemp(prefix="twin-"))
        self.pool = FunctionPool(self.platform, self.endpoint, self._workdir)
        self.roles = {fn.region: fn.role for fn in self.pool.functions.values() if fn.role}
        if self.warm:
            threads = [threading.Thread(target=self.pool.warm, args=(fn,), daemon=True)
                       for fn in self.pool.functions.values() if fn.handler in API_HANDLERS]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
        self.timings["functions"] = time.monotonic() - started
        for region in self.platform.regions():
            gateway = RegionalGateway(self.platform, self.pool, region, clock=self.throttle_clock)
            if gateway.apis:
                self.gateways[region] = gateway
                self.ports[region] = gateway.serve()
                for name in gateway.domains:
                    self._names.setdefault(name, region)
        self._names.update(self._failover_names())
        self.replication = Replicator(self.endpoint, self.inventory, lag_s=self.lag_s, scenario_clock=self.clock.now)
        self.replication.start()
        self.timings["up"] = time.monotonic() - started
        return self

    def throttle_clock(self) -> float:
        """The gateways' throttle clock: real time plus the scenario time advanced. A stage's
        token buckets refill per second of the platform's time; on the accelerated clock a
        scenario minute of probes and health checks takes well under a real second, and real
        time alone would throttle them (429) where AWS would not."""
        return time.monotonic() + (self.clock.now() - self.clock.start)

    def _warm_moto(self) -> None:
        """moto imports its expression parser on the first conditional write (~0.3 s, seconds
        on a loaded machine): pay that here, not in a function's 1 s read timeout. The item
        is deleted before replication starts watching."""
        for region, table in self.inventory.tables[:1]:
            ddb = self.client("dynamodb", region)
            description = ddb.describe_table(TableName=table)["Table"]
            keys = description["KeySchema"]
            types = {a["AttributeName"]: a["AttributeType"] for a in description["AttributeDefinitions"]}
            item = {k["AttributeName"]: {types[k["AttributeName"]]: "0" if types[k["AttributeName"]] == "N"
                                         else "twin-warm-up"} for k in keys}
            ddb.put_item(TableName=table, Item=item, ConditionExpression="attribute_not_exists(#k)",
                         ExpressionAttributeNames={"#k": keys[0]["AttributeName"]})
            ddb.delete_item(TableName=table, Key=item)

    def down(self) -> None:
        if getattr(self, "_counted", False):
            Twin._up -= 1
            self._counted = False
        self.faults.clear()
        if self.replication is not None:
            self.replication.stop()
        for gateway in self.gateways.values():
            gateway.stop()
        if self.pool is not None:
            self.pool.stop()
        if self._server is not None:
            self._server.stop()
        if self._workdir is not None:
            shutil.rmtree(self._workdir, ignore_errors=True)

    def __enter__(self) -> Twin:
        try:
            return self.up()
        except BaseException:
            self.down()  # a half-started twin: stop what did start
            raise

    def __exit__(self, *exc: object) -> None:
        self.down()

    # -- names ----------------------------------------------------------------------------

    def _failover_names(self) -> dict[str, str]:
        """Failover record name -> region of its PRIMARY record (static: no health checks yet)."""
        p = self.platform
        domain_region = {str(p.attribute(r, "regional_domain_name")): r.region
                         for r in p.resources("aws_api_gateway_domain_name")}
        answers: dict[str, str] = {}
        for record in p.resources("aws_route53_record"):
            policy = p.get(record, "failover_routing_policy")
            alias = p.get(record, "alias")
            if not policy or not alias or str(policy.get("type")) != "PRIMARY":
                continue
            region = domain_region.get(str(alias.get("name")))
            if region:
                answers[str(p.get(record, "name")).rstrip(".").lower()] = region
        return answers

    @property
    def names(self) -> dict[str, str]:
        return dict(self._names)

    # -- the scenario clock: alarms, health checks, faults --------------------------------

    def evaluate(self, on: bool = True) -> None:
        """Turn on CloudWatch alarm and Route 53 evaluation on the scenario clock; the failover
        name then resolves as Route 53 answers (off: back to the static answers)."""
        if on and self.alarms is None:
            self._collector = MetricCollector(self.metrics, self.clock,
                                              self._workdir / "logs" if self._workdir else None,
                                              baseline=self._metrics_baseline)
            self._collector.collect()  # what was emitted before evaluation started: stamped now
            self.alarms = AlarmEvaluator(self.platform, self.metrics, self.clock, self.endpoint,
                                         down=lambda region: region in self.faults)
            self.route53 = Route53(self.platform, self.metrics, self.clock, self.alarms, self._check)
            assert self.pool is not None
            self.schedules = Scheduler(self.platform, self.pool, self.clock, before_run=self.write_hosts)
            self.aws_metrics = ReplicationMetrics(self)
        self.evaluating = on

    def advance(self, seconds: float, *, step: float = 10.0) -> None:
        """Move the scenario clock by `seconds`, in steps: at each, run the scheduled functions that
        are due, publish the replication metrics AWS would (each minute that ended: twin/awsmetrics.py),
        collect the metrics emitted meanwhile, evaluate alarms on minute boundaries, run the
        health checks that are due."""
        assert self.alarms is not None and self.route53 is not None and self._collector is not None, \
            "call evaluate() first"
        remaining = seconds
        while remaining > 1e-9:
            self.clock.advance(min(step, remaining))
            remaining -= step
            if self.schedules is not None:
                self.schedules.tick()
            if self.aws_metrics is not None:
                self.aws_metrics.tick()
            self._collector.collect()
            self.alarms.tick()
            self.route53.tick()

    def _check(self, fqdn: str, path: str) -> tuple[int, bytes]:
        response = self.request("GET", f"https://{fqdn}{path}", timeout=CHECK_TIMEOUT_S)
        return response.status, response.body

    def fault(self, region: str, kind: str | None) -> None:
        """Break (hang, refuse, 5xx) or restore (None) `region`'s API Gateway (SIMULATED)."""
        self.gateways[region].set_fault(kind)
        if kind is None:
            self.faults.pop(region, None)
        else:
            self.faults[region] = kind
        self.fault_log.append((self.clock.now(), region, kind))

    def point(self, name: str, region: str) -> None:
        """Make the twin's resolver answer `name` with `region` (a scenario's manual DNS move)."""
        self._names[name.lower()] = region

    def region_for(self, name: str) -> str:
        """The region the twin's resolver answers for `name` (Route 53's answer when evaluating)."""
        if self.evaluating and self.route53 is not None and name.lower() in self.route53.records:
            return self.route53.answer(name)
        region = self._names.get(name.lower())
        if region is None:
            raise LookupError(f"{name}: the twin serves no such name ({', '.join(sorted(self._names))})")
        return region

    def write_hosts(self) -> None:
        """Write the resolver's current answers (name -> port) where the functions read them
        (twin/worker.py): the probe reaches the twin's names through it."""
        if self.pool is None:
            return
        hosts = {name: self.ports[self.region_for(name)] for name in self._names}
        staging = self.pool.hosts_file.with_suffix(".tmp")
        staging.write_text(json.dumps(hosts))
        staging.replace(self.pool.hosts_file)

    def resolve(self, name: str) -> tuple[str, int]:
        return "127.0.0.1", self.ports[self.region_for(name)]

    def endpoints(self) -> dict[str, str]:
        """Every served name -> the local URL that answers it (and the region behind it)."""
        return {name: f"http://127.0.0.1:{self.ports[region]} ({region}, Host: {name})"
                for name, region in sorted(self._names.items())}

    # -- clients --------------------------------------------------------------------------

    def request(self, method: str, url: str, *, headers: dict[str, str] | None = None, body: bytes = b"",
                timeout: float = 60.0) -> Response:
        """An HTTP request to `url` (https://<served name>/path) through the twin's resolver."""
        parts = urlsplit(url)
        host = parts.hostname or ""
        region = self.region_for(host)
        address, port = "127.0.0.1", self.ports[region]
        conn = http.client.HTTPConnection(address, port, timeout=timeout)
        try:
            target = parts.path or "/"
            if parts.query:
                target += "?" + parts.query
            conn.request(method, target, body=body or None, headers={"Host": host, **(headers or {})})
            raw = conn.getresponse()
            return Response(raw.status, dict(raw.getheaders()), raw.read(), region)
        finally:
            conn.close()

    def client(self, service: str, region: str) -> Any:
        """A boto3 client of the twin's moto server in `region` (fake credentials)."""
        return client(service, region, self.endpoint)

    def function(self, region: str, name: str) -> Function:
        assert self.pool is not None
        return self.pool.get(region, name)

    def invoke(self, region: str, name: str, event: Any) -> Outcome:
        assert self.pool is not None
        return self.pool.invoke(self.pool.get(region, name), event)

    def region_of(self, role: str) -> str:
        return next(region for region, r in self.roles.items() if r == role)
