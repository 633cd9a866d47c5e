"""`drctl client-keys add|rotate|set-expiry|disable|enable|list|check|sync`: the per-client
HMAC keys of POST /validate, and each client's API key (its quota).

Terraform creates the secret `Names.client_keys_secret` empty (keys never enter the plan or
the state), so until a key is added every signed request is refused (the authorizer fails
closed: 503/500). These commands edit the secret's JSON document through the authorizer's own
format module (lambda/ops/clientkeys.py), so what is written is what the authorizer parses.

Where: the secret is written in the primary region; Secrets Manager replicates it to DR, where
the DR authorizer reads it. The DR copy is a read-only replica. During a primary outage a
key can only be changed in DR by promoting the replica to a standalone secret
(StopReplicationToReplica): `--region dr --promote-replica` does that, then writes. Without
the flag, drctl refuses and prints the procedure (docs/runbook.md, "Client keys").

Key material: `add` and `rotate` generate a key (or read one with `--key-file`) and print a
generated key once, on stdout, for the client; `list` prints fingerprints (SHA-256 prefix),
never keys. Changes reach the authorizers within their key cache (CLIENT_KEYS_CACHE_SECONDS,
60 s): after `rotate`, the old key keeps working for at most that long. For rotation without
any refused request, `add` a second key, move the client to it, then `rotate --key-file` it.

Expiry: every key `add` and `rotate` write ends (`notAfter`) after `--days` (default and
maximum CLIENT_KEY_MAX_DAYS, 365); the authorizer refuses it after that. `set-expiry` gives
a client's keys written without an end (the format before expiry) one. `check` exits 1
(UNHEALTHY) when an enabled client has a key without an end, a key ending within
`--warn-days` (default CLIENT_KEY_WARN_DAYS, 30) or further out than the maximum (written by
hand), or no valid key: run it on a schedule (docs/runbook.md, "Client keys").

Quotas (docs/api-protection.md): API Gateway throttles each verified client by the usage plan
its API key belongs to; the authorizer names the key by its value
(`contract.usage_identifier_key`). API keys are regional and per client, so `add` also creates
the client's key in each region and joins it to that region's plan (`Names.usage_plan`,
created by Terraform); with `--region dr` (a primary outage) only in DR. `sync` creates
whatever is missing for every client of the secret (clients added before quotas existed, or
while a region was unreachable); `check` also reports an enabled client without its key in a
region (refused there with 403 CLIENT_NOT_PROVISIONED). Created by drctl, not Terraform:
clients are per merchant and come and go with `add`, which needs no apply.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from contract import (
    CLIENT_KEY_MAX_DAYS,
    CLIENT_KEY_NOT_AFTER,
    CLIENT_KEY_WARN_DAYS,
    DR,
    PRIMARY,
    usage_identifier_key,
)
from drctl import exitcodes
from drctl.command import Command
from drctl.config import CLIENT_KEYS_REQUIRES, DrConfig
from drctl.log import EventLog

if TYPE_CHECKING:      # gateways loads boto3: only when a command runs (drctl.cli stays cheap)
    from drctl.gateways import SecretsGateway

_LAMBDA_DIR = Path(__file__).resolve().parent.parent / "lambda"
if str(_LAMBDA_DIR) not in sys.path:
    sys.path.append(str(_LAMBDA_DIR))   # lambda/ops: the format module the authorizer uses
from ops import clientkeys as secret_format  # noqa: E402

REQUIRES = CLIENT_KEYS_REQUIRES
ACTIONS = ("add", "rotate", "set-expiry", "disable", "enable", "list", "check", "sync")
READ_ONLY = ("list", "check")
NO_CLIENT = (*READ_ONLY, "sync")
# How long an authorizer keeps using the keys it read (lambda/authorizer.py default).
AUTHORIZER_CACHE_SECONDS = 60


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("action", choices=ACTIONS)
    p.add_argument("--client", help="client id (X-Client-Id); required except for list, "
                                    "check and sync")
    p.add_argument("--key-file", type=Path,
                   help="add/rotate: read the key (base64 of >= 32 bytes) from this file "
                        "instead of generating one")
    p.add_argument("--days", type=int, default=CLIENT_KEY_MAX_DAYS,
                   help=f"add/rotate/set-expiry: the key is valid for this many days (1 to "
                        f"{CLIENT_KEY_MAX_DAYS}, default {CLIENT_KEY_MAX_DAYS})")
    p.add_argument("--warn-days", type=int, default=CLIENT_KEY_WARN_DAYS,
                   help=f"check: flag keys ending within this many days (default "
                        f"{CLIENT_KEY_WARN_DAYS})")
    p.add_argument("--region", dest="key_region", choices=("primary", "dr"), default="primary",
                   help="region role whose secret to use (default primary; dr is a read-only "
                        "replica unless --promote-replica)")
    p.add_argument("--promote-replica", action="store_true",
                   help="with --region dr during a primary outage: stop replication so the DR "
                        "copy becomes a standalone, writable secret, then write it "
                        "(docs/runbook.md: re-establish replication after the outage)")


@dataclass
class ClientKeysResult:
    action: str
    region: str
    secret: str
    exit_code: int = exitcodes.OK
    clients: list[dict[str, Any]] = field(default_factory=list)
    new_key: str | None = None          # generated here: shown once, for the client
    message: str = ""
    problems: list[str] = field(default_factory=list)   # check

    def to_json(self) -> str:
        return json.dumps({"action": self.action, "region": self.region, "secret": self.secret,
                           "exit_code": self.exit_code, "clients": self.clients,
                           "key": self.new_key, "message": self.message,
                           "problems": self.problems}, indent=2)

    def to_text(self) -> str:
        lines = [f"client-keys {self.action}: {self.secret} in {self.region}"]
        if self.message:
            lines.append(self.message)
        for row in self.clients:
            state = "DISABLED" if row["disabled"] else "enabled"
            keys = ", ".join(f"{k['fingerprint']} until {k[CLIENT_KEY_NOT_AFTER] or 'NO END'}"
                             for k in row["keys"]) or "no keys"
            extra = f" ({row['invalid_keys']} unusable)" if row["invalid_keys"] else ""
            lines.append(f"  {row['client']:<24} {state:<8} keys: {keys}{extra}")
        lines.extend(f"  PROBLEM {p}" for p in self.problems)
        if self.new_key:
            lines.append(f"new key (shown once; give it to the client): {self.new_key}")
        return "\n".join(lines)


def run(args: argparse.Namespace, cfg: DrConfig, gw: Any, log: EventLog) -> ClientKeysResult:
    from drctl.gateways import NotFound, error_code, is_unreachable

    secret_id = cfg.names.client_keys_secret
    if not getattr(cfg, f"{args.key_region}_region"):
        return _fail(ClientKeysResult(args.action, "?", secret_id), exitcodes.USAGE,
                     f"--region {args.key_region} needs --{args.key_region}-region (or that "
                     "stack's outputs)")
    region = cfg.region(args.key_region)
    result = ClientKeysResult(args.action, region, secret_id)
    if args.action not in NO_CLIENT and not args.client:
        return _fail(result, exitcodes.USAGE, f"{args.action} needs --client ID")
    secrets: SecretsGateway = gw.secrets(region)
    try:
        return _run(args, cfg, secrets, result, log, gw)
    except NotFound as error:
        return _fail(result, exitcodes.FAILED, f"{error}: apply the primary stack first")
    except (ValueError, secret_format.SecretInvalid) as error:
        return _fail(result, exitcodes.USAGE, str(error))
    except Exception as error:
        if is_unreachable(error):
            hint = "" if args.key_region == "dr" else (
                " During a primary outage see docs/runbook.md (Client keys): "
                "`--region dr --promote-replica`.")
            return _fail(result, exitcodes.UNREACHABLE, f"{region} unreachable: {error}.{hint}")
        if error_code(error):
            return _fail(result, exitcodes.FAILED, f"{error_code(error)}: {error}")
        raise


def _run(args: argparse.Namespace, cfg: DrConfig, secrets: SecretsGateway,
         result: ClientKeysResult, log: EventLog, gw: Any) -> ClientKeysResult:
    if args.action in NO_CLIENT:
        text = secrets.value(result.secret)
        result.clients = secret_format.describe(text)
        if args.action == "sync":
            result.problems = provision(cfg, gw, [r["client"] for r in result.clients],
                                        regions=_regions(cfg, secrets), log=log)
            if result.problems:
                result.exit_code = exitcodes.FAILED
            return result
        if args.action == "check":
            result.problems = secret_format.expiry_problems(text, time.time(),
                                                            warn_days=args.warn_days)
            result.problems += missing_quotas(cfg, gw, [r["client"] for r in result.clients
                                                            if not r["disabled"]],
                                              regions=_regions(cfg, secrets))
            if result.problems:
                result.exit_code = exitcodes.UNHEALTHY
        return result
    until = secret_format.not_after(time.time(), args.days)   # ValueError: usage
    state = secrets.state(result.secret)
    if state.is_replica_in(secrets.region):
        if not args.promote_replica:
            return _fail(result, exitcodes.REFUSED, promote_procedure(
                result.secret, replica_region=secrets.region, primary_region=state.primary_region))
        log.info("promote_replica", secret=result.secret, region=secrets.region,
                 primary_region=state.primary_region)
        secrets.promote(result.secret)
    current = secrets.value(result.secret)
    key = None
    if args.action in ("add", "rotate"):
        key = args.key_file.read_text().strip() if args.key_file else secret_format.new_key()
        edit = secret_format.add_key if args.action == "add" else secret_format.rotate_key
        updated = edit(current, args.client, key, until=until)
    elif args.action == "set-expiry":
        updated = secret_format.set_expiry(current, args.client, until=until)
    else:
        updated = secret_format.set_disabled(current, args.client, args.action == "disable")
    secrets.put_value(result.secret, updated)
    log.info("client_keys_written", action=args.action, client=args.client,
             region=secrets.region, fingerprint=secret_format.fingerprint(key) if key else None)
    result.clients = [row for row in secret_format.describe(updated)
                      if row["client"] == args.client]
    result.new_key = None if args.key_file else key
    if args.action == "add":
        # The client's quota in each region (a primary outage: DR only; `sync` later).
        regions = {DR: secrets.region} if args.key_region == DR else _regions(cfg, secrets)
        result.problems = provision(cfg, gw, [args.client], regions=regions, log=log)
        if result.problems:
            result.exit_code = exitcodes.UNHEALTHY
    result.message = (f"Authorizers pick this up within {AUTHORIZER_CACHE_SECONDS} s (their key "
                      "cache)" + ("; until then the replaced keys still verify."
                                  if args.action == "rotate" else "."))
    return result


def _regions(cfg: DrConfig, secrets: SecretsGateway) -> dict[str, str]:
    """Role -> region of the APIs that need the clients' keys. The DR region comes from the
    configuration or else from the secret's one replica (the primary stack's outputs, which
    name only the primary region, are then enough)."""
    regions = {role: cfg.region(role) for role in (PRIMARY, DR) if getattr(cfg, f"{role}_region")}
    if DR not in regions:
        replicas = secrets.state(cfg.names.client_keys_secret).replicas
        if len(replicas) == 1:
            regions[DR] = replicas[0]
    return regions


def provision(cfg: DrConfig, gw: Any, clients: list[str], *, regions: dict[str, str],
              log: EventLog) -> list[str]:
    """Each client's API key in each region's usage plan; what could not be done, per region
    (the other regions are still done)."""
    problems = [] if DR in regions else [f"{DR}: region unknown (no --dr-region, no replica "
                                         "of the secret): run `drctl client-keys sync "
                                         "--dr-region ...`, or the DR API refuses these clients"]
    for role, region in regions.items():
        try:
            api = gw.api_keys(region)
            plan = api.plan_id(cfg.names.usage_plan(role))
            have = api.plan_key_values(plan)
            for client in clients:
                value = usage_identifier_key(cfg.names.client_keys_secret, client)
                if value not in have:
                    api.join(plan, name=cfg.names.client_api_key(client), value=value)
                    log.info("client_quota_created", client=client, region=region)
        except Exception as error:     # NotFound, unreachable, any AWS error: per region
            problems.append(f"{role} ({region}): {_why(error)}: re-run `drctl client-keys "
                            "sync` once it is fixed; until then that region refuses the "
                            "client (403 CLIENT_NOT_PROVISIONED)")
    return problems


def missing_quotas(cfg: DrConfig, gw: Any, clients: list[str], *,
                   regions: dict[str, str]) -> list[str]:
    """`check`: an enabled client whose API key is not in a region's usage plan."""
    problems = []
    for role, region in regions.items():
        try:
            api = gw.api_keys(region)
            have = api.plan_key_values(api.plan_id(cfg.names.usage_plan(role)))
        except Exception as error:
            problems.append(f"quotas in {role} ({region}) not checked: {_why(error)}")
            continue
        problems += [f"{client}: no API key in the {role} usage plan ({region}): refused there "
                     "(403 CLIENT_NOT_PROVISIONED): `drctl client-keys sync`"
                     for client in clients
                     if usage_identifier_key(cfg.names.client_keys_secret, client) not in have]
    return problems


def _why(error: Exception) -> str:
    from drctl.gateways import error_code, is_unreachable
    if is_unreachable(error):
        return f"unreachable ({error})"
    return f"{error_code(error) or type(error).__name__}: {error}"


def promote_procedure(secret: str, *, replica_region: str, primary_region: str) -> str:
    return (f"{secret} in {replica_region} is a read-only replica of {primary_region}. "
            f"Write keys in the primary region. If {primary_region} is down and a key must "
            f"change now: `drctl client-keys ACTION --region dr --promote-replica ...` (runs "
            f"`aws secretsmanager stop-replication-to-replica --secret-id {secret} --region "
            f"{replica_region}`, then writes); after the outage, re-establish replication "
            "as docs/runbook.md (Client keys) says.")


def _fail(result: ClientKeysResult, code: int, message: str) -> ClientKeysResult:
    result.exit_code, result.message = code, message
    return result


COMMAND = Command("client-keys", "add, rotate, expire, disable, enable, list or check the API "
                                 "clients' HMAC keys (the client-keys secret; keys are never "
                                 "listed)",
                  add_arguments, lambda ctx: run(ctx.args, ctx.config, ctx.gw, ctx.log), requires=REQUIRES)
