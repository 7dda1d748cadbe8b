"""No import cycles in voicebot/ (scripts/import_cycles.py), lazy imports counted too, and the checker finds one when there is one."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "import_cycles.py"


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(SCRIPT), *args], capture_output=True, text=True, timeout=120)


def test_voicebot_has_no_load_time_import_cycles() -> None:
    result = _run()
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no import cycles" in result.stdout


def test_voicebot_has_no_import_cycles_even_through_imports_deferred_into_functions() -> None:
    """A lazy import only hides a loop: dependencies go one way (channels never import handoff,
    the record store's factory and its implementations do not import each other)."""
    result = _run("--lazy")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no import cycles, lazy imports counted" in result.stdout


def _package(tmp_path: Path, files: dict[str, str]) -> Path:
    pkg = tmp_path / "pkg"
    for rel, text in {"__init__.py": "", **files}.items():
        (pkg / rel).parent.mkdir(parents=True, exist_ok=True)
        (pkg / rel).write_text(text)
    return pkg


def test_a_cycle_through_relative_and_absolute_imports_is_reported(tmp_path: Path) -> None:
    pkg = _package(tmp_path, {
        "a.py": "from .sub import b\n",
        "sub/__init__.py": "",
        "sub/b.py": "import pkg.c\n",
        "c.py": "try:\n    from pkg.a import thing\nexcept ImportError:\n    pass\n",
    })
    result = _run(str(pkg))
    assert result.returncode == 1
    assert "cycle of 3: pkg.a -> pkg.sub.b -> pkg.c -> pkg.a" in result.stdout


def test_imports_in_functions_and_for_type_checking_do_not_count_unless_lazy(tmp_path: Path) -> None:
    pkg = _package(tmp_path, {
        "a.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from pkg.b import B\nimport pkg.c\n",
        "b.py": "import pkg.a\n",
        "c.py": "def later():\n    from pkg import a\n",
    })
    assert _run(str(pkg)).returncode == 0
    lazy = _run("--lazy", str(pkg))
    assert lazy.returncode == 1
    assert "pkg.a -> pkg.c -> pkg.a" in lazy.stdout
    assert "pkg.b" not in lazy.stdout  # typing-only imports never run
