#!/usr/bin/env python3
"""Checks that a workflow environment has the settings a real plan needs, before synth.

    scripts/ci_settings.py --environment prod [--require]

Reads the process environment (the workflow passes the GitHub environment's variables in).
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


def missing(environ: Mapping[str, str]) -> list[str]:
    return [entry for entry in REQUIRED
            if not any(environ.get(name, "").strip() for name in entry.split(" or "))]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--environment", required=True, help="GitHub environment name (for messages)")
    parser.add_argument("--require", action="store_true", help="missing settings are an error")
    args = parser.parse_args(argv)
    absent = missing(os.environ)
    if not absent:
        print(f"settings for environment {args.environment}: complete")
        return 0
    kind = "error" if args.require else "warning"
    for name in absent:
        print(f"::{kind}::environment {args.environment}: variable {name} is not set "
              "(Settings > Environments > {0} > Environment variables)".format(args.environment))
    if args.require:
        print(f"refusing to synthesize {args.environment} with default settings", file=sys.stderr)
        return 1
    print(f"plan for {args.environment} skipped: it would use default settings")
    return 3


if __name__ == "__main__":
    sys.exit(main())
