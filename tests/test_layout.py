"""The package's shape: no import cycle (deferred imports included), no module past ~500 lines, and no code
path that loads code named by a file (importlib, pickle, torch.load of model files)."""
from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "ppsolve"
MAX_LINES = 500


def _modules() -> dict[str, Path]:
    out = {}
    for path in PACKAGE.rglob("*.py"):
        parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = path
    return out


def _imports(name: str, path: Path, modules: dict) -> set[str]:
    """The ppsolve modules ``name`` imports anywhere in its body (top level, functions, methods)."""
    package = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            base = package[: len(package) - (node.level - 1)] if node.level else []
            target = ".".join(base + ([node.module] if node.module else [])) if node.level else node.module
            submodules = [f"{target}.{a.name}" for a in node.names if f"{target}.{a.name}" in modules]
            found.update(submodules)
            if len(submodules) < len(node.names) and target in modules:
                found.add(target)
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name in modules)
    found.discard(name)
    return found


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index, low, stack, on, out = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                out.append(sorted(component))

    for v in graph:
        if v not in index:
            visit(v)
    return out


def test_no_import_cycle():
    modules = _modules()
    graph = {name: _imports(name, path, modules) for name, path in modules.items()}
    assert "ppsolve.operators.base" in graph and "ppsolve.zoo" in graph["ppsolve.restore"]  # the parser works
    assert _cycles(graph) == []


def test_no_module_past_the_limit():
    long = {str(p.relative_to(PACKAGE)): n for p in PACKAGE.rglob("*.py")
            if (n := len(p.read_text().splitlines())) > MAX_LINES}
    assert long == {}


def test_nothing_loads_code_a_file_names():
    """Model files are read by ppsolve.modelfile (safetensors + JSON): nothing imports modules by name,
    unpickles, or evaluates strings (a third-party comparator's torch weights are the one ``torch.load``)."""
    offenders = []
    for path in PACKAGE.rglob("*.py"):
        where = str(path.relative_to(PACKAGE))
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                offenders += [f"{where}: import {a.name}" for a in node.names if a.name in ("pickle", "importlib")]
            elif isinstance(node, ast.ImportFrom) and node.module in ("pickle", "importlib"):
                if node.module == "pickle" or any(a.name != "resources" for a in node.names):
                    offenders.append(f"{where}: from {node.module} import ...")
            elif isinstance(node, ast.Call):
                func = node.func
                name = func.id if isinstance(func, ast.Name) else None
                dotted = (f"{func.value.id}.{func.attr}" if isinstance(func, ast.Attribute)
                          and isinstance(func.value, ast.Name) else None)
                if name in ("eval", "exec", "__import__") or dotted in ("importlib.import_module", "pickle.load",
                                                                        "pickle.loads"):
                    offenders.append(f"{where}: {name or dotted}()")
                if dotted == "torch.load" and path.name != "discriminator.py":
                    offenders.append(f"{where}: torch.load()")
    assert offenders == []
