"""Fixtures for drctl tests: an in-memory DR world (fakes) and a moto server on 127.0.0.1."""

from __future__ import annotations

import io
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from drctl_fakes import FakeGateways, World, config

from drctl.log import EventLog


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


@pytest.fixture
def aws_session(monkeypatch):
    import boto3
    for var in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(var, raising=False)
    return boto3.Session(aws_access_key_id="testing", aws_secret_access_key="testing",
                         region_name="us-east-1")


class HangingServer:
    """127.0.0.1 TCP server that accepts connections and never answers: a region that is
    'up' at the network level but whose endpoints hang (the worst case for timeouts)."""

    def __init__(self) -> None:
        import socket
        import threading
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.accepted: list = []
        self._stop = False
        threading.Thread(target=self._serve, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.sock.getsockname()[1]}"

    def _serve(self) -> None:
        while not self._stop:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.accepted.append(conn)

    def close(self) -> None:
        self._stop = True
        for conn in self.accepted:
            conn.close()
        self.sock.close()


@pytest.fixture
def hanging_server():
    server = HangingServer()
    yield server
    server.close()
