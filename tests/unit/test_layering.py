"""The pure core imports no I/O library and reads no clock (architecture principle 3)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PURE_PACKAGES = [ROOT / "streams" / "domain"]
PURE_MODULES = [ROOT / "projections" / "views.py"]
PURE_MODULES += [ROOT / "streams" / "gateway" / f"{name}.py" for name in ("requests", "receipts")]
PURE_MODULES += [ROOT / "streams" / "http" / "limits.py"]

FORBIDDEN_MODULES = {
    "aiohttp", "aiokafka", "asyncio", "confluent_kafka", "faust", "httpx", "mode", "os", "prometheus_client",
    "random", "requests", "rocksdict", "secrets", "socket", "subprocess", "threading", "time",
}
FORBIDDEN_CALLS = ("datetime.now", "datetime.utcnow", "date.today", "uuid4", "uuid1", "time.time")


def _pure_files() -> list[Path]:
    files = [p for pkg in PURE_PACKAGES for p in sorted(pkg.rglob("*.py"))]
    files += PURE_MODULES  # a module that moved fails here instead of dropping out of the check
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


# --- the package layout's import rules (README "Layout") ------------------------------------------------

ALLOWED: dict[str, set[str]] = {
    # package: the project packages it may import besides itself (the standard library and third parties
    # are checked above for the pure ones, and for Faust below)
    "streams.domain": {"schemas"},
    "streams.state": {"schemas", "streams.domain"},
    "streams.kafka": {"schemas", "streams.domain", "streams.settings"},
    "streams.http": {"schemas", "streams.domain"},
    "streams.gateway": {"schemas", "streams.domain", "streams.http", "streams.kafka", "streams.settings"},
}
FAUST_DOOR = "streams.worker.faust"
"""The only package that imports faust or mode (Faust's service library)."""


def _module_name(path: Path) -> str:
    return ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")


def _project_imports(tree: ast.AST) -> set[str]:
    """Every absolute import of the file, wherever it stands (functions included), as dotted names."""
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


def _within(name: str, package: str) -> bool:
    return name == package or name.startswith(package + ".")


def _product_files() -> list[Path]:
    return sorted([*(ROOT / "streams").rglob("*.py"), *(ROOT / "projections").rglob("*.py")])


@pytest.mark.parametrize("package", sorted(ALLOWED))
def test_each_package_imports_only_the_layers_below_it(package: str) -> None:
    allowed = {package, *ALLOWED[package]}
    bad: list[str] = []
    for path in _product_files():
        if not _within(_module_name(path), package):
            continue
        for name in _project_imports(ast.parse(path.read_text(), str(path))):
            top = name.split(".")[0]
            if top in ("streams", "projections", "schemas") and not any(_within(name, a) for a in allowed):
                bad.append(f"{path.relative_to(ROOT)} imports {name}")
    assert not bad, "\n".join(sorted(set(bad)))


def test_only_the_faust_door_imports_faust() -> None:
    bad = []
    for path in _product_files():
        if _within(_module_name(path), FAUST_DOOR):
            continue
        names = _project_imports(ast.parse(path.read_text(), str(path)))
        if any(_within(name, "faust") or _within(name, "mode") for name in names):
            bad.append(str(path.relative_to(ROOT)))
    assert not bad, f"import faust outside {FAUST_DOOR}: {bad}"


def test_no_project_module_is_imported_by_its_name_as_a_string() -> None:
    bad = []
    for path in _product_files():
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute | ast.Name):
                called = node.func.attr if isinstance(node.func, ast.Attribute) else node.func.id
                if called in ("import_module", "__import__", "find_spec"):
                    bad.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert not bad, f"modules imported by name: {bad}"


def test_the_rules_are_not_vacuous() -> None:
    """Each rule has files to check, and a forbidden import is caught."""
    for package in [*ALLOWED, FAUST_DOOR]:
        assert any(_within(_module_name(p), package) for p in _product_files()), package
    tree = ast.parse("def f():\n    from streams.worker.batch import RawMessage\n")
    assert "streams.worker.batch" in _project_imports(tree)


def test_topic_names_are_written_in_one_module() -> None:
    """Every topic name is a string literal in ``schemas/topics.py`` only; the rest of the product refers to
    it (a new input topic is added there, not in seven files)."""
    from schemas import topics

    names = {value for key, value in vars(topics).items() if key.isupper() and isinstance(value, str)}
    assert len(names) >= 18
    bad = []
    others = [*sorted((ROOT / "schemas").glob("*.py")), *sorted((ROOT / "benchmarks").rglob("*.py"))]
    for path in [*_product_files(), *others]:
        if path == ROOT / "schemas" / "topics.py":
            continue
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Constant) and node.value in names:
                bad.append(f"{path.relative_to(ROOT)}:{node.lineno} {node.value!r}")
    assert not bad, "topic names written outside schemas/topics.py:\n" + "\n".join(bad)
