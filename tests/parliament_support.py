"""Every IAM policy document of a synth, as parliament can read it (tests/test_parliament.py).

Terraform tokens are replaced by values of the shape AWS would put there (an ARN of the right
service and resource type, an id of the right form), so parliament's resource-type checks
(RESOURCE_MISMATCH) judge what AWS would see. A trust policy (`assume_role_policy`) has no
Resource element: AWS evaluates it against the role it is attached to, so it is read with
that role's ARN as its Resource.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

ACCOUNT = "123456789012"
REGION = "us-east-1"
KEY_ARN = f"arn:aws:kms:{REGION}:{ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab"

# `<resource type>.<attribute>` (data sources prefixed `data.`) -> a value of AWS's shape.
TOKEN_VALUES = {
    "data.aws_caller_identity.account_id": ACCOUNT,
    "data.aws_partition.partition": "aws",
    "data.aws_region.name": REGION,
    "aws_api_gateway_rest_api.execution_arn": f"arn:aws:execute-api:{REGION}:{ACCOUNT}:a1b2c3d4e5",
    "aws_cloudwatch_log_group.arn": f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:/aws/lambda/example",
    "aws_kms_key.arn": KEY_ARN,
    "aws_s3_bucket.arn": "arn:aws:s3:::example-bucket",
    "aws_sns_topic.arn": f"arn:aws:sns:{REGION}:{ACCOUNT}:example-topic",
    "aws_security_group.id": "sg-0123456789abcdef0",
    "aws_subnet.id": "subnet-0123456789abcdef0",
    "aws_iam_role.arn": f"arn:aws:iam::{ACCOUNT}:role/example-role",
}
_TOKEN = re.compile(r"\$\{(data\.)?([a-z0-9_]+)\.[^.}]+\.([^}]+)\}")


def _value(match: re.Match[str]) -> str:
    data, rtype, attribute = match.groups()
    if rtype == "terraform_remote_state" and attribute.endswith("arn") and "kms_key" in attribute:
        return KEY_ARN      # the foundation stack's keys, read by the regional stacks
    key = f"{data or ''}{rtype}.{attribute}"
    if key not in TOKEN_VALUES:
        raise AssertionError(f"no stand-in value for ${{{key}}}: add one to TOKEN_VALUES")
    return TOKEN_VALUES[key]


def resolve(text: str) -> str:
    return _TOKEN.sub(_value, text)


def _strings(value: Any, path: str) -> Iterator[tuple[str, str]]:
    if isinstance(value, dict):
        for key, item in value.items():
            if key != "//":
                yield from _strings(item, f"{path}.{key}" if path else key)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item, path)
    elif isinstance(value, str) and '"Statement"' in value:
        yield path, value


def policy_documents(stacks: dict[str, dict]) -> Iterator[tuple[str, dict[str, Any]]]:
    """(`<type>.<construct path>:<attribute>`, policy) for every policy document of a synth."""
    for stack_name, stack in stacks.items():
        for rtype, items in stack.get("resource", {}).items():
            for name, body in items.items():
                where = body.get("//", {}).get("metadata", {}).get("path", f"{stack_name}/{name}")
                for attribute, text in _strings(body, ""):
                    document = json.loads(resolve(text))
                    if rtype == "aws_iam_role" and attribute == "assume_role_policy":
                        role = resolve(str(body.get("name", "example-role")))
                        for statement in document["Statement"]:
                            statement.setdefault("Resource", f"arn:aws:iam::{ACCOUNT}:role/{role}")
                    yield f"{rtype}.{where}:{attribute}", document
