"""The layout's rules, checked from the source: the layer order, no import cycles, no private names
used outside their module (see docs/architecture.md).

Imports are read from the syntax tree of every module, those inside functions and under
``TYPE_CHECKING`` included: a lazy import is still a dependency.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src"
PACKAGE = "hepsqueeze"

#: Lowest first: a module may import its own layer and the layers below, never one above.
LAYERS: tuple[tuple[str, ...], ...] = (
    ("version", "errors", "lazy", "atomic", "cores"),
    ("metrics", "container", "io"),
    ("datasets", "preprocessing"),
    ("models",),
    ("zoo", "training"),
    ("codecs",),
    ("file",),
    ("baselines", "plotting"),
    ("evaluation",),
    ("studies",),
    ("api", "batch", "analysis", "dask"),
    ("demo",),
    ("cli",),
)


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _modules() -> dict[str, Path]:
    return {_module_name(p): p for p in sorted((SRC / PACKAGE).rglob("*.py"))}


MODULES = _modules()


def _resolve(module: str, importer: str, level: int, is_package: bool) -> str:
    if not level:
        return module
    base = importer.split(".")
    base = base if is_package else base[:-1]
    base = base[: len(base) - (level - 1)]
    return ".".join([*base, module] if module else base)


def _imports(name: str, path: Path) -> Iterator[tuple[str, list[str], int]]:
    """(imported module, names taken from it, line) of every import in the module."""
    tree = ast.parse(path.read_text(), str(path))
    is_package = path.name == "__init__.py"
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, [], node.lineno
        elif isinstance(node, ast.ImportFrom):
            target = _resolve(node.module or "", name, node.level, is_package)
            yield target, [a.name for a in node.names], node.lineno


def _targets(module: str, names: list[str]) -> list[str]:
    """The modules an import depends on: a name that is a submodule counts as that module."""
    subs = [f"{module}.{n}" for n in names if f"{module}.{n}" in MODULES]
    rest = [n for n in names if f"{module}.{n}" not in MODULES]
    return subs + ([module] if rest or not names else [])


def _graph() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {m: set() for m in MODULES}
    for name, path in MODULES.items():
        for module, names, _ in _imports(name, path):
            if module == PACKAGE or module.startswith(PACKAGE + "."):
                graph[name].update(t for t in _targets(module, names) if t != name and t in MODULES)
    return graph


def _layer(module: str) -> int | None:
    parts = module.split(".")
    if len(parts) < 2:
        return None  # the package itself: its lazy top-level names may come from any layer
    for i, layer in enumerate(LAYERS):
        if parts[1] in layer:
            return i
    raise AssertionError(
        f"module {module} is in no layer of LAYERS: add its package to docs/architecture.md too"
    )


def test_every_module_has_a_layer() -> None:
    for module in MODULES:
        _layer(module)


def test_no_upward_imports() -> None:
    wrong = []
    for module, deps in _graph().items():
        here = _layer(module)
        if here is None:
            continue
        for dep in deps:
            there = _layer(dep)
            if there is not None and there > here:
                wrong.append(f"{module} (layer {here}) imports {dep} (layer {there})")
    assert not wrong, "\n".join(sorted(wrong))


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[list[str]] = []
    counter = [0]

    def visit(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                out.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def test_no_import_cycles() -> None:
    graph = _graph()
    # a package's __init__ re-exports its modules; those importing the package back is the cycle
    cycles = _cycles(graph)
    assert not cycles, "import cycles:\n" + "\n".join(" <-> ".join(c) for c in cycles)


def _private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def _python_files() -> list[Path]:
    files = [*sorted((SRC / PACKAGE).rglob("*.py"))]
    for top in ("tests", "benchmarks", "fuzz"):
        files += sorted((ROOT / top).rglob("*.py"))
    return files


def _private_uses(path: Path) -> Iterator[str]:
    tree = ast.parse(path.read_text(), str(path))
    aliases: set[str] = set()  # local names bound to hepsqueeze modules
    yield from _private_imports(tree, path, aliases)
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and _private(node.attr):
            root = node.value
            while isinstance(root, ast.Attribute):
                root = root.value
            if isinstance(root, ast.Name) and root.id in aliases:
                yield f"line {node.lineno}: uses {ast.unparse(node)}"
        elif isinstance(node, ast.Call) and _patches_private(node, aliases):
            # monkeypatch.setattr(module, "_name", ...) reaches into a module as much as module._name
            yield f"line {node.lineno}: patches {ast.unparse(node.args[0])}.{ast.literal_eval(node.args[1])}"


def _private_imports(tree: ast.Module, path: Path, aliases: set[str]) -> Iterator[str]:
    """Imports of private names or private modules; ``aliases`` gets the names bound to modules."""
    importer = _module_name(path) if path.is_relative_to(SRC) else ""
    is_package = path.name == "__init__.py"
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == PACKAGE:
                    aliases.add(alias.asname or PACKAGE)
                    yield from _private_module(alias.name, importer, node.lineno)
        elif isinstance(node, ast.ImportFrom):
            module = _resolve(node.module or "", importer, node.level, is_package)
            if module.split(".")[0] != PACKAGE:
                continue
            yield from _private_module(module, importer, node.lineno)
            for alias in node.names:
                full = f"{module}.{alias.name}"
                if full in MODULES:
                    aliases.add(alias.asname or alias.name)
                    yield from _private_module(full, importer, node.lineno)
                elif _private(alias.name):
                    yield f"line {node.lineno}: imports {alias.name} from {module}"


def _patches_private(node: ast.Call, aliases: set[str]) -> bool:
    if len(node.args) < 2 or not isinstance(node.func, ast.Attribute):
        return False
    first, second = node.args[0], node.args[1]
    return (
        node.func.attr in ("setattr", "delattr")
        and isinstance(first, ast.Name)
        and first.id in aliases
        and isinstance(second, ast.Constant)
        and isinstance(second.value, str)
        and _private(second.value)
    )


def _private_module(module: str, importer: str, line: int) -> Iterator[str]:
    """A module whose name is private may be imported from its own package only."""
    parts = module.split(".")
    for i, part in enumerate(parts):
        if _private(part):
            package = ".".join(parts[:i])
            if not (importer == package or importer.startswith(package + ".")):
                yield f"line {line}: imports the private module {module}"
            return


@pytest.mark.parametrize("path", _python_files(), ids=lambda p: str(p.relative_to(ROOT)))
def test_no_private_names_across_modules(path: Path) -> None:
    uses = list(_private_uses(path))
    assert not uses, f"{path.relative_to(ROOT)} uses private names of other modules:\n" + "\n".join(uses)
