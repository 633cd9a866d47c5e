"""Recorded checkov output, so the gate's own logic is tested without a checkov start per case.

tests/test_checkov.py runs the gate (scripts/checkov_gate.py `run_gate`) on a few tiny stacks
with `Replay()` in place of checkov: it answers with what checkov really printed for those
stacks, recorded in tests/checkov_recorded.json by one live run (~5 s instead of ~5 s per
case). The live gate over the real synths still runs checkov (one process for everything).

Re-record after changing INPUTS or upgrading checkov (tools/checkov/Pipfile.lock):

    .venv/bin/python tests/checkov_recording.py

tests/test_checkov.py::test_the_recording_is_what_checkov_prints_today (marked `slow`, run by
.ci/run) records again and compares, so a stale recording fails CI.
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))
import checkov_gate  # noqa: E402

RECORDING = Path(__file__).resolve().with_name("checkov_recorded.json")

# The stacks the gate's tests scan, as written to cdk.tf.json (the gate scans checkov_input()).
INPUTS: dict[str, dict[str, Any]] = {
    # Encrypted queue: only passing checks.
    "queue": {"resource": {"aws_sqs_queue": {"q": {"name": "q", "sqs_managed_sse_enabled": True}}}},
    # An unencrypted bucket: CKV_AWS_18 (access logging) among others fails on it.
    "bucket": {"resource": {"aws_s3_bucket": {"b": {"bucket": "b", "//": {"metadata": {
        "path": "tiny/audit/bucket"}}}}}},
    # The `required_version` checkov cannot parse (dropped from the scanned copy) + a bucket.
    "bucket-required-version": {"terraform": {"required_version": ">= 1.11"},
                                "resource": {"aws_s3_bucket": {"b": {"bucket": "x"}}}},
    # Valid Terraform JSON (a block as a list) that checkov's parser refuses: a parsing error.
    "resource-as-list": {"resource": {"aws_s3_bucket": {"b": [{"bucket": "x"}]}}},
    # Parses, but nothing to check: checkov runs zero checks and exits 0.
    "outputs-only": {"output": {"o": {"value": "x"}}},
}

_KEPT = ("check_id", "check_name", "resource", "file_path")  # what the gate reads of a check


def _scanned(document: dict[str, Any]) -> dict[str, Any]:
    return checkov_gate.checkov_input(document)


def record() -> dict[str, Any]:
    """One live checkov run over every input; file paths become `<input name>/cdk.tf.json`."""
    files = [f"{name}/cdk.tf.json" for name in INPUTS]
    with tempfile.TemporaryDirectory(prefix="checkov-record-") as scratch:
        root = Path(scratch)
        for name, file in zip(INPUTS, files, strict=True):
            (root / file).parent.mkdir(parents=True)
            (root / file).write_text(json.dumps(_scanned(INPUTS[name])))
        report = json.loads(checkov_gate.run_checkov(root, files))
        by_file = checkov_gate.report_by_file(json.dumps(report), root, files)
    version = report.get("summary", {}).get("checkov_version")
    return {"checkov_version": version, "inputs": INPUTS, "files": {
        file: {"passed": sorted(([c[k] for k in _KEPT] for c in _checks(report, "passed_checks", file)),
                                key=json.dumps),
               "failed": sorted(([c[k] for k in _KEPT] for c in _checks(report, "failed_checks", file)),
                                key=json.dumps),
               "parsing_errors": by_file[file].parsing_errors}
        for file in files}}


def _checks(report: dict[str, Any], kind: str, file: str) -> list[dict[str, Any]]:
    return [{**c, "file_path": file} for c in report.get("results", {}).get(kind, [])
            if c["file_path"].lstrip("/") == file]


class Replay:
    """Stands in for checkov_gate.run_checkov: answers from the recording, in checkov's own
    report shape and path forms, for files whose content is a recorded input."""

    def __init__(self, recording: dict[str, Any] | None = None) -> None:
        self.recording = recording or json.loads(RECORDING.read_text())
        self.runs = 0

    def __call__(self, root: Path, files: list[str]) -> str:
        self.runs += 1
        by_content = {json.dumps(_scanned(doc), sort_keys=True): name
                      for name, doc in self.recording["inputs"].items()}
        results: dict[str, list[Any]] = {"passed_checks": [], "failed_checks": [], "parsing_errors": []}
        for file in files:
            content = json.dumps(json.loads((root / file).read_text()), sort_keys=True)
            assert content in by_content, (
                f"no recorded checkov output for {file}: add it to INPUTS and re-record "
                f"(.venv/bin/python tests/checkov_recording.py)\n{content[:300]}")
            recorded = self.recording["files"][f"{by_content[content]}/cdk.tf.json"]
            for kind in ("passed", "failed"):
                results[f"{kind}_checks"] += [{**dict(zip(_KEPT, c, strict=True)), "file_path": "/" + file}
                                              for c in recorded[kind]]
            results["parsing_errors"] += [str(root / file)] * recorded["parsing_errors"]
        summary = {"passed": len(results["passed_checks"]), "failed": len(results["failed_checks"]),
                   "skipped": 0, "parsing_errors": len(results["parsing_errors"]),
                   "checkov_version": self.recording["checkov_version"]}
        return json.dumps({"check_type": "terraform_json", "results": results, "summary": summary})


if __name__ == "__main__":
    RECORDING.write_text(json.dumps(record(), indent=1, sort_keys=True) + "\n")
    print(f"wrote {RECORDING.relative_to(ROOT)}")
