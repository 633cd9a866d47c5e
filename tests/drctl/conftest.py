"""Fixtures for drctl tests: an in-memory DR world (fakes) and a moto server on 127.0.0.1."""

from __future__ import annotations

import io
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from drctl_fakes import FakeGateways, World, config  # noqa: E402

from drctl.log import EventLog  # noqa: E402


@pytest.fixture
def world() -> World:
    return World()


@pytest.fixture
def gw(world) -> FakeGateways:
    return FakeGateways(world)


@pytest.fixture
def cfg():
    return config()


@pytest.fixture
def log(world) -> EventLog:
    return EventLog(io.StringIO(), world.clock, command="test")


@pytest.fixture(scope="session")
def moto_server():
    from moto.server import ThreadedMotoServer
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def moto_url(moto_server):
    """A clean moto state per test."""
    import requests
    requests.post(f"{moto_server}/moto-api/reset", timeout=5)
    return moto_server


@pytest.fixture
def aws_session(monkeypatch):
    import boto3
    for var in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(var, raising=False)
    return boto3.Session(aws_access_key_id="testing", aws_secret_access_key="testing",
                         region_name="us-east-1")
