"""The Lambda package is the same bytes from any checkout (issue 18, item 9).

A new package means a new asset hash, S3 key and signing job, and a redeploy of all 12
functions. Two checkouts differ in their path, their files' times and modes, and in what pip
wrote while vendoring: jmespath's console script gets the vendoring interpreter's path as
its shebang, and the wheel's RECORD keeps that script's hash although the script is not
shipped (compare build/lambda-vendor of two checkouts: that line is the only difference).
"""

from __future__ import annotations

import base64
import hashlib
import os
import shutil
import zipfile
from pathlib import Path

import pytest
from cdktf import App, TerraformStack

from modules.compute import CONTRACT_FILE, LAMBDA_DIR, ZIP_DATE_TIME, FunctionCode

ROOT = Path(__file__).resolve().parent.parent
VENDOR = ROOT / "build" / "lambda-vendor"


def _as_pip_writes_it(record: Path, interpreter: str) -> None:
    """jmespath's RECORD as `pip install --target` run by `interpreter` writes it."""
    script = f"#!{interpreter}\n# -*- coding: utf-8 -*-\nimport re\nimport sys\n" \
             "from jmespath.cli import main\n"
    digest = base64.urlsafe_b64encode(hashlib.sha256(script.encode()).digest()).rstrip(b"=")
    lines = [f"../../bin/jp.py,sha256={digest.decode()},{len(script)}\n"
             if line.startswith("../../bin/jp.py,") else line
             for line in record.read_text().splitlines(keepends=True)]
    assert lines != record.read_text().splitlines(keepends=True), "jp.py is no longer in RECORD"
    record.write_text("".join(lines))


def _checkout(root: Path, *, interpreter: str, mtime: int, mode: int) -> tuple[Path, Path]:
    source, vendor = root / "lambda", root / "build" / "lambda-vendor"
    shutil.copytree(LAMBDA_DIR, source, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copyfile(CONTRACT_FILE, root / "contract.py")
    shutil.copytree(VENDOR, vendor)
    _as_pip_writes_it(next(vendor.glob("jmespath-*.dist-info/RECORD")), interpreter)
    for folder, _, names in os.walk(root):
        for name in names:
            path = Path(folder, name)
            path.chmod(mode)
            os.utime(path, (mtime, mtime))
    return source, vendor


def _package(root: Path, source: Path, vendor: Path) -> tuple[str, bytes]:
    app = App(outdir=str(root / "cdktf.out"))
    code = FunctionCode(TerraformStack(app, "s"), "code", source_dir=source, vendor_dir=vendor,
                        contract_file=root / "contract.py")
    app.synth()
    return code.hash, (root / "cdktf.out" / "stacks" / "s" / code.path).read_bytes()


@pytest.fixture(scope="module")
def two_checkouts(tmp_path_factory) -> list[tuple[str, bytes]]:
    if not (VENDOR / "aws_lambda_powertools").is_dir():
        pytest.fail("build/lambda-vendor is missing: run `make setup`")
    built = []
    for where, interpreter, mtime, mode in (
            ("a/payments", "/home/ci/payments/.venv/bin/python", 1_700_000_000, 0o644),
            ("b/src/github/payments-dr", "/work/payments-dr/.venv/bin/python", 1_790_000_000,
             0o664)):
        root = tmp_path_factory.mktemp("checkout") / where
        source, vendor = _checkout(root, interpreter=interpreter, mtime=mtime, mode=mode)
        built.append(_package(root, source, vendor))
    return built


def test_two_checkouts_give_the_same_package_and_asset_hash(two_checkouts):
    (hash_a, zip_a), (hash_b, zip_b) = two_checkouts
    assert hash_a == hash_b
    assert zip_a == zip_b


def test_the_zip_holds_names_and_contents_only(two_checkouts, tmp_path):
    archive = tmp_path / "archive.zip"
    archive.write_bytes(two_checkouts[0][1])
    with zipfile.ZipFile(archive) as package:
        infos = package.infolist()
        names = [i.filename for i in infos]
        assert names == sorted(names) and not [n for n in names if n.endswith("/")]
        assert {i.date_time for i in infos} == {ZIP_DATE_TIME}
        assert {(i.external_attr >> 16) & 0o777 for i in infos} == {0o644}
        # every RECORD line names a file the package ships (pip's script lines are gone)
        for record in [n for n in names if n.endswith(".dist-info/RECORD")]:
            for line in package.read(record).decode().splitlines():
                listed = line.split(",")[0]
                assert listed in names, f"{record} lists {listed}, which is not shipped"
        assert "validator.py" in names and "jmespath/__init__.py" in names
        assert package.read("contract.py") == CONTRACT_FILE.read_bytes()  # `import contract`
