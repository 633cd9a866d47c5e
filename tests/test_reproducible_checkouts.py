"""The same commit synthesized from two checkout paths gives the same bytes (issue 18).

A path that leaks into the JSON or an asset (a venv path in a vendored RECORD, an absolute
`source_dir`, a `#!/path/python` shebang) gives every checkout a new asset hash, so a new S3
key, a new signing job and a redeploy of all 12 functions, and a plan that is never clean.
The slow test copies this working tree (the files git tracks or would track) into two
folders whose paths differ in length and depth, with new file times, reuses this checkout's
.venv and node_modules through symlinks (so nothing is installed), synthesizes the default
settings in a fresh process in each, and compares every file under cdktf.out/stacks.
The comparator is tested on its own below, so a path leak is shown to fail it.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import zipfile
from pathlib import Path

import pytest

from contract import ALL_STACKS

ROOT = Path(__file__).resolve().parent.parent


def stack_files(outdir: Path) -> dict[str, bytes]:
    """Every file of every stack (JSON and assets), by its path relative to stacks/."""
    stacks = outdir / "stacks"
    return {p.relative_to(stacks).as_posix(): p.read_bytes()
            for p in sorted(stacks.rglob("*")) if p.is_file()}


def asset_hashes(files: dict[str, bytes]) -> dict[str, str]:
    """stack/asset name -> the asset hash cdktf put in the folder name (and the JSON)."""
    found = {}
    for name in files:
        parts = name.split("/")
        if len(parts) >= 4 and parts[1] == "assets":
            found[f"{parts[0]}/{parts[2]}"] = parts[3]
    return found


def _readable(name: str, data: bytes) -> list[tuple[str, bytes]]:
    """A file's bytes, and for a zip each member's uncompressed bytes (deflate hides a path)."""
    if not name.endswith(".zip"):
        return [(name, data)]
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return [(f"{name}!{member}", archive.read(member)) for member in archive.namelist()]


def differences(a: dict[str, bytes], b: dict[str, bytes], *,
                roots: tuple[Path, ...]) -> list[str]:
    """What differs between two synths, and any checkout path found in either: [] if none."""
    problems = [f"only in one synth: {name}" for name in sorted(a.keys() ^ b.keys())]
    problems += [f"differs: {name}" for name in sorted(a.keys() & b.keys()) if a[name] != b[name]]
    for label, files in (("a", a), ("b", b)):
        for root in roots:
            needle = str(root).encode()
            problems += [f"checkout path {root} in {label}:{where}"
                         for name, data in files.items()
                         for where, content in _readable(name, data) if needle in content]
    return problems


def _copy_checkout(destination: Path) -> None:
    """This working tree as a fresh checkout would have it, with new file times."""
    listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others",
                             "--exclude-standard"], cwd=ROOT, capture_output=True, check=True)
    for name in listed.stdout.decode().split("\0"):
        source = ROOT / name
        if name and source.is_file():
            target = destination / name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(source, target)  # copy, not copy2: the times are new, as in a clone
    shutil.copytree(ROOT / "build" / "lambda-vendor", destination / "build" / "lambda-vendor",
                    copy_function=shutil.copy)
    for shared in (".venv", "node_modules"):
        (destination / shared).symlink_to(ROOT / shared, target_is_directory=True)


def _start_synth(checkout: Path) -> subprocess.Popen[str]:
    """`make synth`'s command with no settings variable set: the default settings."""
    env = {"PATH": f"{checkout / 'node_modules' / '.bin'}{os.pathsep}{os.environ['PATH']}",
           "HOME": os.environ.get("HOME", str(checkout)), "PYTHONDONTWRITEBYTECODE": "1",
           "CHECKPOINT_DISABLE": "1", "LANG": "C.UTF-8"}
    return subprocess.Popen([str(checkout / ".venv" / "bin" / "python"), "main.py"],
                            cwd=checkout, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


@pytest.mark.slow
def test_two_checkout_paths_synthesize_byte_identical_stacks(tmp_path):
    if not (ROOT / "build" / "lambda-vendor" / "aws_lambda_powertools").is_dir():
        pytest.fail("build/lambda-vendor is missing: run `make setup`")
    short = tmp_path / "a"
    deep = tmp_path / "home" / "runner" / "work" / "payments-dr-platform" / "checkout-two"
    for checkout in (short, deep):
        _copy_checkout(checkout)
    runs = [_start_synth(checkout) for checkout in (short, deep)]  # in parallel
    for run in runs:
        _, err = run.communicate(timeout=300)
        assert run.returncode == 0, err[-3000:]

    a, b = stack_files(short / "cdktf.out"), stack_files(deep / "cdktf.out")
    json_files = {name.split("/")[0] for name in a if name.endswith("/cdk.tf.json")}
    assert json_files == set(ALL_STACKS)
    hashes = asset_hashes(a)
    assert {name.split("/")[0] for name in hashes} == {"payments-dr-primary", "payments-dr-dr"}
    assert hashes == asset_hashes(b)
    assert differences(a, b, roots=(short, deep, ROOT)) == []


# The comparator, shown to fail on what it must catch (fast: no synth).

def _zip(members: dict[str, str]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, text in members.items():
            archive.writestr(name, text)
    return buffer.getvalue()


def _synth_with_source_dir(root: str) -> dict[str, bytes]:
    stack = {"resource": {"aws_lambda_function": {"f": {"filename": "assets/x/ABC/archive.zip",
                                                          "description": f"built in {root}"}}}}
    return {"payments-dr-primary/cdk.tf.json": json.dumps(stack, indent=2).encode(),
            "payments-dr-primary/assets/x/ABC/archive.zip": _zip({"index.py": "same"})}


def test_the_comparator_reports_an_absolute_checkout_path():
    short = Path("/tmp/a")
    deep = Path("/home/runner/work/payments-dr-platform/checkout-two")
    a, b = _synth_with_source_dir(f"{short}/lambda"), _synth_with_source_dir(f"{deep}/lambda")
    problems = differences(a, b, roots=(short, deep))
    assert problems == ["differs: payments-dr-primary/cdk.tf.json",
                        f"checkout path {short} in a:payments-dr-primary/cdk.tf.json",
                        f"checkout path {deep} in b:payments-dr-primary/cdk.tf.json"]


def test_the_comparator_finds_a_path_inside_a_compressed_asset():
    """Equal bytes are not enough: a path inside the package is a leak even where both match."""
    package = _zip({"jmespath-1.0.1.dist-info/RECORD":
                    "../../bin/jp.py,sha256=x,1\n#!/tmp/a/.venv/bin/python\n" * 20})
    a = {"s/assets/x/H/archive.zip": package}
    assert b"/tmp/a" not in package, "deflate hides the path from a byte search"
    member = "s/assets/x/H/archive.zip!jmespath-1.0.1.dist-info/RECORD"
    assert differences(a, dict(a), roots=(Path("/tmp/a"),)) == [
        f"checkout path /tmp/a in a:{member}", f"checkout path /tmp/a in b:{member}"]


def test_the_comparator_reports_a_different_asset_hash():
    a = {"s/assets/x/AAAA/archive.zip": _zip({"index.py": "a"})}
    b = {"s/assets/x/BBBB/archive.zip": _zip({"index.py": "a"})}
    assert asset_hashes(a) != asset_hashes(b)
    assert differences(a, b, roots=()) == ["only in one synth: s/assets/x/AAAA/archive.zip",
                                           "only in one synth: s/assets/x/BBBB/archive.zip"]
