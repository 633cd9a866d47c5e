"""Environment variables, read once per execution environment; every error names the variable."""

from __future__ import annotations

from collections.abc import Mapping


class ConfigError(RuntimeError):
    """A missing or invalid environment variable (the function cannot run; fix the deployment)."""


def in_lambda(env: Mapping[str, str]) -> bool:
    """True in AWS Lambda's runtime (``AWS_EXECUTION_ENV`` is ``AWS_Lambda_<runtime>``): the
    handlers build their settings and clients at init there, so a bad setting fails the init
    and no request pays for client construction; elsewhere (tests, tools) on first use."""
    return env.get("AWS_EXECUTION_ENV", "").startswith("AWS_Lambda_")


def required(env: Mapping[str, str], name: str) -> str:
    value = env.get(name, "").strip()
    if not value:
        raise ConfigError(f"environment variable {name} is required")
    return value


def optional(env: Mapping[str, str], name: str, default: str = "") -> str:
    return env.get(name, "").strip() or default


def region(env: Mapping[str, str]) -> str:
    value = env.get("AWS_REGION", "").strip() or env.get("AWS_DEFAULT_REGION", "").strip()
    if not value:
        raise ConfigError("environment variable AWS_REGION is required")
    return value


def integer(env: Mapping[str, str], name: str, default: int, *, minimum: int, maximum: int) -> int:
    text = env.get(name, "").strip()
    if not text:
        return default
    try:
        value = int(text)
    except ValueError:
        raise ConfigError(f"environment variable {name} must be an integer, got {text!r}") from None
    if not minimum <= value <= maximum:
        raise ConfigError(f"environment variable {name} must be between {minimum} and {maximum}, got {value}")
    return value


def number(env: Mapping[str, str], name: str, default: float, *, minimum: float, maximum: float) -> float:
    text = env.get(name, "").strip()
    if not text:
        return default
    try:
        value = float(text)
    except ValueError:
        raise ConfigError(f"environment variable {name} must be a number, got {text!r}") from None
    if not minimum <= value <= maximum:
        raise ConfigError(f"environment variable {name} must be between {minimum} and {maximum}, got {value}")
    return value


def https_url(env: Mapping[str, str], name: str, *, allow_http_loopback: bool = True) -> str:
    """An https:// URL (http:// only for 127.0.0.1, which is what the tests serve)."""
    value = required(env, name)
    if value.startswith("https://") or (allow_http_loopback and value.startswith("http://127.0.0.1")):
        return value
    raise ConfigError(f"environment variable {name} must be an https:// URL, got {value!r}")
