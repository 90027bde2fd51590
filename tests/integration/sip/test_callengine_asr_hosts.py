"""`voicebot serve` and `voicebot dial` with pocketsphinx in decoder host processes
(``--asr-processes``, ``VOICEBOT_ASR_PROCESSES``): a shipped English dialog reaches its persona's outcome, the
server's hosts are its children, and they end with it even when it is killed outright."""

from __future__ import annotations

import json
import os
import signal
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.integration.sip.test_callengine_flows import DIALOGS, dial
from tests.interop.sip.conftest import Served
from voicebot.asr.engine import ENV_PROCESSES
from voicebot.flowio.standin import StandInCrm
from voicebot.persona import Persona, plain, verdict


def asr_hosts(pid: int) -> list[int]:
    """The decoder host processes among ``pid``'s children."""
    found = []
    for task in os.listdir(f"/proc/{pid}/task"):
        with open(f"/proc/{pid}/task/{task}/children") as f:
            for child in f.read().split():
                with open(f"/proc/{child}/cmdline", "rb") as cmd:
                    if b"voicebot.asr.host" in cmd.read():
                        found.append(int(child))
    return found


def gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    with open(f"/proc/{pid}/stat") as f:  # exited, not yet reaped by whoever adopted it
        return f.read().rsplit(")", 1)[1].split()[0] == "Z"


@pytest.mark.slow
def test_a_dialog_with_the_recognisers_in_host_processes(serve: Callable[..., Served], tmp_path: Path) -> None:
    name = "appointment_reminder"
    persona_file = DIALOGS / "personas" / f"{name}.persona.yaml"
    persona = Persona.load(persona_file)
    context = tmp_path / "context.json"
    context.write_text(json.dumps(plain(persona.context)), encoding="utf-8")
    served = serve("--persona", str(persona_file), "--json", "--asr-processes", "2", user="callee")
    hosts = asr_hosts(served.process.pid)  # the persona's recogniser: started before it listens
    assert len(hosts) == 2, served.output()
    with StandInCrm(status=503) as crm:
        done = dial(served.uri, "--flow", str(DIALOGS / f"{name}.yaml"), "--context-file", str(context), "--json",
                    "--webhook-base", crm.base, env={**os.environ, ENV_PROCESSES: "2"})  # fmt: skip
    out = served.wait_output(lambda text: any(line.startswith("{") for line in text.splitlines()))
    assert done.returncode == 0, done.stdout + done.stderr + out
    report = json.loads(done.stdout)
    assert verdict(persona.expect, report) == [], (report["transcript"], out)
    heard = [t["confidence"] for t in report["transcript"] if t["who"] == "caller"]
    assert heard and all(sure > 0 for sure in heard), report["transcript"]
    assert "ASR host" not in done.stderr + out  # no host was lost on the way
    assert asr_hosts(served.process.pid) == hosts  # the same two served the whole call
    os.kill(served.process.pid, signal.SIGKILL)  # no goodbye: the hosts see their pipes close
    deadline = time.monotonic() + 30
    while not all(gone(pid) for pid in hosts) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert all(gone(pid) for pid in hosts), hosts
