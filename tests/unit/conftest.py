"""Fixtures the link tests share (their helpers are in linkkit.py): an in-memory alpha.lab and a raw peer.

A test module defining a fixture of the same name uses its own.
"""

from __future__ import annotations

import pytest

from tests.unit.linknet import FakeLink, Mesh, Node, raw_link


@pytest.fixture
def mesh() -> Mesh:
    """An empty in-memory network of servers."""
    return Mesh()


@pytest.fixture
def alpha(mesh: Mesh) -> Node:
    """alpha.lab (1AA), a hub, in ``mesh``."""
    return mesh.node("alpha.lab", "1AA")


@pytest.fixture
def beta(alpha: Node) -> FakeLink:
    """A raw hybrid peer beta.lab (2BB, a hub) linked to alpha, whose lines the test writes."""
    return raw_link(alpha)
