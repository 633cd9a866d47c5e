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


INIT_PROBE = """
import json, validator
from payments import clients
print(json.dumps({"runtime": validator._runtime is not None,
                  "clients": sorted({service for service, _, _ in clients._clients})}))
"""


@pytest.mark.parametrize("in_lambda", [True, False], ids=["in-lambda", "elsewhere"])
def test_the_validator_builds_its_clients_at_init_in_lambda_only(in_lambda):
    """In Lambda the validator's first request must not pay for its clients (init does, as in
    the authorizer): 20 new environments' first requests at once, each building boto3 clients
    inside a 1 s read-timeout budget, were the 503s and 500s at the start of the local load
    check. Outside Lambda (tests) the import stays cheap and builds nothing."""
    import json
    import os
    import subprocess
    import sys

    from lambda_support import PACKAGE_PATH

    env = {k: v for k, v in os.environ.items() if k != "AWS_EXECUTION_ENV"}
    env.update(PYTHONPATH=PACKAGE_PATH, PYTHONDONTWRITEBYTECODE="1", POWERTOOLS_TRACE_DISABLED="true",
               AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing")
    if in_lambda:
        env["AWS_EXECUTION_ENV"] = "AWS_Lambda_python3.13"
    out = subprocess.run([sys.executable, "-c", INIT_PROBE], env=env, capture_output=True, text=True,
                         timeout=60, cwd=str(LAMBDA_DIR))
    assert out.returncode == 0, out.stderr
    built = json.loads(out.stdout.strip().splitlines()[-1])
    if in_lambda:
        assert built == {"runtime": True, "clients": ["dynamodb", "s3"]}
    else:
        assert built == {"runtime": False, "clients": []}


def test_one_definition_of_running_in_lambda():
    """Which handlers build at init, and how they know they are in Lambda: `ops.env.in_lambda`,
    not a restated AWS_EXECUTION_ENV check per handler."""
    from ops import env

    restated = sorted(str(p.relative_to(LAMBDA_DIR)) for p in LAMBDA_DIR.rglob("*.py")
                      if "AWS_Lambda_" in p.read_text() and p != LAMBDA_DIR / "ops" / "env.py")
    assert restated == []
    at_init = sorted(p.stem for p in HANDLERS if "if env.in_lambda(os.environ):" in p.read_text())
    assert at_init == ["authorizer", "heartbeat", "probe", "validator"]
    assert env.in_lambda({"AWS_EXECUTION_ENV": "AWS_Lambda_python3.13"})
    assert not env.in_lambda({}) and not env.in_lambda({"AWS_EXECUTION_ENV": "AWS_ECS_FARGATE"})
