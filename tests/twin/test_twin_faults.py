"""Region faults on the twin's API Gateway (twin/apigw.py set_fault), over HTTP on 127.0.0.1 with
stub functions: hang, refuse, 5xx, and the restore. No processes, no moto: runs in `make test`."""

from __future__ import annotations

import http.client

import pytest
from test_twin_gateway import OK, _gateway, platform  # noqa: F401 - the module's platform fixture


def _get(port: int, host: str, timeout: float = 2.0) -> int:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("GET", "/health", headers={"Host": host})
        return conn.getresponse().status
    finally:
        conn.close()


def test_hang_refuse_5xx_and_restore(platform):  # noqa: F811
    gateway, pool, host = _gateway(platform, health=OK)
    port = gateway.serve()
    try:
        assert _get(port, host) == 200
        gateway.set_fault("hang")
        with pytest.raises(TimeoutError):
            _get(port, host, timeout=0.5)
        gateway.set_fault("refuse")
        with pytest.raises(ConnectionRefusedError):
            _get(port, host)
        gateway.set_fault("5xx")
        assert _get(port, host) == 503
        gateway.set_fault(None)
        assert _get(port, host) == 200
        assert len(pool.calls) == 2  # the faulted requests never reached the function
        with pytest.raises(ValueError):
            gateway.set_fault("flood")
    finally:
        gateway.stop()
