"""Replication between the regions' tables, buckets and secrets: SIMULATED by the twin.

moto keeps each region's table, bucket and secret apart; AWS's own replication (DynamoDB
global tables, S3 Replication Time Control, Secrets Manager replicas) does not run in it.
The twin stands in for it, from what the JSON declares (table ``replica`` blocks, the
routing stack's ``aws_s3_bucket_replication_configuration`` rules, secret ``replica``
blocks):

* **From the write itself** (tables and buckets): :class:`TableWrites` and :class:`ObjectWrites`
  wrap the write methods of moto's in-process DynamoDB and S3 backends (moto runs in the
  twin's process), as DynamoDB Streams and S3's replication feed do on AWS. A write to a
  replicated table (PutItem, UpdateItem, DeleteItem, BatchWriteItem, TransactWriteItems) or to
  a bucket with a replication rule (PutObject, CopyObject, multipart completion, a delete that
  leaves a delete marker: the rules replicate delete markers, not version deletes) is queued
  for the other region(s), keyed by table/bucket and key: a later write to the same key
  supersedes a queued one and keeps its due time (the copy reads the current value; a key
  written more often than the lag must not wait for ever).
* **By polling** (secrets only: a handful, rarely written): every ``interval_s`` the primary
  copy's value is read and compared with the last one seen.
* Each queued write is applied ``lag_s`` (real seconds, the scenario's choice) after it was
  made, unless replication is paused; it copies the source's *current* item/object (a
  deleted one is deleted). The copy is made with the unwrapped backend methods (tables) or
  marked as the twin's own (objects), so a replica is not sent back.
* Conflicts: the last write the twin saw wins (a queued copy is dropped when the destination
  was written after it). Not AWS's per-item timestamps, but it converges the same way.

Tables whose replicas are multi-Region strongly consistent (``consistency_mode = "STRONG"``,
MRSC) are copied synchronously instead: each write to the other regions' tables inside the
moto call that made it, so a strongly consistent read in the other region sees it as soon as
the writer has its answer, as in AWS. Paused, their writes wait (by key) and are copied on resume.

Why from the write and not by polling: an earlier twin polled every store (a full Scan of each
table and a listing of each bucket, per region, every 0.2 s). The work grew with every payment:
in the load check at 10 payments/s it was 12 % of the twin process's CPU (py-spy), plus the
serializing of those Scan answers, on a process that moto, both gateways and the sender share.

Latency, for the metrics AWS publishes about replication (:mod:`twin.awsmetrics`): each write
remembers the SCENARIO time it was made (a later write to the same key keeps it: the
destination has been behind since then). A write that replication held (paused) has waited the
scenario time from then until it is applied; one that was never held took the configured lag.
:meth:`Replicator.take_latencies` hands the applied writes' latencies over,
:meth:`Replicator.backlog` what is still pending.

What this is not: AWS's conflict resolution (per-item timestamps), MRSC's witness and its
refusal of writes in a region cut off from the set, DynamoDB streams as a consumer sees them,
S3 replica status, or Aurora (twin/aurora.py). The lag is the scenario's choice, not a
measurement of AWS.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from itertools import count
from typing import Any

from twin.provision import Inventory, client

KINDS = ("dynamodb", "s3", "secretsmanager")
_S3_SETTLE_S = 0.05  # moto's S3 handler sets an object's metadata after PutObject returns


@dataclass
class _Pending:
    due: float
    kind: str
    name: str  # table, bucket (destination) or secret
    region: str  # destination
    key: Any  # item key (attribute-value form), object key, or "SecretString"
    source: str  # region the write was made in
    source_name: str  # table, bucket or secret written there
    seq: int  # order of the write among all writes the twin saw
    seen_at: float = 0.0  # scenario time the write was made (kept when superseded)
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
    _pending: dict[tuple[str, str, str, str], _Pending] = field(default_factory=dict)
    _written: dict[tuple[str, str, str], int] = field(default_factory=dict)  # (kind, name, key) -> seq
    _secrets: dict[str, Any] = field(default_factory=dict)  # secret -> primary value last seen
    _latencies: dict[LatencyKey, float] = field(default_factory=dict)  # the largest since taken
    _inflight: int = 0
    _seq: Any = field(default_factory=count)
    _lock: threading.RLock = field(default_factory=threading.RLock)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None
    tables: TableWrites | None = None  # the table hooks (STRONG tables copied synchronously)
    objects: ObjectWrites | None = None

    # -- control --------------------------------------------------------------------------

    def start(self) -> None:
        if self.inventory.table_replicas:
            self.tables = TableWrites(
                dict(self.inventory.table_replicas), set(self.inventory.strong_tables), self._strong_held,
                self.applied, now=self.scenario_now, lag_s=self.lag_s, record=self.record_latency,
                on_eventual=self._table_written)
            self.tables.install()
        routes: dict[str, list[tuple[str, str, str]]] = {}
        for source_region, source, dest_region, dest in self.inventory.bucket_replication:
            routes.setdefault(source, []).append((source_region, dest_region, dest))
        if routes:
            self.objects = ObjectWrites(routes, self._object_written)
            self.objects.install()
        self._poll_secrets(baseline=True)  # the values at start are the baseline, not writes
        self._thread = threading.Thread(target=self._run, name="twin-replication", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(10)
        for hooks in (self.tables, self.objects):
            if hooks is not None:
                hooks.uninstall()

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
        if self.tables is not None:
            self.tables.flush()

    def pending(self, kind: str | None = None) -> int:
        with self._lock:
            strong = len(self.tables.waiting) if self.tables is not None and kind in (None, "dynamodb") else 0
            return strong + sum(1 for p in self._pending.values() if kind is None or p.kind == kind)

    def wait_caught_up(self, timeout_s: float = 10.0) -> bool:
        """True once nothing is pending or being applied (paused kinds aside)."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            self.tick()
            with self._lock:
                if not self._inflight and not any(not self._held(p) for p in self._pending.values()):
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
        scenario seconds since the write if held else the lag, bytes), one row per write."""
        now = self.scenario_now()
        with self._lock:
            rows = [(p.kind, p.name, p.source, p.region,
                     max(self.lag_s, now - p.seen_at) if p.held or self._held(p) else self.lag_s, p.size)
                    for p in self._pending.values()]
            if self.tables is not None:
                rows += [("dynamodb", table, source, dest, max(self.lag_s, now - since), 0)
                         for (table, source, _), (_, since) in self.tables.waiting.items()
                         for dest in self.tables.regions[table] if dest != source]
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

    # -- writes, as they are made ---------------------------------------------------------

    def _queue(self, kind: str, source_region: str, source: str, key: Any, marker: str,
               destinations: list[tuple[str, str]], size: int = 0, settle_s: float = 0.0) -> None:
        """One write in `source_region` to `source`, to be copied to each destination."""
        with self._lock:
            seq = next(self._seq)
            self._written[(kind, source, marker)] = seq
            now, seen_at = self.clock(), self.scenario_now()
            for dest_region, dest in destinations:
                pkey = (kind, dest_region, dest, marker)
                earlier = self._pending.get(pkey)
                # a later write rides with the queued one (its copy reads the current value):
                # re-timing it would starve a key written more often than the lag
                due = earlier.due if earlier is not None else now + max(self.lag_s, settle_s)
                self._pending[pkey] = _Pending(
                    due, kind, dest, dest_region, key, source_region, source, seq,
                    earlier.seen_at if earlier is not None else seen_at,
                    earlier.held if earlier is not None else False, size)

    def _table_written(self, region: str, table: str, key: dict[str, Any]) -> None:
        self._queue("dynamodb", region, table, key, json.dumps(key, sort_keys=True),
                    [(r, table) for r in self.inventory.table_replicas[table] if r != region])

    def _object_written(self, region: str, bucket: str, key: str, size: int,
                        destinations: list[tuple[str, str]]) -> None:
        self._queue("s3", region, bucket, key, key, destinations, size, _S3_SETTLE_S)

    def _poll_secrets(self, baseline: bool = False) -> None:
        for secret, regions in self.inventory.secret_replicas.items():
            value = self._secret(secret, regions[0])
            with self._lock:
                changed = self._secrets.get(secret) != value
                self._secrets[secret] = value
            if changed and not baseline and value is not None:
                self._queue("secretsmanager", regions[0], secret, "SecretString", "SecretString",
                            [(r, secret) for r in regions[1:]])

    # -- one round ------------------------------------------------------------------------

    def tick(self) -> None:
        """Poll the secrets, then apply what is due (outside the lock: a copy is a moto call,
        and the writes being made meanwhile must not wait for it)."""
        self._poll_secrets()
        with self._lock:
            now = self.clock()
            due = []
            for pkey, item in sorted(self._pending.items(), key=lambda kv: kv[1].due):
                if self._held(item):
                    item.held = True
                elif item.due <= now:
                    due.append(item)
                    del self._pending[pkey]
            self._inflight += len(due)
        for item in due:
            try:
                with self._lock:  # the destination's own later write wins
                    later = self._written.get((item.kind, item.name, self._marker(item)), -1) > item.seq
                if not later:
                    self._apply(item)
                    with self._lock:
                        self.applied[item.kind] += 1
                if item.kind != "secretsmanager":
                    waited = self.scenario_now() - item.seen_at if item.held else 0.0
                    self.record_latency((item.kind, item.name, item.source, item.region), max(self.lag_s, waited))
            finally:
                with self._lock:
                    self._inflight -= 1

    @staticmethod
    def _marker(item: _Pending) -> str:
        return json.dumps(item.key, sort_keys=True) if item.kind == "dynamodb" else str(item.key)

    def _apply(self, item: _Pending) -> None:
        if item.kind == "dynamodb":
            assert self.tables is not None
            self.tables.copy(item.source, item.name, item.key, [item.region])
        elif item.kind == "s3":
            assert self.objects is not None
            source = client("s3", item.source, self.endpoint)
            dest = client("s3", item.region, self.endpoint)
            with self.objects.own(item.name, item.key):
                try:
                    obj = source.get_object(Bucket=item.source_name, Key=item.key)
                except source.exceptions.NoSuchKey:  # deleted (a delete marker) since: replicate that
                    dest.delete_object(Bucket=item.name, Key=item.key)
                    return
                dest.put_object(Bucket=item.name, Key=item.key, Body=obj["Body"].read(),
                                ContentType=obj.get("ContentType", "binary/octet-stream"),
                                Metadata=obj.get("Metadata", {}))
        else:
            value = self._secret(item.source_name, item.source)
            if value is not None:
                client("secretsmanager", item.region, self.endpoint).put_secret_value(
                    SecretId=item.name, SecretString=value)

    def _secret(self, secret: str, region: str) -> str | None:
        try:
            value = client("secretsmanager", region, self.endpoint).get_secret_value(SecretId=secret)
        except Exception:  # no value yet (created without one): nothing to replicate
            return None
        found: str | None = value.get("SecretString")
        return found


_WRITES = ("put_item", "update_item", "delete_item", "transact_write_items")


class TableWrites:
    """The replicated tables' writes, as moto makes them (see the module docstring): a write to
    a STRONG (MRSC) table is copied to the other regions before moto answers the writer; a write
    to any other replicated table is handed to `on_eventual` (the replicator's queue).

    It wraps the write methods of moto's in-process DynamoDB backends of the regions involved
    (instance attributes, removed by :meth:`uninstall`); copies are made with the unwrapped
    methods, so a copy is not copied back."""

    def __init__(self, regions: dict[str, list[str]], strong: set[str], held: Any, applied: dict[str, int],
                 account_id: str | None = None, *, now: Any = time.monotonic, lag_s: float = 0.0,
                 record: Any = None, on_eventual: Any = None):
        from moto.core.models import DEFAULT_ACCOUNT_ID

        self.regions = regions  # table -> its regions
        self.strong = strong  # the MRSC tables among them
        self.held = held  # table -> paused?
        self.account_id = account_id or DEFAULT_ACCOUNT_ID
        # (table, source, key) -> (key, scenario time the first waiting write was made)
        self.waiting: dict[tuple[str, str, Any], tuple[dict[str, Any], float]] = {}
        self.applied = applied  # the replicator's counts per kind: copies count as "dynamodb"
        self.now, self.lag_s = now, lag_s
        self.record = record or (lambda key, seconds: None)  # Replicator.record_latency
        self.on_eventual = on_eventual or (lambda region, table, key: None)
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
                if table in self.strong:
                    self._written(region, table, key)
                else:
                    self.on_eventual(region, table, key)
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
            self.copy(region, table, key)
            self._record(region, table, self.lag_s)

    def copy(self, region: str, table: str, key: dict[str, Any], destinations: list[str] | None = None) -> None:
        """Copy the source's current item (or its absence) to the destinations (default: every
        other region of the table), with the unwrapped methods."""
        source = self._backend(region)
        hash_key, range_key = source.get_keys_value(source.get_table(table), key)
        item = source.get_table(table).get_item(hash_key, range_key)
        for dest in destinations if destinations is not None else self.regions[table]:
            if dest == region:
                continue
            originals = self._originals[dest]
            if item is None:
                originals["delete_item"](table, key)
            else:
                originals["put_item"](table, item.to_json()["Attributes"])
            if table in self.strong:
                self.applied["dynamodb"] += 1

    def flush(self) -> None:
        """Resume: copy what was written while paused (the source's current item, by key)."""
        with self._lock:
            for (table, region, marker), (key, since) in list(self.waiting.items()):
                if not self.held(table):
                    del self.waiting[(table, region, marker)]
                    self.copy(region, table, key)
                    self._record(region, table, max(self.lag_s, self.now() - since))

    def _record(self, region: str, table: str, seconds: float) -> None:
        """MRSC's copy is synchronous: the latency is the lag floor, or the time it waited."""
        for dest in self.regions[table]:
            if dest != region:
                self.record(("dynamodb", table, region, dest), seconds)


class ObjectWrites:
    """The replicated buckets' writes, as moto makes them: PutObject (which CopyObject and
    multipart completion go through) and DeleteObject without a version (a delete marker:
    the rules replicate those; a version's deletion is not replicated, as on AWS). Objects the
    replicator itself writes (:meth:`own`) are replicas and are not sent back."""

    def __init__(self, routes: dict[str, list[tuple[str, str, str]]], on_write: Any,
                 account_id: str | None = None):
        from moto.core.models import DEFAULT_ACCOUNT_ID

        self.routes = routes  # source bucket -> [(its region, destination region, destination bucket)]
        self.on_write = on_write  # (region, bucket, key, size, [(dest region, dest bucket)])
        self.account_id = account_id or DEFAULT_ACCOUNT_ID
        self._own: set[tuple[str, str]] = set()
        self._originals: dict[str, Any] = {}

    def _backend(self) -> Any:
        from moto.s3.models import s3_backends

        return s3_backends[self.account_id]["aws"]

    def install(self) -> None:
        backend = self._backend()
        self._originals = {name: getattr(backend, name) for name in ("put_object", "delete_object")}
        put, delete = self._originals["put_object"], self._originals["delete_object"]

        def put_object(bucket_name: str, key_name: str, *args: Any, **kwargs: Any) -> Any:
            key = put(bucket_name, key_name, *args, **kwargs)
            self._written(bucket_name, key_name, int(getattr(key, "size", 0) or 0))
            return key

        def delete_object(bucket_name: str, key_name: str, version_id: str | None = None,
                          *args: Any, **kwargs: Any) -> Any:
            result = delete(bucket_name, key_name, version_id, *args, **kwargs)
            if version_id is None:
                self._written(bucket_name, key_name, 0)
            return result

        backend.put_object, backend.delete_object = put_object, delete_object

    def uninstall(self) -> None:
        backend = self._backend()
        for name in self._originals:
            backend.__dict__.pop(name, None)
        self._originals = {}

    def own(self, bucket: str, key: str) -> Any:
        """A context in which writes to bucket/key are the replicator's (replicas)."""
        writes = self

        class _Own:
            def __enter__(self) -> None:
                writes._own.add((bucket, key))

            def __exit__(self, *exc: Any) -> None:
                writes._own.discard((bucket, key))
        return _Own()

    def _written(self, bucket: str, key: str, size: int) -> None:
        routes = self.routes.get(bucket)
        if not routes or (bucket, key) in self._own:
            return
        region = routes[0][0]
        self.on_write(region, bucket, key, size, [(dest_region, dest) for _, dest_region, dest in routes])
