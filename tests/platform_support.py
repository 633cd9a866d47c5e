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


def merged(stacks: dict[str, dict]) -> dict:
    """All platform stacks as one JSON document (scripts/dr_review/load.py `platform_view`:
    cross-stack references resolved to the producer's expression, so `${aws_kms_key.x.arn}`
    reads the same whichever stack uses the key); tests/test_stacks.py checks the remote-state
    wiring itself and that logical ids are unique across stacks."""
    return platform_view(stacks, PLATFORM_STACKS)
