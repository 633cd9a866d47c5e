"""Deployment facts drctl needs, read from stack outputs and overridden by flags.

Two output formats are accepted and detected automatically:

* `terraform output -json`: {"name": {"value": ..., "type": ..., "sensitive": false}, ...}
* cdktf outputs file (`cdktf deploy --outputs-file`): {"<stack-name>": {"name": value, ...}}

Every output has a flag of the same name (`dr_cluster_arn` -> `--dr-cluster-arn`); a flag
overrides the file. Names that follow the platform's naming contract (cluster ids, table
name, alarm prefix) are derived from `environment_suffix` when no output gives them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Iterable, Mapping

# Output name -> help text. Order is the order `--help` lists the flags.
OUTPUTS: dict[str, str] = {
    "primary_region": "primary region (e.g. us-east-1)",
    "dr_region": "DR region (e.g. us-east-2)",
    "environment_suffix": "environment suffix (dev, prod, ...)",
    "global_cluster_id": "Aurora global cluster identifier",
    "primary_cluster_id": "primary Aurora cluster identifier",
    "dr_cluster_id": "DR Aurora cluster identifier",
    "primary_cluster_arn": "primary Aurora cluster ARN",
    "dr_cluster_arn": "DR Aurora cluster ARN",
    "primary_aurora_endpoint": "primary cluster endpoint",
    "dr_aurora_endpoint": "DR cluster endpoint",
    "dynamodb_table_name": "payment transactions global table",
    "idempotency_table_name": "idempotency global table",
    "primary_s3_bucket": "primary-region audit bucket",
    "dr_s3_bucket": "DR-region audit bucket",
    "primary_api_endpoint": "primary API endpoint",
    "dr_api_endpoint": "DR API endpoint",
    "primary_health_check_id": "Route 53 health check of the primary API",
    "dr_health_check_id": "Route 53 health check of the DR API",
    "primary_sns_topic": "primary-region SNS topic ARN",
    "dr_sns_topic": "DR-region SNS topic ARN",
    "alarm_name_prefix": "CloudWatch alarm name prefix (payments-{env}-)",
    "replication_lag_threshold_seconds": "max Aurora replication lag for a switchover (s)",
}

ROLES = ("primary", "dr")


class ConfigError(ValueError):
    """The configuration is unusable; the message names every output/flag at fault."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("configuration error:\n  - " + "\n  - ".join(problems))


def flag_of(name: str) -> str:
    return "--" + name.replace("_", "-")


def parse_outputs(data: Any, stack: str | None = None) -> dict[str, Any]:
    """Flat {output name: value} from either output format (see module doc)."""
    if not isinstance(data, dict):
        raise ConfigError(["outputs file: expected a JSON object at the top level"])
    if not data:
        return {}
    if all(isinstance(v, dict) and "value" in v for v in data.values()):  # terraform output -json
        return {k: v["value"] for k, v in data.items()}
    stacks = {k: v for k, v in data.items() if isinstance(v, dict)}
    if len(stacks) != len(data):
        raise ConfigError(["outputs file: neither `terraform output -json` nor cdktf outputs format"])
    if stack is not None:
        if stack not in stacks:
            raise ConfigError([f"outputs file: no stack {stack!r} (stacks: {', '.join(sorted(stacks))})"])
        return dict(stacks[stack])
    candidates = [name for name, outs in stacks.items() if "global_cluster_id" in outs]
    if len(candidates) == 1:
        return dict(stacks[candidates[0]])
    if len(stacks) == 1:
        return dict(next(iter(stacks.values())))
    raise ConfigError([f"outputs file holds several stacks ({', '.join(sorted(stacks))}); "
                       "choose one with --stack"])


def load_outputs_file(path: str | Path, stack: str | None = None) -> dict[str, Any]:
    try:
        text = Path(path).read_text()
    except OSError as error:
        raise ConfigError([f"outputs file {path}: {error.strerror or error}"]) from error
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        raise ConfigError([f"outputs file {path}: invalid JSON ({error})"]) from error
    return parse_outputs(data, stack)


@dataclass(frozen=True)
class DrConfig:
    primary_region: str | None = None
    dr_region: str | None = None
    environment_suffix: str | None = None
    global_cluster_id: str | None = None
    primary_cluster_id: str | None = None
    dr_cluster_id: str | None = None
    primary_cluster_arn: str | None = None
    dr_cluster_arn: str | None = None
    primary_aurora_endpoint: str | None = None
    dr_aurora_endpoint: str | None = None
    dynamodb_table_name: str | None = None
    idempotency_table_name: str | None = None
    primary_s3_bucket: str | None = None
    dr_s3_bucket: str | None = None
    primary_api_endpoint: str | None = None
    dr_api_endpoint: str | None = None
    primary_health_check_id: str | None = None
    dr_health_check_id: str | None = None
    primary_sns_topic: str | None = None
    dr_sns_topic: str | None = None
    alarm_name_prefix: str | None = None
    replication_lag_threshold_seconds: float | None = None
    # Not outputs: tool limits, with defaults.
    dynamodb_latency_threshold_seconds: float = 30.0
    s3_latency_threshold_seconds: float = 900.0  # Replication Time Control: 15 minutes
    sources: dict[str, str] = field(default_factory=dict, compare=False)

    @classmethod
    def build(cls, outputs: Mapping[str, Any] | None = None,
              overrides: Mapping[str, Any] | None = None) -> "DrConfig":
        """Outputs, then flag overrides (None = not given), then naming-contract defaults."""
        values: dict[str, Any] = {}
        sources: dict[str, str] = {}
        for name in OUTPUTS:
            if outputs and outputs.get(name) not in (None, ""):
                values[name], sources[name] = outputs[name], "outputs"
            if overrides and overrides.get(name) not in (None, ""):
                values[name], sources[name] = overrides[name], "flag"
        env = values.get("environment_suffix")
        if env:
            derived = {
                "global_cluster_id": f"payments-global-{env}",
                "primary_cluster_id": f"payments-primary-{env}",
                "dr_cluster_id": f"payments-dr-{env}",
                "dynamodb_table_name": f"payment-transactions-{env}",
                "idempotency_table_name": f"payment-idempotency-{env}",
                "alarm_name_prefix": f"payments-{env}-",
            }
            for name, value in derived.items():
                if name not in values:
                    values[name], sources[name] = value, "derived from environment_suffix"
        problems = []
        if "replication_lag_threshold_seconds" in values:
            try:
                values["replication_lag_threshold_seconds"] = float(values["replication_lag_threshold_seconds"])
                if values["replication_lag_threshold_seconds"] <= 0:
                    raise ValueError
            except (TypeError, ValueError):
                problems.append("replication_lag_threshold_seconds (flag --replication-lag-threshold-seconds)"
                                f" must be a positive number, got {values['replication_lag_threshold_seconds']!r}")
        if values.get("primary_region") and values.get("primary_region") == values.get("dr_region"):
            problems.append(f"primary_region and dr_region are both {values['primary_region']!r}; "
                            "they must differ")
        if problems:
            raise ConfigError(problems)
        return cls(**values, sources=sources)

    def require(self, names: Iterable[str]) -> None:
        missing = [n for n in names if getattr(self, n) in (None, "")]
        if missing:
            raise ConfigError([f"missing {n}: set output `{n}` in the outputs file or pass {flag_of(n)}"
                               for n in missing])

    # role-based accessors -------------------------------------------------------------
    def region(self, role: str) -> str:
        return getattr(self, f"{role}_region")

    def cluster_id(self, role: str) -> str:
        return getattr(self, f"{role}_cluster_id")

    def cluster_arn(self, role: str) -> str | None:
        return getattr(self, f"{role}_cluster_arn")

    def bucket(self, role: str) -> str:
        return getattr(self, f"{role}_s3_bucket")

    def health_check_id(self, role: str) -> str:
        return getattr(self, f"{role}_health_check_id")

    def role_of_region(self, region: str) -> str | None:
        for role in ROLES:
            if self.region(role) == region:
                return role
        return None

    @property
    def tables(self) -> list[str]:
        return [t for t in (self.dynamodb_table_name, self.idempotency_table_name) if t]

    def as_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name != "sources"}


def other(role: str) -> str:
    return "dr" if role == "primary" else "primary"


# What each command needs (beyond what it can discover).
STATUS_REQUIRES = ("primary_region", "dr_region", "global_cluster_id", "primary_cluster_id",
                   "dr_cluster_id", "dynamodb_table_name", "primary_s3_bucket", "dr_s3_bucket",
                   "primary_health_check_id", "dr_health_check_id", "alarm_name_prefix",
                   "replication_lag_threshold_seconds")
SWITCHOVER_REQUIRES = ("primary_region", "dr_region", "global_cluster_id", "primary_cluster_id",
                       "dr_cluster_id", "primary_health_check_id", "dr_health_check_id",
                       "alarm_name_prefix", "replication_lag_threshold_seconds")
FAILOVER_REQUIRES = ("dr_region", "global_cluster_id", "dr_cluster_id")
VERIFY_REQUIRES = ("primary_region", "dr_region", "dynamodb_table_name", "primary_s3_bucket",
                   "dr_s3_bucket")
