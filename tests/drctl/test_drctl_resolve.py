"""DRCTL_RESOLVE (drctl/resolve.py): inert by default; with it, names answer from a table."""

from __future__ import annotations

import http.server
import json
import socket
import threading

import pytest

from drctl import resolve
from drctl.drill.ports import resolve_like_a_client
from drctl.gateways import DnsGateway, HttpGateway


def test_unset_changes_nothing(monkeypatch):
    """Without the override the system resolver answers and URLs are opened as given."""
    monkeypatch.delenv(resolve.ENV, raising=False)
    asked = []

    def getaddrinfo(host, *args, **kwargs):
        asked.append(host)
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("192.0.2.7", 443))]
    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    assert DnsGateway().addresses("payments-dev.example.com") == ["192.0.2.7"]
    assert resolve_like_a_client("payments-dev.example.com") == frozenset({"192.0.2.7"})
    assert asked == ["payments-dev.example.com", "payments-dev.example.com"]
    assert resolve.table() == {}
    assert resolve.rewrite("https://payments-dev.example.com/health") == (
        "https://payments-dev.example.com/health", {})


def test_inline_table_answers_named_hosts_only(monkeypatch):
    monkeypatch.setenv(resolve.ENV, "Payments-Dev.example.com.=http://127.0.0.1:8081, other.example=10.0.0.9")
    monkeypatch.setattr(socket, "getaddrinfo", lambda *a, **k: [(2, 1, 6, "", ("192.0.2.8", 443))])
    assert DnsGateway().addresses("payments-dev.example.com") == ["127.0.0.1:8081"]
    assert DnsGateway().addresses("other.example") == ["10.0.0.9"]
    assert DnsGateway().addresses("untouched.example") == ["192.0.2.8"]
    assert resolve.rewrite("https://payments-dev.example.com/health?x=1") == (
        "http://127.0.0.1:8081/health?x=1", {"Host": "payments-dev.example.com"})


@pytest.mark.parametrize("value", ["nameonly", "=127.0.0.1", "a=", "a=http://:80"])
def test_malformed_entries_are_refused(monkeypatch, value):
    monkeypatch.setenv(resolve.ENV, value)
    with pytest.raises(ValueError, match=resolve.ENV):
        resolve.table()


def test_file_is_read_at_every_lookup(monkeypatch, tmp_path):
    """The twin moves the failover name by rewriting the file: the next lookup sees it."""
    path = tmp_path / "names.json"
    path.write_text(json.dumps({"payments-dev.example.com": "http://127.0.0.1:1001"}))
    monkeypatch.setenv(resolve.ENV, f"@{path}")
    assert DnsGateway().addresses("payments-dev.example.com") == ["127.0.0.1:1001"]
    path.write_text(json.dumps({"payments-dev.example.com": "http://127.0.0.1:1002"}))
    assert resolve_like_a_client("payments-dev.example.com") == frozenset({"127.0.0.1:1002"})


def test_drill_health_fetch_goes_to_the_override_with_the_name_as_host(monkeypatch):
    seen = {}

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            seen["host"], seen["path"] = self.headers["Host"], self.path
            body = json.dumps({"status": "ok", "region": "us-east-2"}).encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        monkeypatch.setenv(resolve.ENV, f"payments-dev.example.com=http://127.0.0.1:{server.server_port}")
        status, doc = HttpGateway().get_json("https://payments-dev.example.com/health")
    finally:
        server.shutdown()
    assert (status, doc) == (200, {"status": "ok", "region": "us-east-2"})
    assert seen == {"host": "payments-dev.example.com", "path": "/health"}
