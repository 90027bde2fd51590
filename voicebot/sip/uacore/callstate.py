"""The call (INVITE dialog usage) state machine as a table, RFC 3261 §13-§15 with RFC 3262 §3
(the 2xx held back until the PRACK), RFC 4028 §10 (refresh, expiry) and §14.1 (glare retry).

``(state, input) -> (actions, next state)``, like the transaction tables of
:mod:`voicebot.sip.transaction`. The core turns what happened (a call of the driver, a message
from the peer, a deadline) into one :class:`CallInput`, looks the pair up and performs the
actions in order; the state of a call is written nowhere else. A local input with no entry
raises :class:`~voicebot.errors.LocalProtocolError` (the driver asked for something the call
cannot do now), a network input with no entry :class:`~voicebot.errors.RemoteProtocolError`
(counted and dropped, or answered with its status). Every timer input has an entry in every
state (most of them "ignore": a deadline left over from an earlier state).

Requests inside a dialog that do not change the call (INFO, REFER, NOTIFY, OPTIONS, the
offer/answer of a re-INVITE or UPDATE) need a dialog, not a call state, and are not here.
:func:`describe` prints the table; ``docs/sip-states.md`` shows it.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from voicebot.sip.message import Request, Response
from voicebot.sip.transaction import TransportAddress


class CallState(Enum):
    CALLING = "calling"  # UAC: INVITE sent, nothing but 100 back
    EARLY = "early"  # UAC: a provisional response came
    INCOMING = "incoming"  # UAS: INVITE received, nothing sent beyond 100
    RINGING = "ringing"  # UAS: 180 sent
    ANSWER_HELD = "answer held"  # UAS: our 2xx waits for the PRACK of a reliable 1xx (RFC 3262 §3)
    ANSWERING = "answering"  # UAS: 2xx sent, waiting for its ACK
    CONFIRMED = "confirmed"
    ENDING = "ending"  # BYE sent
    ENDED = "ended"


class CallInput(Enum):
    # from the driver
    RING = "ring"
    ANSWER = "answer"
    ANSWER_HELD = "answer before PRACK"  # a reliable 1xx is still unacknowledged
    REJECT = "reject"
    HANGUP = "hang up"
    REINVITE = "send re-INVITE"
    UPDATE = "send UPDATE"
    # from the peer
    RESP_100 = "100 Trying"
    RESP_1XX = "101-199"
    RESP_2XX = "2xx"
    RESP_2XX_CANCELLED = "2xx after our CANCEL"
    RESP_2XX_BAD_SDP = "2xx with unusable SDP"
    RESP_422 = "422 with Min-SE"
    RESP_FAILED = "300-699, 408 timeout, 503 transport"
    REINVITE_FAILED = "408/481 to our re-INVITE"
    ACK = "ACK"
    ACK_THEN_BYE = "ACK (hung up while waiting)"
    ACK_BAD_SDP = "ACK with unusable SDP"
    PRACK = "PRACK"
    BYE = "BYE"
    CANCEL = "CANCEL"
    BYE_DONE = "response to our BYE"
    # deadlines
    ACK_TIMEOUT = "no ACK (64*T1)"
    PRACK_TIMEOUT = "no PRACK (64*T1)"
    CANCEL_TIMEOUT = "no final after CANCEL (64*T1)"
    UNANSWERED = "incoming timeout"
    REFRESH_DUE = "session refresh due"
    SESSION_EXPIRED = "session expired"
    GLARE_RETRY = "glare retry due"


class CallAction(Enum):
    SEND_RINGING = "send 180 (reliably with 100rel)"
    SEND_2XX = "send our 2xx, retransmit until ACK"
    SEND_FINAL = "send final non-2xx"
    REPLY_487 = "487 to the INVITE"
    MARK_CANCEL = "CANCEL after the first 1xx"
    SEND_CANCEL = "send CANCEL"
    CANCEL_IF_WANTED = "send the CANCEL waiting for a 1xx"
    BYE_AFTER_ACK = "BYE once the ACK comes"
    SEND_BYE = "send BYE"
    EARLY_DIALOG = "early dialog from the 1xx"
    SEND_PRACK = "PRACK a reliable 1xx"
    EARLY_MEDIA = "take early SDP"
    CONFIRM_DIALOG = "confirm the dialog"
    SEND_ACK = "send ACK"
    ACK_AGAIN = "ACK again (or ACK+BYE another fork)"
    RETRY_MIN_SE = "INVITE again with Min-SE"
    TAKE_SESSION_EXPIRES = "arm the session timer the 2xx set"
    START_SESSION_TIMER = "arm the session timer"
    SEND_REFRESH = "send UPDATE or re-INVITE refresh"
    RETRY_REINVITE = "send the re-INVITE again"
    DROP_2XX = "stop retransmitting our 2xx"
    SETTLE = "stop counting against its source"
    REPORT_PROGRESS = "report progress"
    REPORT_ANSWERED = "report answered"
    REPORT_FAILED = "report failed"
    END_REJECTED = "report ended: rejected"
    END_LOCAL = "report ended by us"
    END_REMOTE = "report ended by the peer"


@dataclass(frozen=True, slots=True, kw_only=True)
class Step:
    """What the actions of one transition work with."""

    now: float
    message: Request | Response | None = None  # the message that caused the input
    status: int = 0  # SEND_FINAL / REPORT_FAILED: the status
    reason: str | None = None  # SEND_FINAL: the reason phrase (None: the standard one)
    why: str = ""  # SEND_BYE, END_*, REPORT_FAILED: what the driver is told
    dest: TransportAddress | None = None  # RETRY_MIN_SE: where the INVITE went
    tries: int = 0  # RETRY_MIN_SE: how many times it was sent again already


Table = dict[tuple[CallState, CallInput], tuple[tuple[CallAction, ...], CallState]]

S, In, A = CallState, CallInput, CallAction
_UAC_PENDING = (S.CALLING, S.EARLY)
_UP = (S.CONFIRMED, S.ENDING, S.ENDED)  # a 2xx now is a retransmission or another fork
_DIALOG = (S.EARLY, S.RINGING, S.ANSWER_HELD, S.ANSWERING, S.CONFIRMED)

CALL_TABLE: Table = {
    # -- the driver ---------------------------------------------------------------------------
    (S.INCOMING, In.RING): ((A.SEND_RINGING,), S.RINGING),
    (S.RINGING, In.RING): ((A.SEND_RINGING,), S.RINGING),
    (S.INCOMING, In.ANSWER): ((A.SEND_2XX,), S.ANSWERING),
    (S.RINGING, In.ANSWER): ((A.SEND_2XX,), S.ANSWERING),
    (S.RINGING, In.ANSWER_HELD): ((), S.ANSWER_HELD),
    (S.INCOMING, In.REJECT): ((A.SEND_FINAL, A.END_REJECTED), S.ENDED),
    (S.RINGING, In.REJECT): ((A.SEND_FINAL, A.END_REJECTED), S.ENDED),
    (S.CALLING, In.HANGUP): ((A.MARK_CANCEL,), S.CALLING),  # §9.1: CANCEL only after a 1xx
    (S.EARLY, In.HANGUP): ((A.SEND_CANCEL,), S.EARLY),
    (S.INCOMING, In.HANGUP): ((A.SEND_FINAL, A.END_REJECTED), S.ENDED),  # 603
    (S.RINGING, In.HANGUP): ((A.SEND_FINAL, A.END_REJECTED), S.ENDED),
    (S.ANSWER_HELD, In.HANGUP): ((A.SEND_BYE,), S.ENDING),
    (S.ANSWERING, In.HANGUP): ((A.BYE_AFTER_ACK,), S.ANSWERING),  # §15: no BYE before the ACK
    (S.CONFIRMED, In.HANGUP): ((A.SEND_BYE,), S.ENDING),
    (S.ENDING, In.HANGUP): ((), S.ENDING),
    (S.CONFIRMED, In.REINVITE): ((), S.CONFIRMED),
    **{(s, In.UPDATE): ((), s) for s in _DIALOG},
    # -- the peer: responses to our INVITE ------------------------------------------------------
    **{(s, In.RESP_100): ((A.REPORT_PROGRESS, A.CANCEL_IF_WANTED), s) for s in _UAC_PENDING},
    **{
        (s, In.RESP_1XX): (
            (A.EARLY_DIALOG, A.SEND_PRACK, A.EARLY_MEDIA, A.REPORT_PROGRESS, A.CANCEL_IF_WANTED),
            S.EARLY,
        )
        for s in _UAC_PENDING
    },
    **{
        (s, In.RESP_2XX): ((A.CONFIRM_DIALOG, A.SEND_ACK, A.TAKE_SESSION_EXPIRES, A.REPORT_ANSWERED), S.CONFIRMED)
        for s in _UAC_PENDING
    },
    **{(s, In.RESP_2XX_CANCELLED): ((A.CONFIRM_DIALOG, A.SEND_ACK, A.SEND_BYE), S.ENDING) for s in _UAC_PENDING},
    **{(s, In.RESP_2XX_BAD_SDP): ((A.CONFIRM_DIALOG, A.SEND_ACK, A.SEND_BYE), S.ENDING) for s in _UAC_PENDING},
    **{(s, i): ((A.ACK_AGAIN,), s) for s in _UP for i in (In.RESP_2XX, In.RESP_2XX_CANCELLED, In.RESP_2XX_BAD_SDP)},
    **{(s, In.RESP_422): ((A.RETRY_MIN_SE,), s) for s in _UAC_PENDING},
    **{(s, In.RESP_FAILED): ((A.REPORT_FAILED,), S.ENDED) for s in _UAC_PENDING},
    **{(S.ENDED, i): ((), S.ENDED) for i in (In.RESP_100, In.RESP_1XX, In.RESP_FAILED)},  # after CANCEL timeout
    (S.CONFIRMED, In.REINVITE_FAILED): ((A.END_REMOTE,), S.ENDED),
    (S.ENDING, In.REINVITE_FAILED): ((), S.ENDING),
    (S.ENDED, In.REINVITE_FAILED): ((), S.ENDED),
    # -- the peer: ACK, PRACK, BYE, CANCEL -------------------------------------------------------
    (S.ANSWERING, In.ACK): ((A.SETTLE, A.START_SESSION_TIMER, A.REPORT_ANSWERED), S.CONFIRMED),
    (S.ANSWERING, In.ACK_THEN_BYE): ((A.SETTLE, A.START_SESSION_TIMER, A.REPORT_ANSWERED, A.SEND_BYE), S.ENDING),
    (S.ANSWERING, In.ACK_BAD_SDP): ((A.SEND_BYE,), S.ENDING),
    (S.CONFIRMED, In.ACK_BAD_SDP): ((A.SEND_BYE,), S.ENDING),  # the ACK of a re-INVITE 2xx
    (S.ENDING, In.ACK_BAD_SDP): ((), S.ENDING),
    (S.RINGING, In.PRACK): ((), S.RINGING),
    (S.ANSWER_HELD, In.PRACK): ((A.SEND_2XX,), S.ANSWERING),
    (S.ENDING, In.PRACK): ((), S.ENDING),
    (S.EARLY, In.BYE): ((A.END_REMOTE,), S.ENDED),
    (S.RINGING, In.BYE): ((A.REPLY_487, A.END_REMOTE), S.ENDED),
    (S.ANSWER_HELD, In.BYE): ((A.REPLY_487, A.END_REMOTE), S.ENDED),
    (S.ANSWERING, In.BYE): ((A.DROP_2XX, A.REPORT_ANSWERED, A.END_REMOTE), S.ENDED),  # BYE overtook the ACK
    (S.CONFIRMED, In.BYE): ((A.END_REMOTE,), S.ENDED),
    (S.ENDING, In.BYE): ((A.END_REMOTE,), S.ENDED),  # BYEs crossed
    (S.INCOMING, In.CANCEL): ((A.END_REMOTE,), S.ENDED),  # the 200 and the 487 are the transactions'
    (S.RINGING, In.CANCEL): ((A.END_REMOTE,), S.ENDED),
    (S.ANSWER_HELD, In.CANCEL): ((A.END_REMOTE,), S.ENDED),
    (S.CONFIRMED, In.CANCEL): ((), S.CONFIRMED),
    (S.ENDING, In.CANCEL): ((), S.ENDING),
    (S.ENDED, In.CANCEL): ((), S.ENDED),
    (S.ENDING, In.BYE_DONE): ((A.END_LOCAL,), S.ENDED),
    (S.ENDED, In.BYE_DONE): ((), S.ENDED),
    # -- deadlines (every state has an entry for each) ---------------------------------------------
    **{(s, i): ((), s) for s in S for i in (In.ACK_TIMEOUT, In.PRACK_TIMEOUT, In.CANCEL_TIMEOUT, In.UNANSWERED)},
    **{(s, i): ((), s) for s in S for i in (In.REFRESH_DUE, In.SESSION_EXPIRED, In.GLARE_RETRY)},
    **{(s, In.ACK_TIMEOUT): ((A.DROP_2XX, A.SEND_BYE), S.ENDING) for s in _DIALOG},  # §13.3.1.4
    (S.ENDING, In.ACK_TIMEOUT): ((A.DROP_2XX,), S.ENDING),
    (S.RINGING, In.PRACK_TIMEOUT): ((A.SEND_FINAL, A.END_REMOTE), S.ENDED),  # 504
    (S.ANSWER_HELD, In.PRACK_TIMEOUT): ((A.SEND_FINAL, A.END_REMOTE), S.ENDED),
    (S.CALLING, In.CANCEL_TIMEOUT): ((A.REPORT_FAILED,), S.ENDED),  # §9.1: 487 made up
    (S.EARLY, In.CANCEL_TIMEOUT): ((A.REPORT_FAILED,), S.ENDED),
    (S.INCOMING, In.UNANSWERED): ((A.SEND_FINAL, A.END_REJECTED), S.ENDED),  # 480
    (S.RINGING, In.UNANSWERED): ((A.SEND_FINAL, A.END_REJECTED), S.ENDED),
    (S.CONFIRMED, In.REFRESH_DUE): ((A.SEND_REFRESH,), S.CONFIRMED),
    (S.CONFIRMED, In.SESSION_EXPIRED): ((A.SEND_BYE,), S.ENDING),
    (S.CONFIRMED, In.GLARE_RETRY): ((A.RETRY_REINVITE,), S.CONFIRMED),
}

LOCAL_INPUTS = frozenset({In.RING, In.ANSWER, In.ANSWER_HELD, In.REJECT, In.HANGUP, In.REINVITE, In.UPDATE})
TIMER_INPUTS = frozenset(
    {
        In.ACK_TIMEOUT,
        In.PRACK_TIMEOUT,
        In.CANCEL_TIMEOUT,
        In.UNANSWERED,
        In.REFRESH_DUE,
        In.SESSION_EXPIRED,
        In.GLARE_RETRY,
    }
)
NETWORK_INPUTS = frozenset(In) - LOCAL_INPUTS - TIMER_INPUTS

del S, In, A


def describe(table: Table = CALL_TABLE) -> str:
    """The table as Markdown, one row per pair in the order written (states, then inputs)."""
    rows = ["| state | input | actions | next state |", "| --- | --- | --- | --- |"]
    for state in CallState:
        for inp in CallInput:
            entry = table.get((state, inp))
            if entry is None:
                continue
            actions, nxt = entry
            if not actions and nxt is state:
                continue  # ignored: listed below
            rows.append(f"| {state.value} | {inp.value} | {', '.join(a.value for a in actions) or '-'} | {nxt.value} |")
    ignored = [
        f"{inp.value}: {', '.join(s.value for s in CallState if table.get((s, inp)) == ((), s))}"
        for inp in CallInput
        if any(table.get((s, inp)) == ((), s) for s in CallState)
    ]
    return (
        "\n".join([*rows, "", "Ignored (an entry with no action that keeps the state):", ""])
        + "\n"
        + "\n".join(f"- {line}" for line in ignored)
        + "\n"
    )
