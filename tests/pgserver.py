"""Throwaway PostgreSQL server for the test suite.

The portal runs on PostgreSQL in production and relies on its behaviour
(transactional DDL, JSONB, full-text search, locking, constraint semantics),
so the tests run against a real PostgreSQL server rather than SQLite or mocks.
This module starts a private server in a temporary directory, listening on
127.0.0.1 only, with durability switched off (fsync, synchronous_commit,
full_page_writes) because the data is thrown away afterwards.

* ``PORTAL_TEST_POSTGRESQL_URL`` set: that server is used and nothing is
  started.
* Server binaries missing: installed with apt-get when running as root (CI on
  Debian), otherwise a ``RuntimeError`` explains how to install them.  The
  tests never skip silently.
* Running as root: initdb refuses to run as root, so initdb/pg_ctl run as the
  ``postgres`` system user via ``runuser``.

Developers can run ``python -m tests.pgserver`` to get a server and its URL.
"""

from __future__ import annotations

import atexit
import glob
import os
import pwd
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psycopg

from tests.services import free_port, tail

__all__ = ["PostgresServer", "start_postgresql", "URL_ENV_VAR"]

URL_ENV_VAR = "PORTAL_TEST_POSTGRESQL_URL"
DB_USER = "portal"
DB_NAME = "portal_test"
SYSTEM_USER = "postgres"
START_TIMEOUT = 30.0  # seconds
_REQUIRED_BINARIES = ("initdb", "pg_ctl", "postgres")
# sockaddr_un.sun_path is 108 bytes including the trailing NUL.
_MAX_SOCKET_PATH = 107


def _log(message: str) -> None:
    print(f"[pgserver] {message}", file=sys.stderr, flush=True)


def _is_root() -> bool:
    return os.geteuid() == 0


# --------------------------------------------------------------------------
# Locating / installing the server binaries
# --------------------------------------------------------------------------


def _has_server_binaries(bindir: str | os.PathLike[str]) -> bool:
    return all(os.access(os.path.join(bindir, b), os.X_OK) for b in _REQUIRED_BINARIES)


def _version_key(path: str) -> tuple[int, ...]:
    version = Path(path).parent.name  # /usr/lib/postgresql/<version>/bin
    return tuple(int(part) for part in re.findall(r"\d+", version)) or (0,)


def find_bindir() -> Path | None:
    """Return a directory holding initdb, pg_ctl and postgres, or None."""
    candidates: list[str] = sorted(
        glob.glob("/usr/lib/postgresql/*/bin"), key=_version_key, reverse=True
    )
    pg_config = shutil.which("pg_config")
    if pg_config:
        try:
            out = subprocess.run(
                [pg_config, "--bindir"], capture_output=True, text=True, timeout=10
            )
            if out.returncode == 0 and out.stdout.strip():
                candidates.append(out.stdout.strip())
        except (OSError, subprocess.SubprocessError):
            pass
    for name in ("pg_ctl", "initdb"):
        found = shutil.which(name)
        if found:
            # Resolve symlinks (e.g. /usr/local/bin/pg_ctl -> .../15/bin/pg_ctl).
            candidates.append(os.path.dirname(os.path.realpath(found)))
            candidates.append(os.path.dirname(found))
    for candidate in candidates:
        if _has_server_binaries(candidate):
            return Path(candidate)
    return None


def _install_with_apt() -> None:
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    for cmd in (["apt-get", "update"], ["apt-get", "install", "-y", "postgresql"]):
        _log("PostgreSQL server binaries not found; running: " + " ".join(cmd))
        try:
            # Stream apt's output to our stderr (fd 2) so CI logs show it.
            result = subprocess.run(cmd, env=env, stdin=subprocess.DEVNULL, stdout=2, stderr=2)
        except FileNotFoundError as exc:
            raise RuntimeError(
                "PostgreSQL server binaries (initdb, pg_ctl) are missing and apt-get "
                "is not available to install them. Install PostgreSQL or set "
                f"{URL_ENV_VAR} to an existing server."
            ) from exc
        if result.returncode != 0:
            raise RuntimeError(
                f"'{' '.join(cmd)}' failed with exit status {result.returncode} "
                "(see its output above); cannot install PostgreSQL for the tests. "
                f"Install it manually or set {URL_ENV_VAR}."
            )


def ensure_bindir() -> Path:
    """Find the server binaries, installing PostgreSQL with apt if root."""
    bindir = find_bindir()
    if bindir is not None:
        return bindir
    if not _is_root():
        raise RuntimeError(
            "The tests need a PostgreSQL server but initdb/pg_ctl were not found "
            "(looked in /usr/lib/postgresql/*/bin, `pg_config --bindir` and PATH). "
            "Install it, e.g. `sudo apt-get install postgresql` on Debian/Ubuntu, "
            "`sudo dnf install postgresql-server` on Fedora or "
            "`brew install postgresql` on macOS; or point the tests at an existing "
            f"server with {URL_ENV_VAR}=postgresql+psycopg://USER@HOST:PORT/DBNAME."
        )
    _install_with_apt()
    bindir = find_bindir()
    if bindir is None:
        raise RuntimeError(
            "apt-get install postgresql succeeded but initdb/pg_ctl still cannot be "
            "found under /usr/lib/postgresql/*/bin or on PATH."
        )
    _log(f"installed PostgreSQL; using {bindir}")
    return bindir


# --------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------


def _ensure_system_user() -> pwd.struct_passwd:
    try:
        return pwd.getpwnam(SYSTEM_USER)
    except KeyError:
        pass
    _log(f"creating system user {SYSTEM_USER!r} to run PostgreSQL (initdb refuses root)")
    subprocess.run(
        [
            "useradd", "--system", "--user-group", "--no-create-home",
            "--home-dir", "/nonexistent", "--shell", "/usr/sbin/nologin", SYSTEM_USER,
        ],
        check=True,
    )
    return pwd.getpwnam(SYSTEM_USER)


def _locale() -> str:
    """C.UTF-8 if available (proper Unicode ctype), else plain C."""
    try:
        out = subprocess.run(["locale", "-a"], capture_output=True, text=True, timeout=10)
        names = {n.strip().lower().replace("-", "") for n in out.stdout.splitlines()}
        if "c.utf8" in names:
            return "C.UTF-8"
    except (OSError, subprocess.SubprocessError):
        pass
    return "C"


def _conf_quote(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


# --------------------------------------------------------------------------
# The server
# --------------------------------------------------------------------------


class PostgresServer:
    """A running PostgreSQL server (or an external one given by URL)."""

    url: str

    def __init__(
        self,
        url: str,
        *,
        bindir: Path | None = None,
        base: Path | None = None,
        run_as: str | None = None,
        port: int | None = None,
    ) -> None:
        self.url = url
        self.bindir = bindir
        self.base = base  # temporary directory: data/, server.log, socket
        self.run_as = run_as
        self.port = port
        self._running = False

    # -- paths / commands -------------------------------------------------

    @property
    def data_dir(self) -> Path | None:
        return self.base / "data" if self.base else None

    @property
    def log_file(self) -> Path | None:
        return self.base / "server.log" if self.base else None

    def _cmd(self, program: str, *args: str) -> list[str]:
        assert self.bindir is not None
        cmd = [str(self.bindir / program), *args]
        if self.run_as:
            cmd = ["runuser", "-u", self.run_as, "--", *cmd]
        return cmd

    def _run(self, program: str, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        # Output goes to a temporary file, not a pipe: pg_ctl's postmaster
        # must not inherit a pipe we would wait on.
        with tempfile.TemporaryFile("w+") as out:
            proc = subprocess.run(
                self._cmd(program, *args),
                stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                cwd=self.base, env=dict(os.environ, LC_ALL="C"),
                timeout=timeout, text=True,
            )
            out.seek(0)
            return subprocess.CompletedProcess(proc.args, proc.returncode, out.read(), None)

    # -- lifecycle --------------------------------------------------------

    def _initdb(self) -> None:
        assert self.data_dir is not None and self.base is not None
        result = self._run(
            "initdb", "-D", str(self.data_dir), "-A", "trust", "-U", DB_USER,
            "-E", "UTF8", f"--locale={_locale()}", "--no-sync",
        )
        if result.returncode != 0:
            raise RuntimeError(f"initdb failed (exit {result.returncode}):\n{result.stdout}")
        settings = {
            "listen_addresses": "127.0.0.1",
            "unix_socket_directories": str(self.base),
            "fsync": "off",
            "synchronous_commit": "off",
            "full_page_writes": "off",
        }
        with open(self.data_dir / "postgresql.conf", "a") as conf:
            conf.write("\n# tests/pgserver.py: throwaway test server\n")
            for key, value in settings.items():
                conf.write(f"{key} = {_conf_quote(value)}\n")

    def _start(self, deadline: float) -> None:
        assert self.data_dir is not None and self.log_file is not None
        for attempt in range(3):
            self.port = free_port()
            timeout = max(1, int(deadline - time.monotonic()))
            result = self._run(
                "pg_ctl", "-D", str(self.data_dir), "-l", str(self.log_file),
                "-o", f"-p {self.port}", "-w", "-t", str(timeout), "start",
                timeout=timeout + 15,
            )
            if result.returncode == 0:
                self._running = True
                return
            log = tail(self.log_file)
            self._running = (self.data_dir / "postmaster.pid").exists()
            if "could not bind" in log and attempt < 2 and time.monotonic() < deadline:
                self._force_stop()
                continue  # port grabbed by someone else in the meantime; retry
            raise RuntimeError(
                f"PostgreSQL failed to start (pg_ctl exit {result.returncode}; "
                f"timeout {START_TIMEOUT:.0f}s).\npg_ctl output:\n{result.stdout}\n"
                f"Server log tail:\n{log}"
            )

    def _create_database(self, deadline: float) -> None:
        conninfo = f"host=127.0.0.1 port={self.port} user={DB_USER} dbname=postgres connect_timeout=5"
        while True:
            try:
                with psycopg.connect(conninfo, autocommit=True) as conn:
                    conn.execute(f'CREATE DATABASE "{DB_NAME}"')
                return
            except psycopg.OperationalError as exc:
                if time.monotonic() > deadline:
                    raise RuntimeError(
                        f"PostgreSQL on 127.0.0.1:{self.port} does not accept connections "
                        f"after {START_TIMEOUT:.0f}s: {exc}\n"
                        f"Server log tail:\n{tail(self.log_file)}"  # type: ignore[arg-type]
                    ) from exc
                time.sleep(0.1)

    def _force_stop(self) -> None:
        """Stop the server however possible (fast, then immediate, then SIGKILL)."""
        if self.data_dir is None:
            return
        pid_file = self.data_dir / "postmaster.pid"
        for mode in ("fast", "immediate"):
            if not pid_file.exists():
                break
            try:
                self._run("pg_ctl", "-D", str(self.data_dir), "-m", mode, "-w", "-t", "20", "stop", timeout=40)
            except (OSError, subprocess.SubprocessError):
                pass
        if pid_file.exists():
            try:
                pid = int(pid_file.read_text().split()[0])
                os.kill(pid, signal.SIGKILL)
            except (OSError, ValueError, IndexError):
                pass
        self._running = False

    def stop(self) -> None:
        """Stop the server and remove its temporary directory (idempotent)."""
        atexit.unregister(self.stop)
        if self.base is None:
            return  # external server given by URL
        if self._running or (self.data_dir and (self.data_dir / "postmaster.pid").exists()):
            self._force_stop()
        shutil.rmtree(self.base, ignore_errors=True)
        self.base = None

    def __enter__(self) -> PostgresServer:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"<PostgresServer {self.url}>"


def _make_base_dir(base_dir: Path | None, owner: pwd.struct_passwd | None) -> Path:
    """Create the temporary directory, usable by ``owner`` and short enough
    for the unix socket path; fall back to the system temp dir otherwise."""
    parents: list[Path | None] = [base_dir, None, Path("/tmp")]
    for parent in parents:
        if parent is not None:
            parent.mkdir(parents=True, exist_ok=True)
        base = Path(tempfile.mkdtemp(prefix="portal-pg-", dir=parent))
        ok = len(str(base)) + len("/.s.PGSQL.65535") <= _MAX_SOCKET_PATH
        if ok and owner is not None:
            os.chown(base, owner.pw_uid, owner.pw_gid)
            # pytest's basetemp is mode 0700 for root: check postgres can get in.
            check = subprocess.run(
                ["runuser", "-u", owner.pw_name, "--", "test", "-w", str(base), "-a", "-x", str(base)],
                stdin=subprocess.DEVNULL, capture_output=True,
            )
            ok = check.returncode == 0
        if ok:
            return base
        shutil.rmtree(base, ignore_errors=True)
        if parent is not None:
            _log(f"{parent} is unusable for the server (path too long or not accessible "
                 f"to {owner.pw_name if owner else 'us'}); using the system temp dir")
    raise RuntimeError("could not create a usable temporary directory for PostgreSQL")


def start_postgresql(base_dir: Path | None = None) -> PostgresServer:
    """Start a throwaway PostgreSQL server and return it (call ``stop()``).

    If ``PORTAL_TEST_POSTGRESQL_URL`` is set, return that URL without
    starting anything.
    """
    external = os.environ.get(URL_ENV_VAR)
    if external:
        return PostgresServer(external)

    bindir = ensure_bindir()
    owner = _ensure_system_user() if _is_root() else None
    base = _make_base_dir(Path(base_dir) if base_dir is not None else None, owner)
    server = PostgresServer(
        "", bindir=bindir, base=base, run_as=owner.pw_name if owner else None
    )
    atexit.register(server.stop)
    try:
        server._initdb()
        deadline = time.monotonic() + START_TIMEOUT  # apt and initdb not counted
        server._start(deadline)
        server._create_database(deadline)
    except BaseException:
        server.stop()
        raise
    server.url = f"postgresql+psycopg://{DB_USER}@127.0.0.1:{server.port}/{DB_NAME}"
    return server


def _main() -> int:
    def _terminate(signum: int, frame: object) -> None:
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, _terminate)
    signal.signal(signal.SIGINT, signal.default_int_handler)  # even if inherited as ignored
    started = time.monotonic()
    server = start_postgresql()
    try:
        _log(f"started in {time.monotonic() - started:.2f}s; "
             "stop with Ctrl-C or end of input (Ctrl-D)")
        print(server.url, flush=True)
        sys.stdin.read()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
        _log("stopped")
    return 0


if __name__ == "__main__":
    sys.exit(_main())
