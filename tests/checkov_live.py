"""The live checkov gate of tests/test_checkov.py, started in the background.

checkov over every stack of every gated environment is one process of ~10 CPU-seconds. In a
single-process run (`pytest` alone) the suite is mostly one busy core, so conftest.py starts
the gate before the first test and the rest of the session runs alongside it on the other
core. Under pytest-xdist (`make test`: one worker per core) every worker collects every test,
so the gate starts in the worker that runs its test, when it runs. Either way the test waits
for the result and asserts on it; the gate and its assertions are the same as a foreground run.
"""

from __future__ import annotations

import sys
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "scripts"))
import checkov_gate
from platform_support import CI_DEV, PROD

# What the workflow's GitHub environments hold (representative values, the suite's CI_DEV and
# PROD synths): HOSTED_ZONE_ID is required there, so no zone is created; prod turns deletion
# protection on.
CI_ENVIRONMENTS = {"dev": CI_DEV, "prod": PROD}
TEST = "tests/test_checkov.py::test_checkov_passes_on_every_stack_in_every_environment"


@dataclass
class LiveGate:
    outdirs: dict[str, Path]
    result: Future[tuple[bool, list[str], list[Any]]]
    runs: list[list[str]] = field(default_factory=list)  # the files of each checkov process


def selected(items: list[Any]) -> bool:
    return any(item.nodeid.endswith(TEST.split("/", 1)[1]) for item in items)


def start(synth_stacks: Any) -> LiveGate:
    """Synthesizes the gated environments (session-cached) and starts the gate in a thread. A
    failure here is the test's failure (raised by `result`), not every test's."""
    try:
        return _start(synth_stacks)
    except Exception as error:  # re-raised by the test (`result`)
        failed: Future[tuple[bool, list[str], list[Any]]] = Future()
        failed.set_exception(error)
        return LiveGate(outdirs={}, result=failed)


def _start(synth_stacks: Any) -> LiveGate:
    synth_stacks()
    outdirs = {checkov_gate.DEFAULT_ENVIRONMENT: synth_stacks.outdir_of()}
    for env, settings in CI_ENVIRONMENTS.items():
        synth_stacks(**settings)
        outdirs[env] = synth_stacks.outdir_of(**settings)
    runs: list[list[str]] = []

    def live(root: Path, files: list[str]) -> str:
        runs.append(files)
        return checkov_gate.run_checkov(root, files)

    executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="checkov-gate")
    future = executor.submit(checkov_gate.run_gate, outdirs, checkov=live)
    executor.shutdown(wait=False)
    return LiveGate(outdirs=outdirs, result=future, runs=runs)
