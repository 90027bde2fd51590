"""Fixtures for the campaign tests: databases (SQLite files and a real PostgreSQL server),
callees (see callees.py), and helpers that run ``voicebot campaign`` / ``voicebot dnc``."""

from __future__ import annotations

import itertools
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tests.pgserver import postgres_server

if TYPE_CHECKING:
    from voicebot.store.db import Db

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[2]
FLOW = HERE / "campaign_flow.yaml"
_names = itertools.count(1)


@pytest.fixture(scope="session")
def pg_server() -> Iterator[str]:
    """One PostgreSQL server for the session; each test gets its own database (``pg_url``)."""
    with postgres_server() as url:
        yield url


@pytest.fixture
def pg_url(pg_server: str) -> str:
    import psycopg

    name = f"t{os.getpid()}_{next(_names)}"
    with psycopg.connect(pg_server, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    return pg_server.rsplit("/", 1)[0] + "/" + name


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return str(tmp_path / "voicebot.db")
    return str(request.getfixturevalue("pg_url"))


# campaigns keep their transcripts encrypted by default: the tests' key, given to the processes
# that create and run them (as VOICEBOT_RECORDING_KEY) and to the test reading their results
TEST_KEY = "5f0c3e1a9b7d2468ace013579bdf2468ace013579bdf02468ace13579bdf0246"
KEY_ENV = {"VOICEBOT_RECORDING_KEY": TEST_KEY}


def open_with_key(db_url: str) -> Db:
    """The campaign store, able to read the transcripts the tests' key sealed."""
    from voicebot.privacy import Keyring
    from voicebot.privacy.fields import FieldSealer
    from voicebot.store import open_db

    db = open_db(db_url)
    db.content = FieldSealer(Keyring.from_env_key(TEST_KEY))
    return db


def voicebot(*args: str, db: str, timeout: float = 120, env: dict[str, str] | None = None,
             cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """Run ``python -m voicebot ARGS --db DB`` and return what it did."""
    return subprocess.run([sys.executable, "-m", "voicebot", *args, "--db", db], capture_output=True, text=True,
                          timeout=timeout, cwd=cwd or REPO, env={**os.environ, **(env or {})})


def voicebot_popen(*args: str, db: str, log: Path, env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    from tests.procs import die_with_parent

    fh = open(log, "wb")  # noqa: SIM115 - closed right after the child inherited it
    try:
        return subprocess.Popen([sys.executable, "-m", "voicebot", *args, "--db", db], stdout=fh,
                                stderr=subprocess.STDOUT, cwd=REPO, env={**os.environ, **(env or {})},
                                preexec_fn=die_with_parent)
    finally:
        fh.close()


def write_csv(path: Path, rows: list[dict[str, str]]) -> Path:
    import csv

    columns = list(dict.fromkeys(k for r in rows for k in r))
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, columns)
        w.writeheader()
        w.writerows(rows)
    return path


@pytest.fixture
def callees(tmp_path: Path) -> Iterator[object]:
    from tests.integration.campaign.callees import Callees

    c = Callees(tmp_path, REPO)
    try:
        yield c
    finally:
        c.close()


def cli(*args: str, db: str) -> subprocess.CompletedProcess[str]:
    """``voicebot ARGS --db DB`` run in this process through :func:`voicebot.cli.main` (the same
    code as the command, without a new interpreter's start-up); returns code and output."""
    import contextlib
    import io

    from voicebot.cli import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main([*args, "--db", db])
        except SystemExit as exc:  # argparse's own errors
            code = int(exc.code or 0)
    return subprocess.CompletedProcess(list(args), code, out.getvalue(), err.getvalue())
