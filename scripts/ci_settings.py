#!/usr/bin/env python3
"""Checks that a workflow environment has the settings a real plan needs, before synth.

    scripts/ci_settings.py --environment prod [--require]
    scripts/ci_settings.py --environment prod --pull-request --github-env "$GITHUB_ENV"

Reads the process environment (the workflow passes the GitHub environment's variables in).
`--pull-request`: a PR plan job has no GitHub environment (so its OIDC subject is
`repo:<o>/<r>:pull_request`, which only the PR-plan role trusts) and therefore no environment
variables: its settings come from the repository variable PR_PLAN_SETTINGS, a JSON object
keyed by environment name (`{"dev": {"ENVIRONMENT_SUFFIX": "dev", ...}, "prod": {...}}`).
Only settings variables, AWS_ACCOUNT_ID and AWS_PR_PLAN_ROLE_ARN are accepted, one line each;
they are appended to the file named by --github-env (the job's $GITHUB_ENV).
A synth without them would silently use the defaults (ENVIRONMENT_SUFFIX=dev, an
example.com domain, a created hosted zone): planning or applying that against a real account
is wrong, not just incomplete. Prints one line per missing variable.

Exit codes: 0 = complete; 1 = missing and --require (a push to main: the run fails);
3 = missing without --require (a pull request: the plan is skipped with a warning, and the
workflow says so in the run summary).
Also checks that ENVIRONMENT_SUFFIX is set to something, so two environments cannot share
the default names by accident.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Mapping

# Without these a plan targets the wrong names, zone or account (docs/review-and-ci.md).
# Each entry: one variable, or alternatives separated by " or " (one of them must be set).
REQUIRED = (
    "ENVIRONMENT_SUFFIX",  # part of every physical name
    "DOMAIN_NAME",  # the default is under example.com: a plan stops on it anyway
    "HOSTED_ZONE_ID",  # an existing, delegated zone; without it a new zone nobody delegates
    "ALARM_EMAIL or ALARM_HTTPS_ENDPOINTS",  # without one the alarms page nobody
    "AWS_ACCOUNT_ID",  # state bucket name, account guards; credentials refused for others
    "AWS_PLAN_ROLE_ARN",  # the OIDC role for init/plan
)


# What PR_PLAN_SETTINGS may set: the platform's settings (modules/settings.py; checked equal by
# tests/test_pipeline.py), the account and the PR-plan role. Nothing else reaches $GITHUB_ENV
# (no PATH, NODE_OPTIONS, the main plan's role...).
SETTINGS_VARIABLES = frozenset({
    "ENVIRONMENT_SUFFIX", "PRIMARY_REGION", "DR_REGION", "DOMAIN_NAME",
    "REPLICATION_LAG_THRESHOLD", "AURORA_ENGINE_VERSION", "AURORA_INSTANCE_CLASS",
    "BACKUP_RETENTION_DAYS", "AWS_ACCOUNT_ID", "TF_STATE_BUCKET", "TF_STATE_REGION",
    "HOSTED_ZONE_ID", "ALARM_EMAIL", "ALARM_HTTPS_ENDPOINTS", "LAMBDA_RESERVED_CONCURRENCY",
    "TRANSACTIONS_CONSISTENCY", "AURORA_PRIMARY_INSTANCES", "AURORA_DR_INSTANCES",
    "LOG_RETENTION_DAYS", "TFC_ORGANIZATION", "TFC_WORKSPACE", "OBJECT_LOCK_MODE",
    "OBJECT_LOCK_DAYS", "DELETION_PROTECTION", "CI_GITHUB_REPOSITORY", "COST_PROFILE",
    "PEAK_PAYMENTS_PER_SECOND", "KEY_ADMIN_ROLES", "CLIENT_KEY_OPERATOR_ROLES",
})
PR_ROLE = "AWS_PR_PLAN_ROLE_ARN"
PR_VARIABLES = SETTINGS_VARIABLES | {PR_ROLE}


class PullRequestSettingsError(ValueError):
    """PR_PLAN_SETTINGS is not what --pull-request accepts."""


def missing(environ: Mapping[str, str], *, role: str = "AWS_PLAN_ROLE_ARN") -> list[str]:
    required = [role if entry == "AWS_PLAN_ROLE_ARN" else entry for entry in REQUIRED]
    return [entry for entry in required
            if not any(environ.get(name, "").strip() for name in entry.split(" or "))]


def pull_request_settings(document: str, environment: str) -> dict[str, str]:
    """This environment's entry of PR_PLAN_SETTINGS, validated (empty when absent)."""
    try:
        parsed = json.loads(document) if document.strip() else {}
    except json.JSONDecodeError as error:
        raise PullRequestSettingsError(f"PR_PLAN_SETTINGS is not JSON: {error}") from error
    if not isinstance(parsed, dict):
        raise PullRequestSettingsError("PR_PLAN_SETTINGS must be a JSON object keyed by environment")
    entry = parsed.get(environment, {})
    if not isinstance(entry, dict):
        raise PullRequestSettingsError(f"PR_PLAN_SETTINGS[{environment!r}] must be an object")
    for name, value in entry.items():
        if name not in PR_VARIABLES:
            raise PullRequestSettingsError(
                f"PR_PLAN_SETTINGS[{environment!r}]: {name} is not a setting a PR plan may set")
        if not isinstance(value, str) or "\n" in value or "\r" in value:
            raise PullRequestSettingsError(
                f"PR_PLAN_SETTINGS[{environment!r}]: {name} must be a one-line string")
    return dict(entry)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--environment", required=True, help="GitHub environment name (for messages)")
    parser.add_argument("--require", action="store_true", help="missing settings are an error")
    parser.add_argument("--pull-request", action="store_true",
                        help="settings from PR_PLAN_SETTINGS; the role is AWS_PR_PLAN_ROLE_ARN")
    parser.add_argument("--github-env", help="with --pull-request: file to append NAME=value to")
    args = parser.parse_args(argv)
    environ: Mapping[str, str] = os.environ
    if args.pull_request:
        try:
            environ = pull_request_settings(os.environ.get("PR_PLAN_SETTINGS", ""), args.environment)
        except PullRequestSettingsError as error:
            print(f"::error::{error}")
            return 1
        if args.github_env:
            with open(args.github_env, "a", encoding="utf-8") as out:
                out.writelines(f"{name}={value}\n" for name, value in sorted(environ.items()))
    absent = missing(environ, role=PR_ROLE if args.pull_request else "AWS_PLAN_ROLE_ARN")
    if not absent:
        print(f"settings for environment {args.environment}: complete")
        return 0
    kind = "error" if args.require else "warning"
    for name in absent:
        where = (f"repository variable PR_PLAN_SETTINGS, key {args.environment!r}" if args.pull_request
                 else f"Settings > Environments > {args.environment} > Environment variables")
        print(f"::{kind}::environment {args.environment}: variable {name} is not set ({where})")
    if args.require:
        print(f"refusing to synthesize {args.environment} with default settings", file=sys.stderr)
        return 1
    print(f"plan for {args.environment} skipped: it would use default settings")
    return 3


if __name__ == "__main__":
    sys.exit(main())
