"""Pytest fixtures for the Lambda tests (helpers live in ``lambda_support``)."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from lambda_support import PRIMARY, REGIONS, create_resources, reset_test_clients, use_region


@pytest.fixture
def aws() -> Iterator[None]:
    """Fresh moto world with the tables and buckets in both regions; process acts as us-east-1."""
    from moto import mock_aws

    reset_test_clients()
    with mock_aws():
        for region in REGIONS:
            create_resources(region)
        use_region(PRIMARY)
        yield
    reset_test_clients()
    use_region(PRIMARY)


