"""The simulator's layout: its modules import one another without a circle, and none of them
reads the client's code (a fake built from the client's endpoint table only proves that the
client agrees with itself)."""

import ast
from pathlib import Path

SIM = Path(__file__).resolve().parents[2] / "tallyfy_source" / "simulator"
MODULES = sorted(p.stem for p in SIM.glob("*.py"))


def _imports(module: str):
    """(sibling modules imported, imports from outside the simulator package)."""
    siblings, outside = set(), set()
    for node in ast.walk(ast.parse((SIM / f"{module}.py").read_text())):
        if isinstance(node, ast.ImportFrom) and node.level == 1:
            if node.module:
                siblings.add(node.module.split(".")[0])
            else:
                siblings.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level > 1:
            outside.add("." * node.level + (node.module or ""))
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("tallyfy_source"):
            outside.add(node.module)
        elif isinstance(node, ast.Import):
            outside.update(a.name for a in node.names if a.name.startswith("tallyfy_source"))
    return siblings & set(MODULES), outside


def test_the_simulator_imports_nothing_from_the_client():
    for module in MODULES:
        assert _imports(module)[1] == set(), module


def test_the_simulator_modules_import_one_another_without_a_circle():
    graph = {m: _imports(m)[0] - {"__init__"} for m in MODULES if m != "__init__"}
    done, path = set(), []

    def visit(m):
        assert m not in path, f"import circle: {' -> '.join(path[path.index(m):] + [m])}"
        if m in done:
            return
        path.append(m)
        for dep in sorted(graph[m]):
            visit(dep)
        path.pop()
        done.add(m)

    for m in sorted(graph):
        visit(m)
    assert {"server", "org", "serving", "directory", "families"} <= set(graph)
    assert not graph["serving"] & {"org", "server"}


def test_each_simulator_module_is_short_and_says_why():
    """Issue 17: every file under 300 lines, each opening with a docstring saying what it is for."""
    for module in MODULES:
        text = (SIM / f"{module}.py").read_text()
        assert len(text.splitlines()) < 300, module
        assert ast.get_docstring(ast.parse(text)), module
