"""The call state table (uacore/callstate.py): its shape, each pair performed by the real core,
the protocol errors for inputs with no entry, and the docs page drawn from it."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from voicebot.errors import LocalProtocolError, RemoteProtocolError
from voicebot.sip.message import Request
from voicebot.sip.parser import parse_message
from voicebot.sip.uacore.callstate import (
    CALL_TABLE,
    LOCAL_INPUTS,
    NETWORK_INPUTS,
    TIMER_INPUTS,
    CallAction,
    CallInput,
    CallState,
    Step,
    describe,
)
from voicebot.sip.uacore.records import Session
from voicebot.sip.useragent import UaConfig, UserAgentCore

DOC = Path(__file__).resolve().parents[3] / "docs" / "sip-states.md"
INVITE = (
    b"INVITE sip:bot@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5080;branch=z9hG4bKcs1\r\n"
    b"Max-Forwards: 70\r\nFrom: <sip:a@127.0.0.1>;tag=a1\r\nTo: <sip:bot@127.0.0.1>\r\n"
    b"Call-ID: cs1@127.0.0.1\r\nCSeq: 1 INVITE\r\nContact: <sip:a@127.0.0.1:5080>\r\nContent-Length: 0\r\n\r\n"
)


def test_inputs_are_split_into_local_network_and_timer() -> None:
    assert set(CallInput) == LOCAL_INPUTS | NETWORK_INPUTS | TIMER_INPUTS
    assert not (LOCAL_INPUTS & NETWORK_INPUTS or LOCAL_INPUTS & TIMER_INPUTS or NETWORK_INPUTS & TIMER_INPUTS)


@pytest.mark.parametrize("inp", sorted(TIMER_INPUTS, key=lambda i: i.name))
def test_every_deadline_has_an_entry_in_every_state(inp: CallInput) -> None:
    for state in CallState:
        assert (state, inp) in CALL_TABLE, f"{state} lacks {inp}"


def test_ended_is_final_and_every_action_is_performed_by_the_core() -> None:
    for (state, _inp), (_actions, nxt) in CALL_TABLE.items():
        if state is CallState.ENDED:
            assert nxt is CallState.ENDED
    core = UserAgentCore(UaConfig())
    assert set(core._call_actions()) == set(CallAction)
    used = {a for actions, _ in CALL_TABLE.values() for a in actions}
    assert used == set(CallAction), f"actions never used: {set(CallAction) - used}"


def _call_in(state: CallState) -> tuple[UserAgentCore, Session, list[CallAction]]:
    """A core with one call in ``state`` whose action handlers only record their calls."""
    core = UserAgentCore(UaConfig())
    invite = parse_message(INVITE)
    assert isinstance(invite, Request)
    session = Session(id="c1", role="uas", invite=invite, state=state, local_tag="t1")
    core.sessions[session.id] = session
    done: list[CallAction] = []
    core._actions = {a: (lambda s, step, a=a: done.append(a)) for a in CallAction}
    return core, session, done


@pytest.mark.parametrize(
    ("state", "inp"), sorted(CALL_TABLE, key=lambda k: (k[0].name, k[1].name)), ids=lambda v: v.name
)
def test_each_pair_moves_to_its_state_after_its_actions_in_order(state: CallState, inp: CallInput) -> None:
    core, session, done = _call_in(state)
    core._fire(session, inp, Step(now=1.0))
    actions, nxt = CALL_TABLE[(state, inp)]
    assert session.state is nxt
    assert done == list(actions)


MISSING = [(s, i) for s in CallState for i in LOCAL_INPUTS | NETWORK_INPUTS if (s, i) not in CALL_TABLE]


@pytest.mark.parametrize(("state", "inp"), MISSING, ids=lambda v: v.name)
def test_an_input_with_no_entry_is_a_protocol_error_and_changes_nothing(state: CallState, inp: CallInput) -> None:
    core, session, done = _call_in(state)
    error = LocalProtocolError if inp in LOCAL_INPUTS else RemoteProtocolError
    with pytest.raises(error, match=re.escape(inp.value)):
        core._fire(session, inp, Step(now=1.0))
    assert session.state is state and done == []


def test_driver_calls_the_table_refuses_raise_before_anything_is_sent() -> None:
    core = UserAgentCore(UaConfig(addresses={"udp": ("127.0.0.1", 5070)}))
    call = core.invite("sip:bob@127.0.0.1:5080", 0.0, media_address=("127.0.0.1", 4000))
    core.datagrams_to_send()
    for action in (lambda: core.ring(call, 0.1), lambda: core.answer(call, 0.1, ("127.0.0.1", 4000)),
                   lambda: core.reject(call, 486, 0.1), lambda: core.hold(call, 0.1)):  # fmt: skip
        with pytest.raises(LocalProtocolError, match="calling"):
            action()
    assert core.datagrams_to_send() == []


def test_the_docs_page_shows_the_table_as_it_is() -> None:
    text = DOC.read_text(encoding="utf-8")
    start, end = "<!-- call-table:start -->\n", "<!-- call-table:end -->"
    shown = text[text.index(start) + len(start) : text.index(end)]
    assert shown == describe(), (
        "docs/sip-states.md is out of date; regenerate the section between the markers with "
        ".venv/bin/python -c 'from voicebot.sip.uacore.callstate import describe; print(describe(), end=\"\")'"
    )
