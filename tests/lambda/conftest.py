"""Pytest fixtures for the Lambda tests (helpers live in ``lambda_support``)."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from lambda_support import PRIMARY, REGIONS, create_resources, use_region


@pytest.fixture
def aws() -> Iterator[None]:
    """Fresh moto world with the tables and buckets in both regions; process acts as us-east-1.

    The test clients (lambda_support.aws_client) outlive it: a boto3 client holds no AWS state
    (moto's backends are reset by each `mock_aws()`), and building the six of them again cost
    more than the world itself, for every one of ~80 tests."""
    from moto import mock_aws

    with mock_aws():
        for region in REGIONS:
            create_resources(region)
        use_region(PRIMARY)
        yield
    use_region(PRIMARY)


