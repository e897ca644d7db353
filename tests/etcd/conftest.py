"""Fixtures of the etcd-layer tests."""

import os

import pytest

from snaprewrite.etcd import output


@pytest.fixture
def pwrite_sizes(monkeypatch) -> list[int]:
    """pwrite_sizes is the size of each pwrite the output module makes from now on, in order."""
    sizes: list[int] = []
    real = os.pwrite

    def pwrite(fd, data, offset):
        sizes.append(len(data))
        return real(fd, data, offset)

    monkeypatch.setattr(output.os, "pwrite", pwrite)
    return sizes
