"""Deployment facts drctl needs, read from stack outputs and overridden by flags.

Output keys, physical names, roles and thresholds come from `contract.py` (the one contract
shared with `modules/` and tests); nothing here restates them.

The platform is several Terraform stacks (contract.PLATFORM_STACKS), each with its own
outputs. Two file formats are accepted, detected automatically, and any number of files
(`--outputs` repeated) are merged; an output key is written by exactly one stack, so a key
seen twice with different values is an error, not a silent pick:

* `terraform output -json` (one file per stack): {"name": {"value": ..., "type": ...}, ...}
* cdktf outputs file (`cdktf deploy --outputs-file`): {"<stack-name>": {"name": value}, ...}
  holding one or several stacks (all merged; `--stack` restricts to the named ones).

Every output has a flag of the same name (`dr_cluster_arn` -> `--dr-cluster-arn`); a flag
overrides the files. Names the contract defines (cluster ids, table names, alarm prefix) are
derived from `environment_suffix` when no output gives them.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import contract
from contract import DR, PRIMARY, ROLES, Names, other_role

# The outputs drctl reads (a subset of contract.OUTPUTS), in `--help` order.
READ_OUTPUTS: tuple[str, ...] = (
    "primary_region", "dr_region", "environment_suffix", "global_cluster_id",
    *(f"{role}_{what}" for what in ("cluster_id", "cluster_arn", "aurora_endpoint", "s3_bucket",
                                    "api_endpoint", "api_host", "health_check_id", "sns_topic")
      for role in ROLES),
    "dynamodb_table_name", "idempotency_table_name", "alarm_name_prefix",
    "replication_lag_threshold_seconds", "custom_domain_url",
)
# Output key -> help text (from the contract's description).
OUTPUTS: dict[str, str] = {key: contract.OUTPUTS[key][1] for key in READ_OUTPUTS}


class ConfigError(ValueError):
    """The configuration is unusable; the message names every output/flag at fault."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("configuration error:\n  - " + "\n  - ".join(problems))


def flag_of(name: str) -> str:
    return "--" + name.replace("_", "-")


def parse_outputs(data: Any, stacks: Sequence[str] | None = None,
                  source: str = "outputs file") -> dict[str, Any]:
    """Flat {output name: value} from either output format (see module doc)."""
    if not isinstance(data, dict):
        raise ConfigError([f"{source}: expected a JSON object at the top level"])
    if not data:
        return {}
    if all(isinstance(v, dict) and "value" in v for v in data.values()):  # terraform output -json
        return {k: v["value"] for k, v in data.items()}
    found = {k: v for k, v in data.items() if isinstance(v, dict)}
    if len(found) != len(data):
        raise ConfigError([f"{source}: neither `terraform output -json` nor cdktf outputs format"])
    chosen = list(found)
    if stacks:
        missing = [s for s in stacks if s not in found]
        if missing:
            raise ConfigError([f"{source}: no stack {s!r} (stacks: {', '.join(sorted(found))})"
                               for s in missing])
        chosen = list(stacks)
    merged: dict[str, Any] = {}
    _merge(merged, {}, [(f"{source} stack {s}", found[s]) for s in chosen])
    return merged


def _merge(merged: dict[str, Any], origin: dict[str, str],
           parts: Iterable[tuple[str, Mapping[str, Any]]]) -> None:
    problems = []
    for where, outputs in parts:
        for key, value in outputs.items():
            if key in merged and merged[key] != value:
                problems.append(f"output {key} is {merged[key]!r} in {origin[key]} but {value!r} in "
                                f"{where}: each key belongs to one stack ({_owner(key)})")
                continue
            merged[key], origin[key] = value, where
    if problems:
        raise ConfigError(problems)


def _owner(key: str) -> str:
    return contract.OUTPUTS[key][0] if key in contract.OUTPUTS else "not a platform output"


def load_outputs_file(path: str | Path, stacks: Sequence[str] | None = None) -> dict[str, Any]:
    try:
        text = Path(path).read_text()
    except OSError as error:
        raise ConfigError([f"outputs file {path}: {error.strerror or error}"]) from error
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        raise ConfigError([f"outputs file {path}: invalid JSON ({error})"]) from error
    return parse_outputs(data, stacks, source=f"outputs file {path}")


def load_outputs_files(paths: Sequence[str | Path], stacks: Sequence[str] | None = None
                       ) -> dict[str, Any]:
    """Merges several outputs files (one per stack, or a cdktf file holding several)."""
    merged: dict[str, Any] = {}
    _merge(merged, {}, [(f"outputs file {p}", load_outputs_file(p, stacks)) for p in paths])
    return merged


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
    primary_s3_bucket: str | None = None
    dr_s3_bucket: str | None = None
    primary_api_endpoint: str | None = None
    dr_api_endpoint: str | None = None
    primary_api_host: str | None = None
    dr_api_host: str | None = None
    primary_health_check_id: str | None = None
    dr_health_check_id: str | None = None
    primary_sns_topic: str | None = None
    dr_sns_topic: str | None = None
    dynamodb_table_name: str | None = None
    idempotency_table_name: str | None = None
    alarm_name_prefix: str | None = None
    replication_lag_threshold_seconds: float | None = None
    custom_domain_url: str | None = None
    # Not outputs: the contract's thresholds (the alarms fire at the same numbers).
    dynamodb_latency_threshold_seconds: float = contract.DYNAMODB_REPLICATION_LATENCY_THRESHOLD_S
    s3_latency_threshold_seconds: float = contract.S3_REPLICATION_LATENCY_THRESHOLD_S
    sources: dict[str, str] = field(default_factory=dict, compare=False)

    @classmethod
    def build(cls, outputs: Mapping[str, Any] | None = None,
              overrides: Mapping[str, Any] | None = None) -> DrConfig:
        """Outputs, then flag overrides (None = not given), then contract-derived names."""
        values: dict[str, Any] = {}
        sources: dict[str, str] = {}
        for name in OUTPUTS:
            if outputs and outputs.get(name) not in (None, ""):
                values[name], sources[name] = outputs[name], "outputs"
            if overrides and overrides.get(name) not in (None, ""):
                values[name], sources[name] = overrides[name], "flag"
        env = values.get("environment_suffix")
        if env:
            names = Names(str(env))
            derived = {
                "global_cluster_id": names.global_cluster,
                "primary_cluster_id": names.cluster(PRIMARY),
                "dr_cluster_id": names.cluster(DR),
                "dynamodb_table_name": names.transactions_table,
                "idempotency_table_name": names.idempotency_table,
                "alarm_name_prefix": names.alarm_prefix,
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
            raise ConfigError([f"missing {n}: set output `{n}` ({_owner(n)}) in an outputs file or "
                               f"pass {flag_of(n)}" for n in missing])

    # role-based accessors -------------------------------------------------------------
    @property
    def names(self) -> Names:
        if not self.environment_suffix:
            raise ConfigError(["missing environment_suffix: set output `environment_suffix` or pass "
                               "--environment-suffix"])
        return Names(self.environment_suffix)

    def region(self, role: str) -> str:
        return str(getattr(self, f"{role}_region"))

    def cluster_id(self, role: str) -> str:
        return str(getattr(self, f"{role}_cluster_id"))

    def cluster_arn(self, role: str) -> str | None:
        value = getattr(self, f"{role}_cluster_arn")
        return str(value) if value else None

    def bucket(self, role: str) -> str:
        return str(getattr(self, f"{role}_s3_bucket"))

    def health_check_id(self, role: str) -> str:
        return str(getattr(self, f"{role}_health_check_id"))

    def api_host(self, role: str) -> str | None:
        value = getattr(self, f"{role}_api_host")
        return str(value) if value else None

    def role_of_region(self, region: str) -> str | None:
        for role in ROLES:
            if self.region(role) == region:
                return role
        return None

    @property
    def domain_name(self) -> str | None:
        """The payments API's custom domain (host of custom_domain_url)."""
        if not self.custom_domain_url:
            return None
        url = str(self.custom_domain_url)
        return urlparse(url if "://" in url else f"https://{url}").hostname

    @property
    def tables(self) -> list[str]:
        return [t for t in (self.dynamodb_table_name, self.idempotency_table_name) if t]

    def as_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name != "sources"}


def other(role: str) -> str:
    return other_role(role)


# What each command needs (beyond what it can discover).
STATUS_REQUIRES = ("primary_region", "dr_region", "environment_suffix", "global_cluster_id",
                   "primary_cluster_id", "dr_cluster_id", "dynamodb_table_name", "primary_s3_bucket",
                   "dr_s3_bucket", "primary_health_check_id", "dr_health_check_id",
                   "alarm_name_prefix", "replication_lag_threshold_seconds")
SWITCHOVER_REQUIRES = ("primary_region", "dr_region", "environment_suffix", "global_cluster_id",
                       "primary_cluster_id", "dr_cluster_id", "primary_health_check_id",
                       "dr_health_check_id", "alarm_name_prefix", "replication_lag_threshold_seconds")
FAILBACK_REQUIRES = SWITCHOVER_REQUIRES + ("dynamodb_table_name", "primary_s3_bucket", "dr_s3_bucket")
# drctl client-keys: the primary stack's outputs are enough (`--region dr` adds dr_region).
CLIENT_KEYS_REQUIRES = ("primary_region", "environment_suffix")
DUPLICATES_REQUIRES = ("environment_suffix",)  # and the --region it uses (drctl/duplicates.py)
FAILOVER_REQUIRES = ("dr_region", "environment_suffix", "global_cluster_id", "dr_cluster_id")
LOST_WRITES_REQUIRES = ("primary_region", "dr_region", "environment_suffix", "global_cluster_id",
                        "primary_cluster_id", "dr_cluster_id")
REJOIN_REQUIRES = LOST_WRITES_REQUIRES
VERIFY_REQUIRES = ("primary_region", "dr_region", "dynamodb_table_name", "primary_s3_bucket",
                   "dr_s3_bucket")
