"""pocketsphinx in decoder host processes (``voicebot.asr.host``), through the real engine.

A recogniser pinned to a host hears espeak-ng speech as one in this process does; a host that
dies fails its recognisers' calls at once with ``AsrHostLost`` and the next recogniser goes to
a host started in its place; closing a recogniser releases it in its host, and closing the
engine ends every host.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest

from tests.integration.speech.conftest import Speak
from voicebot.asr import AsrHostLost, AsyncRecognizer, engine_for_language
from voicebot.asr.engine import ENV_PROCESSES, Band, recognize_pcm
from voicebot.asr.host import HostedEngine, HostedRecognizer
from voicebot.asr.pocketsphinx_engine import PocketsphinxEngine
from voicebot.errors import ConfigError

GRAMMAR = ["yes please", "no thank you", "call me back later", "talk to an agent"]


@pytest.fixture(scope="module")
def hosted() -> Iterator[HostedEngine]:
    engine = HostedEngine("pocketsphinx", None, 2)
    yield engine
    engine.close()


def held(engine: HostedEngine) -> list[int]:
    """How many recognisers each host holds, asked of the hosts themselves."""
    return [host.call("held") for host in engine.pool.hosts()]


@pytest.mark.parametrize("band", [Band.NARROW, None])
def test_a_hosted_recogniser_hears_what_one_in_process_hears(
    hosted: HostedEngine, sphinx_engine: PocketsphinxEngine, speak: Speak, band: Band | None
) -> None:
    assert hosted.name == "pocketsphinx" and hosted.sample_rate == sphinx_engine.sample_rate
    assert hosted.accept_on(band) == sphinx_engine.accept_on(band)
    assert hosted.confirm_on(band) == sphinx_engine.confirm_on(band)
    for said in ("call me back later", "talk to an agent"):
        audio = speak(said, "en-us")
        local = sphinx_engine.recognizer(GRAMMAR, band=band)
        remote = hosted.recognizer(GRAMMAR, band=band)
        try:
            here, there = recognize_pcm(local, audio), recognize_pcm(remote, audio)
        finally:
            local.close()
            remote.close()
        assert there.match is not None and there.match.phrase == said, there
        assert there.match == here.match and there.confidence == here.confidence
        assert there.text == here.text and there.words == here.words
    assert hosted.prepare_grammar(GRAMMAR) == sphinx_engine.prepare_grammar(GRAMMAR)
    assert hosted.vocabulary_check(["yes zqxv"]) == ["zqxv"]


def test_a_grammar_the_host_rejects_raises_here(hosted: HostedEngine) -> None:
    with pytest.raises(ConfigError, match="at least one non-empty phrase"):
        hosted.recognizer(["  "])
    assert sum(held(hosted)) == 0


def test_closing_releases_each_recogniser_in_its_host(hosted: HostedEngine) -> None:
    recs = [hosted.recognizer(GRAMMAR) for _ in range(3)]
    assert sorted(held(hosted)) == [1, 2]  # pinned to the host holding the fewest
    for rec in recs:
        rec.close()
        rec.close()  # a second close does nothing
    assert held(hosted) == [0, 0]
    with pytest.raises(ConfigError, match="closed"):
        recs[0].accept(np.zeros(320, np.int16))


def test_a_killed_host_fails_its_calls_and_the_next_recogniser_gets_a_new_host(
    hosted: HostedEngine, speak: Speak
) -> None:
    rec = hosted.recognizer(GRAMMAR)
    assert rec.host is not None
    doomed = rec.host.process
    rec.accept(np.zeros(320, np.int16))
    doomed.kill()
    doomed.wait()
    with pytest.raises(AsrHostLost, match=rf"process {doomed.pid} exited \(exit code -9\)"):
        rec.accept(np.zeros(320, np.int16))
    with pytest.raises(AsrHostLost):
        rec.finish()
    rec.close()  # nothing to release in a host that is gone
    audio = speak("talk to an agent", "en-us")
    after = hosted.recognizer(GRAMMAR)
    try:
        assert after.host is not None and after.host.process.pid != doomed.pid
        result = recognize_pcm(after, audio)
    finally:
        after.close()
    assert result.match is not None and result.match.phrase == "talk to an agent"
    pids = [host.process.pid for host in hosted.pool.hosts()]
    assert len(pids) == 2 and doomed.pid not in pids  # the lost host was replaced
    assert held(hosted) == [0, 0]


def test_async_recogniser_waits_for_its_host_in_a_worker_thread(hosted: HostedEngine, speak: Speak) -> None:
    """The event loop's path is ``AsyncRecognizer`` as for any engine: each round trip to a host
    waits in a worker thread, never on the loop's."""
    audio = speak("yes please", "en-us")
    seen: set[int] = set()

    async def turn() -> str | None:
        rec = await AsyncRecognizer.open(hosted, GRAMMAR, band=Band.WIDE)
        accept = rec.recognizer.accept

        def noted(pcm: np.ndarray) -> object:
            seen.add(threading.get_ident())
            return accept(pcm)

        rec.recognizer.accept = noted  # type: ignore[method-assign]
        try:
            for i in range(0, len(audio), 320):
                await rec.accept(audio[i : i + 320])
            result = await rec.finish()
        finally:
            await rec.aclose()
        return result.match.phrase if result.match is not None else None

    assert asyncio.run(turn()) == "yes please"
    assert seen and threading.get_ident() not in seen
    assert held(hosted) == [0, 0]


def test_a_recogniser_whose_call_ended_while_it_was_opened_is_released_in_its_host(
    hosted: HostedEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    built = threading.Event()
    make = hosted.recognizer

    def recognizer(*args: Any, **kwargs: Any) -> HostedRecognizer:
        rec = make(*args, **kwargs)
        built.set()
        return rec

    monkeypatch.setattr(hosted, "recognizer", recognizer)

    async def cancelled_open() -> None:
        opening = asyncio.ensure_future(AsyncRecognizer.open(hosted, GRAMMAR))
        await asyncio.sleep(0)  # the build is under way in a worker thread
        opening.cancel()
        with pytest.raises(asyncio.CancelledError):
            await opening
        assert await asyncio.to_thread(built.wait, 30)
        for _ in range(200):  # until a worker thread has closed it again
            if sum(held(hosted)) == 0:
                return
            await asyncio.sleep(0.05)

    asyncio.run(cancelled_open())
    assert held(hosted) == [0, 0]


def test_the_env_variable_puts_pocketsphinx_in_hosts_and_closing_ends_them(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENV_PROCESSES, "1")
    engine = engine_for_language("en")
    assert isinstance(engine, HostedEngine)
    assert engine_for_language("en") is engine  # one per process, like an in-process engine
    assert not isinstance(engine_for_language("ko"), HostedEngine)  # Vosk releases the GIL itself
    processes = [host.process for host in engine.pool.hosts()]
    assert len(processes) == 1
    engine.close()
    assert all(p.poll() is not None for p in processes)  # no host outlives its engine
    with pytest.raises(AsrHostLost, match="closed"):
        engine.recognizer(GRAMMAR)
    monkeypatch.setenv(ENV_PROCESSES, "two")
    with pytest.raises(ConfigError, match=ENV_PROCESSES):
        engine_for_language("en")


def test_the_processes_asked_for_choose_the_engine_whatever_the_env_variable_says(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """``--asr-processes`` reaches the engine choice as an argument: the variable is not read."""
    monkeypatch.setenv(ENV_PROCESSES, "two")
    assert not isinstance(engine_for_language("en", processes=0), HostedEngine)
    engine = engine_for_language("en", processes=1)
    try:
        assert isinstance(engine, HostedEngine)
        assert engine.hosts == len(engine.pool.hosts()) == 1
    finally:
        engine.close()
