"""Which environment variables a Lambda handler reads, found in its source (ast).

Follows the handler module's imports inside the package (lambda/), and resolves names given as
contract constants (`contract.ENV_*`, imported or qualified) or module-level string constants.
Used by tests/test_function_environment.py (every read variable is set) and tests/test_docs.py
(docs/ops-functions.md's "read" column).
"""

from __future__ import annotations

import ast
from pathlib import Path

import contract

LAMBDA_DIR = Path(__file__).resolve().parent.parent / "lambda"

# Set by the Lambda runtime itself (docs: "Defined runtime environment variables").
RUNTIME_VARIABLES = frozenset({
    "AWS_REGION", "AWS_DEFAULT_REGION", "AWS_EXECUTION_ENV", "AWS_LAMBDA_FUNCTION_NAME",
    "AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "AWS_LAMBDA_FUNCTION_VERSION", "AWS_LAMBDA_LOG_GROUP_NAME",
    "AWS_LAMBDA_LOG_STREAM_NAME", "AWS_LAMBDA_INITIALIZATION_TYPE", "LAMBDA_TASK_ROOT",
    "LAMBDA_RUNTIME_DIR", "_HANDLER", "_X_AMZN_TRACE_ID", "TZ"})
# How a module may hold the environment: os.environ itself, or a Mapping parameter.
ENVIRON_NAMES = frozenset({"environ", "env"})


def _module_file(name: str) -> Path | None:
    parts = name.split(".")
    for candidate in (LAMBDA_DIR.joinpath(*parts).with_suffix(".py"),
                      LAMBDA_DIR.joinpath(*parts, "__init__.py")):
        if candidate.is_file():
            return candidate
    return None


def _is_environ(node: ast.expr) -> bool:
    if isinstance(node, ast.Attribute):
        return node.attr == "environ" and isinstance(node.value, ast.Name) and node.value.id == "os"
    return isinstance(node, ast.Name) and node.id in ENVIRON_NAMES


class _Module:
    """One module's imports, string constants, reader helpers and literal reads."""

    def __init__(self, name: str, path: Path):
        self.name, self.tree = name, ast.parse(path.read_text())
        self.imports: dict[str, str] = {}  # local name -> module in the package
        self.constants: dict[str, str] = {}
        for node in ast.walk(self.tree):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    if _module_file(alias.name):
                        self.imports[alias.asname or alias.name] = alias.name
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                for alias in node.names:
                    full = f"{node.module}.{alias.name}"
                    if _module_file(full):
                        self.imports[alias.asname or alias.name] = full
                    elif node.module == "contract" and isinstance(getattr(contract, alias.name, None), str):
                        self.constants[alias.asname or alias.name] = getattr(contract, alias.name)
                    elif _module_file(node.module):
                        self.imports.setdefault(node.module, node.module)
        for node in self.tree.body:
            if (isinstance(node, ast.Assign) and len(node.targets) == 1
                    and isinstance(node.targets[0], ast.Name)
                    and isinstance(node.value, ast.Constant) and isinstance(node.value.value, str)):
                self.constants[node.targets[0].id] = node.value.value
        # helper -> index of its parameter that names the variable it reads
        # (a helper passing its parameter on to another helper is one too)
        self.readers: dict[str, int] = {}
        functions = [fn for fn in ast.walk(self.tree) if isinstance(fn, ast.FunctionDef)]
        while True:
            found = len(self.readers)
            for fn in functions:
                params = [a.arg for a in fn.args.args]
                for call in ast.walk(fn):
                    if not isinstance(call, ast.Call):
                        continue
                    index = 0
                    if isinstance(call.func, ast.Name) and call.func.id in self.readers:
                        index = self.readers[call.func.id]
                    elif not (isinstance(call.func, ast.Attribute) and call.func.attr == "get"
                              and _is_environ(call.func.value)):
                        continue
                    if (index < len(call.args) and isinstance(call.args[index], ast.Name)
                            and call.args[index].id in params):
                        self.readers[fn.name] = params.index(call.args[index].id)  # type: ignore[attr-defined]
            if len(self.readers) == found:
                break

    def value(self, node: ast.expr) -> str | None:
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            return node.value
        if isinstance(node, ast.Name):
            return self.constants.get(node.id)
        if (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name)
                and node.value.id == "contract"):
            found = getattr(contract, node.attr, None)
            return found if isinstance(found, str) else None
        return None


def reads(handler_module: str) -> dict[str, set[str]]:
    """Variable -> modules reading it, over `handler_module` and the package modules it imports."""
    modules: dict[str, _Module] = {}
    pending = [handler_module]
    while pending:
        name = pending.pop()
        path = _module_file(name)
        if name in modules or path is None:
            continue
        modules[name] = _Module(name, path)
        pending.extend(modules[name].imports.values())
        if "." in name:
            pending.append(name.rsplit(".", 1)[0])
    reads: dict[str, set[str]] = {}
    for module in modules.values():
        for node in ast.walk(module.tree):
            names: list[str | None] = []
            if isinstance(node, ast.Subscript) and _is_environ(node.value):
                names.append(module.value(node.slice))
            elif isinstance(node, ast.Call) and node.args:
                func = node.func
                if isinstance(func, ast.Attribute) and func.attr in ("get", "getenv") and (
                        _is_environ(func.value)
                        or (isinstance(func.value, ast.Name) and func.value.id == "os")):
                    names.append(module.value(node.args[0]))
                elif isinstance(func, ast.Name) and func.id in module.readers:
                    index = module.readers[func.id]
                    names.append(module.value(node.args[index]) if index < len(node.args) else None)
                elif (isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name)
                      and func.value.id in module.imports):
                    target = modules.get(module.imports[func.value.id])
                    if target is not None and func.attr in target.readers:
                        index = target.readers[func.attr]
                        names.append(module.value(node.args[index]) if index < len(node.args) else None)
            for variable in names:
                if variable is not None:
                    reads.setdefault(variable, set()).add(module.name)
    return reads
