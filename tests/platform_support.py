"""The platform stacks as tests see them: the prod-like settings and one merged view.

Imported by tests/conftest.py and by test modules (`from platform_support import ...`; not
`from platform_support import`, which would resolve to tests/lambda/conftest.py in a full run).
"""

from __future__ import annotations

import sys
from pathlib import Path

from contract import PLATFORM_STACKS

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "scripts"))
from dr_review.load import platform_view

# Settings a prod-like environment must have (modules/settings.py refuses it otherwise).
PROD = {"ENVIRONMENT_SUFFIX": "prod", "AWS_ACCOUNT_ID": "123456789012",
        "DOMAIN_NAME": "payments.acme-pay.com", "HOSTED_ZONE_ID": "Z0123456789ABCDEFGHIJ",
        "ALARM_EMAIL": "oncall@acme-pay.com",
        "ALARM_HTTPS_ENDPOINTS": "https://events.pagerduty.com/integration/abc123/enqueue",
        # CI identities as code (modules/ci_roles.py): the prod-like synth carries them.
        "CI_GITHUB_REPOSITORY": "acme-pay/payments-dr"}

# The default environment with the standard cost profile (the default synth is the dev
# profile): what tests of the standard-only features (provisioned Aurora, 10 s health checks,
# tracing, 365-day retention) read. tests/test_profiles.py compares the two.
STANDARD = {"COST_PROFILE": "standard"}

# Another environment and DR region (the `qa_stacks` fixture), with eventual consistency for
# the transactions table (the explicit opt-out; STRONG is the default and TUNED's).
QA = {"ENVIRONMENT_SUFFIX": "qa", "DR_REGION": "us-west-2", "TRANSACTIONS_CONSISTENCY": "EVENTUAL"}

# The workflow's `dev` GitHub environment (representative values): HOSTED_ZONE_ID is required
# there, so no zone is created. Its `prod` environment is PROD. (tests/test_checkov.py)
CI_DEV = {"ENVIRONMENT_SUFFIX": "dev", "DOMAIN_NAME": "payments-dev.acme-payments.net",
          "HOSTED_ZONE_ID": "Z0123456789DEVZONE", "ALARM_EMAIL": "oncall@acme-payments.net",
          "AWS_ACCOUNT_ID": "111111111111", "CI_GITHUB_REPOSITORY": "acme-payments/payments-dr"}

# Every tuning setting a tier test needs away from its default, in ONE synth (the `tuned_*`
# fixtures; a full synth costs ~4 s, one per knob added up): each tier's test reads only its
# own knob. The regions put the primary outside us-east-1 (Route 53's home region) and still
# form a multi-Region strong consistency set (witness us-east-1).
TUNED = {"PRIMARY_REGION": "us-west-2", "DR_REGION": "us-east-2",
         "LAMBDA_RESERVED_CONCURRENCY": "50", "OBJECT_LOCK_DAYS": "2000",
         "TRANSACTIONS_CONSISTENCY": "STRONG", "REPLICATION_LAG_THRESHOLD": "2.5",
         "AURORA_PRIMARY_INSTANCES": "3", "AURORA_DR_INSTANCES": "2",
         "HOSTED_ZONE_ID": "Z0123456789TUNEDZONE",
         "KEY_ADMIN_ROLES": "ops-key-admin,payments-dr-ci-dev-apply"}


def merged(stacks: dict[str, dict]) -> dict:
    """All platform stacks as one JSON document (scripts/dr_review/load.py `platform_view`:
    cross-stack references resolved to the producer's expression, so `${aws_kms_key.x.arn}`
    reads the same whichever stack uses the key); tests/test_stacks.py checks the remote-state
    wiring itself and that logical ids are unique across stacks."""
    return platform_view(stacks, PLATFORM_STACKS)
