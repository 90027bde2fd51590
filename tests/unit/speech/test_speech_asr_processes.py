"""How many decoder host processes a run asks for: ``--asr-processes`` over
``$VOICEBOT_ASR_PROCESSES`` over none, the number carried by the arguments (to the engine
choice and to ``--workers``' workers), never by this process's environment."""

from __future__ import annotations

import os

import pytest

from voicebot.asr.engine import ENV_PROCESSES, host_processes
from voicebot.cli import build_parser
from voicebot.commands.sip import check
from voicebot.errors import ConfigError


def test_the_option_wins_over_the_env_variable_which_wins_over_none(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(ENV_PROCESSES, raising=False)
    assert host_processes() == 0
    assert host_processes(3) == 3
    monkeypatch.setenv(ENV_PROCESSES, "2")
    assert host_processes() == 2
    assert host_processes(0) == 0  # --asr-processes 0 turns the hosts off whatever the variable says
    monkeypatch.setenv(ENV_PROCESSES, "two")
    assert host_processes(1) == 1  # a variable the option overrides is not read
    with pytest.raises(ConfigError, match=ENV_PROCESSES):
        host_processes()
    with pytest.raises(ConfigError):
        host_processes(-1)


@pytest.mark.parametrize("command", ["serve", "dial"])
def test_checking_the_arguments_leaves_the_environment_alone(command: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(ENV_PROCESSES, raising=False)
    target = ["sip:bot@127.0.0.1:5062"] if command == "dial" else []
    args = build_parser().parse_args([command, *target, "--asr-processes", "2"])
    before = dict(os.environ)
    check(args)
    assert dict(os.environ) == before
    assert args.asr_processes == 2  # the number goes on in the arguments
