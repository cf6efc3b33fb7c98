"""Fixtures shared by the catalogue's tests."""
from __future__ import annotations

import pytest

from catalog import disclosure_export as export
from catalog.dataset import Dataset
from portal import content
from portal.cli import make_request


@pytest.fixture
def no_disclosure_export(app, tm, dbsession):
    """For tests that count the catalogue's datasets: the set-up's 政府信息公开目录 taken away
    (in the test's transaction only)."""
    request = make_request(app.registry, {"tm.manager": tm, "app.dbsession": dbsession})
    content.delete(request, dbsession.get(Dataset, export.export_row(dbsession).dataset_id), unrestricted=True)
    dbsession.flush()
