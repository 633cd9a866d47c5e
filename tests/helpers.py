"""Small queries over synthesized stack JSON, so tests read like the behaviour they check."""

from __future__ import annotations

import re
from typing import Any

REGION_OF_PROVIDER = {"aws.primary": "primary", "aws.dr": "dr"}


def resources(stack: dict, rtype: str, role: str | None = None) -> dict[str, dict]:
    """Resources of one type, optionally only those on the `primary`/`dr` provider."""
    found = stack.get("resource", {}).get(rtype, {})
    if role is None:
        return dict(found)
    return {name: r for name, r in found.items() if r.get("provider") == f"aws.{role}"}


def data_sources(stack: dict, dtype: str, role: str | None = None) -> dict[str, dict]:
    found = stack.get("data", {}).get(dtype, {})
    if role is None:
        return dict(found)
    return {name: r for name, r in found.items() if r.get("provider") == f"aws.{role}"}


def one(stack: dict, rtype: str, role: str | None = None, path_contains: str = "") -> tuple[str, dict]:
    """Exactly one matching resource (name, body); fails loudly when zero or several match."""
    matches = {
        name: r for name, r in resources(stack, rtype, role).items()
        if path_contains in r.get("//", {}).get("metadata", {}).get("path", name)
    }
    assert len(matches) == 1, f"expected one {rtype} ({role}, {path_contains!r}), got {sorted(matches)}"
    return next(iter(matches.items()))


def ref(rtype: str, name: str, attribute: str) -> str:
    """The interpolation cdktf writes for a reference: ${aws_x.name.attr}."""
    return f"${{{rtype}.{name}.{attribute}}}"


def refs_in(value: Any) -> set[str]:
    """Every resource address referenced anywhere inside a (nested) value."""
    text = repr(value)
    return set(re.findall(r"\$\{([a-z0-9_]+\.[A-Za-z0-9_-]+)\.", text)) | set(
        re.findall(r"\b(aws_[a-z0-9_]+\.[A-Za-z0-9_-]+)\b", text))


def outputs(stack: dict) -> dict[str, dict]:
    return stack.get("output", {})
