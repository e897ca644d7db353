"""Encrypted snapshots written by the real kube-apiserver (fixtures/encryption/, made by
fixtures/encryption_material.py) and the API server to read rewritten ones back."""

import shutil
import sys
from pathlib import Path

import pytest

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"
sys.path.insert(0, str(FIXTURES))

import encryption_material as material  # noqa: E402


@pytest.fixture(scope="session")
def encrypted(tmp_path_factory):
    """encrypted(name) is the Material of "aescbc", "aesgcm", "secretbox", "rotation" (aescbc, two keys) or "kms"."""
    loaded: dict[str, material.Material] = {}

    def get(name: str) -> material.Material:
        if name not in loaded:
            where = tmp_path_factory.mktemp(f"enc-{name}")
            source = FIXTURES / "encryption" / name
            shutil.copy(source / "snapshot.db", where / "snapshot.db")
            m = material.load(source, where / "encryption.yaml")
            m.snapshot = where / "snapshot.db"  # a private copy: the tests must never touch the committed file
            loaded[name] = m
        return loaded[name]

    return get
