"""A throwaway PostgreSQL server for tests and benchmarks: ``initdb`` + ``pg_ctl`` in a temp dir.

PostgreSQL refuses to run as root, so when we are root (CI is) the server runs as the
``postgres`` user that Debian's package creates (or a system user made for it), through
``runuser``. It listens on 127.0.0.1 on a free port, trusts local connections, and is
stopped and deleted on exit.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

from tests.procs import free_port

SERVICE_USER = "postgres"


def bindir() -> Path | None:
    """The directory holding initdb/pg_ctl: on PATH, else Debian's /usr/lib/postgresql/<v>/bin."""
    found = shutil.which("initdb")
    if found:
        return Path(os.path.realpath(found)).parent
    versions = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(Path(p).parts[-3]))
    return Path(versions[-1]).parent if versions else None


def _run_as() -> list[str]:
    if os.geteuid() != 0:
        return []
    try:
        pwd.getpwnam(SERVICE_USER)
    except KeyError:
        subprocess.run(["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", SERVICE_USER],
                       check=True)
    return ["runuser", "-u", SERVICE_USER, "--"]


@contextlib.contextmanager
def postgres_server(*, durable: bool = False) -> Iterator[str]:
    """Start a server; yields its URL (``postgresql://voicebot@127.0.0.1:PORT/voicebot``).

    ``durable=False`` turns fsync off (tests); benchmarks keep it and only relax
    ``synchronous_commit``, as the SQLite store relaxes ``synchronous``."""
    bins = bindir()
    if bins is None:
        raise RuntimeError("PostgreSQL is not installed: make setup installs the Debian 'postgresql' package")
    prefix = _run_as()
    root = Path(tempfile.mkdtemp(prefix="voicebot-pg-"))
    data, log = root / "data", root / "server.log"
    if prefix:
        user = pwd.getpwnam(SERVICE_USER)
        os.chown(root, user.pw_uid, user.pw_gid)
    port = free_port(host="127.0.0.1")
    opts = f"-p {port} -k {root} -c listen_addresses=127.0.0.1 -c synchronous_commit=off -c max_connections=50"
    if not durable:
        opts += " -c fsync=off -c full_page_writes=off"
    try:
        subprocess.run([*prefix, str(bins / "initdb"), "-D", str(data), "-U", "voicebot", "--auth=trust", "-E", "UTF8",
                        "--no-sync"], check=True, capture_output=True, timeout=120)
        started = subprocess.run([*prefix, str(bins / "pg_ctl"), "-D", str(data), "-l", str(log), "-o", opts, "-w",
                                  "-t", "60", "start"], capture_output=True, timeout=90)
        if started.returncode != 0:
            raise RuntimeError(f"pg_ctl start failed: {started.stderr.decode()}\n{log.read_text(errors='replace')}")
        import psycopg

        with psycopg.connect(f"postgresql://voicebot@127.0.0.1:{port}/postgres", autocommit=True) as conn:
            conn.execute("CREATE DATABASE voicebot")
        yield f"postgresql://voicebot@127.0.0.1:{port}/voicebot"
    finally:
        if (data / "postmaster.pid").exists():
            subprocess.run([*prefix, str(bins / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop"],
                           capture_output=True, timeout=60)
        shutil.rmtree(root, ignore_errors=True)
