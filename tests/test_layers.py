"""The packages stack: no module imports from a package above its own, and no import cycle between packages.

Read from the source (every import, also those inside functions and under TYPE_CHECKING), so a new module
or a new import that breaks the layering fails here, not in a reader's head.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

# lowest first; a module may import from its own unit and from units of a lower rank only
RANKS = {
    "engine.types": 0,
    "engine.phones": 0,
    "engine._lazy": 0,
    "engine.errors": 1,
    "engine.runtime": 2,
    "engine.store": 2,
    "engine.provider": 3,
    "engine.simulator": 4,
    "engine.ingest": 4,
    "engine.state": 5,
    "engine.budget": 6,
    "engine.resolve": 7,
    "engine.dispatch": 8,
    "engine.reports": 8,
    "engine.receipts": 8,
    "engine.plan": 9,
    "engine.api": 10,
    "engine.service": 11,  # the HTTP API: it drives engine.api, as the command line does
    "engine": 11,  # engine/__init__.py: the lazy public API
    "workers": 11,
    "engine.cli": 12,
}


def unit(module: str) -> str | None:
    """The layer unit a dotted module name belongs to: its package under engine/, or a root module."""
    parts = module.split(".")
    for length in (2, 1):
        name = ".".join(parts[:length])
        if name in RANKS:
            return name
    return None


def imports(path: Path) -> Iterator[tuple[int, str]]:
    """(line, module) of every absolute import in a file, ``from x import y`` counting as x and x.y."""
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.lineno, node.module
            for alias in node.names:
                yield node.lineno, f"{node.module}.{alias.name}"
        elif isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name


def upward(path: Path, name: str) -> list[str]:
    """The imports of module ``name`` (at ``path``) that reach a unit of its own rank or above."""
    mine = unit(name)
    assert mine is not None, f"{name} belongs to no ranked unit"
    found = []
    for line, target in imports(path):
        theirs = unit(target)
        if theirs is None or theirs == mine or (theirs == "engine" and target != "engine"):
            continue  # a third-party module, the same unit, or engine.<unit> resolved by its own name
        if RANKS[theirs] >= RANKS[mine]:
            found.append(f"{path.name}:{line}: {mine} imports {target}")
    return found


def modules() -> Iterator[tuple[Path, str]]:
    for path in sorted([*ROOT.glob("engine/**/*.py"), *ROOT.glob("workers/*.py")]):
        name = ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
        yield path, name


def test_every_module_belongs_to_a_ranked_unit() -> None:
    unranked = [name for _, name in modules() if unit(name) is None]
    assert unranked == []


def test_no_module_imports_from_a_higher_or_sibling_layer() -> None:
    assert [found for path, name in modules() for found in upward(path, name)] == []


@pytest.mark.parametrize(
    ("source", "flagged"),
    [
        ("from engine.dispatch.batch_run import BatchRun", True),  # state reaching up to dispatch
        ("def later() -> None:\n    from engine.plan import planner", True),  # also inside a function
        ("from engine import api", True),  # the public API sits above every stage
        ("from engine.budget.records import Caller", True),  # the budget stacks on state, not under it
        ("from engine.store import keys\nfrom engine.types import CampaignState", False),
        ("import polars as pl\nfrom engine.state.records import Stage", False),
    ],
)
def test_an_upward_import_is_flagged_wherever_it_stands(tmp_path: Path, source: str, flagged: bool) -> None:
    planted = tmp_path / "planted.py"
    planted.write_text(source + "\n", encoding="utf-8")
    assert bool(upward(planted, "engine.state.planted")) is flagged
