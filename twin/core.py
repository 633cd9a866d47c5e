"""The twin assembled: moto, the functions, one API Gateway per region, replication, names.

    with Twin("cdktf.out") as twin:
        response = twin.request("GET", "https://us-east-1.payments-dev.example.com/health")

Names: the twin has its own resolver (no real DNS). Each region's custom domain names
(``aws_api_gateway_domain_name`` mapped to its API) resolve to that region's port; a name with
Route 53 failover records (the routing stack) resolves to the region of its PRIMARY record.
That last answer is STATIC: Route 53 health checks are not evaluated yet, so the twin's
failover name never moves by itself (:meth:`Twin.point` moves it by hand, for a scenario).
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

from twin.apigw import RegionalGateway
from twin.functions import Function, FunctionPool, Outcome
from twin.model import Platform
from twin.provision import Inventory, client, provision
from twin.replication import Replicator

# The functions API Gateway calls are started at `up` (their init done), so the first
# request is not a cold start racing the integration timeout.
API_HANDLERS = ("validator.lambda_handler", "health.lambda_handler", "authorizer.lambda_handler")


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

    # -- lifecycle ------------------------------------------------------------------------

    def up(self) -> Twin:
        from moto.server import ThreadedMotoServer

        started = time.monotonic()
        logging.getLogger("werkzeug").setLevel(logging.ERROR)
        self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        self._server.start()
        host, port = self._server.get_host_and_port()
        self.endpoint = f"http://{host}:{port}"
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
            gateway = RegionalGateway(self.platform, self.pool, region)
            if gateway.apis:
                self.gateways[region] = gateway
                self.ports[region] = gateway.serve()
                for name in gateway.domains:
                    self._names.setdefault(name, region)
        self._names.update(self._failover_names())
        self.replication = Replicator(self.endpoint, self.inventory, lag_s=self.lag_s)
        self.replication.start()
        self.timings["up"] = time.monotonic() - started
        return self

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

    def point(self, name: str, region: str) -> None:
        """Make the twin's resolver answer `name` with `region` (a scenario's manual DNS move)."""
        self._names[name.lower()] = region

    def resolve(self, name: str) -> tuple[str, int]:
        region = self._names.get(name.lower())
        if region is None:
            raise LookupError(f"{name}: the twin serves no such name ({', '.join(sorted(self._names))})")
        return "127.0.0.1", self.ports[region]

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
        address, port = self.resolve(host)
        conn = http.client.HTTPConnection(address, port, timeout=timeout)
        try:
            target = parts.path or "/"
            if parts.query:
                target += "?" + parts.query
            conn.request(method, target, body=body or None, headers={"Host": host, **(headers or {})})
            raw = conn.getresponse()
            return Response(raw.status, dict(raw.getheaders()), raw.read(), self._names[host.lower()])
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
