"""The pure core imports no I/O library and reads no clock (architecture principle 3)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PURE_PACKAGES = [ROOT / "streams" / "domain"]
PURE_MODULES = [ROOT / "projections" / "views.py"]
PURE_MODULES += [ROOT / "streams" / "gateway" / f"{name}.py" for name in ("requests", "limits", "receipts")]

FORBIDDEN_MODULES = {
    "aiohttp", "aiokafka", "asyncio", "confluent_kafka", "faust", "httpx", "mode", "os", "prometheus_client",
    "random", "requests", "rocksdict", "secrets", "socket", "subprocess", "threading", "time",
}
FORBIDDEN_CALLS = ("datetime.now", "datetime.utcnow", "date.today", "uuid4", "uuid1", "time.time")


def _pure_files() -> list[Path]:
    files = [p for pkg in PURE_PACKAGES for p in sorted(pkg.rglob("*.py"))]
    files += [p for p in PURE_MODULES if p.exists()]
    return files


def _imports(tree: ast.AST) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module.split(".")[0])
    return found


def test_there_is_a_pure_core_to_check() -> None:
    assert len(_pure_files()) >= 3


@pytest.mark.parametrize("path", _pure_files(), ids=lambda p: str(p.relative_to(ROOT)))
def test_pure_module_imports_no_io_library(path: Path) -> None:
    bad = _imports(ast.parse(path.read_text(), str(path))) & FORBIDDEN_MODULES
    assert not bad, f"{path.name} imports {sorted(bad)}: the pure core must not do I/O"


@pytest.mark.parametrize("path", _pure_files(), ids=lambda p: str(p.relative_to(ROOT)))
def test_pure_module_reads_no_clock_and_draws_no_random_id(path: Path) -> None:
    text = path.read_text()
    bad = [call for call in FORBIDDEN_CALLS if call + "(" in text]
    assert not bad, f"{path.name} calls {bad}: time and ids must come in as arguments"
