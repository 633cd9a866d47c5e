"""The synthesized platform as data: every stack's cdk.tf.json, and a small reference resolver.

The twin reads nothing but cdktf.out. Terraform would resolve ``${aws_x.y.attr}`` after
creating ``aws_x.y``; the twin does the same in miniature:

* an attribute the twin created for real (a KMS key's ARN from moto) is recorded with
  :meth:`Platform.record` and wins;
* an attribute the configuration states (``name``, ``bucket``, ``function_name``) is read
  from the resource's own body, resolved in turn;
* a few computed attributes have AWS's real shape, built from the body (a topic's ARN, a
  function's ``invoke_arn``), so consumers can parse them as they would in AWS;
* any other computed value (an API id, a subnet id) gets a deterministic fake derived from
  its address, the same on every run;
* ``data.terraform_remote_state.<x>.outputs.<key>`` resolves the output ``<key>`` of the
  stack whose state ``<x>`` reads (cdktf's cross-stack references), in that stack;
* ``data.aws_caller_identity.*.account_id`` is the twin's account (moto's default),
  ``data.aws_partition.*.partition`` is ``aws``.

Expressions (function calls, ``for``, conditionals) are not evaluated: they resolve to a
deterministic fake string. Nothing the twin runs depends on one today.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ACCOUNT_ID = "123456789012"  # moto's default account
PARTITION = "aws"
_INTERPOLATION = re.compile(r"\$\{([^{}]*)\}")
_SIMPLE_REFERENCE = re.compile(r"[A-Za-z_][A-Za-z0-9_\-]*(\.[A-Za-z0-9_\-]+|\[[0-9]+\])+")
_REMOTE_STATE_PREFIX = "cross-stack-reference-input-"


def fake(*parts: str) -> str:
    """A deterministic stand-in for a value only AWS could compute."""
    return "twin-" + hashlib.sha1("/".join(parts).encode()).hexdigest()[:12]


@dataclass(frozen=True)
class Resource:
    stack: str
    type: str
    name: str
    body: dict[str, Any]
    region: str

    @property
    def address(self) -> str:
        return f"{self.type}.{self.name}"


class Platform:
    """Every stack of one synth (``<outdir>/stacks/<stack>/cdk.tf.json``)."""

    def __init__(self, outdir: Path | str, *, account_id: str = ACCOUNT_ID):
        self.outdir = Path(outdir)
        stacks_dir = self.outdir / "stacks"
        if not stacks_dir.is_dir():
            raise FileNotFoundError(f"{stacks_dir} does not exist: run `make synth` first")
        self.account_id = account_id
        self.stacks: dict[str, dict[str, Any]] = {}
        self.stack_dirs: dict[str, Path] = {}
        for path in sorted(stacks_dir.glob("*/cdk.tf.json")):
            self.stacks[path.parent.name] = json.loads(path.read_text())
            self.stack_dirs[path.parent.name] = path.parent
        self._computed: dict[tuple[str, str], dict[str, Any]] = {}
        self._regions: dict[str, dict[str, str]] = {}

    # -- reading --------------------------------------------------------------------------

    def provider_regions(self, stack: str) -> dict[str, str]:
        """Provider reference (``aws`` or ``aws.<alias>``) -> region."""
        if stack in self._regions:
            return self._regions[stack]
        regions: dict[str, str] = {}
        for provider in self.stacks[stack].get("provider", {}).get("aws", []):
            key = f"aws.{provider['alias']}" if "alias" in provider else "aws"
            regions[key] = str(self.resolve(stack, provider.get("region", "us-east-1")))
        self._regions[stack] = regions
        return regions

    def resources(self, rtype: str, *, stack: str | None = None) -> Iterator[Resource]:
        for name in ([stack] if stack else self.stacks):
            regions = self.provider_regions(name)
            for rname, body in self.stacks[name].get("resource", {}).get(rtype, {}).items():
                region = regions.get(body.get("provider", "aws"), next(iter(regions.values()), "us-east-1"))
                yield Resource(name, rtype, rname, body, region)

    def resource(self, stack: str, address: str) -> Resource:
        rtype, name = address.split(".", 1)
        for res in self.resources(rtype, stack=stack):
            if res.name == name:
                return res
        raise KeyError(f"{address} is not in {stack}")

    def get(self, res: Resource, key: str, default: Any = None) -> Any:
        """A resource's configuration value with its references resolved."""
        return self.resolve(res.stack, res.body[key]) if key in res.body else default

    def regions(self) -> list[str]:
        """Every region a platform stack deploys to, first seen first (primary first)."""
        seen: list[str] = []
        for stack in self.stacks:
            for region in self.provider_regions(stack).values():
                if region not in seen:
                    seen.append(region)
        return seen

    # -- resolving ------------------------------------------------------------------------

    def record(self, res: Resource, **attributes: Any) -> None:
        """Attributes the twin created for real (moto's answer), preferred over anything else."""
        self._computed.setdefault((res.stack, res.address), {}).update(attributes)

    def resolve(self, stack: str, value: Any) -> Any:
        if isinstance(value, dict):
            return {k: self.resolve(stack, v) for k, v in value.items()}
        if isinstance(value, list):
            return [self.resolve(stack, v) for v in value]
        if not isinstance(value, str) or "${" not in value:
            return value
        whole = _INTERPOLATION.fullmatch(value)
        if whole:  # keep a non-string result (a list, a number) as it is
            return self.reference(stack, whole.group(1).strip())
        return _INTERPOLATION.sub(lambda m: str(self.reference(stack, m.group(1).strip())), value)

    def reference(self, stack: str, expression: str) -> Any:
        if not _SIMPLE_REFERENCE.fullmatch(expression):
            return fake(stack, expression)
        parts = re.findall(r"[^.\[\]]+", expression)
        if parts[0] == "data":
            return self._data(stack, parts[1:], expression)
        if parts[0] in ("local", "var", "each", "self", "count", "path"):
            if parts[0] == "local" and len(parts) >= 2:
                local = self.stacks[stack].get("locals", {}).get(parts[1])
                if local is not None and len(parts) == 2:
                    return self.resolve(stack, local)
            return fake(stack, expression)
        if parts[0] == "terraform":
            return "default"
        if len(parts) < 3:
            return fake(stack, expression)
        rtype, name, attr = parts[0], parts[1], parts[2]
        try:
            res = self.resource(stack, f"{rtype}.{name}")
        except KeyError:
            return fake(stack, expression)
        if len(parts) > 3:  # nested computed attributes: signed_object[0].s3[0].bucket
            return self._nested(res, parts[2:])
        return self.attribute(res, attr)

    def attribute(self, res: Resource, attr: str) -> Any:
        computed = self._computed.get((res.stack, res.address), {})
        if attr in computed:
            return computed[attr]
        shaped = self._shaped(res, attr)
        if shaped is not None:
            return shaped
        if attr in res.body:
            return self.get(res, attr)
        return fake(res.stack, res.address, attr)

    def _shaped(self, res: Resource, attr: str) -> str | None:
        """Computed attributes with AWS's real shape, from the body."""
        acct, region, body = self.account_id, res.region, res.body

        def get(key: str) -> str:
            return str(self.get(res, key))

        if res.type == "aws_s3_bucket" and attr in ("id", "bucket"):
            return get("bucket")
        if res.type == "aws_s3_bucket" and attr == "arn":
            return f"arn:{PARTITION}:s3:::{get('bucket')}"
        if res.type == "aws_sns_topic" and attr in ("arn", "id"):
            return f"arn:{PARTITION}:sns:{region}:{acct}:{get('name')}"
        if res.type == "aws_lambda_function" and attr in ("arn", "qualified_arn"):
            return f"arn:{PARTITION}:lambda:{region}:{acct}:function:{get('function_name')}"
        if res.type == "aws_lambda_function" and attr == "invoke_arn":
            function_arn = self.attribute(res, "arn")
            return f"arn:{PARTITION}:apigateway:{region}:lambda:path/2015-03-31/functions/{function_arn}/invocations"
        if res.type == "aws_iam_role" and attr == "arn" and "name" in body:
            return f"arn:{PARTITION}:iam::{acct}:role/{get('name')}"
        if res.type == "aws_cloudwatch_log_group" and attr == "arn" and "name" in body:
            return f"arn:{PARTITION}:logs:{region}:{acct}:log-group:{get('name')}"
        if res.type == "aws_ssm_parameter" and attr in ("id", "name"):
            return get("name")
        if res.type == "aws_api_gateway_rest_api" and attr == "execution_arn":
            return f"arn:{PARTITION}:execute-api:{region}:{acct}:{self.attribute(res, 'id')}"
        if res.type == "aws_api_gateway_domain_name" and attr == "regional_domain_name":
            return f"d-{fake(res.stack, res.address)[5:15]}.execute-api.{region}.amazonaws.com"
        if res.type == "aws_cloudwatch_event_rule" and attr == "arn":
            return f"arn:{PARTITION}:events:{region}:{acct}:rule/{get('name')}"
        if res.type == "aws_route53_health_check" and attr == "id":
            digest = fake(res.stack, res.address)
            return f"{digest[5:13]}-{digest[13:17]}-4000-8000-000000000000"
        return None

    def _nested(self, res: Resource, path: list[str]) -> Any:
        if res.type == "aws_signer_signing_job" and path[0] == "signed_object":
            # The signed copy lives under the destination prefix; the twin runs the source package.
            destination = self.get(res, "destination", {}).get("s3", {})
            source = self.get(res, "source", {}).get("s3", {})
            if path[-1] == "bucket":
                return destination.get("bucket")
            if path[-1] == "key":
                return f"{destination.get('prefix', '')}{Path(str(source.get('key'))).name}"
        return fake(res.stack, res.address, *path)

    def _data(self, stack: str, parts: list[str], expression: str) -> Any:
        if parts[0] == "aws_caller_identity" and parts[-1] == "account_id":
            return self.account_id
        if parts[0] == "aws_partition" and parts[-1] == "partition":
            return PARTITION
        if parts[0] == "terraform_remote_state" and len(parts) >= 4 and parts[2] == "outputs":
            source = self._remote_stack(stack, parts[1])
            output = self.stacks[source].get("output", {}).get(parts[3])
            if output is None:
                raise KeyError(f"{stack}: {expression}: stack {source} has no output {parts[3]}")
            return self.resolve(source, output["value"])
        return fake(stack, expression)

    def _remote_stack(self, stack: str, data_name: str) -> str:
        if data_name.startswith(_REMOTE_STATE_PREFIX) and data_name[len(_REMOTE_STATE_PREFIX):] in self.stacks:
            return data_name[len(_REMOTE_STATE_PREFIX):]
        config = self.stacks[stack]["data"]["terraform_remote_state"][data_name].get("config", {})
        key = str(config.get("key", ""))
        for candidate in self.stacks:
            if key.endswith(f"/{candidate}.tfstate"):
                return candidate
        raise KeyError(f"{stack}: remote state {data_name} reads no stack of this synth ({key})")
