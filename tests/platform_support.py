"""The platform stacks as tests see them: the prod-like settings and one merged view.

Imported by tests/conftest.py and by test modules (`from platform_support import ...`; not
`from platform_support import`, which would resolve to tests/lambda/conftest.py in a full run).
"""

from __future__ import annotations

import json
import re

from contract import PLATFORM_STACKS

# Settings a prod-like environment must have (modules/settings.py refuses it otherwise).
PROD = {"ENVIRONMENT_SUFFIX": "prod", "AWS_ACCOUNT_ID": "123456789012",
        "DOMAIN_NAME": "payments.acme-pay.com", "HOSTED_ZONE_ID": "Z0123456789ABCDEFGHIJ",
        "ALARM_EMAIL": "oncall@acme-pay.com",
        "ALARM_HTTPS_ENDPOINTS": "https://events.pagerduty.com/integration/abc123/enqueue"}


_REMOTE = re.compile(r"\$\{data\.terraform_remote_state\.cross-stack-reference-input-"
                     r"([A-Za-z0-9-]+)\.outputs\.([A-Za-z0-9_-]+)\}")


def merged(stacks: dict[str, dict]) -> dict:
    """All platform stacks as one JSON document, for assertions that do not care which stack
    holds a resource (logical ids are unique across stacks; tests/test_stacks.py checks it).

    Cross-stack references (cdktf's remote-state outputs) are resolved to the producer's own
    expression, so `${aws_kms_key.x.arn}` reads the same whichever stack uses the key; the
    per-stack tests (tests/test_stacks.py) check the remote-state wiring itself."""
    view: dict = {"resource": {}, "data": {}, "output": {}, "ephemeral": {}, "provider": {"aws": []}}
    aliases = set()
    for name in PLATFORM_STACKS:
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

    def resolve(match: re.Match) -> str:
        return stacks[match.group(1)]["output"][match.group(2)]["value"]

    return json.loads(_REMOTE.sub(resolve, json.dumps(view)))
