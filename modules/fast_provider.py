"""Fast provider imports: a synth loads only the `cdktf_cdktf_provider_aws` submodules it uses.

Why: the prebuilt provider's package `__init__` imports all of its ~2,200 submodules (one per
resource and data source) so that every jsii type is registered up front. That costs ~10 s of
a ~17 s synth, while this app uses a few dozen submodules.

How (`install()`, called by main.py before anything imports the provider):
- The installed package is left untouched. We read its `__init__.py`, blank out the trailing
  `from . import <submodule>` lines and execute the rest as the package module, registered
  in `sys.modules` with `__path__` pointing at the installed package directory. Everything
  else runs exactly as stock: `from ._jsii import *` loads the jsii assembly the same way,
  `check_type`, `__all__` and `publication.publish()` are the package's own code.
- `from cdktf_cdktf_provider_aws.s3_bucket import S3Bucket` then imports that submodule only;
  submodules import nothing from each other (only `.._jsii`, cdktf and constructs).
- Attribute access on the package (`cdktf_cdktf_provider_aws.s3_bucket`) imports the
  submodule on demand (a PEP 562 module `__getattr__`).
- Type registry: a submodule's classes register with the jsii runtime when it is imported.
  When the kernel hands back an object whose type lives in a submodule not imported yet,
  jsii (>= 1.1xx, `_reference_map._try_import_type_module`) imports the module found in its
  submodule FQN map; the provider predates that map, so we fill it in
  (`@cdktf/provider-aws.s3Bucket` -> `cdktf_cdktf_provider_aws.s3_bucket`).

The Node half: the jsii kernel `require`s the provider's JavaScript index, which requires all
~2,200 resource modules (~5 s of Node CPU). While install() loads the package (which starts
the kernel), NODE_OPTIONS preloads modules/fast_provider_node.js into it, which turns that
index's eager requires into getters; it leaves every other file, and an index of another
layout, as shipped.

Safety: if the layout is not the one described above (another provider version, another
jsii runtime) or `CDKTF_FAST_IMPORTS=0`, `install()` does nothing and the stock import runs.
The synthesized JSON is byte-for-byte the same both ways (tests/test_fast_imports.py).
"""

from __future__ import annotations

import importlib
import importlib.util
import json
import os
import re
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from importlib.machinery import ModuleSpec
from types import CodeType, ModuleType

PACKAGE = "cdktf_cdktf_provider_aws"
ASSEMBLY = "@cdktf/provider-aws"
ENV_VAR = "CDKTF_FAST_IMPORTS"
_OFF = ("0", "false", "no", "off")
NODE_PRELOAD = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fast_provider_node.js")
_EAGER_IMPORT = re.compile(r"^from \. import ([a-z][a-z0-9_]*)\s*$")
_PUBLISH = "publication.publish()"
_JSII_IMPORT = "from ._jsii import *"
# The eager imports are the long tail of the file; fewer than this means another layout.
_MIN_SUBMODULES = 100


@dataclass(frozen=True)
class Status:
    active: bool  # True: the lightweight package is in sys.modules
    reason: str  # why (shown by `python -m modules.fast_provider`)


status = Status(False, "install() not called")


class UnexpectedLayout(Exception):
    pass


def enabled(environ: Mapping[str, str] | None = None) -> bool:
    """Fast imports are on unless CDKTF_FAST_IMPORTS is 0/false/no/off."""
    environ = os.environ if environ is None else environ
    return environ.get(ENV_VAR, "1").strip().lower() not in _OFF


def jsii_submodule_name(python_name: str) -> str:
    """`s3_bucket` -> `s3Bucket`: how jsii names the submodule that pacmak snake-cased."""
    head, *rest = python_name.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


def install(environ: Mapping[str, str] | None = None) -> bool:
    """Register the lightweight provider package; True when fast imports are active.

    Idempotent. A no-op (stock imports) when disabled, when the provider is already imported,
    or when the installed package does not look as expected.
    """
    global status
    if status.active:
        return True
    if not enabled(environ):
        status = Status(False, f"disabled by {ENV_VAR}")
        return False
    if PACKAGE in sys.modules:
        status = Status(False, f"{PACKAGE} was already imported (stock)")
        return False
    try:
        spec, code, submodules, fqn_map = _plan()
    except UnexpectedLayout as error:
        status = Status(False, f"unexpected layout, using stock imports: {error}")
        return False

    module = importlib.util.module_from_spec(spec)
    sys.modules[PACKAGE] = module
    # The package code loads the jsii assemblies, which starts the jsii kernel (Node) if it
    # is not running yet: it starts with the Node half preloaded (fast_provider_node.js).
    saved_node_options = os.environ.get("NODE_OPTIONS")
    os.environ["NODE_OPTIONS"] = node_options(saved_node_options)
    try:
        exec(code, module.__dict__)  # the package's own code, less its eager imports
    except BaseException:
        for name in [n for n in sys.modules if n == PACKAGE or n.startswith(PACKAGE + ".")]:
            del sys.modules[name]
        raise
    finally:  # only the kernel gets the preload, not Node processes started later
        if saved_node_options is None:
            del os.environ["NODE_OPTIONS"]
        else:
            os.environ["NODE_OPTIONS"] = saved_node_options
    public = sys.modules[PACKAGE]  # publication.publish() swapped in the public module
    # A PEP 562 hook is a module attribute (mypy types ModuleType.__getattr__ as a method).
    vars(public)["__getattr__"] = _lazy_attribute(frozenset(submodules))
    fqn_map.update({f"{ASSEMBLY}.{jsii_submodule_name(name)}": f"{PACKAGE}.{name}"
                    for name in submodules})
    status = Status(True, f"lazy: {len(submodules)} submodules load on first use")
    return True


def node_options(existing: str | None) -> str:
    """NODE_OPTIONS that preload the Node half (modules/fast_provider_node.js)."""
    preload = json.dumps(NODE_PRELOAD)  # NODE_OPTIONS takes double-quoted paths
    return f"{existing} --require {preload}" if existing else f"--require {preload}"


def _plan() -> tuple[ModuleSpec, CodeType, list[str], dict[str, str]]:
    """Locate and check the installed package; nothing is imported or executed here."""
    try:
        from jsii import _reference_map
    except ImportError as error:
        raise UnexpectedLayout(f"jsii runtime not importable: {error}") from None
    fqn_map = getattr(_reference_map, "_submodule_fqn_map", None)
    if not isinstance(fqn_map, dict) or not hasattr(_reference_map, "_try_import_type_module"):
        raise UnexpectedLayout("this jsii runtime cannot resolve types of lazily loaded submodules")

    spec = importlib.util.find_spec(PACKAGE)
    if spec is None or not spec.origin or not spec.origin.endswith("__init__.py"):
        raise UnexpectedLayout(f"{PACKAGE} is not an installed regular package")
    locations = list(spec.submodule_search_locations or [])
    if len(locations) != 1:
        raise UnexpectedLayout(f"{PACKAGE} has {len(locations)} package directories")
    if not os.path.isfile(os.path.join(locations[0], "_jsii", "__init__.py")):
        raise UnexpectedLayout(f"{PACKAGE}/_jsii/__init__.py is missing")

    code, submodules = read_package_init(spec.origin, locations[0])
    return spec, code, submodules, fqn_map


def read_package_init(origin: str, location: str) -> tuple[CodeType, list[str]]:
    """The package `__init__` compiled without its eager submodule imports, and their names.

    Raises UnexpectedLayout unless the file is: header, `from ._jsii import *`, `__all__`,
    `publication.publish()`, then nothing but `from . import <submodule>` lines.
    """
    with open(origin, encoding="utf-8") as handle:
        lines = handle.read().split("\n")
    try:
        publish_at = max(i for i, line in enumerate(lines) if line.strip() == _PUBLISH)
    except ValueError:
        raise UnexpectedLayout(f"no {_PUBLISH} in {origin}") from None
    if not any(line.strip() == _JSII_IMPORT for line in lines[:publish_at]):
        raise UnexpectedLayout(f"no {_JSII_IMPORT!r} before {_PUBLISH}")
    submodules = []
    for i in range(publish_at + 1, len(lines)):
        line = lines[i]
        match = _EAGER_IMPORT.match(line)
        if match:
            submodules.append(match.group(1))
            lines[i] = ""  # blank, not removed: line numbers in tracebacks stay true
        elif line.strip() and not line.lstrip().startswith("#"):
            raise UnexpectedLayout(f"unexpected statement after {_PUBLISH}: {line.strip()!r}")
    if len(submodules) < _MIN_SUBMODULES:
        raise UnexpectedLayout(f"only {len(submodules)} eager submodule imports found")
    if any(not os.path.isdir(os.path.join(location, name)) for name in submodules[:3]):
        raise UnexpectedLayout("eager imports do not name submodule directories")
    return compile("\n".join(lines), origin, "exec"), submodules


def _lazy_attribute(submodules: frozenset[str]) -> Callable[[str], ModuleType]:
    def __getattr__(name: str) -> ModuleType:
        if name in submodules:
            return importlib.import_module(f"{PACKAGE}.{name}")
        raise AttributeError(f"module {PACKAGE!r} has no attribute {name!r}")

    return __getattr__


def loaded_submodules() -> list[str]:
    """Provider submodules imported so far (what a synth actually used)."""
    prefix = PACKAGE + "."
    return sorted(n[len(prefix):] for n in sys.modules
                  if n.startswith(prefix) and "." not in n[len(prefix):]
                  and not n[len(prefix):].startswith("_"))


if __name__ == "__main__":  # python -m modules.fast_provider: is it active here?
    install()
    print(f"fast provider imports: {'on' if status.active else 'off'} ({status.reason})")
