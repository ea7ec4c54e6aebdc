"""The architecture as written down: ARCHITECTURE.md's module map is true, and no module reaches
into another module's private names."""

from __future__ import annotations

import ast
import re
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "bayes_atlas"
ARCHITECTURE = PACKAGE.parent / "ARCHITECTURE.md"
#: Private helpers shared on purpose inside the package (paths and atomic writes).
SHARED_PRIVATE_MODULES = {"bayes_atlas._paths", "bayes_atlas._io"}


def _modules() -> dict[str, Path]:
    out = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        relative = path.relative_to(PACKAGE.parent).with_suffix("")
        parts = relative.parts[:-1] if relative.name == "__init__" else relative.parts
        out[".".join(parts)] = path
    return out


def test_no_module_imports_another_modules_private_names():
    offences = []
    for name, path in _modules().items():
        tree = ast.parse(path.read_text())
        aliases: dict[str, str] = {}
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("bayes_atlas"):
                if node.module in SHARED_PRIVATE_MODULES:
                    continue
                for alias in node.names:
                    if alias.name.startswith("_") and not alias.name.startswith("__") and node.module != name:
                        offences.append(f"{name}: from {node.module} import {alias.name}")
                    aliases[alias.asname or alias.name] = f"{node.module}.{alias.name}"
            elif isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.name.startswith("bayes_atlas"):
                        aliases[alias.asname or alias.name] = alias.name
        for node in ast.walk(tree):
            if isinstance(node, ast.Attribute) and node.attr.startswith("_") and not node.attr.startswith("__"):
                base = node.value
                if isinstance(base, ast.Name) and base.id in aliases and aliases[base.id] != name:
                    offences.append(f"{name}: {base.id}.{node.attr}")
    assert not offences, "\n".join(offences)


def test_architecture_md_lists_every_module_and_nothing_else():
    listed = set(re.findall(r"`(bayes_atlas(?:\.[a-z_]+)*)`", ARCHITECTURE.read_text()))
    actual = {name for name in _modules() if not name.split(".")[-1].startswith("_") or name.endswith("__main__")}
    actual = {name for name in actual if not name.endswith("__main__")}
    missing = sorted(actual - listed)
    stale = sorted(m for m in listed - actual if m != "bayes_atlas")
    assert not missing, f"ARCHITECTURE.md does not mention: {missing}"
    assert not stale, f"ARCHITECTURE.md mentions modules that do not exist: {stale}"
