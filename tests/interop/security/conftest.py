"""Fixtures for the security tests: certificates made by trustme, ``voicebot serve`` with any
arguments (and, for the descriptor test, a lower file-descriptor limit), and the attacker's
address. The attacker sends from 127.0.0.2 (the whole 127/8 is loopback on Linux), so the
server can tell it from the legitimate callers on 127.0.0.1 and 127.0.0.3.

Every process started here is stopped on teardown (its process group, SIGTERM then SIGKILL).
"""

from __future__ import annotations

import re
import resource
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.interop.sip import peers
from tests.interop.sip.conftest import REPO, voicebot_cmd
from tests.interop.sip.conftest import pytest_pyfunc_call as pytest_pyfunc_call
from tests.procs import free_port

ATTACKER = "127.0.0.2"
CALLER = "127.0.0.3"


@dataclass
class Certs:
    ca: Path
    server_cert: Path
    server_key: Path
    client_cert: Path  # chain and key in one file
    other_ca: Path  # a CA that signed nothing here


@pytest.fixture(scope="session")
def certs(tmp_path_factory: pytest.TempPathFactory) -> Certs:
    trustme = pytest.importorskip("trustme", reason="trustme is a test dependency (pip install trustme)")
    d = tmp_path_factory.mktemp("certs")
    ca = trustme.CA()
    server = ca.issue_cert("127.0.0.1", "localhost")
    client = ca.issue_cert("client.voicebot.test")
    out = Certs(d / "ca.pem", d / "server.pem", d / "server.key", d / "client.pem", d / "other-ca.pem")
    ca.cert_pem.write_to_path(str(out.ca))
    server.private_key_pem.write_to_path(str(out.server_key))
    for blob in server.cert_chain_pems:
        blob.write_to_path(str(out.server_cert), append=True)
    client.private_key_and_cert_chain_pem.write_to_path(str(out.client_cert))
    trustme.CA().cert_pem.write_to_path(str(out.other_ca))
    return out


@dataclass
class Server:
    port: int
    process: subprocess.Popen[bytes]
    log: Path
    user: str = "bot"

    @property
    def uri(self) -> str:
        return f"sip:{self.user}@127.0.0.1:{self.port}"

    @property
    def tls_port(self) -> int:
        m = re.search(r"and tls [0-9.]+:(\d+)", self.output())
        assert m is not None, self.output()
        return int(m.group(1))

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def stop(self) -> str:
        peers.stop_process(self.process)
        return self.output()


def _limit_fds(n: int) -> Callable[[], None]:
    def pre() -> None:
        peers.die_with_parent()
        resource.setrlimit(resource.RLIMIT_NOFILE, (n, n))

    return pre


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Callable[..., Server]]:
    """``voicebot serve`` on a free port of 127.0.0.1 with extra arguments; stopped on teardown."""
    started: list[Server] = []

    def start(*args: str, user: str = "bot", fd_limit: int | None = None) -> Server:
        port = free_port()
        log = tmp_path / f"serve-{port}.log"
        with open(log, "wb") as fh:
            proc = subprocess.Popen(
                voicebot_cmd("serve", "--listen", f"127.0.0.1:{port}", "--user", user, *args),
                stdout=fh,
                stderr=subprocess.STDOUT,
                cwd=REPO,
                preexec_fn=_limit_fds(fd_limit) if fd_limit else peers.die_with_parent,
            )
        srv = Server(port=port, process=proc, log=log, user=user)
        started.append(srv)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if "listening on" in srv.output():
                return srv
            if proc.poll() is not None:
                break
            time.sleep(0.05)
        raise RuntimeError(f"voicebot serve did not start:\n{srv.output()}")

    yield start
    for s in started:
        peers.stop_process(s.process)


def run_voicebot(*args: str, timeout: float = 60.0) -> subprocess.CompletedProcess[str]:
    """A ``voicebot`` command in the foreground (``dial`` as the legitimate caller)."""
    return subprocess.run(
        voicebot_cmd(*args), cwd=REPO, capture_output=True, text=True, timeout=timeout, start_new_session=True
    )
