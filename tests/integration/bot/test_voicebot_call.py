"""Speaking and listening on a real loopback call: barge-in, a grammar, DTMF, no-input.

Two user agents talk SIP/UDP and RTP on 127.0.0.1; espeak-ng speaks for both sides and
pocketsphinx recognises the caller. Nothing is simulated. The bot side uses the call's own
``say``/``listen`` — the same calls the flow driver makes.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import numpy as np

from tests.integration.bot.loopback import bot_call, speak
from voicebot.bot import VoiceBot
from voicebot.call import Call
from voicebot.flow import Flow, FlowResult
from voicebot.tts import Synthesizer
from voicebot.voice import Heard

LONG_PROMPT = (
    "Hello, this is the clinic calling about your appointment on Thursday. "
    "We wanted to remind you to bring your insurance card and to arrive ten minutes early. "
    "If you need to change anything, just tell me now."
)


def test_caller_barges_in_and_the_interrupting_words_are_recognised() -> None:
    async def bot_side(call: Call) -> tuple[bool, float, Heard]:
        loop = asyncio.get_running_loop()
        t0 = loop.time()
        finished = await call.say(LONG_PROMPT)
        spoke_for = loop.time() - t0
        heard = await call.listen(["cancel", "yes", "no", "reschedule"], timeout=5)
        return finished, spoke_for, heard

    async def caller_side(call: Call, synth: Synthesizer) -> None:
        words = await synth.synthesize("cancel")
        await asyncio.sleep(2.0)  # well inside a prompt that lasts over ten seconds
        await speak(call, words)

    finished, spoke_for, heard = asyncio.run(bot_call(bot_side, caller_side))
    assert finished is False  # the prompt was cut short
    assert spoke_for < 6.0  # it stopped soon after the caller spoke, not at the prompt's end
    assert heard.kind == "speech" and heard.phrase == "cancel"


def test_line_noise_clicks_and_a_knock_do_not_cut_a_prompt_short() -> None:
    async def bot_side(call: Call) -> bool:
        return await call.say("Thank you for calling the clinic. Please hold the line.")

    async def caller_side(call: Call, synth: Synthesizer) -> None:
        rng = np.random.default_rng(7)
        line = rng.normal(0, 30, 16000 * 8).astype(np.int16)  # a quiet line's hiss
        for k in range(12):  # clicks
            line[4000 + 8000 * k : 4000 + 8000 * k + 40] = 20000
        knock = (rng.normal(0, 6000, 640) * np.exp(-np.arange(640) / 160)).astype(np.int16)
        line[24000:24640] += knock  # 40 ms: the VAD's hangover calls 100 ms of it speech
        await call.play(line)

    assert asyncio.run(bot_call(bot_side, caller_side)) is True  # the prompt played to its end


def test_listen_returns_dtmf_and_no_input() -> None:
    first_turn_over = asyncio.Event()  # both sides run on one loop: the caller keys after it

    async def bot_side(call: Call) -> tuple[Heard, Heard]:
        silent = await call.listen(["yes", "no"], timeout=1.0)
        first_turn_over.set()
        keyed = await call.listen(["yes", "no"], timeout=10.0)
        return silent, keyed

    async def caller_side(call: Call, synth: Synthesizer) -> None:
        # a fixed sleep raced the bot's start: under load its first listen began late enough
        # for the key to end that turn instead of the silence
        await first_turn_over.wait()
        await asyncio.sleep(0.5)
        await call.send_dtmf("7")

    silent, keyed = asyncio.run(bot_call(bot_side, caller_side))
    assert silent.kind == "no_input"
    assert keyed.kind == "dtmf" and keyed.digits == "7"


def test_a_key_pressed_during_a_prompt_cuts_it_short_and_is_read() -> None:
    async def bot_side(call: Call) -> tuple[bool, str]:
        finished = await call.say(LONG_PROMPT)
        return finished, await call.read_dtmf(4, timeout=5, inter_digit_timeout=2)

    async def caller_side(call: Call, synth: Synthesizer) -> None:
        await asyncio.sleep(1.5)
        await call.send_dtmf("42#")

    finished, digits = asyncio.run(bot_call(bot_side, caller_side))
    assert finished is False
    assert digits == "42"


def test_listen_recognises_a_spoken_answer_and_times_the_turn() -> None:
    async def bot_side(call: Call) -> tuple[Heard, list[float]]:
        heard = await call.listen(["yes", "no", "reschedule", "cancel"], timeout=8)
        await call.say("Thank you.")
        return heard, [t.total for t in call.turn_timings]

    async def caller_side(call: Call, synth: Synthesizer) -> None:
        words = await synth.synthesize("reschedule")
        await asyncio.sleep(1.0)
        await speak(call, words)

    heard, latencies = asyncio.run(bot_call(bot_side, caller_side))
    assert heard.kind == "speech" and heard.phrase == "reschedule"
    assert heard.speech_end is not None
    assert len(latencies) == 1 and latencies[0] > 0  # measured, not asserted against a budget


def test_speech_outside_the_grammar_is_a_no_match_not_the_nearest_phrase() -> None:
    """pocketsphinx decodes any speech as one of the grammar's phrases; a sentence that is
    neither "yes" nor "no" must come back as a no-match (a reprompt), not as a confident guess."""

    async def bot_side(call: Call) -> Heard:
        return await call.listen(["yes", "no"], timeout=8)

    async def caller_side(call: Call, synth: Synthesizer) -> None:
        words = await synth.synthesize("yes I would rather talk to someone")
        await asyncio.sleep(1.0)
        await speak(call, words)

    heard = asyncio.run(bot_call(bot_side, caller_side))
    assert heard.kind == "no_match", heard
    assert heard.phrase is None and heard.confidence < 0.5


YES_NO_FLOW = """
flow: yes_or_no
language: en
slots:
  ok: {type: yesno}
start: ask
states:
  ask:
    ask: Shall I book it?
    slot: ok
    next: booked
    timeout: 3
    no_match: {limit: 1, goto: not_understood}
    no_input: {limit: 1, goto: silent}
  booked:
    hangup: booked
  not_understood:
    hangup: not_understood
  silent:
    hangup: silent
"""


def test_a_flow_on_a_call_does_not_act_on_a_no_match(tmp_path: Path) -> None:
    """The same out-of-grammar answer through the flow driver: pocketsphinx's "yes" that the
    recogniser rejected reaches the flow as not understood, so the flow takes its no-match
    path instead of booking."""
    path = tmp_path / "yes_or_no.yaml"
    path.write_text(YES_NO_FLOW, encoding="utf-8")
    flow = Flow.load(path)

    async def bot_side(call: Call) -> FlowResult:
        return await VoiceBot(call).run(flow)

    async def caller_side(call: Call, synth: Synthesizer) -> None:
        words = await synth.synthesize("yes I would rather talk to someone")
        await asyncio.sleep(2.5)  # after the question (about 1.5 s): an answer, not a barge-in
        await speak(call, words)

    result = asyncio.run(bot_call(bot_side, caller_side))
    assert result.outcome == "not_understood", result
    assert result.slots.get("ok") is None


def test_a_g711_call_tells_the_recogniser_its_band() -> None:
    """The call is G.711 (8 kHz): its listening turn opens pocketsphinx for a narrowband line,
    which starts from the μ-law cepstral mean shipped for that band instead of the model's
    own. Without that hint this phrase came back as a no-match on the same call (measured)."""
    phrases = ["yes please", "no thank you", "call me back later", "talk to an agent", "cancel my appointment"]

    async def bot_side(call: Call) -> Heard:
        return await call.listen(phrases, timeout=8)

    async def caller_side(call: Call, synth: Synthesizer) -> None:
        words = await synth.synthesize("talk to an agent")
        await asyncio.sleep(1.0)
        await speak(call, words)

    heard = asyncio.run(bot_call(bot_side, caller_side, codecs=("pcmu",)))
    assert heard.kind == "speech", heard
    assert heard.phrase == "talk to an agent"
