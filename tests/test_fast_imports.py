"""Fast provider imports (modules/fast_provider.py): same JSON, far fewer modules, safe fallback."""

from __future__ import annotations

import functools
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from modules import fast_provider

ROOT = Path(__file__).resolve().parent.parent

# Runs main.main() (what `python main.py` runs) and reports what the provider import did.
_SYNTH_AND_REPORT = """
import json, sys
sys.path.insert(0, {root!r})
import main
code = main.main()
from modules import fast_provider
print(json.dumps({{"active": fast_provider.status.active, "reason": fast_provider.status.reason,
                  "loaded": len(fast_provider.loaded_submodules())}}))
sys.exit(code)
"""


def _start_synth(fast: bool, outdir: Path) -> subprocess.Popen:
    env = dict(os.environ, CDKTF_FAST_IMPORTS="1" if fast else "0", CDKTF_OUTDIR=str(outdir),
               PYTHONDONTWRITEBYTECODE="1",
               PATH=f"{ROOT / 'node_modules' / '.bin'}{os.pathsep}{os.environ.get('PATH', '')}")
    return subprocess.Popen([sys.executable, "-c", _SYNTH_AND_REPORT.format(root=str(ROOT))],
                            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)


def _finish(process: subprocess.Popen) -> dict:
    out, err = process.communicate(timeout=240)
    assert process.returncode == 0, err
    return json.loads(out.strip().splitlines()[-1])


@pytest.mark.slow
def test_fast_and_stock_imports_synthesize_byte_identical_json(tmp_path):
    """Two fresh processes, one each way (in parallel); every stack file compared byte for byte."""
    fast_dir, stock_dir = tmp_path / "fast", tmp_path / "stock"
    fast_run, stock_run = _start_synth(True, fast_dir), _start_synth(False, stock_dir)
    fast, stock = _finish(fast_run), _finish(stock_run)

    assert fast["active"] and fast["loaded"] < 200, fast
    assert not stock["active"] and "disabled" in stock["reason"], stock
    assert stock["loaded"] > 2000, "the stock import loads every submodule"

    def files(outdir: Path) -> dict[str, bytes]:
        return {p.relative_to(outdir / "stacks").as_posix(): p.read_bytes()
                for p in sorted((outdir / "stacks").rglob("*")) if p.is_file()}

    fast_files, stock_files = files(fast_dir), files(stock_dir)
    json_files = [name for name in fast_files if name.endswith(".json")]
    from contract import ALL_STACKS

    expected = {f"{name}/cdk.tf.json" for name in ALL_STACKS if name != "payments-dr-account"}
    assert expected <= set(json_files)
    assert fast_files.keys() == stock_files.keys()
    different = [name for name in fast_files if fast_files[name] != stock_files[name]]
    assert different == []


def test_this_session_uses_fast_imports_and_loads_few_submodules(stacks):
    assert fast_provider.status.active, fast_provider.status.reason
    loaded = fast_provider.loaded_submodules()
    assert "s3_bucket" in loaded and "provider" in loaded
    assert len(loaded) < 500, "a synth should load tens of submodules, not all ~2,200"


def test_package_attributes_load_submodules_on_demand():
    import cdktf_cdktf_provider_aws as aws

    assert aws.s3_bucket.S3Bucket.__jsii_type__ == "@cdktf/provider-aws.s3Bucket.S3Bucket"
    with pytest.raises(AttributeError):
        aws.no_such_resource  # noqa: B018


def test_types_of_submodules_not_yet_imported_resolve_through_the_fqn_map():
    """What jsii does when the kernel returns an object whose type Python never imported."""
    from jsii import _reference_map

    name = next(n for n in ("xray_sampling_rule", "xray_group", "workspaces_ip_group")
                if f"cdktf_cdktf_provider_aws.{n}" not in sys.modules)
    fqn = f"@cdktf/provider-aws.{fast_provider.jsii_submodule_name(name)}"
    assert _reference_map._submodule_fqn_map[fqn] == f"cdktf_cdktf_provider_aws.{name}"
    type_fqn = next(t for t in _jsii_types(name) if t.count(".") == 2)
    assert type_fqn not in _reference_map._types

    assert _reference_map._try_import_type_module(type_fqn)
    assert type_fqn in _reference_map._types


def _jsii_types(submodule: str) -> list[str]:
    path = Path(sys.modules["cdktf_cdktf_provider_aws"].__path__[0]) / submodule / "__init__.py"
    return re.findall(r'jsii_type="([^"]+)"', path.read_text(encoding="utf-8"))


def test_jsii_names_of_every_installed_submodule_match_the_fqn_map():
    """The snake_case -> camelCase rule holds for all ~2,200 submodules of this provider."""
    package = Path(sys.modules["cdktf_cdktf_provider_aws"].__path__[0])
    _, submodules = fast_provider.read_package_init(str(package / "__init__.py"), str(package))
    mismatches = []
    for name in submodules:
        with open(package / name / "__init__.py", encoding="utf-8") as handle:
            head = handle.read(100_000)
        match = re.search(r'jsii_type="@cdktf/provider-aws\.([A-Za-z0-9]+)\.', head)
        if not match or match.group(1) != fast_provider.jsii_submodule_name(name):
            mismatches.append((name, match and match.group(1)))
    assert len(submodules) > 2000
    assert mismatches == []


@pytest.mark.parametrize("value, expected", [
    (None, True), ("1", True), ("yes", True), ("0", False), ("false", False), ("OFF", False),
])
def test_opt_out_with_environment_variable(value, expected):
    environ = {} if value is None else {fast_provider.ENV_VAR: value}
    assert fast_provider.enabled(environ) is expected


def _fake_package(tmp_path: Path, tail: list[str]) -> Path:
    package = tmp_path / "pkg"
    (package / "_jsii").mkdir(parents=True)
    for name in ("aaa", "bbb", "ccc"):
        (package / name).mkdir()
    init = package / "__init__.py"
    init.write_text("\n".join(["import publication", "from ._jsii import *", "__all__ = []",
                               "publication.publish()", ""] + tail) + "\n")
    return init


def test_reads_the_expected_layout(tmp_path):
    names = ["aaa", "bbb", "ccc"] + [f"m{i}" for i in range(200)]
    init = _fake_package(tmp_path, ["# Loading modules"] + [f"from . import {n}" for n in names])
    code, submodules = fast_provider.read_package_init(str(init), str(init.parent))
    assert submodules == names
    assert "aaa" not in code.co_names  # the eager imports are gone


@pytest.mark.parametrize("tail", [
    [f"from . import m{i}" for i in range(200)] + ["do_something()"],  # extra statement
    ["from . import aaa"],  # too few: another layout
])
def test_unexpected_layout_falls_back_to_stock(tmp_path, tail):
    init = _fake_package(tmp_path, tail)
    with pytest.raises(fast_provider.UnexpectedLayout):
        fast_provider.read_package_init(str(init), str(init.parent))


def test_install_is_a_no_op_once_the_provider_is_imported():
    """A second call, or a call after a stock import, leaves sys.modules alone."""
    before = sys.modules["cdktf_cdktf_provider_aws"]
    assert fast_provider.install() is fast_provider.status.active
    assert sys.modules["cdktf_cdktf_provider_aws"] is before


# -- the Node half (modules/fast_provider_node.js) ------------------------------------------

NODE = shutil.which("node", path=str(ROOT / "node_modules" / ".bin")) or "node"
_REQUIRE_LINE = re.compile(r'^exports\.\w+ = require\("\./[a-z0-9-]+"\);$', re.M)
_LOAD_INDEX = """
const index = require(process.argv[1]);
const before = [...(globalThis.loaded || [])];
const keys = Object.keys(index).length;
const cls = index.s3Bucket.S3Bucket;
console.log(JSON.stringify({keys, before, after: globalThis.loaded, name: cls.name}));
"""


@functools.cache
def _provider_index_js() -> str:
    """The provider's real lib/index.js, from the jsii tarball the kernel loads (read once)."""
    import tarfile

    package = Path(sys.modules["cdktf_cdktf_provider_aws"].__path__[0])
    (tarball,) = (package / "_jsii").glob("*.jsii.tgz")
    with tarfile.open(tarball) as archive:
        for member in archive:
            if member.name == "package/lib/index.js":
                return archive.extractfile(member).read().decode()  # type: ignore[union-attr]
    raise AssertionError(f"no package/lib/index.js in {tarball}")


def _js_package(tmp_path: Path, name: str, index: str) -> Path:
    """A package with the given index and one resource module, lib/s3-bucket, that records
    when it runs."""
    (tmp_path / "lib" / "s3-bucket").mkdir(parents=True)
    (tmp_path / "package.json").write_text(json.dumps({"name": name, "main": "lib/index.js"}))
    (tmp_path / "lib" / "index.js").write_text(index)
    (tmp_path / "lib" / "s3-bucket" / "index.js").write_text(
        'globalThis.loaded = [...(globalThis.loaded || []), "s3-bucket"];\n'
        "exports.S3Bucket = class S3Bucket {};\n")
    return tmp_path / "lib" / "index.js"


def _load_index(index: Path, preload: bool) -> subprocess.CompletedProcess:
    options = fast_provider.node_options(None) if preload else ""
    return subprocess.run([NODE, "-e", _LOAD_INDEX, str(index)], capture_output=True,
                          text=True, timeout=60, env=dict(os.environ, NODE_OPTIONS=options))


def test_node_half_loads_a_provider_module_only_when_its_type_is_used(tmp_path):
    """The real index: every export is there, none runs until used. The package has only one of
    its ~2,200 modules, so the shipped index (eager requires) cannot even load."""
    text = _provider_index_js()
    index = _js_package(tmp_path, "@cdktf/provider-aws", text)

    lazy = _load_index(index, preload=True)
    assert lazy.returncode == 0, lazy.stderr
    report = json.loads(lazy.stdout)
    assert report == {"keys": len(_REQUIRE_LINE.findall(text)), "before": [],
                      "after": ["s3-bucket"], "name": "S3Bucket"}
    assert report["keys"] > 2000

    stock = _load_index(index, preload=False)
    assert stock.returncode != 0 and "Cannot find module" in stock.stderr


@pytest.mark.parametrize("name, extra", [
    ("some-other-package", ""),  # another package's index
    ("@cdktf/provider-aws", 'exports.odd = require("../elsewhere");\n'),  # another layout
])
def test_node_half_leaves_other_files_as_shipped(tmp_path, name, extra):
    index = _js_package(tmp_path, name, extra + _provider_index_js())
    result = _load_index(index, preload=True)
    assert result.returncode != 0 and "Cannot find module" in result.stderr


def test_only_the_jsii_kernel_gets_the_node_half(stacks):
    """The kernel of this session runs with the preload; os.environ is left as it was."""
    assert fast_provider.NODE_PRELOAD not in os.environ.get("NODE_OPTIONS", "")
    kernels = [pid for pid in _descendants(os.getpid())
               if b"jsii-runtime" in Path(f"/proc/{pid}/cmdline").read_bytes()]
    assert kernels, "no jsii kernel process under this one"
    for pid in kernels:
        environ = dict(item.split(b"=", 1) for item in
                       Path(f"/proc/{pid}/environ").read_bytes().split(b"\0") if b"=" in item)
        assert environ[b"NODE_OPTIONS"].decode() == fast_provider.node_options(None)


def _descendants(root: int) -> list[int]:
    children = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:
            continue
        children.setdefault(int(text[text.rindex(")") + 2:].split()[1]), []).append(
            int(stat.parent.name))
    found, frontier = [], [root]
    while frontier:
        for child in children.get(frontier.pop(), []):
            found.append(child)
            frontier.append(child)
    return found


def test_node_options_keep_what_the_user_set():
    preload = json.dumps(fast_provider.NODE_PRELOAD)
    assert fast_provider.node_options(None) == f"--require {preload}"
    assert fast_provider.node_options("--max-old-space-size=8192") == \
        f"--max-old-space-size=8192 --require {preload}"


def test_installed_packages_carry_their_bytecode():
    """scripts/setup.sh compiles site-packages once; the project runs with
    PYTHONDONTWRITEBYTECODE=1, so a module without bytecode is compiled again by every process
    that imports it (~2 s of each synth for the provider modules alone)."""
    import importlib.util
    import sysconfig

    purelib = Path(sysconfig.get_path("purelib"))
    imported = [Path(m.__file__) for m in list(sys.modules.values())
                if getattr(m, "__file__", None) and m.__file__.endswith(".py")
                and Path(m.__file__).is_relative_to(purelib)]
    missing = [str(p.relative_to(purelib)) for p in imported
               if not Path(importlib.util.cache_from_source(str(p))).is_file()]
    assert len(imported) > 100
    assert missing == [], f"{len(missing)} modules without bytecode (run `make setup`): {missing[:5]}"
