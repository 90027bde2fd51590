"""The pure parts of the workers: the dispatcher config and list, and handing a parsed
``serve`` command line on to the workers."""

from __future__ import annotations

import argparse

import pytest

from voicebot.cli import build_parser
from voicebot.errors import ConfigError
from voicebot.workers.argv import namespace_argv, worker_path
from voicebot.workers.kamailio import DispatcherConfig, render_config, render_list
from voicebot.workers.serve import NOT_FOR_WORKERS, worker_command


def test_list_names_every_worker_probed_in_one_set_with_its_call_limit() -> None:
    cfg = DispatcherConfig(listen="10.0.0.1:5060", workers=("10.0.0.2:5071", "[2001:db8::7]:5072"), max_calls=40)
    assert render_list(cfg).splitlines()[1:] == [
        "1 sip:10.0.0.2:5071 8 0 duid=w1;maxload=40",
        "1 sip:[2001:db8::7]:5072 8 0 duid=w2;maxload=40",
    ]
    for bad in (0, -1):  # a worker always has a limit, so the dispatcher's list does too
        with pytest.raises(ConfigError, match="at least 1"):
            DispatcherConfig(listen="10.0.0.1:5060", workers=("10.0.0.2:5071",), max_calls=bad)


def test_config_fills_every_placeholder() -> None:
    cfg = DispatcherConfig(
        listen="10.0.0.1:5080", workers=("10.0.0.2:5071",), list_file="/etc/k/d.list", advertise="203.0.113.5",
        ping_interval=2, retry_after=9, module_path="/opt/k/modules",
    )  # fmt: skip
    text = render_config(cfg)
    assert "{{" not in text
    assert "listen=udp:10.0.0.1:5080 advertise 203.0.113.5:5080" in text
    assert 'modparam("dispatcher", "list_file", "/etc/k/d.list")' in text
    assert 'modparam("dispatcher", "ds_ping_interval", 2)' in text
    assert "Retry-After: 9" in text and 'mpath="/opt/k/modules"' in text


@pytest.mark.parametrize(
    ("listen", "workers"), [("nohost:port", ("1.2.3.4:5060",)), ("1.2.3.4:5060", ()), ("1.2.3.4:99999", ("a:1",))]
)
def test_bad_addresses_are_config_errors(listen: str, workers: tuple[str, ...]) -> None:
    with pytest.raises(ConfigError):
        DispatcherConfig(listen=listen, workers=workers)


def _serve(*argv: str) -> argparse.Namespace:
    return build_parser().parse_args(["serve", *argv])


def test_worker_command_line_parses_back_to_the_same_settings() -> None:
    args = _serve(
        "--listen", "127.0.0.1:5060", "--echo", "--workers", "3", "--max-calls", "80", "--auth-user", "u",
        "--auth-password", "p", "--hangup-after", "30", "--record-wav", "/tmp/r.wav", "--stats", "/tmp/s.json",
        "--metrics-port", "9100", "--tls-ca", "/tmp/ca.pem", "--no-defence", "--say", "hello", "--play",
        "/tmp/a.wav", "--say", "bye", "--codec", "pcma,pcmu", "-q", "--asr-processes", "2",
    )  # fmt: skip
    argv = worker_command(args, 1, "127.0.0.1:5090")
    assert argv[argv.index("serve") + 1 :][:2] == ["--listen", "127.0.0.1:5090"]
    again = _serve(*argv[argv.index("serve") + 1 :])
    for name, value in vars(args).items():
        if name in NOT_FOR_WORKERS or callable(value):
            continue
        assert getattr(again, name) == value, name
    assert [kind for kind, _ in again.script] == ["say", "play", "say"] and again.codec == ("pcma", "pcmu")
    assert again.workers is None and str(again.record_wav) == "/tmp/r-w2.wav" and str(again.stats) == "/tmp/s-w2.json"
    assert again.metrics_port == 9101  # worker 2
    assert argv[argv.index("--asr-processes") + 1] == "2"  # in its arguments, not left to its environment


def test_namespace_argv_spells_options_as_argparse_does() -> None:
    ns = argparse.Namespace(no_media=True, trace=False, play=None, hangup_after=1.5, command="serve", verbose=2)
    assert namespace_argv(ns) == ["--hangup-after", "1.5", "--no-media"]


def test_worker_paths_are_numbered_from_one() -> None:
    from pathlib import Path

    assert worker_path(Path("out/call.wav"), 0) == Path("out/call-w1.wav")
