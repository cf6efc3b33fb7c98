"""What the set-up of the tests' real services shares (PostgreSQL in tests/pgserver.py, CKAN in
tests/ckanserver.py, Chromium in tests/browser): CI detection, free loopback ports, the end of a
log for an error message, and keeping a folder's tests to the SQLite half of `make test`."""
from __future__ import annotations

import os
import socket
from pathlib import Path
from typing import Any, Callable

import pytest


def in_ci() -> bool:
    """CI=true: a service that cannot be installed or started fails the tests instead of skipping them."""
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def tail(path: Path, lines: int = 40, keep: Callable[[str], bool] | None = None) -> str:
    """The last `lines` lines of a log (those `keep` accepts), for an error message."""
    try:
        text = path.read_text(errors="replace")
    except OSError as exc:
        return f"(could not read {path}: {exc})"
    kept = [line for line in text.splitlines() if keep is None or keep(line)]
    return "\n".join(kept[-lines:]) or "(empty)"


def sqlite_half_only(config: Any, items: list[Any], folder: Path, marker: str) -> None:
    """Mark the tests below `folder` with `marker` and leave them out of the PostgreSQL half: they
    use services of their own whatever `--db` says, so running them twice would test nothing new."""
    mine = [item for item in items if folder in Path(str(item.fspath)).parents]
    for item in mine:
        item.add_marker(getattr(pytest.mark, marker))
    if mine and config.getoption("--db") == "postgresql":
        config.hook.pytest_deselected(items=mine)
        items[:] = [item for item in items if item not in mine]
