"""The platform's contract: physical names, stack names, output keys, roles and thresholds.

Dependency-free on purpose (standard library only): `modules/` (infrastructure), `drctl/`
(operations) and `tests/` all import this one module, so a name or threshold has exactly one
definition. The Lambda functions do not import it: they receive these values as environment
variables set by `modules/compute.py`, which takes them from here.
"""

from __future__ import annotations

from dataclasses import dataclass

# -- roles ------------------------------------------------------------------------------
# A role is fixed at deploy time; a failover swaps which cluster writes, not the roles.
PRIMARY = "primary"
DR = "dr"
ROLES = (PRIMARY, DR)


def other_role(role: str) -> str:
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r}: use one of {', '.join(ROLES)}")
    return DR if role == PRIMARY else PRIMARY


# -- stacks -----------------------------------------------------------------------------
# One Terraform state each. The regional stacks hold only resources of their own region, so
# either can be planned and applied while the other region is down (docs/failover.md).
BOOTSTRAP_STACK = "payments-dr-bootstrap"  # state bucket + key, local state, applied once
EDGE_STACK = "payments-dr-edge"  # DNS zone, certificates: before the regional stacks
REGIONAL_STACKS = {PRIMARY: "payments-dr-primary", DR: "payments-dr-dr"}
ROUTING_STACK = "payments-dr-routing"  # health checks, failover records: after them
PLATFORM_STACKS = (EDGE_STACK, REGIONAL_STACKS[PRIMARY], REGIONAL_STACKS[DR], ROUTING_STACK)
ALL_STACKS = (BOOTSTRAP_STACK, *PLATFORM_STACKS)

# -- thresholds -------------------------------------------------------------------------
# Alarms (modules/monitoring.py) and drctl's checks read the same numbers.
DEFAULT_REPLICATION_LAG_THRESHOLD_S = 1.0  # Aurora RPO lag alarm (REPLICATION_LAG_THRESHOLD)
DYNAMODB_REPLICATION_LATENCY_THRESHOLD_S = 10.0  # DynamoDB ReplicationLatency alarm
S3_REPLICATION_MINUTES = 15  # S3 Replication Time Control target
S3_REPLICATION_LATENCY_THRESHOLD_S = S3_REPLICATION_MINUTES * 60
# Route 53 considers an endpoint healthy when more than 18 % of its checkers report healthy.
ROUTE53_HEALTHY_CHECKER_FRACTION = 0.18

# -- metrics published by our own functions ---------------------------------------------
METRICS_NAMESPACE = "PaymentsDR"

# -- outputs ----------------------------------------------------------------------------
# Output key -> (stack that writes it, description). drctl reads these keys; a test checks
# every key is written by exactly the stack named here.
OUTPUTS: dict[str, tuple[str, str]] = {}


def _outputs(stack: str, **described: str) -> None:
    for key, description in described.items():
        OUTPUTS[key] = (stack, description)


for _role in ROLES:
    _outputs(
        REGIONAL_STACKS[_role],
        **{
            f"{_role}_region": f"{_role} region",
            f"{_role}_cluster_id": f"{_role} Aurora cluster identifier",
            f"{_role}_cluster_arn": f"{_role} Aurora cluster ARN",
            f"{_role}_aurora_endpoint": f"{_role} Aurora cluster (writer) endpoint",
            f"{_role}_aurora_reader_endpoint": f"{_role} Aurora cluster reader endpoint",
            f"{_role}_s3_bucket": f"{_role} audit bucket",
            f"{_role}_api_endpoint": f"{_role} API stage invoke URL",
            f"{_role}_api_id": f"{_role} REST API id",
            f"{_role}_api_host": f"{_role} API hostname probed by health checks",
            f"{_role}_sns_topic": f"{_role} alarm topic ARN",
        },
    )
_outputs(
    REGIONAL_STACKS[PRIMARY],
    environment_suffix="environment suffix (dev, prod, ...)",
    global_cluster_id="Aurora global cluster identifier",
    aurora_global_writer_endpoint="global writer endpoint (follows switchover/failover)",
    aurora_secret_arn="master credential secret (replicated to the DR region)",
    dynamodb_table_name="payment transactions global table",
    idempotency_table_name="idempotency records global table",
    replication_lag_threshold_seconds="Aurora RPO lag alarm threshold (s)",
    alarm_name_prefix="prefix of every CloudWatch alarm",
    api_stage_name="API stage in both regions",
)
_outputs(
    ROUTING_STACK,
    primary_health_check_id="Route 53 health check of the primary API",
    dr_health_check_id="Route 53 health check of the DR API",
    health_check_alarm_region="region of the Route 53 health-check alarms",
    health_check_alarm_topic="topic the Route 53 health-check alarms notify",
    custom_domain_url="payments API URL (follows failover)",
)
_outputs(
    EDGE_STACK,
    hosted_zone_id="Route 53 zone holding the failover records",
    domain_name="the payments API's custom domain",
)
del _role


# -- physical names -----------------------------------------------------------------------


@dataclass(frozen=True)
class Names:
    """Every physical name of one environment. A rename is one edit, here."""

    env: str

    @property
    def transactions_table(self) -> str:
        return f"payment-transactions-{self.env}"

    @property
    def idempotency_table(self) -> str:
        return f"payment-idempotency-{self.env}"

    @property
    def global_cluster(self) -> str:
        return f"payments-global-{self.env}"

    def cluster(self, role: str) -> str:
        """payments-primary-dev / payments-dr-dev."""
        return f"payments-{role}-{self.env}"

    def cluster_instance(self, role: str, number: int) -> str:
        return f"{self.cluster(role)}-{number}"

    @property
    def database(self) -> str:
        return "payments"

    @property
    def master_username(self) -> str:
        return "payments_admin"

    @property
    def db_secret(self) -> str:
        return f"payments-dr/{self.env}/aurora-master"

    def audit_bucket(self, account_id: str, region: str) -> str:
        """Globally unique: account id and region; at most 18+12+1+12+1+14 = 58 characters."""
        return f"payments-dr-audit-{self.env}-{account_id}-{region}"

    def state_bucket(self, account_id: str, region: str) -> str:
        """Terraform state: account and region make it unique across all AWS accounts."""
        return f"payments-dr-tfstate-{self.env}-{account_id}-{region}"

    def function(self, purpose: str, role: str) -> str:
        """payment-validator-primary-dev, as the seed's log group names expect."""
        return f"payment-{purpose}-{role}-{self.env}"

    def regional(self, what: str, role: str) -> str:
        return f"payments-{what}-{role}-{self.env}"

    def key_alias(self, role: str) -> str:
        return f"alias/payments-dr-{self.env}-{role}"

    @property
    def alarm_prefix(self) -> str:
        return f"payments-{self.env}-"

    def alarm(self, what: str, role: str) -> str:
        return f"{self.alarm_prefix}{what}-{role}"

    def failback_parameter(self, peer_role: str) -> str:
        """SSM parameter (in the region that watches `peer_role`) holding the failback latch."""
        return f"/payments-dr/{self.env}/failback/{peer_role}"

    def state_key(self, stack: str) -> str:
        return f"payments-dr/{self.env}/{stack}.tfstate"
