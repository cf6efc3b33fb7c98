"""Tests against a real CKAN 2.12 (tests/ckanserver.py starts it: its own virtualenv, PostgreSQL,
Redis and the Solr stand-in, on loopback).

* `ckan` (session): the running server -- `ckan.url`, `ckan.api_token` (a sysadmin's),
  `ckan.api` (a ckanapi RemoteCKAN acting as that sysadmin), `ckan.server` (the CkanServer, for
  `stop_ckan()`/`start_ckan()` and `server.solr.calls`). The first run on a machine builds CKAN's
  virtualenv (1-3 minutes); later runs reuse it and start in ~15 s.
* With CI=true, CKAN failing to install or start fails these tests; elsewhere they are skipped
  with the reason printed, never silently.
* Every test in this folder is marked `ckan` and runs in the SQLite half of `make test` only:
  CKAN keeps its own PostgreSQL whatever `--db` says, so a second run would test nothing new.
"""
from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

import pytest

from tests.services import in_ci, sqlite_half_only

CKAN_DIR = Path(__file__).resolve().parent


def pytest_configure(config: Any) -> None:
    config.addinivalue_line("markers", "ckan: runs against the real CKAN the test set-up starts (SQLite half only)")


def pytest_collection_modifyitems(config: Any, items: list[Any]) -> None:
    """Mark the tests of this folder; leave them out of the PostgreSQL half (see the docstring)."""
    sqlite_half_only(config, items, CKAN_DIR, "ckan")


@dataclass
class Ckan:
    """What a test needs of the running CKAN."""

    url: str
    api_token: str
    api: Any  # ckanapi.RemoteCKAN
    server: Any  # tests.ckanserver.CkanServer


@pytest.fixture(scope="session")
def ckan() -> Iterator[Ckan]:
    from tests.ckanserver import CkanUnavailable, start_ckan_server

    try:
        server = start_ckan_server()
    except Exception as exc:  # CkanUnavailable names the step; anything else is reported as it is
        reason = str(exc) if isinstance(exc, CkanUnavailable) else f"{type(exc).__name__}: {exc}"
        message = f"CKAN could not be installed or started: {reason}"
        print(f"[ckan] {message}", file=sys.stderr, flush=True)
        if in_ci():
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    try:
        yield Ckan(server.url, server.api_token, server.remote(), server)
    finally:
        server.stop()
