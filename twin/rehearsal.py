"""`drctl` against the twin, unchanged: the outputs it reads, the endpoint and names it uses.

    with Twin("cdktf.out") as twin:
        rehearsal = Rehearsal(twin).start()
        rehearsal.drctl("status")                       # a subprocess, as an operator runs it

:class:`Rehearsal` adds to a running twin what drctl reads from AWS (SIMULATED, see
docs/twin.md): Aurora's global cluster and roles (:mod:`twin.aurora`), alarm states, health
check status, replicas, replication rules and AWS-published metrics (:mod:`twin.observed`).
It writes the stacks' outputs as ``terraform output -json`` files and a name table for
``DRCTL_RESOLVE`` (rewritten at every step: Route 53's current answer for the failover name),
and runs ``python -m drctl`` with ``DRCTL_OUTPUTS``, ``DRCTL_ENDPOINT_URL`` (the twin's moto)
and fake credentials. Nothing in drctl knows it runs against a twin.

Scheduled functions: when the twin runs EventBridge schedules itself (``twin.schedules``),
they run there; otherwise :func:`run_schedules` invokes heartbeat, probe and reconcile by
hand once per scenario minute (the one function to replace).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from twin.aurora import AuroraModel
from twin.faultproxy import RegionFaultProxy
from twin.observed import Observed
from twin.provision import FAKE_CREDENTIALS

ROOT = Path(__file__).resolve().parents[1]
SCHEDULED = ("heartbeat.lambda_handler", "probe.lambda_handler", "reconcile.lambda_handler")


@dataclass
class DrctlRun:
    t: float  # scenario seconds since the rehearsal started
    argv: list[str]
    exit_code: int
    report: Any  # the --json document (None when stdout was not JSON)
    stderr: str
    seconds: float  # real time it took

    @property
    def command(self) -> str:
        return "drctl " + " ".join(a for a in self.argv if a not in ("--json", "--quiet"))


@dataclass
class Rehearsal:
    twin: Any
    switch_s: float = 2.0
    resync_s: float = 5.0
    detach: bool = False
    runs: list[DrctlRun] = field(default_factory=list)
    schedule_runs: list[tuple[float, str, str, str]] = field(default_factory=list)  # (t, region, fn, outcome)
    workdir: Path | None = None
    aurora: AuroraModel | None = None
    observed: Observed | None = None
    proxy: RegionFaultProxy | None = None
    t0: float = 0.0
    _last_schedule: float | None = None

    def start(self) -> Rehearsal:
        twin = self.twin
        self.workdir = Path(twin.pool.workdir if twin.pool else "build") / "rehearsal"
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.aurora = AuroraModel(twin.endpoint, switch_s=self.switch_s, resync_s=self.resync_s,
                                  detach=self.detach)
        self.aurora.provision(twin.platform)
        twin.aurora = self.aurora
        self.proxy = RegionFaultProxy(twin.endpoint).start()
        self.observed = Observed(twin)
        self.observed.install()
        self._write_outputs()
        twin.evaluate()
        self.t0 = twin.clock.now()
        self.observed.sync()
        self.write_names()
        return self

    # -- files drctl reads --------------------------------------------------------------

    def _write_outputs(self) -> None:
        assert self.workdir is not None
        p, self.outputs = self.twin.platform, []
        for stack, doc in p.stacks.items():
            values = {k: {"value": p.resolve(stack, v["value"])} for k, v in (doc.get("output") or {}).items()
                      if not k.startswith("cross-stack-output")}
            if values:
                path = self.workdir / f"{stack}.outputs.json"
                path.write_text(json.dumps(values, indent=1, default=str))
                self.outputs.append(path)

    @property
    def names_file(self) -> Path:
        assert self.workdir is not None
        return self.workdir / "names.json"

    def write_names(self) -> None:
        """Every served name -> http://127.0.0.1:<port of the region answering it now>."""
        twin = self.twin
        names = {name: f"http://127.0.0.1:{twin.ports[twin.region_for(name)]}" for name in twin.names}
        tmp = self.names_file.with_suffix(".tmp")
        tmp.write_text(json.dumps(names, indent=1))
        tmp.replace(self.names_file)  # atomic: drctl reads it at every lookup

    def environment(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "DRCTL_"))}
        env.update(FAKE_CREDENTIALS)
        endpoint = self.proxy.url if self.proxy else self.twin.endpoint
        env.update({"AWS_DEFAULT_REGION": "us-east-1", "DRCTL_ENDPOINT_URL": endpoint,
                    "DRCTL_OUTPUTS": os.pathsep.join(str(p) for p in self.outputs),
                    "DRCTL_RESOLVE": f"@{self.names_file}", "DRCTL_OPERATOR": "twin-rehearsal",
                    "PYTHONPATH": str(ROOT)})
        return env

    # -- drctl ----------------------------------------------------------------------------

    def drctl(self, *argv: str, timeout: float = 300) -> DrctlRun:
        """`python -m drctl ARGV --json` as a subprocess; its exit code and report recorded."""
        args = [*argv, "--json"]
        started = time.monotonic()
        done = subprocess.run([sys.executable, "-m", "drctl", *args], cwd=ROOT, env=self.environment(),
                              capture_output=True, text=True, timeout=timeout, check=False)
        try:
            report = json.loads(done.stdout) if done.stdout.strip() else None
        except ValueError:
            report = None
        run = DrctlRun(self.now(), args, done.returncode, report, done.stderr, time.monotonic() - started)
        self.runs.append(run)
        return run

    # -- the scenario -------------------------------------------------------------------

    def stop(self) -> None:
        if self.proxy is not None:
            self.proxy.stop()
        if self.aurora is not None:
            from twin.aurora import uninstall
            uninstall(self.aurora)

    def now(self) -> float:
        return float(self.twin.clock.now() - self.t0)

    def step(self, seconds: float, *, step: float = 10.0) -> None:
        """Advance the scenario clock; scheduled functions, alarm states, metrics, names."""
        remaining = seconds
        while remaining > 1e-9:
            chunk = min(step, remaining)
            run_schedules(self)
            self.twin.advance(chunk, step=chunk)
            remaining -= chunk
            assert self.observed is not None
            self.observed.sync()
            self.write_names()

    def outage(self, region: str, kind: str) -> None:
        """`region`'s gateway and AWS APIs (for drctl) break; replication stops (both ways)."""
        assert self.aurora is not None and self.twin.replication is not None and self.proxy is not None
        self.twin.fault(region, kind)
        self.proxy.faults[region] = kind
        self.twin.replication.pause()
        if self.aurora.writer_region() == region:
            self.aurora.pause()

    def restore(self, region: str) -> str | None:
        """`region` answers again: replication resumes; Aurora takes back a cut-off cluster."""
        assert self.aurora is not None and self.twin.replication is not None and self.proxy is not None
        self.twin.fault(region, None)
        self.proxy.faults.pop(region, None)
        self.twin.replication.resume()
        self.aurora.resume()
        return self.aurora.recover(region)


def run_schedules(rehearsal: Rehearsal) -> None:
    """Heartbeat, probe and reconcile in each region once per scenario minute, by hand.

    Replace with the twin's own EventBridge schedules: when the twin has them
    (``twin.schedules``), this does nothing."""
    twin = rehearsal.twin
    if getattr(twin, "schedules", None) is not None or twin.pool is None:
        return
    now = twin.clock.now()
    if rehearsal._last_schedule is not None and now - rehearsal._last_schedule < 60:
        return
    rehearsal._last_schedule = now
    event = {"source": "aws.events", "detail-type": "Scheduled Event", "detail": {},
             "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now))}
    targets = [fn for fn in twin.pool.functions.values() if fn.handler in SCHEDULED]

    def invoke(fn: Any) -> None:
        try:
            outcome = twin.pool.invoke(fn, event)
            text = "ok" if outcome.ok else f"{outcome.function_error}: {str(outcome.payload)[:120]}"
        except Exception as exc:  # recorded, not raised: a schedule does not stop the scenario
            text = f"{type(exc).__name__}: {exc}"
        rehearsal.schedule_runs.append((rehearsal.now(), fn.region, fn.name, text))
    threads = [threading.Thread(target=invoke, args=(fn,), daemon=True) for fn in targets]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
