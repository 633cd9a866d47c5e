"""The CDK Terrain path: scripts/to_cdktn.py converts a checkout, scripts/cdktn_compare.py
compares synth outputs. The real cdktn synth runs in `make cdktn-compare` (CI), not here."""

from __future__ import annotations

import json
import re
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))
import cdktn_compare  # noqa: E402
import to_cdktn  # noqa: E402

SAMPLE = '''import os
from modules import fast_provider

fast_provider.install()

from cdktf import App, TerraformStack
from cdktf_cdktf_provider_aws.s3_bucket import S3Bucket
import cdktf

OUT = os.environ.get("CDKTF_OUTDIR", "cdktf.out")  # cdktf.json stays cdktf.json
app = App(outdir=OUT)
'''


def test_python_rewrites():
    text, changes = to_cdktn.convert_python(SAMPLE)
    assert "from cdktn import App, TerraformStack" in text
    assert "from cdktn_provider_aws.s3_bucket import S3Bucket" in text
    assert "\nimport cdktn\n" in text
    assert "fast_provider" not in text
    assert "app = App(context={'targetVersions': {'terraform': '>=1.11.0'}}, outdir=OUT)" in text
    assert 'os.environ.get("CDKTF_OUTDIR", "cdktf.out")  # cdktf.json stays cdktf.json' in text
    assert len(changes) == 5, changes


def test_converting_this_checkout(tmp_path):
    report = to_cdktn.convert(ROOT, tmp_path / "out")
    assert "main.py: fast-import shim removed (2 line(s))" in report
    assert any(line.startswith("main.py: targetVersions context") for line in report)
    for path in (tmp_path / "out").rglob("*.py"):
        if path.relative_to(tmp_path / "out") in to_cdktn.VERBATIM:
            continue
        text = path.read_text()
        assert "cdktf_cdktf_provider_aws" not in text, path
        assert not re.search(r"^\s*(from cdktf[ .]|import cdktf\b(?!\.json|\.out))", text, re.M), path
    config = json.loads((tmp_path / "out" / "cdktf.json").read_text())
    assert config["context"]["targetVersions"] == {"terraform": ">=1.11.0"}
    assert config["app"] == json.loads((ROOT / "cdktf.json").read_text())["app"]
    assert (tmp_path / "out" / "lambda").is_dir()  # assets come along


def test_a_project_of_another_shape_is_refused(tmp_path):
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "main.py").write_text("from cdktf import App\napp = App()\n")
    with pytest.raises(SystemExit, match="nothing to rewrite for shim"):
        to_cdktn.convert(tmp_path / "src", tmp_path / "out")


def synth_out(base: Path, doc: dict, zip_members: dict[str, bytes], directory_entry: bool) -> Path:
    stack = base / "stacks" / "s"
    (stack / "assets").mkdir(parents=True)
    (stack / "cdk.tf.json").write_text(json.dumps(doc))
    with zipfile.ZipFile(stack / "assets" / "archive.zip", "w") as archive:
        if directory_entry:
            archive.writestr("pkg/", b"")
        for name, data in zip_members.items():
            archive.writestr(name, data)
    (base / "manifest.json").write_text(json.dumps({"stacks": {"s": {"dependencies": []}}}))
    return base


def doc(provider_version: str, bucket: str) -> dict:
    return {"//": {"metadata": {"version": provider_version[:4]}},
            "terraform": {"required_providers": {"aws": {"source": "aws", "version": provider_version}}},
            "resource": {"aws_s3_bucket": {"b": {"bucket": bucket}}}}


def test_compare_allows_only_provider_lines(tmp_path):
    code = {"pkg/handler.py": b"print(1)\n"}
    a = synth_out(tmp_path / "a", doc("6.25.0", "x"), code, directory_entry=True)
    b = synth_out(tmp_path / "b", doc("6.69.1", "x"), code, directory_entry=False)
    allowed, other = cdktn_compare.compare(a, b)
    assert other == []
    assert 's: terraform.required_providers.aws.version: cdktf "6.25.0" / cdktn "6.69.1"' in allowed
    c = synth_out(tmp_path / "c", doc("6.69.1", "y"), {"pkg/handler.py": b"print(2)\n"}, directory_entry=False)
    _, other = cdktn_compare.compare(a, c)
    assert 's: resource.aws_s3_bucket.b.bucket: cdktf "x" / cdktn "y"' in other
    assert "s: asset assets/archive.zip differs or is missing on one side" in other
