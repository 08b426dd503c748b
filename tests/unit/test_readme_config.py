"""The README's configuration table names every CONTINUUM_* variable the service reads."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_every_variable_the_service_reads_is_in_the_configuration_table() -> None:
    """Variables spelled out anywhere in the shipped code, and those Settings reads through
    `get("NAME")`, each have a row in the README's table."""
    code = "\n".join(
        path.read_text()
        for path in (ROOT / "api").rglob("*.py")
        if "bench" not in path.relative_to(ROOT).parts
    )
    named = set(re.findall(r"CONTINUUM_[A-Z_]*[A-Z]", code))
    settings = (ROOT / "api" / "settings.py").read_text()
    named |= {f"CONTINUUM_{name}" for name in re.findall(r'get\("([A-Z_]+)"\)', settings)}
    readme = (ROOT / "README.md").read_text()
    table = readme.split("## Configuration")[1].split("\n## ")[0]
    rows = set(re.findall(r"^\| `(CONTINUUM_[A-Z_]+)` \|", table, flags=re.MULTILINE))
    assert len(named) > 10
    assert sorted(named - rows) == []
