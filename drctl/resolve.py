"""`DRCTL_RESOLVE`: answer some names from a table instead of DNS (rehearsals on the twin).

Unset or empty (the default, and the only setting for real AWS): nothing changes; names
resolve through the system resolver and HTTPS goes to what it answers.

Set, it names endpoints for hosts, in one of two forms:

* ``name=[scheme://]address[:port],name2=...`` (scheme https unless given), e.g.
  ``payments-dev.example.com=http://127.0.0.1:8443``;
* ``@FILE``: a JSON object ``{"name": "[scheme://]address[:port]", ...}`` read at EVERY lookup,
  so whoever writes it (the twin, as Route 53's answer moves) moves the answer.

An overridden name's DNS answer (the `status` "domain answer" row, drill DNS timings) is
``address:port``, and HTTP(S) requests to it (drill `/health` fetches) go to that endpoint
with the name as the Host header; other names are untouched. The AWS API endpoint is a
separate setting: ``--endpoint-url`` / ``DRCTL_ENDPOINT_URL`` (or boto3's own
``AWS_ENDPOINT_URL``).
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ENV = "DRCTL_RESOLVE"


@dataclass(frozen=True)
class Endpoint:
    scheme: str
    address: str
    port: int | None

    @property
    def answer(self) -> str:
        """What a lookup of the name answers: the address, with the port when one is given."""
        return f"{self.address}:{self.port}" if self.port else self.address


def parse_target(text: str) -> Endpoint:
    parts = urlsplit(text if "://" in text else f"https://{text}")
    if not parts.hostname:
        raise ValueError(f"{ENV}: no address in {text!r}")
    return Endpoint(parts.scheme or "https", parts.hostname, parts.port)


def table(environ: Mapping[str, str] | None = None) -> dict[str, Endpoint]:
    """The overrides in force now (re-read each call: a file may change); {} when unset."""
    value = (os.environ if environ is None else environ).get(ENV, "").strip()
    if not value:
        return {}
    if value.startswith("@"):
        try:
            doc = json.loads(Path(value[1:]).read_text())
        except (OSError, ValueError) as error:
            raise ValueError(f"{ENV}: cannot read {value[1:]}: {error}") from error
        if not isinstance(doc, dict):
            raise ValueError(f"{ENV}: {value[1:]} must hold a JSON object")
        pairs = [(str(k), str(v)) for k, v in doc.items()]
    else:
        pairs = []
        for entry in filter(None, (e.strip() for e in value.split(","))):
            name, sep, target = entry.partition("=")
            if not sep or not name.strip() or not target.strip():
                raise ValueError(f"{ENV}: expected name=address[:port], got {entry!r}")
            pairs.append((name.strip(), target.strip()))
    return {name.rstrip(".").lower(): parse_target(target) for name, target in pairs}


def lookup(host: str, environ: Mapping[str, str] | None = None) -> Endpoint | None:
    return table(environ).get(host.rstrip(".").lower())


def rewrite(url: str, environ: Mapping[str, str] | None = None) -> tuple[str, dict[str, str]]:
    """(url to open, extra headers): the overridden endpoint with the name as Host, or as is."""
    parts = urlsplit(url)
    endpoint = lookup(parts.hostname or "", environ)
    if endpoint is None:
        return url, {}
    netloc = endpoint.answer if endpoint.port else endpoint.address
    return urlunsplit((endpoint.scheme, netloc, parts.path, parts.query, "")), {"Host": parts.netloc}
