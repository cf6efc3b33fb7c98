"""Throwaway CKAN 2.12 for the tests and for `make ckan`.

The portal republishes its open datasets to CKAN, so the tests talk to a real CKAN rather than to
a mock of its API. This module brings one up on loopback, the way tests/pgserver.py does for
PostgreSQL:

* CKAN lives in a virtualenv of its own, outside the clone (so its pins never touch ours and a
  fresh clone on the same machine reuses it): ``$PORTAL_CKAN_VENV``, or
  ``${XDG_CACHE_HOME:-~/.cache}/huangmei-portal/ckan-2.12.0-py3.X``. It is built with
  ``pip install 'ckan[requirements]==2.12.0'`` (the wheel's ``requirements`` extra carries the
  pins of the sdist's requirements.txt) and marked complete only after a successful install.
  psycopg2 is compiled, so gcc, the Python headers and libpq-dev are needed; they and
  redis-server are installed with apt-get when missing and we are root.
* In a temporary directory: a PostgreSQL server of its own (tests/pgserver.py) with a database
  ``ckan`` owned by a role ``ckan``; Redis on a free port; the Solr stand-in
  (tests/ckan_support/solr_standin.py, a thread in this process) on a free port; a minimal
  ckan.ini; ``ckan db init``; a sysadmin and an API token made in one Python process (the CLI
  takes three and ~17 s); ``ckan run`` on a free 127.0.0.1 port, ready when
  ``/api/3/action/status_show`` answers.
* ``stop()`` tears everything down; ``stop_ckan()``/``start_ckan()`` stop and restart CKAN alone
  (the database and the search index stay), for tests of CKAN going away mid-sync.

Every failure raises ``CkanUnavailable`` naming the step that failed and how to fix it; the
pytest fixture (tests/ckan/conftest.py) turns that into a failure in CI and a printed skip
elsewhere. Progress and timings go to stderr.

``python -m tests.ckanserver --serve`` (``make ckan``) starts one and prints the two portal
settings to paste, then runs until Ctrl-C.
"""
from __future__ import annotations

import argparse
import atexit
import ctypes.util
import fcntl
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import sysconfig
import tempfile
import time
import urllib.error
import urllib.request
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

import psycopg

from tests.ckan_support.solr_standin import SolrStandin
from tests.pgserver import URL_ENV_VAR as PG_URL_ENV_VAR
from tests.pgserver import PostgresServer, start_postgresql
from tests.services import free_port, tail

__all__ = ["CKAN_VERSION", "CkanServer", "CkanUnavailable", "ensure_ckan_venv", "start_ckan_server"]

CKAN_VERSION = "2.12.0"
VENV_ENV_VAR = "PORTAL_CKAN_VENV"
SYSADMIN = "portal-admin"
START_TIMEOUT = 180.0  # seconds for `ckan run` to answer; a loaded 2-core CI box needs ~10
SUPPORT_DIR = Path(__file__).resolve().parent / "ckan_support"
_MARKER = ".portal-ckan-installed"


class CkanUnavailable(RuntimeError):
    """CKAN could not be installed or started; the message says which step and how to fix it."""


def _log(message: str) -> None:
    print(f"[ckanserver] {message}", file=sys.stderr, flush=True)


@contextmanager
def _step(name: str) -> Iterator[None]:
    """Log a step with its duration, so slow set-ups show where the time went."""
    started = time.monotonic()
    yield
    _log(f"{name}: {time.monotonic() - started:.1f}s")


def _is_root() -> bool:
    return os.geteuid() == 0


def _tail(path: Path, lines: int = 30) -> str:
    """The end of a log, without pip's noise about the machine's extra package locations."""
    return tail(path, lines, keep=lambda line: not ("Location '" in line and "is ignored" in line))


def _run_logged(cmd: list[str], log: Path, *, env: dict[str, str] | None = None, timeout: float = 1800) -> int:
    """Run a command with its output appended to `log`; return its exit status."""
    with open(log, "a") as out:
        out.write(f"\n$ {' '.join(cmd)}\n")
        out.flush()
        try:
            return subprocess.run(cmd, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                                  env=env, timeout=timeout).returncode
        except subprocess.TimeoutExpired:
            out.write(f"(timed out after {timeout:.0f}s)\n")
            return -1


# -- CKAN's virtualenv ------------------------------------------------------------------------------

def default_venv_dir() -> Path:
    """Where CKAN's virtualenv lives: outside the clone, shared by every clone on the machine."""
    if os.environ.get(VENV_ENV_VAR):
        return Path(os.environ[VENV_ENV_VAR])
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return cache / "huangmei-portal" / f"ckan-{CKAN_VERSION}-py{sys.version_info[0]}.{sys.version_info[1]}"


def _missing_system_packages() -> list[str]:
    """Debian packages CKAN's install or run needs that this machine lacks."""
    missing = []
    if not shutil.which("redis-server"):
        missing.append("redis-server")
    if not shutil.which("pg_config"):
        missing.append("libpq-dev")  # psycopg2 is built from source
    if not (shutil.which("gcc") or shutil.which("cc")):
        missing.append("gcc")
    if not Path(sysconfig.get_paths()["include"], "Python.h").exists():
        missing.append("python3-dev")
    if ctypes.util.find_library("magic") is None:
        missing.append("libmagic1")  # python-magic, for upload mimetypes
    return missing


def _ensure_system_packages() -> None:
    missing = _missing_system_packages()
    if not missing:
        return
    if not _is_root():
        raise CkanUnavailable(
            f"CKAN needs the system packages {', '.join(missing)}, which are missing. Install them, "
            f"e.g. `sudo apt-get install {' '.join(missing)}` on Debian/Ubuntu.")
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    for cmd in (["apt-get", "update"], ["apt-get", "install", "-y", "-q", *missing]):
        _log("running: " + " ".join(cmd))
        try:
            status = subprocess.run(cmd, env=env, stdin=subprocess.DEVNULL, stdout=2, stderr=2).returncode
        except FileNotFoundError:
            raise CkanUnavailable(f"{', '.join(missing)} missing and apt-get is not available; "
                                  "install them with the system's package manager.") from None
        if status != 0:
            raise CkanUnavailable(f"`{' '.join(cmd)}` failed (exit {status}, output above); "
                                  f"install {' '.join(missing)} by hand.")
    still = _missing_system_packages()
    if still:
        raise CkanUnavailable(f"apt-get installed {' '.join(missing)} but {', '.join(still)} still missing.")


def ensure_ckan_venv(venv: Path | None = None) -> Path:
    """Return CKAN's virtualenv, building it first if it is not complete (a lock keeps two
    sessions on one machine from building it at once)."""
    venv = Path(venv or default_venv_dir())
    marker = venv / _MARKER
    if marker.exists() and marker.read_text().strip() == CKAN_VERSION:
        _log(f"CKAN {CKAN_VERSION} virtualenv: {venv}")
        return venv
    venv.parent.mkdir(parents=True, exist_ok=True)
    with open(venv.parent / f"{venv.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if marker.exists() and marker.read_text().strip() == CKAN_VERSION:
            return venv  # another session built it while we waited
        _ensure_system_packages()
        shutil.rmtree(venv, ignore_errors=True)
        log = venv.parent / f"{venv.name}.install.log"
        log.write_text("")
        _log(f"installing CKAN {CKAN_VERSION} into {venv} (1-3 minutes; log: {log})")
        with _step("CKAN virtualenv built"):
            steps = [
                [sys.executable, "-m", "venv", str(venv)],
                [str(venv / "bin" / "pip"), "install", "--disable-pip-version-check", "-q",
                 f"ckan[requirements]=={CKAN_VERSION}"],
                [str(venv / "bin" / "python"), "-c", "import ckan, psycopg2, redis, magic"],
            ]
            for cmd in steps:
                if _run_logged(cmd, log) != 0:
                    raise CkanUnavailable(
                        f"installing CKAN failed at `{' '.join(cmd)}`. Is the package index reachable "
                        f"(pip), and can psycopg2 be compiled (gcc, libpq-dev)? Or point {VENV_ENV_VAR} "
                        f"at a virtualenv holding ckan[requirements]=={CKAN_VERSION}.\n"
                        f"Last lines of {log}:\n{_tail(log)}")
        marker.write_text(CKAN_VERSION + "\n")
    return venv


# -- the server ---------------------------------------------------------------------------------

_INI = """\
# Written by tests/ckanserver.py for a throwaway test CKAN.
[app:main]
use = egg:ckan
SECRET_KEY = {secret}
WTF_CSRF_SECRET_KEY = {secret}
api_token.jwt.encode.secret = string:{secret}
api_token.jwt.decode.secret = string:{secret}
sqlalchemy.url = {db_url}
ckan.site_url = {site_url}
ckan.site_id = default
solr_url = {solr_url}
ckan.redis.url = redis://127.0.0.1:{redis_port}/0
ckan.storage_path = {storage}
ckan.max_resource_size = 100
ckan.plugins =

[loggers]
keys = root
[handlers]
keys = console
[formatters]
keys = generic
[logger_root]
level = WARNING
handlers = console
[handler_console]
class = StreamHandler
args = (sys.stderr,)
level = NOTSET
formatter = generic
[formatter_generic]
format = %(asctime)s %(levelname)-5.5s [%(name)s] %(message)s
"""


class CkanServer:
    """A running CKAN with its PostgreSQL, Redis and Solr stand-in; `url` and `api_token` (a
    sysadmin's) are what the portal's settings need."""

    def __init__(self, venv: Path, base: Path) -> None:
        self.venv = venv
        self.base = base  # ckan.ini, storage/, logs
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.api_token = ""
        self.solr = SolrStandin()
        self.postgres: PostgresServer | None = None
        self._redis: subprocess.Popen[bytes] | None = None
        self._ckan: subprocess.Popen[bytes] | None = None

    @property
    def ini(self) -> Path:
        return self.base / "ckan.ini"

    @property
    def log_file(self) -> Path:
        return self.base / "ckan.log"

    def _env(self) -> dict[str, str]:
        """The environment of CKAN's processes: nothing of ours (PYTHONPATH, CKAN_* overrides)."""
        env = {k: v for k, v in os.environ.items()
               if not k.startswith("CKAN_") and k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")}
        env["CKAN_INI"] = str(self.ini)
        return env

    def remote(self) -> Any:
        """A ckanapi client acting as the sysadmin."""
        import ckanapi
        import requests
        return ckanapi.RemoteCKAN(self.url, apikey=self.api_token, user_agent="huangmei-portal-tests",
                                  session=requests.Session())

    # -- bring-up steps ---------------------------------------------------------------------------

    def _start_postgresql(self) -> str:
        """A PostgreSQL server of CKAN's own (never the portal's), with database and role `ckan`."""
        external = os.environ.pop(PG_URL_ENV_VAR, None)  # CKAN always gets a throwaway server
        try:
            self.postgres = start_postgresql()
        except RuntimeError as exc:
            raise CkanUnavailable(f"PostgreSQL for CKAN did not start: {exc}") from exc
        finally:
            if external is not None:
                os.environ[PG_URL_ENV_VAR] = external
        conninfo = f"host=127.0.0.1 port={self.postgres.port} user=portal dbname=postgres connect_timeout=10"
        with psycopg.connect(conninfo, autocommit=True) as conn:
            conn.execute("CREATE ROLE ckan LOGIN PASSWORD 'ckan'")
            conn.execute("CREATE DATABASE ckan OWNER ckan ENCODING 'UTF8' TEMPLATE template0")
        return f"postgresql://ckan:ckan@127.0.0.1:{self.postgres.port}/ckan"

    def _start_redis(self) -> int:
        port = free_port()
        log = open(self.base / "redis.log", "ab")
        self._redis = subprocess.Popen(
            ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--dir", str(self.base)],
            stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        log.close()
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            if self._redis.poll() is not None:
                break
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1) as sock:
                    sock.sendall(b"PING\r\n")
                    if sock.recv(16).startswith(b"+PONG"):
                        return port
            except OSError:
                time.sleep(0.05)
        raise CkanUnavailable(f"Redis did not start on 127.0.0.1:{port}.\n{_tail(self.base / 'redis.log')}")

    def _ckan_command(self, *args: str, what: str) -> str:
        """Run `ckan ARGS` (or, with args[0] a .py path, that script) in CKAN's venv; return stdout."""
        program = [str(self.venv / "bin" / "python")] if args[0].endswith(".py") else [str(self.venv / "bin" / "ckan")]
        log = self.base / f"{what.replace(' ', '-')}.log"
        with open(log, "w") as err:
            result = subprocess.run([*program, *args], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                    stderr=err, env=self._env(), text=True, timeout=600)
        if result.returncode != 0:
            raise CkanUnavailable(f"{what} failed (exit {result.returncode}); output:\n{result.stdout[-2000:]}"
                                  f"\n{_tail(log)}")
        return result.stdout

    def start_ckan(self) -> None:
        """Start `ckan run` (again) and wait until its API answers."""
        with _step(f"CKAN serving on {self.url}"):
            log = open(self.log_file, "ab")
            self._ckan = subprocess.Popen(
                [str(self.venv / "bin" / "ckan"), "-c", str(self.ini), "run", "-H", "127.0.0.1",
                 "-p", str(self.port), "-r", "-t"],
                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, env=self._env(),
                start_new_session=True)
            log.close()
            deadline = time.monotonic() + START_TIMEOUT
            while True:
                try:
                    with urllib.request.urlopen(f"{self.url}/api/3/action/status_show", timeout=5) as resp:
                        if resp.status == 200:
                            return
                except (urllib.error.URLError, OSError):
                    pass
                if self._ckan.poll() is not None or time.monotonic() > deadline:
                    state = (f"exited with {self._ckan.returncode}" if self._ckan.poll() is not None
                             else f"did not answer within {START_TIMEOUT:.0f}s")
                    self.stop_ckan(kill=True)
                    raise CkanUnavailable(f"`ckan run` on {self.url} {state}. Last lines of {self.log_file}:\n"
                                          f"{_tail(self.log_file)}")
                time.sleep(0.2)

    def stop_ckan(self, *, kill: bool = False) -> None:
        """Stop the CKAN web process (SIGKILL with kill=True, as a crash would); the rest stays up."""
        _stop_group(self._ckan, signal.SIGKILL if kill else signal.SIGTERM)
        self._ckan = None

    def stop(self) -> None:
        """Stop everything and remove the temporary directory (idempotent)."""
        atexit.unregister(self.stop)
        self.stop_ckan()
        _stop_group(self._redis, signal.SIGTERM)
        self._redis = None
        self.solr.stop()
        if self.postgres is not None:
            self.postgres.stop()
            self.postgres = None
        shutil.rmtree(self.base, ignore_errors=True)

    def __repr__(self) -> str:
        return f"<CkanServer {self.url}>"


def _stop_group(proc: subprocess.Popen[bytes] | None, sig: int) -> None:
    """Signal a process group we started, escalating to SIGKILL if it lingers."""
    if proc is None or proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, sig)
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=15)
    except ProcessLookupError:
        pass


def start_ckan_server(base_dir: Path | None = None, venv: Path | None = None) -> CkanServer:
    """Install (if needed) and start a throwaway CKAN; call `stop()` on the result."""
    started = time.monotonic()
    venv = ensure_ckan_venv(venv)
    _ensure_system_packages()  # redis-server may be missing even when the venv exists
    base = Path(tempfile.mkdtemp(prefix="portal-ckan-", dir=base_dir))
    server = CkanServer(venv, base)
    atexit.register(server.stop)
    try:
        with _step("PostgreSQL for CKAN"):
            db_url = server._start_postgresql()
        with _step("Redis"):
            redis_port = server._start_redis()
        with _step("Solr stand-in"):
            solr_url = server.solr.start()
        (base / "storage").mkdir()
        server.ini.write_text(_INI.format(secret=secrets.token_hex(24), db_url=db_url, site_url=server.url,
                                          solr_url=solr_url, redis_port=redis_port, storage=base / "storage"))
        with _step("ckan db init"):
            server._ckan_command("-c", str(server.ini), "db", "init", what="ckan db init")
        with _step("sysadmin and API token"):
            out = server._ckan_command(str(SUPPORT_DIR / "ckan_bootstrap.py"), SYSADMIN, secrets.token_urlsafe(16),
                                       what="sysadmin and API token")
            server.api_token = out.strip().splitlines()[-1] if out.strip() else ""
            if not server.api_token:
                raise CkanUnavailable("the bootstrap script printed no API token")
        server.start_ckan()
    except BaseException:
        server.stop()
        raise
    _log(f"CKAN {CKAN_VERSION} ready on {server.url} in {time.monotonic() - started:.1f}s")
    return server


def _main() -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.ckanserver", description=__doc__.split("\n\n")[0])
    parser.add_argument("--serve", action="store_true",
                        help="start a local CKAN, print the portal settings, run until Ctrl-C (the default)")
    parser.add_argument("--install-only", action="store_true", help="only build CKAN's virtualenv")
    args = parser.parse_args()
    try:
        if args.install_only:
            print(ensure_ckan_venv())
            return 0
        signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
        signal.signal(signal.SIGINT, signal.default_int_handler)  # even if inherited as ignored
        server = start_ckan_server()
    except CkanUnavailable as exc:
        _log(f"cannot start CKAN: {exc}")
        return 1
    try:
        print("\nA local CKAN is running. Paste into development.ini, [app:main]:\n", flush=True)
        print(f"catalog.ckan_url = {server.url}")
        print(f"catalog.ckan_api_token = {server.api_token}\n", flush=True)
        print(f"(or export PORTAL_CKAN_API_TOKEN={server.api_token}). Web UI: {server.url} "
              f"-- its data is thrown away on exit. Ctrl-C stops it.", flush=True)
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
        _log("stopped")
    return 0


if __name__ == "__main__":
    sys.exit(_main())
