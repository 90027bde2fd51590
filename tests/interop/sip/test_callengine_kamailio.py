"""A flow through Kamailio: the persona and the bot both register to a generated Kamailio
(SHA-256 digest, record-route); the bot dials the persona's address of record through the
proxy and the flow runs to the outcome the persona expects."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.interop.sip.conftest import REPO, Served, voicebot_cmd
from tests.interop.sip.peers import Kamailio
from voicebot.persona import Persona, plain, verdict

pytestmark = [pytest.mark.interop, pytest.mark.slow]
DIALOGS = REPO / "dialogs"


def test_bot_dials_the_personas_aor_through_kamailio(
    kamailio: Kamailio, serve: Callable[..., Served], tmp_path: Path
) -> None:
    persona_file = DIALOGS / "personas" / "appointment_reminder.persona.yaml"
    persona = Persona.load(persona_file)
    context = tmp_path / "ann.json"
    context.write_text(json.dumps(plain(persona.context)), encoding="utf-8")
    registrar = kamailio.uri
    served = serve("--persona", str(persona_file), "--register", registrar, "--password", kamailio.password,
                   user="ann")  # fmt: skip
    done = subprocess.run(
        voicebot_cmd("dial", f"sip:ann@127.0.0.1:{kamailio.port}", "--user", "clinic",
                     "--password", kamailio.password, "--register", registrar, "--proxy", registrar,
                     "--flow", str(DIALOGS / "appointment_reminder.yaml"), "--context-file", str(context),
                     "--json", "-q"),
        capture_output=True, text=True, timeout=150, cwd=REPO,
    )  # fmt: skip
    out = served.stop()
    assert f"registered at {registrar} as ann" in out  # serve --register says so when it worked
    assert done.returncode == 0, done.stdout + done.stderr + out
    report = json.loads(done.stdout)
    assert verdict(persona.expect, report) == [], report["transcript"]
