"""Services meet only in events: contracts/ and infra/ import no service, and no
service imports another. Read from the source (ast), so a lazy import inside a
function counts too."""

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SERVICES = sorted(p.name for p in (REPO / "services").iterdir() if (p / "__init__.py").exists())


def _imports(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(), filename=str(path))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.extend((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.append((node.lineno, node.module))
    return found


def _violations(folder: Path, allowed_service: str | None) -> list[str]:
    bad = []
    for path in sorted(folder.rglob("*.py")):
        for line, module in _imports(path):
            parts = module.split(".")
            if parts[0] == "services" and (len(parts) == 1 or parts[1] != allowed_service):
                bad.append(f"{path.relative_to(REPO)}:{line} imports {module}")
    return bad


@pytest.mark.parametrize("package", ["contracts", "infra"])
def test_shared_packages_import_no_service(package):
    assert _violations(REPO / package, allowed_service=None) == []


@pytest.mark.parametrize("service", SERVICES)
def test_a_service_imports_no_other_service(service):
    assert _violations(REPO / "services" / service, allowed_service=service) == []


def test_the_check_sees_an_import(tmp_path):
    # The rule must be able to fail: a planted cross-service import is reported.
    planted = tmp_path / "x.py"
    planted.write_text("def f():\n    from services.claims.domain import Claim\n")
    assert _imports(planted) == [(2, "services.claims.domain")]
