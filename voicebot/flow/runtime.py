"""The flow runtime: a pure state machine driven by events, answering with actions.

``session = flow.start(context)``, ``actions = session.begin()``, then
``actions = session.handle(event)`` for every :mod:`voicebot.flow.events` event until
``session.ended``. Every transition comes from the compiled table; an event the current state
has no entry for raises :class:`FlowStateError` (DESIGN.md rule 3). Time only enters through the
``now`` arguments (seconds on any clock the caller likes); dates such as "tomorrow" resolve
against ``today`` (given, or derived from ``now`` as a UNIX time).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from voicebot.errors import LocalProtocolError
from voicebot.flow import expr as ex
from voicebot.flow import webhooks
from voicebot.flow.answers import Heard, keyed_value, understand
from voicebot.flow.coerce import coerce
from voicebot.flow.context import CalleeProfile
from voicebot.flow.events import (
    AMD_VERDICTS,
    DTMF_KEYS,
    ENROLL_RESULTS,
    VERIFY_RESULTS,
    Action,
    AnsweredBy,
    CallerHangup,
    DetectMachine,
    Dtmf,
    EnrollVoice,
    Event,
    FlowResult,
    Hangup,
    Listen,
    MachineRecording,
    Say,
    SetSlot,
    SilenceTimeout,
    Transfer,
    TransferResult,
    Turn,
    Utterance,
    VerifyVoice,
    VoiceprintResult,
    Webhook,
    WebhookResult,
)
from voicebot.flow.intents import normalise
from voicebot.flow.model import ANSWER_STATE, Compiled, Edge, State, Template, confirm_engine

MAX_AUTO_STEPS = 200
WAIT_INPUT, WAIT_WEBHOOK, WAIT_TRANSFER, WAIT_NONE = "input", "webhook", "transfer", "none"
WAIT_VOICE = "voice"
WAIT_VERDICT, WAIT_RECORDING = "verdict", "recording"  # answering-machine detection
VOICE_KINDS = {"verify_voice": VERIFY_RESULTS, "enroll_voice": ENROLL_RESULTS}  # state kind -> results


class FlowStateError(LocalProtocolError):
    """An event arrived that the session's current state has no table entry for."""

    def __init__(self, message: str) -> None:
        super().__init__(message, status=500)


@dataclass(slots=True)
class Session:
    """One call through a compiled flow. Create with :meth:`Flow.start`."""

    flow: Compiled
    slots: dict[str, Any]
    context: dict[str, Any]
    profile: CalleeProfile
    now: float = 0.0
    today: dt.date | None = None
    state: str = ""
    ended: bool = False
    outcome: str | None = None
    do_not_call: bool = False
    waiting: str = WAIT_NONE
    turns: int = 0
    history: list[Turn] = field(default_factory=list)
    started_at: float = 0.0
    ended_at: float = 0.0
    _no_input: int = 0
    _no_match: int = 0
    _digits: str = ""
    _since_listen: list[Say] = field(default_factory=list)
    _last_said: list[Say] = field(default_factory=list)
    last_listen: Listen | None = None
    _began: bool = False
    _transfer_state: str = ""
    dtmf_only: bool = False  # keypad-only: prompts say which key does what, listening is for keys
    detect_machine: bool = False  # the engine tells who answered (an outbound call)
    _unsure: Heard | None = None  # an answer heard with low confidence, waiting for "yes"
    accept_confidence: float = 0.0  # the listening engine's accept threshold (0: none, keys or text)
    # the listening engine's threshold for the caller's "yes" to a read-back (never above accept)
    confirm_confidence: float = 0.0

    # --- public ---------------------------------------------------------------------------------

    def begin(self, now: float | None = None) -> list[Action]:
        """Enter the start state; returns the first actions (greeting, first listen)."""
        if self._began:
            raise FlowStateError("session already begun")
        self._began = True
        if now is not None:
            self.now = now
        self.started_at = self.now
        machine = self.flow.answering_machine
        if self.detect_machine and machine is not None:
            self.state, self.waiting = ANSWER_STATE, WAIT_VERDICT
            self._log("machine", f"who answered? (a verdict within {machine.within:g} s)")
            return [DetectMachine(within=machine.within)]
        return self._enter(self.flow.start)

    def handle(self, event: Event, now: float | None = None) -> list[Action]:
        """Feed one event; returns the actions to perform, in order."""
        if now is not None:
            if now < self.now:
                raise FlowStateError(f"time went backwards: {now} < {self.now}")
            self.now = now
        if not self._began:
            raise FlowStateError("call begin() before handle()")
        if isinstance(event, CallerHangup):
            if self.ended:
                self.waiting = WAIT_NONE  # nothing more can happen on this call
                return []
            self._log("caller", "(hung up)", kind="hangup")
            self._finish("caller_hangup" if self.outcome is None else self.outcome)
            return []
        if isinstance(event, TransferResult):
            if self.waiting != WAIT_TRANSFER:
                if self.ended and self._transfer_state:
                    return []  # the caller's leg is already gone (hung up after the transfer)
                raise FlowStateError(f"TransferResult in state '{self.state}' which made no transfer")
            self.waiting = WAIT_NONE
            if event.ok:
                return []
            self._log("system", f"transfer failed: {event.reason}")
            self.ended = False
            self.outcome = None
            return self._follow(self._transfer_state, "transfer_failed")
        if self.ended:
            raise FlowStateError(f"{type(event).__name__} after the call ended (outcome {self.outcome})")
        if isinstance(event, WebhookResult):
            if self.waiting != WAIT_WEBHOOK:
                raise FlowStateError(f"WebhookResult in state '{self.state}', which is not waiting for one")
            return self._webhook_result(event)
        if isinstance(event, AnsweredBy):
            if self.waiting != WAIT_VERDICT:
                raise FlowStateError(f"AnsweredBy in state '{self.state}', which asked nobody who answered")
            return self._answered_by(event)
        if isinstance(event, MachineRecording):
            if self.waiting != WAIT_RECORDING:
                raise FlowStateError(f"MachineRecording in state '{self.state}', which is not waiting for a machine")
            self._log("machine", f"greeting over ({event.after}) at {event.at:.2f} s", after=event.after, at=event.at)
            return self._follow(ANSWER_STATE, "machine_recording")
        if isinstance(event, VoiceprintResult):
            if self.waiting != WAIT_VOICE:
                raise FlowStateError(f"VoiceprintResult in state '{self.state}', which asked for no voiceprint")
            return self._voice_result(event)
        if self.waiting != WAIT_INPUT:
            raise FlowStateError(f"{type(event).__name__} in state '{self.state}', which is not listening")
        self.turns += 1
        if self.turns > self.flow.meta.max_turns:
            self._log("system", f"max_turns ({self.flow.meta.max_turns}) reached")
            return self._follow(self.state, "max_turns")
        if isinstance(event, SilenceTimeout):
            self._log("silence", "", kind="silence")
            return self._no_input_event()
        if isinstance(event, Dtmf):
            return self._dtmf(event)
        if isinstance(event, Utterance):
            return self._utterance(event)
        raise FlowStateError(f"unknown event {event!r}")

    @property
    def expecting(self) -> tuple[type, ...]:
        """Event types the session accepts now (besides CallerHangup)."""
        if self.waiting == WAIT_INPUT:
            return (Utterance, Dtmf, SilenceTimeout)
        if self.waiting == WAIT_WEBHOOK:
            return (WebhookResult,)
        if self.waiting == WAIT_TRANSFER:
            return (TransferResult,)
        if self.waiting == WAIT_VOICE:
            return (VoiceprintResult,)
        if self.waiting == WAIT_VERDICT:
            return (AnsweredBy,)
        if self.waiting == WAIT_RECORDING:
            return (MachineRecording,)
        return ()

    def result(self) -> FlowResult:
        return FlowResult(
            flow=self.flow.meta.name,
            outcome=self.outcome,
            slots=dict(self.slots),
            final_state=self.state,
            do_not_call=self.do_not_call,
            turns=self.turns,
            history=tuple(self.history),
            started_at=self.started_at,
            ended_at=self.ended_at if self.ended else self.now,
        )

    # --- internals ------------------------------------------------------------------------------

    def _today(self) -> dt.date:
        if self.today is not None:
            return self.today
        return dt.datetime.fromtimestamp(self.now, tz=dt.UTC).date()

    def _lookup(self, name: str) -> Any:
        if name.startswith("profile."):
            f = name[len("profile.") :]
            return {
                "calls": self.profile.calls,
                "last_outcome": self.profile.last_outcome,
                "do_not_call": self.profile.do_not_call,
            }.get(f)
        return self.slots.get(name)

    def _render(self, t: Template) -> str:
        return t.render(self._lookup, self.flow.meta.language)

    def _log(self, who: str, text: str, kind: str = "", **data: Any) -> None:
        d = dict(data)
        if kind:
            d["kind"] = kind
        self.history.append(Turn(t=self.now, who=who, text=text, state=self.state, data=d))

    def _moved(self, src: str, inp: str, dst: str, label: str = "") -> None:
        """Log one transition: ``src --label--> dst`` (the label defaults to the table input)."""
        self._log("state", f"{src} --{label or inp}--> {dst}", src=src, input=inp, dst=dst)

    def _say(
        self, st: State, templates: tuple[Template, ...], lookup: Callable[[str], Any] | None = None
    ) -> list[Action]:
        out: list[Action] = []
        for t in templates:
            text = t.render(lookup or self._lookup, self.flow.meta.language)
            if not text.strip():
                continue
            a = Say(
                text=text if not st.ssml else _strip_tags(text),
                ssml=text if st.ssml else None,
                language=self.flow.meta.language,
                voice=self.flow.meta.voice,
                barge_in=st.barge_in,
            )
            self._log("bot", a.text)
            self._since_listen.append(a)
            out.append(a)
        return out

    def _set(self, name: str, value: Any) -> SetSlot:
        self.slots[name] = value
        self._log("slot", f"{name} = {value!r}", slot=name, value=value)
        return SetSlot(name=name, value=value)

    def _listen(self, st: State) -> Listen:
        self._last_said, self._since_listen = self._since_listen, []
        keys, digits = self._keys(st)
        grammar = st.grammar
        if self._unsure is not None and self.flow.confirmation is not None:
            keys = {**keys, **dict(self.flow.confirmation.keys)}
            grammar = self.flow.confirmation.listening_grammar(grammar)
        self.last_listen = listen = Listen(
            grammar=None if self.dtmf_only else grammar,
            timeout_s=st.timeout_s,
            dtmf=tuple(keys) + (tuple("0123456789#*") if digits > 1 else ()),
            max_digits=max(digits, 1),
            state=st.name,
            language=self.flow.meta.language,
            dtmf_only=self.dtmf_only,
        )
        return listen

    def _keys(self, st: State) -> tuple[dict[str, str], int]:
        """Key -> intent in this state, and how many keys are collected into its slot (0: none)."""
        if self.dtmf_only and st.keypad is not None:
            return dict(st.keypad.keys), st.keypad.digits
        slot = self.flow.slots.get(st.slot) if st.slot else None
        return dict(st.dtmf), st.max_digits if slot is not None and slot.type in ("digits", "number") else 0

    def _prompt(self, st: State, templates: tuple[Template, ...]) -> list[Action]:
        """An ask state's prompt (or reprompt), then in keypad-only mode what to press."""
        keypad = st.keypad.prompt if self.dtmf_only and st.keypad is not None else None
        return self._say(st, (*templates, keypad) if keypad is not None else templates)

    def _finish(self, outcome: str) -> None:
        self.ended = True
        self.outcome = outcome
        self.ended_at = self.now
        self.waiting = WAIT_NONE

    def _edges(self, state: str, inp: str) -> tuple[Edge, ...]:
        edges = self.flow.table.get((state, inp))
        if edges is None:
            raise FlowStateError(f"no transition for ({state!r}, {inp!r})")
        return edges

    def _follow(self, state: str, inp: str) -> list[Action]:
        edge = self._edges(state, inp)[0]
        self._moved(state, inp, edge.target)
        return self._enter(edge.target)

    def _enter(self, name: str) -> list[Action]:
        actions: list[Action] = []
        for _ in range(MAX_AUTO_STEPS):
            st = self.flow.states[name]
            self.state = name
            self.waiting = WAIT_NONE
            for a in st.assign:
                try:
                    value = ex.evaluate(a.expr, self._lookup, self._today()) if a.expr is not None else a.literal
                    slot = self.flow.slots[a.slot]
                    value = coerce(slot, value, self._today()) if value is not None else None
                except (ex.ExprRuntimeError, ValueError) as exc:
                    self._log("system", f"set {a.slot} failed: {exc}")
                    continue
                actions.append(self._set(a.slot, value))
            if st.kind != "ask":
                actions.extend(self._say(st, st.say))
            if st.kind in ("say", "set"):
                target = self._edges(name, "next")[0].target
                self._moved(name, "next", target)
                name = target
                continue
            if st.kind == "branch":
                name = self._branch(st)
                continue
            if st.kind == "ask":
                self._no_input = self._no_match = 0
                self._digits = ""
                self._unsure = None
                actions.extend(self._prompt(st, st.say))
                actions.append(self._listen(st))
                self.waiting = WAIT_INPUT
                return actions
            if st.kind == "webhook":
                assert st.webhook is not None
                actions.append(self._webhook(st))
                self.waiting = WAIT_WEBHOOK
                return actions
            if st.kind in VOICE_KINDS:
                actions.append(self._voice(st))
                self.waiting = WAIT_VOICE
                return actions
            if st.kind == "transfer":
                assert st.transfer is not None
                uri = self._render(st.transfer)
                actions.append(Transfer(uri=uri))
                self._log("system", f"transfer to {uri}")
                self._transfer_state = name
                self._finish(st.outcome or "transferred")
                self.waiting = WAIT_TRANSFER
                return actions
            assert st.kind == "hangup"
            outcome = st.outcome or "completed"
            if st.do_not_call:
                self.do_not_call = True
            actions.append(Hangup(outcome=outcome, do_not_call=self.do_not_call))
            self._log("system", f"hangup: {outcome}")
            self._finish(outcome)
            return actions
        self._log("system", "too many automatic steps")
        st = self.flow.states["_max_turns"]
        actions.append(Hangup(outcome="error"))
        self.state = st.name
        self._finish("error")
        return actions

    def _branch(self, st: State) -> str:
        for edge in self._edges(st.name, "branch"):
            if edge.guard is None:
                self._moved(st.name, "branch", edge.target, "else")
                return edge.target
            try:
                ok = ex.evaluate(edge.guard, self._lookup, self._today())
            except ex.ExprRuntimeError as exc:
                self._log("system", f"condition '{edge.guard_source}' failed: {exc}")
                ok = False
            if ok is True or (ok not in (None, False, 0, "", [])):
                self._moved(st.name, "branch", edge.target, f"[{edge.guard_source}]")
                return edge.target
        raise FlowStateError(f"branch '{st.name}' has no matching edge")

    def _webhook(self, st: State) -> Webhook:
        assert st.webhook is not None
        w = webhooks.request(st.webhook, self._lookup, self.flow.meta.language, self._today(), st.name)
        self._log("webhook", f"{w.method} {w.url}")
        return w

    def _webhook_result(self, ev: WebhookResult) -> list[Action]:
        st = self.flow.states[self.state]
        assert st.webhook is not None
        self._log("webhook", f"result ok={ev.ok} status={ev.status} {ev.error}".strip())
        if not ev.ok:
            return self._follow(st.name, "webhook_error")
        actions: list[Action] = []
        for slot_name, path in st.webhook.save:
            value = webhooks.pluck(ev.data or {}, path)
            if value is None:
                continue
            try:
                value = coerce(self.flow.slots[slot_name], value, self._today())
            except ValueError as exc:
                self._log("system", f"webhook field {path} -> {slot_name}: {exc}")
                return [*actions, *self._follow(st.name, "webhook_error")]
            actions.append(self._set(slot_name, value))
        return [*actions, *self._follow(st.name, "webhook_ok")]

    def _answered_by(self, ev: AnsweredBy) -> list[Action]:
        """Record who answered; a person (or nobody can tell) starts the flow, a machine waits
        for its greeting to end."""
        machine = self.flow.answering_machine
        assert machine is not None
        if ev.verdict not in AMD_VERDICTS:
            raise FlowStateError(f"answering-machine verdict {ev.verdict!r} is not one of {', '.join(AMD_VERDICTS)}")
        self._log(
            "machine", f"answered by {ev.verdict} at {ev.at:.2f} s" + (f": {ev.reason}" if ev.reason else ""),
            verdict=ev.verdict, at=ev.at, reason=ev.reason,
        )  # fmt: skip
        actions: list[Action] = [self._set(machine.slot, ev.verdict)]
        if ev.verdict == "machine":
            self.waiting = WAIT_RECORDING
            return actions
        return [*actions, *self._follow(ANSWER_STATE, f"answered:{ev.verdict}")]

    def _voice(self, st: State) -> VerifyVoice | EnrollVoice:
        assert st.voice is not None
        who = self._render(st.voice.id).strip()
        kind = VerifyVoice if st.kind == "verify_voice" else EnrollVoice
        self._log("voiceprint", f"{st.kind.split('_')[0]} voice of '{who}'", id=who)
        return kind(id=who, min_seconds=st.voice.min_seconds, state=st.name)

    def _voice_result(self, ev: VoiceprintResult) -> list[Action]:
        st = self.flow.states[self.state]
        if ev.result not in VOICE_KINDS[st.kind]:
            known = ", ".join(VOICE_KINDS[st.kind])
            raise FlowStateError(f"{st.kind} state '{st.name}' cannot take result {ev.result!r} (one of {known})")
        score = None if ev.score is None else round(float(ev.score), 4)
        self._log(
            "voiceprint",
            f"{ev.result}" + (f" (score {score:.3f})" if score is not None else "") + f", {ev.seconds:.1f} s of speech",
            result=ev.result, score=score, seconds=round(ev.seconds, 2), **({"error": ev.error} if ev.error else {}),
        )  # fmt: skip
        actions: list[Action] = []
        if st.voice is not None and st.voice.score_slot is not None and score is not None:
            actions.append(self._set(st.voice.score_slot, score))
        return [*actions, *self._follow(st.name, f"voice:{ev.result}")]

    def _reprompt(self, st: State, kind: str, lead_in: bool = True) -> list[Action]:
        """Ask again after a no-input or no-match (``lead_in``: its ``say`` first)."""
        count = self._no_input if kind == "no_input" else self._no_match
        lead = st.no_input_say if kind == "no_input" else st.no_match_say
        actions: list[Action] = []
        if lead and lead_in:
            actions.extend(self._say(st, (lead[min(count - 1, len(lead) - 1)],)))
        if st.reprompt:
            actions.extend(self._prompt(st, (st.reprompt[min(count - 1, len(st.reprompt) - 1)],)))
        else:
            actions.extend(self._prompt(st, st.say))
        actions.append(self._listen(st))
        return actions

    def _no_input_event(self) -> list[Action]:
        st = self.flow.states[self.state]
        self._no_input += 1
        self._digits = ""
        self._unsure = None
        if self._no_input >= st.no_input_limit:
            return self._follow(st.name, "no_input_limit")
        self._edges(st.name, "no_input")
        self._moved(st.name, "no_input", st.name, f"no_input ({self._no_input})")
        return self._reprompt(st, "no_input")

    def _no_match_event(self, *, why: str = "no_match", lead_in: bool = True) -> list[Action]:
        """Not understood: count it, leave at the state's no-match limit, else ask again
        (``lead_in``: with the no-match words first)."""
        st = self.flow.states[self.state]
        self._no_match += 1
        self._digits = ""
        self._unsure = None
        if self._no_match >= st.no_match_limit:
            return self._follow(st.name, "no_match_limit")
        self._edges(st.name, "no_match")
        self._moved(st.name, "no_match", st.name, f"{why} ({self._no_match})")
        return self._reprompt(st, "no_match", lead_in=lead_in)

    def _not_confirmed(self, unsure: Heard) -> list[Action]:
        """A "no" to "Did you say ...?": the bot misheard, so it asks its question again (the
        reprompt, without the no-match words: the caller said nothing wrong). It counts towards
        the state's no-match limit, so a caller misheard again and again still gets out."""
        self._log("system", f"not confirmed: {unsure.said}")
        return self._no_match_event(why="not confirmed", lead_in=False)

    def _intent(self, st: State, intent: str) -> list[Action]:
        edges = self.flow.table.get((st.name, f"intent:{intent}"))
        actions: list[Action] = []
        if st.slot is not None:
            slot = self.flow.slots[st.slot]
            if slot.type == "yesno" and intent in ("yes", "no"):
                actions.append(self._set(slot.name, intent == "yes"))
            elif slot.type == "enum" and intent in slot.value_names:
                actions.append(self._set(slot.name, intent))
        if edges is None:
            if actions and (st.name, "filled") in self.flow.table:
                return [*actions, *self._follow(st.name, "filled")]
            return [*actions, *self._no_match_event()]
        if edges[0].repeat:
            self._moved(st.name, "intent:repeat", st.name, "repeat")
            again = list(self._last_said)
            for a in again:
                self._log("bot", a.text)
            self._since_listen = list(again)
            return [*again, self._listen(st)]
        return [*actions, *self._follow(st.name, f"intent:{intent}")]

    def _fill(self, st: State, value: Any) -> list[Action]:
        assert st.slot is not None
        try:
            value = coerce(self.flow.slots[st.slot], value, self._today())
        except ValueError as exc:
            self._log("system", f"slot {st.slot}: {exc}")
            return self._no_match_event()
        return [self._set(st.slot, value), *self._follow(st.name, "filled")]

    def _act(self, st: State, heard: Heard) -> list[Action]:
        """Do what an understood answer means: follow its intent, fill the slot, or go on."""
        self._unsure = None
        if heard.intent is not None:
            return self._intent(st, heard.intent)
        if heard.value is not None:
            return self._fill(st, heard.value)
        return self._follow(st.name, "filled")  # 'next' without a slot: any answer goes on

    def _dtmf(self, ev: Dtmf) -> list[Action]:
        st = self.flow.states[self.state]
        digit = ev.digit.upper()
        if len(digit) != 1 or digit not in DTMF_KEYS:
            self.turns -= 1
            raise FlowStateError(f"bad DTMF key {ev.digit!r}: send one of 0-9 * # A-D per Dtmf event")
        self._log("dtmf", digit, kind="dtmf")
        unsure, self._unsure = self._unsure, None
        if unsure is not None and self.flow.confirmation is not None:
            answer = dict(self.flow.confirmation.keys).get(digit)
            if answer is not None:
                return self._act(st, unsure) if answer == "yes" else self._not_confirmed(unsure)
        mapping, digits = self._keys(st)
        if digit in mapping:
            self._digits = ""
            return self._intent(st, mapping[digit])
        slot = self.flow.slots.get(st.slot) if st.slot else None
        if slot is not None and digits and (digit.isdigit() or digit == "#"):
            if digit != "#":
                self._digits += digit
                if len(self._digits) < digits:
                    return []  # keep collecting; the engine keeps listening
            got, self._digits = self._digits, ""
            value = keyed_value(slot, got, self._today())
            return self._no_match_event() if value is None else self._fill(st, value)
        if slot is None and (st.name, "filled") in self.flow.table:
            return self._follow(st.name, "filled")  # 'next' without a slot: any key goes on
        return self._no_match_event()

    def _utterance(self, ev: Utterance) -> list[Action]:
        st = self.flow.states[self.state]
        text = ev.text[:1000]
        self._log("caller", text, kind="utterance", confidence=ev.confidence)
        if not normalise(text):
            return self._no_input_event()
        unsure, self._unsure = self._unsure, None
        if not ev.understood:
            self._log("system", "the recogniser matched none of the expected phrases")
            return self._no_match_event()
        below = self.confirm_below(st)
        if unsure is not None and self.flow.confirmation is not None:
            # the reply to "Did you say ...?" is never read back itself: a yes at the state's
            # threshold for it confirms, a less sure one is a no-match (a reprompt)
            reply = self.flow.confirmation.answers.match(text)
            if reply is not None and reply.intent == "yes":
                if ev.confidence >= self.confirm_yes_at(st):
                    self._log("system", f"confirmed: {unsure.said}")
                    return self._act(st, unsure)
                self._log("system", f"'yes' heard with confidence {ev.confidence:.2f}, not sure enough")
                return self._no_match_event()
            if reply is not None and reply.intent == "no":
                return self._not_confirmed(unsure)
            # anything else is a new answer to the question itself
        if ev.confidence < st.min_confidence:
            self._log("system", f"confidence {ev.confidence:.2f} below {st.min_confidence:.2f}")
            return self._no_match_event()
        slot = self.flow.slots.get(st.slot) if st.slot else None
        goes_on = slot is None and (st.name, "filled") in self.flow.table
        heard = understand(st, slot, text, self.flow.meta.language, self._today(), goes_on)
        if heard is None:
            return self._no_match_event()
        if heard.intent is not None:
            self._log("system", f"intent {heard.intent} ({heard.score:.2f}, '{heard.said}')")
        if ev.confidence < below and heard.intent != "repeat":
            return self._confirm(st, heard, ev.confidence, below)
        return self._act(st, heard)

    def confirm_below(self, st: State) -> float:
        """Below this confidence an answer in ``st`` is read back before the flow acts on it:
        the state's (or the flow's) ``confirm_below``, else, for a state listening with a
        grammar, the accept threshold of the engine that listens on this call."""
        if st.confirm_below is not None:
            return st.confirm_below
        return self.accept_confidence if confirm_engine(st) else 0.0

    def confirm_yes_at(self, st: State) -> float:
        """The confidence at which the caller's "yes" to a read-back in ``st`` confirms it: where
        ``st`` confirms below the engine's accept threshold, the engine's own threshold for that
        yes (fitted apart by the speech benchmark: on a telephone line most of a caller's yeses
        scored under the answer's threshold); where the state or flow sets ``confirm_below``,
        that (a yes as sure as an answer taken at once)."""
        return self.confirm_confidence if confirm_engine(st) else self.confirm_below(st)

    def _confirm(self, st: State, heard: Heard, confidence: float, below: float) -> list[Action]:
        """Ask "Did you say ...?" before acting on an answer heard with low confidence."""
        assert self.flow.confirmation is not None
        self._edges(st.name, "unsure")
        self._moved(st.name, "unsure", st.name, f"unsure ({confidence:.2f} < {below:.2f})")
        self._unsure = heard
        question = self.flow.confirmation.prompt
        said = self._say(st, (question,), lambda name: heard.said if name == "answer" else self._lookup(name))
        return [*said, self._listen(st)]


def _strip_tags(text: str) -> str:
    out: list[str] = []
    depth = 0
    for c in text:
        if c == "<":
            depth += 1
        elif c == ">" and depth:
            depth -= 1
        elif not depth:
            out.append(c)
    return " ".join("".join(out).split())
