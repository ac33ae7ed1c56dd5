"""Layering: the core and the shared limits do not import the client side."""

from __future__ import annotations

import ast
from pathlib import Path

import conferenceroom

PACKAGE = Path(conferenceroom.__file__).parent


def runtime_imports(path: Path) -> set[str]:
    """Modules ``path`` imports at module level (relative names resolved), outside TYPE_CHECKING."""
    tree = ast.parse(path.read_text())
    package = ".".join(["conferenceroom", *path.relative_to(PACKAGE).parts[:-1]])
    found: set[str] = set()

    def visit(node: ast.AST) -> None:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            return  # imports inside functions run only when called
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.dump(node.test):
            return
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                found.add(".".join(base + ([node.module] if node.module else [])))
            else:
                found.add(node.module or "")
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    return found


def test_core_does_not_import_client() -> None:
    """core.py imports nothing from conferenceroom.client at module level (no import circle)."""
    imports = runtime_imports(PACKAGE / "core.py")
    assert "conferenceroom.dispatch" in imports  # the walker sees relative imports
    assert not [m for m in imports if m.startswith("conferenceroom.client")], imports


def test_client_commands_take_limits_from_limits_module() -> None:
    """No client module imports conferenceroom.core at run time; limits come from limits.py."""
    offenders = {}
    for path in (PACKAGE / "client").rglob("*.py"):
        imports = runtime_imports(path)
        if "conferenceroom.core" in imports:
            offenders[str(path.relative_to(PACKAGE))] = imports
    assert not offenders


def test_limits_module_is_a_leaf() -> None:
    """limits.py imports nothing from the package, so any side may use it."""
    assert not [m for m in runtime_imports(PACKAGE / "limits.py") if m.startswith("conferenceroom")]
