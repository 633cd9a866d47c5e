"""scripts/vendor_lambda_deps.py: what gets bundled into the signed package, from the lock."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _vendor():
    spec = importlib.util.spec_from_file_location("vendor_lambda_deps",
                                                  ROOT / "scripts" / "vendor_lambda_deps.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_requirements_pin_the_locked_versions_with_their_hashes():
    vendor = _vendor()
    lock = json.loads((ROOT / "Pipfile.lock").read_text())
    lines = vendor.requirements(lock)
    assert [line.split("==")[0] for line in lines] == list(vendor.PACKAGES)
    assert lines[0].startswith("aws-lambda-powertools==3.37.0 --hash=sha256:")
    for line in lines:
        assert "--hash=sha256:" in line
    # boto3/botocore come from the runtime; bundling them would add ~90 MB for nothing.
    assert not [p for p in vendor.PACKAGES if p.startswith(("boto3", "botocore"))]


def test_a_package_missing_from_the_lock_is_refused_by_name():
    vendor = _vendor()
    lock = json.loads((ROOT / "Pipfile.lock").read_text())
    del lock["develop"]["aws-xray-sdk"]
    lock["default"].pop("aws-xray-sdk", None)
    with pytest.raises(SystemExit, match="aws-xray-sdk is not pinned"):
        vendor.requirements(lock)


def test_wheels_are_for_the_lambda_platform_not_this_machine():
    vendor = _vendor()
    assert vendor.PLATFORM == ("--platform", "manylinux2014_aarch64", "--python-version",
                               "3.13", "--implementation", "cp", "--only-binary=:all:")


def test_no_cpython_313_means_a_warning_and_no_bytecode(monkeypatch, tmp_path, capsys):
    vendor = _vendor()
    monkeypatch.setattr(vendor, "lambda_python", lambda: None)
    assert vendor.precompile(tmp_path) == "bytecode: none"
    assert "no CPython 3.13 found" in capsys.readouterr().err
