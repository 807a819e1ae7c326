"""The shape of the package: no import cycle, short functions, check() reading as its stages."""

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "gradcheck"
MAX_LINES = 80  # code lines of any function (its docstring is documentation, not logic)
CHECK_LINES = 60


def _module_name(path: Path) -> str:
    parts = path.relative_to(SRC.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _top_level_imports(tree: ast.Module, module: str, is_package: bool) -> set[str]:
    """Modules of the package imported when ``module`` is imported (not inside functions, not
    under ``if TYPE_CHECKING``)."""
    package = module if is_package else module.rsplit(".", 1)[0]
    found: set[str] = set()

    def visit(nodes: list[ast.stmt]) -> None:
        for node in nodes:
            if isinstance(node, ast.If) and not _is_type_checking(node):
                visit(node.body)
                visit(node.orelse)
            elif isinstance(node, ast.Try):
                visit(node.body)
            elif isinstance(node, ast.ImportFrom) and node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
                if node.module:
                    found.add(target)
                for alias in node.names:  # from . import directional: a module, not the package
                    found.add(f"{target}.{alias.name}")
            elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("gradcheck"):
                found.add(node.module)
            elif isinstance(node, ast.Import):
                found.update(a.name for a in node.names if a.name.startswith("gradcheck"))

    visit(tree.body)
    return found


def _graph() -> dict[str, set[str]]:
    modules = {}
    for path in sorted(SRC.rglob("*.py")):
        name = _module_name(path)
        modules[name] = (ast.parse(path.read_text()), path.name == "__init__.py")
    return {
        name: {m for m in _top_level_imports(tree, name, pkg) if m in modules and m != name}
        for name, (tree, pkg) in modules.items()
    }


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Cycles among modules, ignoring the edges from a package to its own modules (importing
    ``gradcheck.x`` runs ``gradcheck/__init__`` first, which is not a cycle of design)."""
    edges = {m: {d for d in deps if not d.startswith(m + ".")} for m, deps in graph.items()}
    found, state = [], {}

    def walk(node: str, stack: list[str]) -> None:
        state[node] = "open"
        for dep in sorted(edges[node]):
            if state.get(dep) == "open":
                found.append([*stack[stack.index(dep) :], dep])
            elif dep not in state:
                walk(dep, [*stack, dep])
        state[node] = "done"

    for module in sorted(edges):
        if module not in state:
            walk(module, [module])
    return found


def test_no_import_cycle_anywhere_in_the_package():
    graph = _graph()
    assert "gradcheck.pipeline" in graph["gradcheck"]  # the walker sees the package's imports
    assert "gradcheck.report" in graph["gradcheck.diagnose"]
    assert _cycles(graph) == []


def test_the_cycle_finder_finds_a_cycle():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == [["a", "b", "c", "a"]]


def _code_lines(node: ast.FunctionDef | ast.AsyncFunctionDef) -> int:
    body = node.body
    first = body[0]
    has_doc = isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant)
    start = body[1].lineno if has_doc and len(body) > 1 else first.lineno
    return node.end_lineno - start + 1


def _functions():
    for path in sorted(SRC.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                yield path.relative_to(SRC.parent), node


def test_no_function_over_80_lines_of_code():
    long = [
        f"{path}:{node.lineno} {node.name} ({_code_lines(node)} lines)"
        for path, node in _functions()
        if _code_lines(node) > MAX_LINES
    ]
    assert long == []
    assert max(_code_lines(node) for _, node in _functions()) > 30  # the measure measures


STAGES = {
    "run": ["probe", "make_plan", "_directional", "_full"],
    "_full": ["determinism", "estimate_noise", "tolerances", "compare_entries", "history"],
    "_directional": ["tolerances", "compare_directions", "revisit"],
}


@pytest.mark.parametrize("name", ["check", "run", "_full", "_directional"])
def test_check_reads_as_its_stages(name):
    tree = ast.parse((SRC / "pipeline.py").read_text())
    node = next(n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == name)
    assert _code_lines(node) <= CHECK_LINES
    if name in STAGES:  # the stages, in order, each a named function
        calls = [
            n.func.id
            for n in ast.walk(node)
            if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)
        ]
        firsts = list(dict.fromkeys(c for c in calls if c in STAGES[name]))
        assert firsts == STAGES[name]


MAX_CLASS_LINES = 150  # code lines of a class (its docstrings, and its methods', excluded)


def _docstring_lines(node: ast.AST) -> int:
    count = 0
    for sub in ast.walk(node):
        if isinstance(sub, (ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and sub.body:
            first = sub.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                count += first.end_lineno - first.lineno + 1
    return count


def _classes():
    for path in sorted(SRC.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ClassDef):
                size = node.end_lineno - node.lineno + 1 - _docstring_lines(node)
                yield path.relative_to(SRC.parent), node, size


def test_no_class_over_150_lines_of_code():
    sizes = [(f"{path}:{node.lineno} {node.name}", size) for path, node, size in _classes()]
    assert [(name, size) for name, size in sizes if size > MAX_CLASS_LINES] == []
    assert max(size for _, size in sizes) > 100  # the measure measures


def test_the_engines_are_values():
    """The evaluator and the directional tester hold no running state (the ledger does); the
    search returns what it found as a value; runners are functions of the Call and the Ledger."""
    import dataclasses
    import inspect

    from gradcheck import directional, evaluate, executors, search

    for cls in (evaluate.Evaluator, directional.Tester, search.Search, executors.Pool):
        assert cls.__dataclass_params__.frozen, cls
    assert issubclass(search.Localisation, tuple)  # a NamedTuple
    assert not hasattr(directional, "_Search")
    frozen = evaluate.Evaluator(lambda x: 0.0)
    with pytest.raises(dataclasses.FrozenInstanceError):
        frozen.checkpoint = None  # a checkpoint makes a new evaluator (dataclasses.replace)
    runners = [*evaluate.RUNNERS.values(), executors.Pool.run]
    for runner in runners:
        names = [p for p in inspect.signature(runner).parameters if p != "self"]
        assert names == ["call", "ledger", "points", "wanted", "sink"], runner
