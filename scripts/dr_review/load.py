"""Loading the synthesized JSON and the stack model every other module reads."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]  # the repository
JSON = dict[str, Any]  # a parsed JSON object (cdk.tf.json, a resource body, a plan)
# Services whose resources are global although a regional provider manages them.
GLOBAL_PREFIXES = ("aws_route53_", "aws_iam_", "aws_cloudfront_", "aws_organizations_")
_REF = re.compile(r"\b((?:data\.)?aws_[a-z0-9_]+\.[A-Za-z0-9_-]+)")


_REMOTE = re.compile(r"\$\{data\.terraform_remote_state\.cross-stack-reference-input-"
                     r"([A-Za-z0-9-]+)\.outputs\.([A-Za-z0-9_-]+)\}")
PLATFORM = "payments-dr (all platform stacks)"


def platform_view(stacks: dict[str, JSON], names: Iterable[str]) -> JSON:
    """The stacks `names` as one document: what replicates where and which alarm watches it
    span stacks (a DR cluster joins the primary's global cluster by name; S3 rules live in the
    routing stack). cdktf's cross-stack references (remote-state outputs) are resolved to the
    producer's expression; logical ids are unique across stacks (tests/test_stacks.py).
    Providers are listed once per alias."""
    view: JSON = {"resource": {}, "data": {}, "output": {}, "ephemeral": {}, "provider": {"aws": []}}
    aliases = set()
    names = [n for n in names if n in stacks]
    for name in names:
        stack = stacks[name]
        for kind in ("resource", "data", "ephemeral"):
            for rtype, items in stack.get(kind, {}).items():
                if rtype != "terraform_remote_state":
                    view[kind].setdefault(rtype, {}).update(items)
        view["output"].update({k: v for k, v in stack.get("output", {}).items()
                               if not k.startswith("cross-stack-output-")})
        for provider in stack.get("provider", {}).get("aws", []):
            if provider.get("alias") not in aliases:
                aliases.add(provider.get("alias"))
                view["provider"]["aws"].append(provider)

    def resolve(match: re.Match[str]) -> str:
        return str(stacks[match.group(1)]["output"][match.group(2)]["value"])

    resolved: JSON = json.loads(_REMOTE.sub(resolve, json.dumps(view)))
    return resolved


def load_stacks(path: Path) -> dict[str, JSON]:
    """{stack name: cdk.tf.json} from a cdktf.out folder, a stack folder or a JSON file."""
    path = Path(path)
    if path.is_file():
        return {path.parent.name or path.stem: json.loads(path.read_text())}
    if (path / "cdk.tf.json").is_file():
        return {path.name: json.loads((path / "cdk.tf.json").read_text())}
    stacks_dir = path / "stacks"
    if not stacks_dir.is_dir():
        raise SystemExit(f"no synthesized stacks under {path} (run `make synth` first)")
    return {d.name: json.loads((d / "cdk.tf.json").read_text())
            for d in sorted(stacks_dir.iterdir()) if (d / "cdk.tf.json").is_file()}


def blocks(value: Any) -> list[JSON]:
    """Terraform JSON accepts a nested block as an object or a list of objects."""
    if value is None:
        return []
    if isinstance(value, dict):
        return [value]
    return [v for v in value if isinstance(v, dict)]


def refs(value: Any) -> set[str]:
    """Resource addresses referenced anywhere in a value (inside ${...} interpolations)."""
    found: set[str] = set()
    for text in re.findall(r"\$\{(.*?)\}", json.dumps(value)):
        found.update(_REF.findall(text))
    return found


def short(value: Any) -> str:
    """A name for people: ${data.aws_caller_identity.x.account_id} -> <account_id>."""
    return re.sub(r"\$\{[^}]*?([A-Za-z0-9_]+)\}", r"<\1>", str(value))


def num(value: Any) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def fmt_s(seconds: float | None) -> str:
    if seconds is None:
        return "?"
    if seconds >= 120 and seconds % 60 == 0:
        return f"{seconds / 60:g} min"
    return f"{seconds:g} s"


# -- model -----------------------------------------------------------------------------------

@dataclass
class Stack:
    name: str
    doc: JSON
    regions: dict[str | None, str] = field(default_factory=dict)  # provider alias -> region

    def __post_init__(self) -> None:
        for p in blocks(self.doc.get("provider", {}).get("aws")):
            self.regions[p.get("alias")] = str(p.get("region", "?"))

    def resources(self, rtype: str | None = None) -> Iterable[tuple[str, str, JSON]]:
        for t, items in sorted(self.doc.get("resource", {}).items()):
            if rtype is None or t == rtype:
                for name, body in sorted(items.items()):
                    yield t, name, body

    def get(self, address: str) -> JSON | None:
        rtype, _, name = address.partition(".")
        body: JSON | None = self.doc.get("resource", {}).get(rtype, {}).get(name)
        return body

    def alias_of(self, body: JSON) -> str | None:
        provider = body.get("provider")
        if isinstance(provider, str) and provider.startswith("aws."):
            return provider[4:]
        return None

    def region_of(self, body: JSON | None) -> str:
        if body is None:
            return "?"
        return self.regions.get(self.alias_of(body), "?")

    def role_of_region(self, region: str) -> str:
        for alias, r in self.regions.items():
            if r == region and alias:
                return alias
        return region

    def alarms(self) -> list[tuple[str, JSON]]:
        return [(n, b) for _, n, b in self.resources("aws_cloudwatch_metric_alarm")]

