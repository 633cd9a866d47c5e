"""Replication between the regions' tables, buckets and secrets: SIMULATED by the twin.

moto keeps each region's table, bucket and secret apart; AWS's own replication (DynamoDB
global tables, S3 Replication Time Control, Secrets Manager replicas) does not run in it.
The twin stands in for it, from what the JSON declares (table ``replica`` blocks, the
routing stack's ``aws_s3_bucket_replication_configuration`` rules, secret ``replica``
blocks), by polling:

* every ``interval_s`` it reads each replicated store in each region (Scan, ListObjectsV2,
  GetSecretValue) and compares it with what it saw last; a change (new, changed or deleted
  item/object, new secret value) is a write made in that region;
* each write is applied to the other region(s) ``lag_s`` after it was seen, unless
  replication is paused; a later write to the same key supersedes a pending one;
* what it applies it remembers as seen in the destination, so a replica is not sent back.

Tables whose replicas are multi-Region strongly consistent (``consistency_mode = "STRONG"``,
MRSC) are not polled: :class:`StrongReplicas` copies each write into the other regions'
tables inside the moto call that made it (moto runs in the twin's process), so a strongly
consistent read in the other region sees it as soon as the writer has its answer, as in AWS.
Paused, their writes wait (by key) and are copied on resume. Polling an MRSC table would
make the copy's delay grow with the table (a full Scan per region per poll): on a loaded
2-core machine, seconds of real time, a minute of scenario time.

Latency, for the metrics AWS publishes about replication (:mod:`twin.awsmetrics`): each write
remembers the SCENARIO time it was first seen (a later write to the same key keeps it: the
destination has been behind since then). A write that replication held (paused) has waited the
scenario time from then until it is applied; one that was never held took the configured lag
(``lag_s``: real seconds, the scenario's choice). :meth:`Replicator.take_latencies` hands the
applied writes' latencies over, :meth:`Replicator.backlog` what is still pending.

What this is not: AWS's conflict resolution (two regions writing the same key between two
polls: the twin applies both, in the order it saw them), MRSC's witness and its refusal of
writes in a region cut off from the set, DynamoDB streams, S3 replica status, or Aurora
(twin/aurora.py). The lag is the scenario's choice, not a measurement of AWS.
"""

from __future__ import annotations

import base64
import json
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from twin.provision import Inventory, client

KINDS = ("dynamodb", "s3", "secretsmanager")


@dataclass
class _Pending:
    due: float
    kind: str
    name: str  # table, bucket (destination) or secret
    region: str  # destination
    key: Any
    value: Any  # item / (body, content type, metadata) / secret string; None = delete
    source: str = ""  # region the write was made in
    seen_at: float = 0.0  # scenario time the write was first seen (kept when superseded)
    held: bool = False  # replication held it (paused) at least once
    size: int = 0  # bytes (S3 objects)


# (kind, destination table/bucket, source region, destination region)
LatencyKey = tuple[str, str, str, str]


@dataclass
class Replicator:
    endpoint: str
    inventory: Inventory
    lag_s: float = 0.5
    interval_s: float = 0.2
    clock: Any = time.monotonic
    scenario_clock: Any = None  # the twin's ScenarioClock.now (None: the real clock)
    paused: set[str] = field(default_factory=set)
    applied: dict[str, int] = field(default_factory=lambda: dict.fromkeys(KINDS, 0))
    _seen: dict[tuple[str, str, str], dict[Any, Any]] = field(default_factory=dict)
    _pending: dict[tuple[str, str, str, Any], _Pending] = field(default_factory=dict)
    _keys: dict[tuple[str, str], list[str]] = field(default_factory=dict)
    _latencies: dict[LatencyKey, float] = field(default_factory=dict)  # the largest since taken
    _lock: threading.RLock = field(default_factory=threading.RLock)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None
    strong: StrongReplicas | None = None

    # -- control --------------------------------------------------------------------------

    def start(self) -> None:
        if self.inventory.strong_tables:
            self.strong = StrongReplicas(
                {t: self.inventory.table_replicas[t] for t in self.inventory.strong_tables}, self._strong_held,
                self.applied, now=self.scenario_now, lag_s=self.lag_s, record=self.record_latency)
            self.strong.install()
        self.tick()  # the state at start is the baseline, not a write to replicate
        self._thread = threading.Thread(target=self._run, name="twin-replication", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(10)
        if self.strong is not None:
            self.strong.uninstall()

    def pause(self, *kinds: str) -> None:
        """Stop applying writes (all kinds, or the kinds or destination table/bucket/secret
        names given); they stay pending."""
        with self._lock:
            self.paused.update(kinds or KINDS)

    def resume(self, *kinds: str) -> None:
        with self._lock:
            if kinds:
                self.paused.difference_update(kinds)
            else:
                self.paused.clear()
        if self.strong is not None:
            self.strong.flush()

    def pending(self, kind: str | None = None) -> int:
        with self._lock:
            strong = len(self.strong.waiting) if self.strong is not None and kind in (None, "dynamodb") else 0
            return strong + sum(1 for p in self._pending.values() if kind is None or p.kind == kind)

    def wait_caught_up(self, timeout_s: float = 10.0) -> bool:
        """True once a fresh poll finds nothing new and nothing is pending (paused kinds aside)."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            with self._lock:
                self.tick()
                if not any(not self._held(p) for p in self._pending.values()):
                    return True
            time.sleep(min(self.interval_s, 0.05))
        return False

    def scenario_now(self) -> float:
        return float(self.scenario_clock() if self.scenario_clock is not None else self.clock())

    def record_latency(self, key: LatencyKey, seconds: float) -> None:
        with self._lock:
            self._latencies[key] = max(seconds, self._latencies.get(key, 0.0))

    def take_latencies(self) -> dict[LatencyKey, float]:
        """The largest latency of the writes applied since the last call, per destination and
        direction (and forget them)."""
        with self._lock:
            taken = dict(self._latencies)
            self._latencies.clear()
            return taken

    def backlog(self) -> list[tuple[str, str, str, str, float, int]]:
        """What is pending now: (kind, destination name, source region, destination region,
        scenario seconds since first seen if held else the lag, bytes), one row per write."""
        now = self.scenario_now()
        with self._lock:
            rows = [(p.kind, p.name, p.source, p.region,
                     max(self.lag_s, now - p.seen_at) if p.held or self._held(p) else self.lag_s, p.size)
                    for p in self._pending.values()]
            if self.strong is not None:
                rows += [("dynamodb", table, source, dest, max(self.lag_s, now - since), 0)
                         for (table, source, _), (_, since) in self.strong.waiting.items()
                         for dest in self.strong.regions[table] if dest != source]
            return rows

    def _held(self, item: _Pending) -> bool:
        return item.kind in self.paused or item.name in self.paused

    def _strong_held(self, table: str) -> bool:
        return "dynamodb" in self.paused or table in self.paused

    def _run(self) -> None:
        while not self._stop.wait(self.interval_s):
            try:
                self.tick()
            except Exception:  # a scenario that stops moto under us must not kill the thread noisily
                if self._stop.is_set():
                    return

    # -- one poll -------------------------------------------------------------------------

    def tick(self) -> None:
        with self._lock:
            now = self.clock()
            for table, regions in self.inventory.table_replicas.items():
                if self.strong is not None and table in self.strong.regions:
                    continue  # copied synchronously (StrongReplicas)
                for region in regions:
                    self._observe("dynamodb", table, region, self._scan(table, region),
                                  [(r, table) for r in regions if r != region], now)
            for source_region, source, dest_region, dest in self.inventory.bucket_replication:
                self._observe("s3", source, source_region, self._objects(source, source_region),
                              [(dest_region, dest)], now)
            for secret, regions in self.inventory.secret_replicas.items():
                self._observe("secretsmanager", secret, regions[0], self._secret(secret, regions[0]),
                              [(r, secret) for r in regions[1:]], now)
            for pkey, item in sorted(self._pending.items(), key=lambda kv: kv[1].due):
                if self._held(item):
                    item.held = True
                    continue
                if item.due > now:
                    continue
                self._apply(item)
                del self._pending[pkey]
                self.applied[item.kind] += 1
                if item.kind != "secretsmanager":
                    waited = self.scenario_now() - item.seen_at if item.held else 0.0
                    self.record_latency((item.kind, item.name, item.source, item.region),
                                        max(self.lag_s, waited))

    def _observe(self, kind: str, name: str, region: str, current: dict[Any, Any],
                 destinations: list[tuple[str, str]], now: float) -> None:
        seen_key = (kind, region, name)
        first = seen_key not in self._seen
        before = self._seen.get(seen_key, {})
        self._seen[seen_key] = current
        if first:
            return
        changed = [(k, v) for k, v in current.items() if before.get(k) != v]
        changed += [(k, None) for k in before if k not in current]
        seen_at = self.scenario_now()
        for key, fingerprint in changed:
            for dest_region, dest in destinations:
                if self._seen.get((kind, dest_region, dest), {}).get(key) == fingerprint:
                    continue  # the destination has it already (it came from there)
                earlier = self._pending.get((kind, dest_region, dest, key))
                self._pending[(kind, dest_region, dest, key)] = _Pending(
                    now + self.lag_s, kind, dest, dest_region, key,
                    None if fingerprint is None else (region, name), region,
                    earlier.seen_at if earlier is not None else seen_at,
                    earlier.held if earlier is not None else False,
                    fingerprint[1] if kind == "s3" and fingerprint is not None else 0)

    def _apply(self, item: _Pending) -> None:
        dest_seen = self._seen.setdefault((item.kind, item.region, item.name), {})
        if item.kind == "dynamodb":
            ddb = client("dynamodb", item.region, self.endpoint)
            if item.value is None:
                ddb.delete_item(TableName=item.name, Key=self._key_of(item.name, item.region, item.key))
                dest_seen.pop(item.key, None)
                return
            source_region, source = item.value
            current = self._seen.get((item.kind, source_region, source), {}).get(item.key)
            if current is None:
                return
            ddb.put_item(TableName=item.name, Item=_item(current))
            dest_seen[item.key] = current
        elif item.kind == "s3":
            s3 = client("s3", item.region, self.endpoint)
            if item.value is None:
                s3.delete_object(Bucket=item.name, Key=item.key)
                dest_seen.pop(item.key, None)
                return
            source_region, source = item.value
            obj = client("s3", source_region, self.endpoint).get_object(Bucket=source, Key=item.key)
            s3.put_object(Bucket=item.name, Key=item.key, Body=obj["Body"].read(),
                          ContentType=obj.get("ContentType", "binary/octet-stream"), Metadata=obj.get("Metadata", {}))
            dest_seen[item.key] = self._seen[(item.kind, source_region, source)].get(item.key)
        else:
            source_region, source = item.value or ("", "")
            value = self._seen.get((item.kind, source_region, source), {}).get(item.key)
            if value is not None:
                client("secretsmanager", item.region, self.endpoint).put_secret_value(
                    SecretId=item.name, SecretString=value)
                dest_seen[item.key] = value

    # -- reading the stores ---------------------------------------------------------------

    def _key_names(self, table: str, region: str) -> list[str]:
        if (table, region) not in self._keys:
            schema = client("dynamodb", region, self.endpoint).describe_table(TableName=table)["Table"]["KeySchema"]
            self._keys[(table, region)] = [k["AttributeName"] for k in schema]
        return self._keys[(table, region)]

    def _key_of(self, table: str, region: str, key: Any) -> dict[str, Any]:
        return dict(zip(self._key_names(table, region), [dict([pair]) for pair in key], strict=True))

    def _scan(self, table: str, region: str) -> dict[Any, Any]:
        ddb = client("dynamodb", region, self.endpoint)
        names = self._key_names(table, region)
        items: dict[Any, Any] = {}
        kwargs: dict[str, Any] = {"TableName": table}
        while True:
            page = ddb.scan(**kwargs)
            for item in page.get("Items", []):
                key = tuple(next(iter(item[n].items())) for n in names)
                items[key] = _freeze(item)
            if "LastEvaluatedKey" not in page:
                return items
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def _objects(self, bucket: str, region: str) -> dict[Any, Any]:
        s3 = client("s3", region, self.endpoint)
        objects: dict[Any, Any] = {}
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
            for obj in page.get("Contents", []):
                objects[obj["Key"]] = (obj["ETag"], int(obj.get("Size", 0)))
        return objects

    def _secret(self, secret: str, region: str) -> dict[Any, Any]:
        try:
            value = client("secretsmanager", region, self.endpoint).get_secret_value(SecretId=secret)
        except Exception:  # no value yet (created without one): nothing to replicate
            return {}
        return {"SecretString": value.get("SecretString")}


_WRITES = ("put_item", "update_item", "delete_item", "transact_write_items")


class StrongReplicas:
    """MRSC replicas, SIMULATED: each write to a STRONG table is copied to the other regions'
    tables before moto answers the writer (see the module docstring for what is not modelled).

    It wraps the write methods of moto's in-process DynamoDB backends of the regions involved
    (instance attributes, removed by :meth:`uninstall`); copies are made with the unwrapped
    methods, so a copy is not copied back."""

    def __init__(self, regions: dict[str, list[str]], held: Any, applied: dict[str, int],
                 account_id: str | None = None, *, now: Any = time.monotonic, lag_s: float = 0.0,
                 record: Any = None):
        from moto.core.models import DEFAULT_ACCOUNT_ID

        self.regions = regions  # table -> its regions
        self.held = held  # table -> paused?
        self.account_id = account_id or DEFAULT_ACCOUNT_ID
        # (table, source, key) -> (key, scenario time the first waiting write was made)
        self.waiting: dict[tuple[str, str, Any], tuple[dict[str, Any], float]] = {}
        self.applied = applied  # the replicator's counts per kind: copies count as "dynamodb"
        self.now, self.lag_s = now, lag_s
        self.record = record or (lambda key, seconds: None)  # Replicator.record_latency
        self._originals: dict[str, dict[str, Any]] = {}  # region -> method name -> unwrapped
        self._lock = threading.RLock()

    def _backend(self, region: str) -> Any:
        from moto.dynamodb.models import dynamodb_backends

        return dynamodb_backends[self.account_id][region]

    def install(self) -> None:
        for region in sorted({r for regions in self.regions.values() for r in regions}):
            backend = self._backend(region)
            self._originals[region] = {name: getattr(backend, name) for name in _WRITES}
            for name in _WRITES:
                setattr(backend, name, self._wrapped(region, name))

    def uninstall(self) -> None:
        for region, originals in self._originals.items():
            backend = self._backend(region)
            for name in originals:
                backend.__dict__.pop(name, None)
        self._originals.clear()

    def _wrapped(self, region: str, name: str) -> Any:
        original = self._originals[region][name]

        def write(*args: Any, **kwargs: Any) -> Any:
            result = original(*args, **kwargs)
            for table, key in self._keys(region, name, args, kwargs):
                self._written(region, table, key)
            return result
        return write

    def _keys(self, region: str, name: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> list[tuple[str, Any]]:
        """(table name, key in attribute-value form) of each item the call wrote."""
        backend = self._backend(region)
        if name == "transact_write_items":
            ops = [(op.get("TableName"), op.get("Key") or op.get("Item"))
                   for entry in (args[0] if args else kwargs["transact_items"])
                   for kind, op in entry.items() if kind != "ConditionCheck"]
        else:
            ops = [(args[0] if args else kwargs["table_name"],
                    args[1] if len(args) > 1 else kwargs.get("item_attrs", kwargs.get("key")))]
        found = []
        for table_name, attrs in ops:
            table = backend.get_table(table_name)
            if table.name in self.regions and attrs:
                names = [table.hash_key_attr] + ([table.range_key_attr] if table.range_key_attr else [])
                found.append((table.name, {n: attrs[n] for n in names}))
        return found

    def _written(self, region: str, table: str, key: dict[str, Any]) -> None:
        with self._lock:
            if self.held(table):
                marker = (table, region, json.dumps(key, sort_keys=True))
                self.waiting[marker] = (key, self.waiting[marker][1] if marker in self.waiting else self.now())
                return
            self._copy(region, table, key)
            self._record(region, table, self.lag_s)

    def _copy(self, region: str, table: str, key: dict[str, Any]) -> None:
        source = self._backend(region)
        hash_key, range_key = source.get_keys_value(source.get_table(table), key)
        item = source.get_table(table).get_item(hash_key, range_key)
        for dest in self.regions[table]:
            if dest == region:
                continue
            originals = self._originals[dest]
            if item is None:
                originals["delete_item"](table, key)
            else:
                originals["put_item"](table, item.to_json()["Attributes"])
            self.applied["dynamodb"] += 1

    def flush(self) -> None:
        """Resume: copy what was written while paused (the source's current item, by key)."""
        with self._lock:
            for (table, region, marker), (key, since) in list(self.waiting.items()):
                if not self.held(table):
                    del self.waiting[(table, region, marker)]
                    self._copy(region, table, key)
                    self._record(region, table, max(self.lag_s, self.now() - since))

    def _record(self, region: str, table: str, seconds: float) -> None:
        """MRSC's copy is synchronous: the latency is the lag floor, or the time it waited."""
        for dest in self.regions[table]:
            if dest != region:
                self.record(("dynamodb", table, region, dest), seconds)


def _bytes_out(value: Any) -> Any:
    if isinstance(value, (bytes, bytearray)):
        return {"__twin_b64__": base64.b64encode(bytes(value)).decode()}
    raise TypeError(f"not JSON serializable: {type(value).__name__}")


def _bytes_in(doc: dict[str, Any]) -> Any:
    return base64.b64decode(doc["__twin_b64__"]) if set(doc) == {"__twin_b64__"} else doc


def _freeze(item: dict[str, Any]) -> tuple[tuple[str, str], ...]:
    """A hashable, comparable copy of a DynamoDB item (each attribute value as JSON)."""
    return tuple(sorted((k, json.dumps(v, sort_keys=True, default=_bytes_out)) for k, v in item.items()))


def _item(frozen: tuple[tuple[str, str], ...]) -> dict[str, Any]:
    return {k: json.loads(v, object_hook=_bytes_in) for k, v in frozen}
