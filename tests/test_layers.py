"""Imports only point down: bbolt pages -> etcd backend/MVCC -> k8s encoding -> rewrite rules -> CLI and reports.

Every ``import`` of a snaprewrite module (also those inside functions) is read from the source with
``ast``. The base modules (errors, fileio, wire, jsontext, process, spill, standby) import only one another and may be
used by any layer; rehearsal and hostfiles sit beside the CLI, above the rules. The check is run on a
small tree with an upward import too, where it must report it.
"""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent / "snaprewrite"
PACKAGES = {"bbolt": 1, "etcd": 2, "k8s": 3, "rewrite": 4, "rehearsal": 5, "hostfiles": 5}
BASE = {"errors", "fileio", "wire", "jsontext", "process", "spill", "standby", "__init__"}  # layer 0
TOP = 6  # cli, clihelp, query, report, __main__


def layer_of(parts: list[str]) -> int:
    """layer_of is the layer of a module named by its path inside the package (['etcd', 'mvcc'])."""
    if parts[0] in PACKAGES:
        return PACKAGES[parts[0]]
    return 0 if parts[0] in BASE else TOP


def targets(path: Path, root: Path) -> list[list[str]]:
    """targets are the package modules ``path`` imports, as paths inside the package."""
    here = list(path.relative_to(root).with_suffix("").parts[:-1])
    out = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = here[: len(here) - (node.level - 1)]
            elif node.module and (node.module == root.name or node.module.startswith(root.name + ".")):
                base, node.module = [], node.module[len(root.name) + 1:] or None
            else:
                continue
            mod = base + (node.module.split(".") if node.module else [])
            # from the package root: its modules, or names __init__ defines (__version__)
            out += [mod] if mod else [[a.name] if (root / a.name).is_dir() or (root / f"{a.name}.py").exists()
                                      else ["__init__"] for a in node.names]
        elif isinstance(node, ast.Import):
            out += [a.name.split(".")[1:] for a in node.names if a.name.startswith(root.name + ".")]
    return [t for t in out if t]


def violations(root: Path) -> list[str]:
    found = []
    for path in sorted(root.rglob("*.py")):
        me = layer_of(list(path.relative_to(root).with_suffix("").parts))
        for t in targets(path, root):
            if layer_of(t) > me:
                found.append(f"{path.relative_to(root)} imports {'.'.join(t)}")
    return found


def test_imports_only_point_down():
    assert violations(ROOT) == []


def test_an_upward_import_is_reported(tmp_path):
    pkg = tmp_path / "snaprewrite"
    for d in ("bbolt", "etcd", "rewrite"):
        (pkg / d).mkdir(parents=True)
        (pkg / d / "__init__.py").write_text("")
    (pkg / "errors.py").write_text("")
    (pkg / "bbolt" / "tree.py").write_text("from ..errors import CorruptError\n")
    (pkg / "etcd" / "mvcc.py").write_text("from ..bbolt import tree\n\ndef f():\n    from ..rewrite import plan\n")
    (pkg / "rewrite" / "plan.py").write_text("import snaprewrite.cli\nfrom snaprewrite.etcd import mvcc\n")
    assert violations(pkg) == ["etcd/mvcc.py imports rewrite", "rewrite/plan.py imports cli"]
