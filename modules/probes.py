"""The probe: each region watches the other from outside, every minute.

A scheduled function in each region calls the other region's own name (`<peer>.<DOMAIN_NAME>`,
`GET /probe`, signed with SigV4 for the peer's region) and the payments domain (the same
route, signed for each region in turn, since either may serve it), and publishes `PeerHealthy`,
`DomainHealthy` and `FailbackBlocked` in its own region.
A primary outage therefore pages through the DR region's own alarms and topic; nothing on that
path runs in, or reads from, the failing region.

The DR region's probe also keeps the failback latch (contract: FAILBACK_*): an SSM parameter
in the DR region that it sets to "blocked" when the primary has failed PEER_FAILURES_TO_BLOCK
probes in a row while the domain is answered by the DR region; only an operator opens it
again (`drctl failback`). Terraform creates the parameter open and then ignores its value,
so an apply during an incident can never reopen the gate. Only the primary fails back (it is
the PRIMARY record), so the primary region's probe keeps no latch.

The probe stays outside the VPC: it must reach the other region's public endpoint, and the
VPC has no NAT by design.
"""

from __future__ import annotations

import json

from cdktf import TerraformResourceLifecycle
from cdktf_cdktf_provider_aws.ssm_parameter import SsmParameter
from constructs import Construct

from contract import (
    DR,
    ENV_DOMAIN_HEALTH_URL,
    ENV_FAILBACK_PARAMETER,
    ENV_HEALTH_SEARCH_STRING,
    ENV_METRICS_NAMESPACE,
    ENV_PEER_FAILURES_TO_BLOCK,
    ENV_PEER_HEALTH_URL,
    ENV_PEER_REGION,
    ENV_PEER_ROLE,
    ENV_REGION_ROLE,
    FAILBACK_OPEN,
    HEALTH_SEARCH_STRING,
    METRICS_NAMESPACE,
    PEER_HEALTHY,
    regional_host,
)
from modules.api import PROBE_PATH, probe_invoke_grant
from modules.compute import RegionalCompute
from modules.iam import statement
from modules.jobs import schedule
from modules.keys import RegionalKey
from modules.metrics import Metric
from modules.naming import Names
from modules.regions import PeerRegion, Region
from modules.settings import Settings

PROBE = "probe"
PROBE_MEMORY_MB = 256
# Sizing (docs/ops-functions.md, "Sizing the probe and the heartbeat"). Per run: three HTTPS
# checks at once (PROBE_BUDGET_SECONDS 6 s + 0.25 s), then up to 3 AWS calls of at most 12 s
# each with their retry (lambda/ops/aws.py call_worst_case_seconds): 36 s. 20 s left the checks
# 2 s (issue 19); 30 s counted no retry wait; 45 s covers both (tests/lambda/test_ops_sizing.py)
# and still ends before the next minute's run, so runs never overlap. Memory: boto3, Powertools
# and urllib3 (no payload data); 256 MB is the smallest size with room for that footprint (see
# the doc for the figure). No reservation: one run a minute needs one environment (below).
PROBE_TIMEOUT_S = 45
PROBE_SCHEDULE = "rate(1 minute)"
PEER_FAILURES_TO_BLOCK = 2


def probe_role_name(names: Names, role: str) -> str:
    """The probe's execution role in `role`'s region (ServiceFunction: `<function>-role`)."""
    return f"{names.function(PROBE, role)}-role"


class Probe(Construct):
    """Outputs: `function` (ServiceFunction), `latch` (SsmParameter), `metric_*()`."""

    def __init__(self, scope: Construct, id: str, *, settings: Settings, names: Names,
                 region: Region, peer: PeerRegion, key: RegionalKey, compute: RegionalCompute):
        super().__init__(scope, id)
        self.peer = peer
        p = region.provider
        parameter_name = names.failback_parameter(peer.role)
        # Only the DR region's latch gates DNS: the primary is the record that fails back.
        gates_failback = region.role == DR
        self.latch: SsmParameter | None = None
        if gates_failback:
            self.latch = SsmParameter(
                self, "failback-latch", provider=p, name=parameter_name, type="String",
                description=f"Failback gate for {peer.role}: blocked by the probe, opened by drctl",
                value=json.dumps({"state": FAILBACK_OPEN, "since": "deploy", "by": "terraform",
                                  "reason": "created open"}),
                # The probe and drctl own the value from here on; see the module docstring.
                lifecycle=TerraformResourceLifecycle(ignore_changes=["value"]),
            )
        peer_host = regional_host(settings.domain_name, peer.name)
        environment = {
            ENV_REGION_ROLE: region.role,
            ENV_PEER_ROLE: peer.role,
            ENV_PEER_REGION: peer.name,
            # The peer's SigV4 route to its health function (WAF admits only Route 53's
            # checkers to /health): modules/api.py.
            ENV_PEER_HEALTH_URL: f"https://{peer_host}/{PROBE_PATH}",
            # Signed for both regions in turn (either may serve the domain): lambda/probe.py.
            ENV_DOMAIN_HEALTH_URL: f"https://{settings.domain_name}/{PROBE_PATH}",
            ENV_HEALTH_SEARCH_STRING: HEALTH_SEARCH_STRING,
            ENV_PEER_FAILURES_TO_BLOCK: str(PEER_FAILURES_TO_BLOCK),
            "POWERTOOLS_SERVICE_NAME": "payments-probe",
            ENV_METRICS_NAMESPACE: METRICS_NAMESPACE,
        }
        grants = [
            statement("PublishProbeMetrics", ["cloudwatch:PutMetricData"], ["*"],
                      condition={"StringEquals": {"cloudwatch:namespace": METRICS_NAMESPACE}}),
            # GET /probe of both regions' prod stages (the peer's own name, and the domain
            # whichever region serves it), by ARN pattern: no reference to the peer's stack.
            *[probe_invoke_grant(target_region=name, partition=region.partition,
                                 account_id=region.account_id) | {"Sid": f"InvokeProbe{role.title()}"}
              for role, name in ((region.role, region.name), (peer.role, peer.name))],
        ]
        if gates_failback:
            environment[ENV_FAILBACK_PARAMETER] = parameter_name
            grants.append(statement("KeepFailbackLatch", ["ssm:GetParameter", "ssm:PutParameter"],
                                    [region.arn("ssm", f"parameter{parameter_name}")]))
        self.function = compute.service_function(
            self, PROBE, network=None,
            function_name=names.function(PROBE, region.role),
            handler="probe.lambda_handler",
            memory_mb=PROBE_MEMORY_MB, timeout_s=PROBE_TIMEOUT_S, reserved_concurrency=-1,
            environment=environment, grants=grants,
        )
        schedule(self, "probe", region=region, name=names.regional("probe", region.role),
                 description=f"Probe {peer.role} ({peer.name}) and the payments domain every minute",
                 expression=PROBE_SCHEDULE, function=self.function)

    def _metric(self, name: str, statistic: str, **dimensions: str) -> Metric:
        return Metric(METRICS_NAMESPACE, name, dimensions, statistic=statistic, period=60)

    def metric_peer_healthy(self) -> Metric:
        return self._metric(PEER_HEALTHY.name, PEER_HEALTHY.statistic, **PEER_HEALTHY.dims(self.peer.role))

    def metric_domain_healthy(self) -> Metric:
        return self._metric("DomainHealthy", "Minimum")

    def metric_failback_blocked(self) -> Metric:
        return self._metric("FailbackBlocked", "Maximum", Peer=self.peer.role)
