"""``voicebot kamailio-config``: the printed config is what Kamailio itself accepts
(``kamailio -c``), for workers given by address; bad arguments get exit code 2."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.interop


def voicebot(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "voicebot", *args], capture_output=True, text=True, timeout=60)


def test_written_config_passes_kamailios_own_check(tmp_path: Path) -> None:
    kamailio = shutil.which("kamailio") or "/usr/sbin/kamailio"
    from voicebot.workers.kamailio import module_path

    mpath = module_path()
    assert mpath is not None, "kamailio's dispatcher module is not installed"
    done = voicebot("kamailio-config", "--listen", "127.0.0.1:5099", "--worker", "127.0.0.1:5101",
                    "--worker", "10.1.2.3:5060", "--max-calls", "80", "--module-path", mpath,
                    "--output", str(tmp_path))  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "dispatcher.list").read_text().splitlines()[1:] == [
        "1 sip:127.0.0.1:5101 8 0 duid=w1;maxload=80",
        "1 sip:10.1.2.3:5060 8 0 duid=w2;maxload=80",
    ]
    check = subprocess.run([kamailio, "-c", "-f", str(tmp_path / "kamailio.cfg")], capture_output=True, text=True,
                           timeout=60)  # fmt: skip
    assert check.returncode == 0, check.stdout + check.stderr


def test_printed_config_names_the_workers() -> None:
    done = voicebot("kamailio-config", "--listen", "192.0.2.1:5060", "--worker", "192.0.2.2:5070")
    assert done.returncode == 0
    assert "listen=udp:192.0.2.1:5060" in done.stdout
    assert "#   1 sip:192.0.2.2:5070 8 0 duid=w1;maxload=1000" in done.stdout


@pytest.mark.parametrize(
    "args",
    [["--listen", "1.2.3.4:5060"], ["--listen", "1.2.3.4:x", "--worker", "1.2.3.5:5060"],
     ["--listen", "1.2.3.4:5060", "--worker", "1.2.3.5:5060", "--ping-interval", "0"],
     ["--listen", "1.2.3.4:5060", "--worker", "1.2.3.5:5060", "--max-calls", "-3"],
     ["--listen", "1.2.3.4:5060", "--worker", "1.2.3.5:5060", "--max-calls", "0"]],
)  # fmt: skip
def test_bad_arguments_exit_2_with_one_line(args: list[str]) -> None:
    done = voicebot("kamailio-config", *args)
    assert done.returncode == 2
    assert "Traceback" not in done.stderr and done.stderr.strip()
