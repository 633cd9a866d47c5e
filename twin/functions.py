"""Every aws_lambda_function of the JSON, run from its synthesized package.

* Package: the zip the JSON deploys. A function names it by ``filename``, or by
  ``s3_bucket``/``s3_key``; those lead (through an ``aws_signer_signing_job`` when the code is
  signed) to the ``aws_s3_object`` that uploads a local asset (``source``, relative to the
  stack's folder). The twin unzips that asset; code signing itself is not simulated.
* Environment: the JSON's ``environment.variables`` (references resolved), plus what Lambda
  sets itself (AWS_REGION, AWS_LAMBDA_FUNCTION_NAME, ..._MEMORY_SIZE, ...), fake credentials
  and AWS_ENDPOINT_URL = the twin's moto server. Differences from Lambda: the interpreter is
  the twin's Python (not the JSON's runtime), memory is not limited, X-Ray is off
  (POWERTOOLS_TRACE_DISABLED), and the runtime's own boto3 is this machine's.
* Execution: one worker process per execution environment (:mod:`twin.worker`), one
  invocation at a time each; a busy function starts another (a cold start), up to its
  reserved concurrency (or :data:`DEFAULT_CONCURRENCY`), then throttles.
* Timeout: the JSON's ``timeout`` (default 3 s). Past it the worker is killed and the caller
  gets Lambda's answer (``Sandbox.Timedout``, "Task timed out after N seconds"); the next
  invocation starts a fresh environment.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import secrets
import subprocess
import sys
import tempfile
import threading
import time
import uuid
import zipfile
from dataclasses import dataclass, field
from multiprocessing.connection import Connection, Listener
from pathlib import Path
from typing import Any

from contract import ENV_REGION_ROLE
from twin.model import Platform, Resource
from twin.provision import FAKE_CREDENTIALS

DEFAULT_TIMEOUT_S = 3
DEFAULT_CONCURRENCY = 4
START_TIMEOUT_S = 60.0  # a cold start on a loaded machine; Lambda's own init limit is 10 s
RUNTIME_LIBRARIES = ("boto3", "botocore", "s3transfer", "jmespath", "dateutil", "urllib3", "six")
_WORKER = Path(__file__).with_name("worker.py")
_REFERENCE = re.compile(r"\$\{(aws_[a-z0-9_]+)\.([^.}]+)\.")


@dataclass
class Outcome:
    """What Lambda's Invoke API answers: the payload, and FunctionError when it is an error."""

    payload: Any
    function_error: str | None = None  # "Unhandled" for errors and timeouts
    duration_s: float = 0.0
    cold_start: bool = False

    @property
    def ok(self) -> bool:
        return self.function_error is None


class CallerTimeout(TimeoutError):
    """The caller's own deadline (API Gateway's integration timeout) passed first."""


class Throttled(RuntimeError):
    """Every execution environment is busy and the concurrency limit is reached (429).

    The message says what the busy executions were doing (the load check reports it as the
    cause of the gateway's 500): how many were still in their init phase (a cold start) and
    how long the oldest had been running."""


@dataclass
class _Worker:
    process: subprocess.Popen[bytes]
    conn: Connection
    init_error: dict[str, Any] | None


@dataclass
class Function:
    name: str
    region: str
    role: str
    handler: str
    timeout_s: float
    memory_mb: int
    code_dir: Path
    environment: dict[str, str]
    log_path: Path
    concurrency: int
    _idle: list[_Worker] = field(default_factory=list)
    _busy: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)
    invocations: int = 0
    pids: list[int] = field(default_factory=list)  # every execution environment's process, ever
    throttles: int = 0
    cold_starts: int = 0
    init_seconds: list[float] = field(default_factory=list)  # each cold start's init phase
    # In-flight invocations: token -> when it was accepted; and, once its init is done (at
    # once for a warm environment), token -> when its handler was called (monotonic).
    _inflight: dict[int, float] = field(default_factory=dict)
    _running: dict[int, float] = field(default_factory=dict)
    _tokens: int = 0

    def busy_snapshot(self, now: float) -> str:
        """What the busy executions are doing (call with `_lock` held)."""
        starting = [now - at for token, at in self._inflight.items() if token not in self._running]
        running = [now - at for at in self._running.values()]
        parts = [f"{self._busy} of {self.concurrency} concurrent executions busy"]
        if starting:
            parts.append(f"{len(starting)} in their init (cold start, longest {max(starting):.1f} s)")
        if running:
            parts.append(f"{len(running)} running (longest {max(running):.1f} s, "
                         f"median {sorted(running)[len(running) // 2]:.1f} s)")
        return ", ".join(parts)

    @property
    def arn(self) -> str:
        return f"arn:aws:lambda:{self.region}:{self.environment['TWIN_ACCOUNT_ID']}:function:{self.name}"


class FunctionPool:
    """The functions of every region, by (region, function name)."""

    def __init__(self, platform: Platform, endpoint: str, workdir: Path):
        self.platform = platform
        self.endpoint = endpoint
        self.workdir = workdir
        self._authkey = secrets.token_bytes(16)
        self._listener = Listener(str(workdir / "workers.sock"), family="AF_UNIX", authkey=self._authkey)
        self._accept_lock = threading.Lock()
        self._runtime_path = self._runtime_libraries()
        self.hosts_file = workdir / "hosts.json"  # the twin's names -> ports (twin/worker.py)
        self.functions: dict[tuple[str, str], Function] = {}
        for res in platform.resources("aws_lambda_function"):
            fn = self._function(res)
            self.functions[(fn.region, fn.name)] = fn

    # -- setup ----------------------------------------------------------------------------

    def _runtime_libraries(self) -> Path:
        """A folder holding only the libraries the Lambda Python runtime ships (symlinks)."""
        import importlib.util

        folder = self.workdir / "runtime"
        folder.mkdir()
        for name in RUNTIME_LIBRARIES:
            spec = importlib.util.find_spec(name)
            if spec is None or spec.origin is None:
                continue
            origin = Path(spec.origin)
            source = origin.parent if origin.name == "__init__.py" else origin
            (folder / source.name).symlink_to(source)
        return folder

    def _package(self, res: Resource) -> Path:
        """The local zip this function deploys, found through the JSON's own references."""
        stack_dir = self.platform.stack_dirs[res.stack]
        if "filename" in res.body:
            return stack_dir / str(self.platform.get(res, "filename"))
        current = res
        for _ in range(4):  # lambda -> signing job -> s3 object (or lambda -> s3 object)
            if current.type == "aws_s3_object":
                return stack_dir / str(self.platform.get(current, "source"))
            raw = current.body.get("s3_key") or current.body.get("source", {}).get("s3", {}).get("key", "")
            match = _REFERENCE.search(str(raw))
            if not match:
                break
            current = self.platform.resource(res.stack, f"{match.group(1)}.{match.group(2)}")
        wanted = (self.platform.get(res, "s3_bucket"), self.platform.get(res, "s3_key"))
        for obj in self.platform.resources("aws_s3_object", stack=res.stack):
            if (self.platform.get(obj, "bucket"), self.platform.get(obj, "key")) == wanted and "source" in obj.body:
                return stack_dir / str(self.platform.get(obj, "source"))
        raise LookupError(f"{res.address}: no local package found for s3://{wanted[0]}/{wanted[1]}")

    def _unzip(self, package: Path) -> Path:
        digest = hashlib.sha256(package.read_bytes()).hexdigest()[:16]
        target = self.workdir / "code" / digest
        if not target.exists():
            staging = Path(tempfile.mkdtemp(dir=self.workdir))
            with zipfile.ZipFile(package) as archive:
                archive.extractall(staging)
            target.parent.mkdir(exist_ok=True)
            staging.rename(target)
        return target

    def _function(self, res: Resource) -> Function:

        def get(key: str, default: Any = None) -> Any:
            return self.platform.get(res, key, default)

        name = str(get("function_name"))
        variables = {k: str(v) for k, v in (get("environment", {}) or {}).get("variables", {}).items()}
        memory = int(get("memory_size", 128))
        log_group = (get("logging_config") or {}).get("log_group") or f"/aws/lambda/{name}"
        env = {
            **variables,
            **FAKE_CREDENTIALS,
            "AWS_ENDPOINT_URL": self.endpoint,
            "AWS_REGION": res.region,
            "AWS_DEFAULT_REGION": res.region,
            "AWS_LAMBDA_FUNCTION_NAME": name,
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(memory),
            "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            "AWS_LAMBDA_LOG_GROUP_NAME": str(log_group),
            "AWS_LAMBDA_LOG_STREAM_NAME": f"twin/{uuid.uuid4().hex}",
            "AWS_EXECUTION_ENV": f"AWS_Lambda_{get('runtime', 'python3')}",
            "LAMBDA_TASK_ROOT": "",
            "POWERTOOLS_TRACE_DISABLED": "true",
            "TZ": ":UTC",
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "TWIN_ACCOUNT_ID": self.platform.account_id,
        }
        reserved = int(get("reserved_concurrent_executions", -1))
        code_dir = self._unzip(self._package(res))
        env["LAMBDA_TASK_ROOT"] = str(code_dir)
        return Function(name=name, region=res.region, role=variables.get(ENV_REGION_ROLE, ""),
                        handler=str(get("handler")), timeout_s=float(get("timeout", DEFAULT_TIMEOUT_S)),
                        memory_mb=memory, code_dir=code_dir, environment=env,
                        log_path=self.workdir / "logs" / res.region / f"{name}.log",
                        concurrency=reserved if reserved > 0 else DEFAULT_CONCURRENCY)

    # -- running --------------------------------------------------------------------------

    def get(self, region: str, name: str) -> Function:
        return self.functions[(region, name)]

    def by_arn(self, arn: str) -> Function:
        """The function an ARN (or an API Gateway ``invoke_arn``) names."""
        match = re.search(r"arn:aws[\w-]*:lambda:([a-z0-9-]+):\d+:function:([A-Za-z0-9_-]+)", arn)
        if not match:
            raise LookupError(f"not a Lambda function ARN: {arn}")
        return self.get(match.group(1), match.group(2))

    def start(self, fn: Function) -> _Worker:
        """A new execution environment: spawn the worker and wait for its init phase."""
        fn.log_path.parent.mkdir(parents=True, exist_ok=True)
        env = {**fn.environment, "TWIN_WORKER_AUTHKEY": self._authkey.hex(),
               "TWIN_RUNTIME_PATH": str(self._runtime_path), "TWIN_HOSTS_FILE": str(self.hosts_file)}
        env.pop("TWIN_ACCOUNT_ID")
        with open(fn.log_path, "ab") as log, self._accept_lock:
            process = subprocess.Popen(
                [sys.executable, "-I", "-S", str(_WORKER), str(self._listener.address), str(fn.code_dir), fn.handler],
                env=env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                cwd=fn.code_dir, start_new_session=True)
            fn.pids.append(process.pid)
            conn = self._accept(process)
        if not conn.poll(START_TIMEOUT_S):
            process.kill()
            raise RuntimeError(f"{fn.name}: the worker did not finish its init in {START_TIMEOUT_S} s")
        _, init_error = conn.recv()
        return _Worker(process, conn, init_error)

    def _accept(self, process: subprocess.Popen[bytes]) -> Connection:
        """The worker's connection (one spawn at a time holds the lock, so it is this one's)."""
        result: list[Connection] = []
        thread = threading.Thread(target=lambda: result.append(self._listener.accept()), daemon=True)
        thread.start()
        thread.join(START_TIMEOUT_S)
        if not result:
            process.kill()
            raise RuntimeError(f"worker {process.args!r} did not connect (exit {process.poll()})")
        return result[0]

    def warm(self, fn: Function, count: int = 1, *, parallel: int = 1) -> None:
        """Start `count` environments now (init phase done), so a first request is not a cold
        start; `parallel` of them at a time (each init is its own process)."""
        if parallel <= 1 or count <= 1:
            workers = [self.start(fn) for _ in range(count)]
        else:
            from concurrent.futures import ThreadPoolExecutor

            with ThreadPoolExecutor(max_workers=min(parallel, count)) as pool:
                workers = list(pool.map(lambda _: self.start(fn), range(count)))
        with fn._lock:
            fn._idle.extend(workers)

    def invoke(self, fn: Function, event: Any, *, timeout_s: float | None = None) -> Outcome:
        """Synchronous Invoke. The function's timeout runs from the end of its init (as in
        Lambda). `timeout_s`: the caller's own deadline from now, cold start included (API
        Gateway's integration timeout); past it :class:`CallerTimeout` is raised while the
        function runs on to its own end, as it would in AWS."""
        with fn._lock:
            now = time.monotonic()
            if fn._idle:
                worker, cold = fn._idle.pop(), False
            elif fn._busy >= fn.concurrency:
                fn.throttles += 1
                raise Throttled(f"{fn.name}: {fn.busy_snapshot(now)}")
            else:
                worker, cold = None, True
                fn.cold_starts += 1
            fn._busy += 1
            fn.invocations += 1
            fn._tokens += 1
            token = fn._tokens
            fn._inflight[token] = now
            if not cold:
                fn._running[token] = now
        started = time.monotonic()
        handed_off = False
        try:
            if worker is None:
                worker = self.start(fn)
            request_id = str(uuid.uuid4())
            sent = time.monotonic()
            with fn._lock:
                fn._running[token] = sent
                if cold:
                    fn.init_seconds.append(sent - started)
            worker.conn.send((event, {"aws_request_id": request_id, "invoked_function_arn": fn.arn,
                                      "remaining_ms": int(fn.timeout_s * 1000)}))
            caller_left = None if timeout_s is None else timeout_s - (sent - started)
            if (caller_left is not None and caller_left < fn.timeout_s
                    and not worker.conn.poll(max(0.0, caller_left))):
                handed_off = True
                threading.Thread(target=self._finish, args=(fn, worker, sent, token), daemon=True).start()
                raise CallerTimeout(f"{fn.name}: no answer within {timeout_s:.2f} s")
            if not worker.conn.poll(max(0.0, fn.timeout_s - (time.monotonic() - sent))):
                self._kill(worker)
                worker = None
                return Outcome(self.timed_out(fn, request_id), "Unhandled", time.monotonic() - started, cold)
            try:
                kind, payload = worker.conn.recv()
            except (EOFError, OSError):
                self._kill(worker)
                worker = None
                return Outcome({"errorType": "Runtime.ExitError",
                                "errorMessage": f"RequestId: {request_id} Error: Runtime exited"},
                               "Unhandled", time.monotonic() - started, cold)
            return Outcome(payload, None if kind == "ok" else "Unhandled", time.monotonic() - started, cold)
        finally:
            if not handed_off:
                self._release(fn, worker, token)

    @staticmethod
    def timed_out(fn: Function, request_id: str) -> dict[str, str]:
        """Lambda's payload for an invocation that ran past the function's timeout."""
        return {"errorType": "Sandbox.Timedout",
                "errorMessage": f"RequestId: {request_id} Error: Task timed out after {fn.timeout_s:.2f} seconds"}

    def _finish(self, fn: Function, worker: _Worker, sent: float, token: int) -> None:
        """The caller gave up; the invocation still runs to its answer or its timeout."""
        if worker.conn.poll(max(0.0, fn.timeout_s - (time.monotonic() - sent))):
            try:
                worker.conn.recv()
            except (EOFError, OSError):
                self._kill(worker)
                self._release(fn, None, token)
                return
            self._release(fn, worker, token)
            return
        self._kill(worker)
        self._release(fn, None, token)

    @staticmethod
    def _release(fn: Function, worker: _Worker | None, token: int) -> None:
        with fn._lock:
            fn._busy -= 1
            fn._inflight.pop(token, None)
            fn._running.pop(token, None)
            if worker is not None:
                fn._idle.append(worker)

    @staticmethod
    def _kill(worker: _Worker) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(worker.process.pid, 9)
        worker.process.wait(5)
        worker.conn.close()

    def stop_function(self, fn: Function) -> None:
        """End `fn`'s idle execution environments."""
        with fn._lock:
            idle, fn._idle = fn._idle, []
        for worker in idle:
            self._kill(worker)

    def stop(self) -> None:
        for fn in self.functions.values():
            self.stop_function(fn)
        self._listener.close()
