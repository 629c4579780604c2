"""The shape of the code, checked: sizes, the direction of imports, and comments that speak to
the reader. docs/architecture.md draws the layers these tests hold the code to."""

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
APPS = ("lib", "accounts", "petition", "config")
# Everything that is ours and runs: the apps, and the tools around them.
SOURCE_DIRS = (*APPS, "benchmarks", "deploy")
MAX_FILE_LINES = 600
MAX_SHARE = 0.15
MAX_FUNCTION_LINES = 60


def python_files(dirs=SOURCE_DIRS) -> list[Path]:
    return sorted(
        path
        for top in dirs
        for path in (ROOT / top).rglob("*.py")
        if "migrations" not in path.parts and "results" not in path.parts
    )


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def test_no_file_is_long_or_a_large_share_of_the_code():
    sizes = {path: len(path.read_text().splitlines()) for path in python_files()}
    total = sum(sizes.values())
    too_long = {str(p.relative_to(ROOT)): n for p, n in sizes.items() if n > MAX_FILE_LINES}
    too_big = {str(p.relative_to(ROOT)): n for p, n in sizes.items() if n > MAX_SHARE * total}
    assert not too_long, f"files over {MAX_FILE_LINES} lines: {too_long}"
    assert not too_big, f"files over {MAX_SHARE:.0%} of {total} lines: {too_big}"


def test_no_function_is_long():
    long = []
    for path in python_files():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                lines = node.end_lineno - node.lineno + 1
                if lines > MAX_FUNCTION_LINES:
                    long.append(f"{path.relative_to(ROOT)}:{node.lineno} {node.name} ({lines})")
    assert not long, f"functions over {MAX_FUNCTION_LINES} lines: {long}"


def test_imports_sit_at_the_top_of_every_file():
    files = python_files((*SOURCE_DIRS, "tests"))
    marker = "noqa: " + "E402"  # spelt in two halves, so this file does not match itself
    late = [str(p.relative_to(ROOT)) for p in files if marker in p.read_text()]
    assert not late, f"imports in the middle of a file: {late}"


# A reader has no issue tracker: a comment says what the code does and why.
ISSUE_REFERENCE = re.compile(r"\bissues? ?#?\d+", re.IGNORECASE)
TEXT_SUFFIXES = {".py", ".html", ".txt", ".js", ".css", ".yml", ".toml"}


def test_no_comment_points_to_an_issue():
    found = []
    for top in (*SOURCE_DIRS, "tests", "templates", "static", "bin"):
        for path in (ROOT / top).rglob("*"):
            if path.suffix not in TEXT_SUFFIXES or "vendor" in path.parts:
                continue
            if "results" in path.parts:
                continue
            for number, line in enumerate(path.read_text(errors="replace").splitlines(), 1):
                if ISSUE_REFERENCE.search(line):
                    found.append(f"{path.relative_to(ROOT)}:{number}")
    assert not found, f"comments naming an issue: {found}"


# --- The import graph ------------------------------------------------------------------------


def imports_of(path: Path, modules: set[str]) -> set[str]:
    """Every project module this file imports, at the top or inside a function. `from package
    import module` depends on the module, not on the package's __init__."""
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                base = f"{anchor}.{base}" if base else anchor
            submodules = [f"{base}.{alias.name}" for alias in node.names]
            targets = [m for m in submodules if m in modules] or [base]
        else:
            continue
        for target in targets:
            # `import a.b.c` names a.b.c; the nearest project module is what it runs.
            while target and target not in modules:
                target = target.rpartition(".")[0]
            if target and target != name:
                found.add(target)
    return found


def import_graph() -> dict[str, set[str]]:
    files = python_files(APPS)
    modules = {module_name(path) for path in files}
    return {module_name(path): imports_of(path, modules) for path in files}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan's algorithm)."""
    index, low, stack, on_stack, found = {}, {}, [], set(), []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in graph.get(node, ()):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_the_import_graph_has_no_cycles():
    assert cycles(import_graph()) == []


def test_cycle_finder_finds_a_cycle():
    # The check above is only worth something if it can fail.
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def under(module: str, *prefixes: str) -> bool:
    return any(module == p or module.startswith(p + ".") for p in prefixes)


# Who may not import whom: each line is (importer, imported, why).
FORBIDDEN = [
    (("lib",), ("accounts", "petition", "config"), "lib sits below both apps"),
    (("accounts",), ("petition",), "accounts is the lower app"),
    (
        ("petition.models",),
        ("petition",),
        "models import only models (and lib, accounts.models)",
    ),
    (
        ("petition.services",),
        ("petition.views", "petition.urls", "petition.tasks"),
        "services are called by views and tasks, never the other way",
    ),
    (("petition.tasks",), ("petition.views", "petition.urls"), "tasks only wrap services"),
]


def test_imports_point_down():
    graph = import_graph()
    wrong = []
    for importer, imported in ((a, b) for a, deps in graph.items() for b in deps):
        for sources, targets, why in FORBIDDEN:
            if under(importer, *sources) and under(imported, *targets):
                if under(importer, "petition.models") and under(imported, "petition.models"):
                    continue
                wrong.append(f"{importer} -> {imported}: {why}")
    assert not wrong, wrong


def test_nothing_below_the_views_imports_a_view():
    graph = import_graph()
    views = ("petition.views", "petition.api", "petition.openapi")
    allowed = ("petition.views", "petition.urls", "petition.api", "config.urls")
    wrong = [
        f"{importer} -> {imported}"
        for importer, deps in graph.items()
        for imported in deps
        if under(imported, *views)
        and not under(importer, *allowed)
        and not importer.endswith("urls")
    ]
    assert not wrong, wrong


def test_only_entry_points_import_the_tasks():
    # Tasks are entry points, beside the views: a service that needs work done later enqueues
    # it by name and never imports the module that wraps it.
    graph = import_graph()
    entry_points = ("petition.views", "petition.api", "petition.management", "config")
    wrong = [
        f"{importer} -> petition.tasks"
        for importer, deps in graph.items()
        if "petition.tasks" in deps and not under(importer, *entry_points)
    ]
    assert not wrong, wrong
