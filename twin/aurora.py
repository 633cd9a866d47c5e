"""Aurora's global database on the twin: moto's clusters, the twin's ROLE MODEL.

moto 5 creates DB clusters and a global cluster (``create_global_cluster``, members through
``create_db_cluster(GlobalClusterIdentifier=...)``) and answers ``describe_global_clusters``
and ``describe_db_clusters``; it has no ``SwitchoverGlobalCluster`` or
``FailoverGlobalCluster``, no member ``SynchronizationStatus``, no ``FailoverState``, no
unplanned-failover snapshot and no ``AuroraGlobalDBRPOLag``. The twin creates the JSON's
global cluster and regional clusters in moto with their names, and SIMULATES the roles:

* which member writes (``IsWriter``), ``SynchronizationStatus`` (connected / pending-resync);
* ``SwitchoverGlobalCluster``: refused while a member is not connected or an operation is
  under way; ``FailoverState`` switching-over for ``switch_s`` real seconds, then the target
  writes (no data loss: the twin does not run a database, so there is nothing to drain);
* ``FailoverGlobalCluster(AllowDataLoss)``: the target writes after ``switch_s``; the old
  primary is cut off. When its region recovers (:meth:`AuroraModel.recover`), Aurora's
  documented path: a snapshot ``rds:unplanned-global-failover-<cluster>-<time>`` of the old
  primary, then it rejoins as a secondary (pending-resync for ``resync_s``, then connected);
  or, with ``detach=True``, the old primary stays a standalone cluster (detached: what
  ``drctl rejoin`` is for);
* ``AuroraGlobalDBRPOLag`` (ms) of each connected secondary, for :mod:`twin.observed` to
  publish: the scenario's lag while replication runs, growing while it is paused.

Not simulated: a database engine (no rows, so the data that an unplanned failover loses is
the scenario's DynamoDB/S3 writes, not SQL rows), write fencing events, instances, endpoints.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from twin.model import Platform
from twin.provision import client

PASSWORD = "twin-not-a-secret-0"  # the twin's fake master password (moto wants one)


@dataclass
class Member:
    cluster_id: str
    region: str
    arn: str = ""
    sync: str = "connected"  # connected | pending-resync
    attached: bool = True
    cut_off: bool = False  # region unreachable after an unplanned failover away from it


@dataclass
class Operation:
    kind: str  # switchover | failover
    source: str  # cluster ARN
    target: str
    done_at: float  # real monotonic time


@dataclass
class AuroraModel:
    endpoint: str
    global_id: str = ""
    members: dict[str, Member] = field(default_factory=dict)  # cluster id -> member
    writer: str = ""  # cluster id
    operation: Operation | None = None
    switch_s: float = 2.0
    resync_s: float = 5.0
    lag_ms: float = 20.0
    detach: bool = False
    paused_since: float | None = None  # real time when replication to secondaries stopped
    log: list[tuple[float, str]] = field(default_factory=list)  # (real time, what happened)
    _resync_done: dict[str, float] = field(default_factory=dict)
    _lock: threading.RLock = field(default_factory=threading.RLock)

    # -- provisioning --------------------------------------------------------------------

    def provision(self, platform: Platform) -> None:
        """The JSON's global cluster and its regional clusters, created in moto."""
        globals_ = list(platform.resources("aws_rds_global_cluster"))
        if not globals_:
            return
        g = globals_[0]
        self.global_id = str(platform.get(g, "global_cluster_identifier"))
        engine = str(platform.get(g, "engine") or "aurora-postgresql")
        version = str(platform.get(g, "engine_version") or "")
        client("rds", g.region, self.endpoint).create_global_cluster(
            GlobalClusterIdentifier=self.global_id, Engine=engine, EngineVersion=version,
            StorageEncrypted=True)
        platform.record(g, id=self.global_id, global_cluster_identifier=self.global_id)
        clusters = sorted(platform.resources("aws_rds_cluster"),
                          key=lambda r: 0 if platform.get(r, "master_username") else 1)  # the source first
        for res in clusters:
            cid = str(platform.get(res, "cluster_identifier"))
            args: dict[str, Any] = {"DBClusterIdentifier": cid, "Engine": engine, "EngineVersion": version,
                                    "GlobalClusterIdentifier": self.global_id,
                                    "MasterUsername": str(platform.get(res, "master_username") or "twin"),
                                    "MasterUserPassword": PASSWORD}
            if platform.get(res, "database_name"):
                args["DatabaseName"] = str(platform.get(res, "database_name"))
            found = client("rds", res.region, self.endpoint).create_db_cluster(**args)["DBCluster"]
            platform.record(res, arn=found["DBClusterArn"], id=cid, cluster_identifier=cid)
            self.members[cid] = Member(cid, res.region, found["DBClusterArn"])
            if not self.writer:
                self.writer = cid
        install(self)

    # -- what describe_global_clusters answers ------------------------------------------

    def _settle(self) -> None:
        now = time.monotonic()
        op = self.operation
        if op is not None and now >= op.done_at:
            self.writer = self._by_arn(op.target).cluster_id
            self.operation = None
            self.log.append((time.time(), f"{op.kind} complete: writer {self.writer}"))
        for cid, at in list(self._resync_done.items()):
            if now >= at:
                self.members[cid].sync = "connected"
                del self._resync_done[cid]
                self.log.append((time.time(), f"{cid} resynchronised (connected)"))

    def _by_arn(self, arn: str) -> Member:
        for m in self.members.values():
            if arn in (m.arn, m.cluster_id):
                return m
        raise KeyError(arn)

    def describe(self) -> dict[str, Any]:
        with self._lock:
            self._settle()
            members = []
            for m in self.members.values():
                if not m.attached:
                    continue
                entry: dict[str, Any] = {"DBClusterArn": m.arn, "IsWriter": m.cluster_id == self.writer,
                                         "Readers": [], "GlobalWriteForwardingStatus": "disabled"}
                if m.cluster_id != self.writer:
                    entry["SynchronizationStatus"] = m.sync
                members.append(entry)
            doc: dict[str, Any] = {"GlobalClusterIdentifier": self.global_id, "Status": "available",
                                   "Engine": "aurora-postgresql", "GlobalClusterMembers": members}
            if self.operation is not None:
                op = self.operation
                doc["FailoverState"] = {"Status": "switching-over" if op.kind == "switchover" else "failing-over",
                                        "FromDbClusterArn": op.source, "ToDbClusterArn": op.target,
                                        "IsDataLossAllowed": op.kind == "failover"}
            return doc

    # -- the two operations --------------------------------------------------------------

    def switchover(self, target: str) -> dict[str, Any]:
        with self._lock:
            self._settle()
            member = self._by_arn(target)
            if self.operation is not None:
                raise InvalidState(f"an operation is in progress ({self.operation.kind})")
            if member.cluster_id == self.writer:
                raise InvalidState(f"{member.cluster_id} is already the writer")
            if not member.attached or member.sync != "connected":
                state = member.sync if member.attached else "detached"
                raise InvalidState(f"{member.cluster_id} is {state}: a switchover needs every "
                                   "secondary connected")
            if member.cut_off:
                raise InvalidState(f"{member.cluster_id}'s region is unreachable")
            if self.members[self.writer].cut_off:
                raise InvalidState("the writer's region is unreachable: use FailoverGlobalCluster")
            self.operation = Operation("switchover", self.members[self.writer].arn, member.arn,
                                       time.monotonic() + self.switch_s)
            self.log.append((time.time(), f"switchover requested to {member.cluster_id}"))
        return self.describe()

    def failover(self, target: str, allow_data_loss: bool) -> dict[str, Any]:
        with self._lock:
            self._settle()
            member = self._by_arn(target)
            if not allow_data_loss:  # the managed (no data loss) form is a switchover here
                return self.switchover(target)
            if member.cluster_id == self.writer:
                raise InvalidState(f"{member.cluster_id} is already the writer")
            old = self.members[self.writer]
            old.cut_off = True  # its region is assumed down: it learns of the failover on recovery
            self.operation = Operation("failover", old.arn, member.arn, time.monotonic() + self.switch_s)
            self.log.append((time.time(), f"unplanned failover requested to {member.cluster_id}; "
                                          f"{old.cluster_id} cut off"))
        return self.describe()

    def recover(self, region: str) -> str | None:
        """`region` answers again: a cut-off old primary is snapshotted, then rejoins
        (pending-resync, then connected) or, with `detach`, is left standalone. Returns the
        snapshot identifier taken, if any."""
        with self._lock:
            self._settle()
            for m in self.members.values():
                if m.region != region or not m.cut_off:
                    continue
                m.cut_off = False
                stamp = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d-%H-%M")
                snapshot = f"rds:unplanned-global-failover-{m.cluster_id}-{stamp}"
                _create_snapshot(m.region, m.cluster_id, snapshot)
                if self.detach:
                    m.attached = False
                    _detach_in_moto(m.region, m.cluster_id)
                    self.log.append((time.time(), f"{m.cluster_id} recovered DETACHED; snapshot {snapshot}"))
                else:
                    m.sync = "pending-resync"
                    self._resync_done[m.cluster_id] = time.monotonic() + self.resync_s
                    self.log.append((time.time(), f"{m.cluster_id} rejoins (pending-resync); snapshot {snapshot}"))
                return snapshot
        return None

    def pause(self) -> None:
        with self._lock:
            self.paused_since = self.paused_since or time.time()

    def resume(self) -> None:
        with self._lock:
            self.paused_since = None

    def rpo_lag_ms(self) -> dict[tuple[str, str], float]:
        """(region, cluster id) -> AuroraGlobalDBRPOLag of each connected secondary."""
        with self._lock:
            self._settle()
            lag = self.lag_ms + (1000 * (time.time() - self.paused_since) if self.paused_since else 0.0)
            return {(m.region, m.cluster_id): lag for m in self.members.values()
                    if m.attached and m.cluster_id != self.writer and m.sync == "connected"
                    and not m.cut_off and not self.members[self.writer].cut_off}

    def writer_region(self) -> str:
        with self._lock:
            self._settle()
            return self.members[self.writer].region


class InvalidState(Exception):
    pass


def _create_snapshot(region: str, cluster_id: str, snapshot_id: str) -> None:
    """An automated snapshot named as Aurora names it (moto's API rejects the colon)."""
    from moto.core.models import DEFAULT_ACCOUNT_ID
    from moto.rds.models import DBClusterSnapshot, rds_backends

    backend = rds_backends[DEFAULT_ACCOUNT_ID][region]
    cluster = backend.clusters[cluster_id]
    backend.cluster_snapshots[snapshot_id] = DBClusterSnapshot(backend, cluster, snapshot_id, "automated")


def _detach_in_moto(region: str, cluster_id: str) -> None:
    from moto.core.models import DEFAULT_ACCOUNT_ID
    from moto.rds.models import rds_backends

    backend = rds_backends[DEFAULT_ACCOUNT_ID][region]
    cluster = backend.clusters[cluster_id]
    for regional in rds_backends[DEFAULT_ACCOUNT_ID].values():
        for g in regional.global_clusters.values():
            if cluster in g.members:
                g.members.remove(cluster)
    cluster.global_cluster_identifier = None


# -- moto's RDS API, answered from the model ----------------------------------------------

_MODEL: dict[str, AuroraModel] = {}  # global cluster id -> model (one twin at a time in practice)


def install(model: AuroraModel) -> None:
    """Route describe_global_clusters / switchover / failover to the model (moto in-process)."""
    from moto.core.responses import ActionResult
    from moto.rds.exceptions import RDSClientError
    from moto.rds.responses import RDSResponse

    _MODEL[model.global_id] = model
    if getattr(RDSResponse, "_twin_aurora", False):
        return
    original_describe = RDSResponse.describe_global_clusters

    def lookup(self: Any) -> AuroraModel:
        ident = str(self.params.get("GlobalClusterIdentifier", "")).rsplit(":", 1)[-1]
        if ident not in _MODEL:
            raise RDSClientError("GlobalClusterNotFoundFault", f"GlobalCluster {ident} not found.")
        return _MODEL[ident]

    def describe_global_clusters(self: Any) -> Any:
        ident = self.params.get("GlobalClusterIdentifier")
        if not _MODEL:
            return original_describe(self)
        models = [lookup(self)] if ident else list(_MODEL.values())
        return ActionResult({"GlobalClusters": [m.describe() for m in models]})

    def switchover_global_cluster(self: Any) -> Any:
        try:
            doc = lookup(self).switchover(str(self.params["TargetDbClusterIdentifier"]))
        except (InvalidState, KeyError) as exc:
            raise RDSClientError("InvalidGlobalClusterStateFault", str(exc)) from exc
        return ActionResult({"GlobalCluster": doc})

    def failover_global_cluster(self: Any) -> Any:
        allow = str(self.params.get("AllowDataLoss", "false")).lower() == "true"
        try:
            doc = lookup(self).failover(str(self.params["TargetDbClusterIdentifier"]), allow)
        except (InvalidState, KeyError) as exc:
            raise RDSClientError("InvalidGlobalClusterStateFault", str(exc)) from exc
        return ActionResult({"GlobalCluster": doc})

    RDSResponse.describe_global_clusters = describe_global_clusters  # type: ignore[method-assign]
    RDSResponse.switchover_global_cluster = switchover_global_cluster  # type: ignore[attr-defined]
    RDSResponse.failover_global_cluster = failover_global_cluster  # type: ignore[attr-defined]
    RDSResponse._twin_aurora = True  # type: ignore[attr-defined]


def uninstall(model: AuroraModel) -> None:
    _MODEL.pop(model.global_id, None)
