"""Every Lambda handler caches what it builds once per execution environment (settings, clients)
the same way: a module global `_runtime` that only `init()` sets and `reset_runtime()` drops,
read through `_get_runtime()` (= `_runtime or init()`). A handler with its own style (an
`lru_cache`, a dict filled in place, another global) fails here."""

import ast

import pytest
from lambda_support import LAMBDA_DIR

HANDLERS = sorted(p for p in LAMBDA_DIR.glob("*.py") if "def lambda_handler" in p.read_text()
                  or "lambda_handler = " in p.read_text())


def test_every_handler_module_is_checked():
    assert {p.stem for p in HANDLERS} == {"authorizer", "dupcheck", "health", "heartbeat", "probe", "reconcile",
                                          "validator"}


@pytest.mark.parametrize("path", HANDLERS, ids=lambda p: p.stem)
def test_one_runtime_cache_style(path):
    tree = ast.parse(path.read_text())
    functions = {n.name: n for n in tree.body if isinstance(n, ast.FunctionDef)}
    assert {"init", "_get_runtime", "reset_runtime"} <= set(functions), path.stem
    assigned = [t.id for n in tree.body if isinstance(n, (ast.Assign, ast.AnnAssign))
                for t in (n.targets if isinstance(n, ast.Assign) else [n.target]) if isinstance(t, ast.Name)]
    assert "_runtime" in assigned, path.stem
    get = functions["_get_runtime"].body[-1]
    assert ast.unparse(get) == "return _runtime or init()", path.stem
    for node in ast.walk(tree):  # only init() and reset_runtime() rebind a module global, and only _runtime
        if isinstance(node, ast.Global):
            owner = next(f for f in ast.walk(tree) if isinstance(f, ast.FunctionDef) and node in ast.walk(f))
            assert owner.name in ("init", "reset_runtime") and node.names == ["_runtime"], (path.stem, owner.name)
        if isinstance(node, ast.Name) and node.id in ("lru_cache", "cache"):
            pytest.fail(f"{path.stem}: functools cache instead of _runtime")
