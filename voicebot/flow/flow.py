"""The public :class:`Flow`: a compiled, validated dialog graph ready to run calls."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from voicebot.flow.coerce import coerce, describe
from voicebot.flow.compiler import compile_file
from voicebot.flow.context import CalleeProfile
from voicebot.flow.diagnostics import Diagnostic, FlowError
from voicebot.flow.model import Compiled, FlowMeta, MachineDetection, Script, Slot, State, Table
from voicebot.flow.runtime import Session


@dataclass(frozen=True, slots=True)
class Flow:
    """A compiled flow. Build with :meth:`Flow.load`; run calls with :meth:`start`."""

    compiled: Compiled
    path: str
    warnings: tuple[Diagnostic, ...] = ()

    @staticmethod
    def load(path: str | Path) -> Flow:
        """Compile a flow file; raises :class:`FlowError` (a ``ConfigError``) listing every problem."""
        compiled, diags = compile_file(path)
        if compiled is None or any(d.is_error for d in diags):
            raise FlowError(diags)
        return Flow(compiled, str(path), tuple(diags))

    @staticmethod
    def check(path: str | Path, *, dtmf_only: bool = False) -> list[Diagnostic]:
        """All diagnostics (errors and warnings) for a flow file; empty means perfect. With
        ``dtmf_only``, also what keeps it from running by keypad alone (:attr:`keypad_problems`)."""
        return compile_file(path, dtmf_only=dtmf_only)[1]

    # --- what the flow is --------------------------------------------------------------------

    @property
    def meta(self) -> FlowMeta:
        return self.compiled.meta

    @property
    def name(self) -> str:
        return self.compiled.meta.name

    @property
    def language(self) -> str:
        return self.compiled.meta.language

    @property
    def start_state(self) -> str:
        return self.compiled.start

    @property
    def states(self) -> Mapping[str, State]:
        return self.compiled.states

    @property
    def slots(self) -> Mapping[str, Slot]:
        return self.compiled.slots

    @property
    def table(self) -> Table:
        """``(state, input) -> edges``; see :mod:`voicebot.flow.model` for the inputs."""
        return self.compiled.table

    @property
    def scripts(self) -> tuple[Script, ...]:
        return self.compiled.scripts

    @property
    def context_slots(self) -> tuple[str, ...]:
        """The slots the call's context must give (``required: true``): :meth:`start` refuses a
        call without them."""
        return self.compiled.context_slots

    @property
    def outcomes(self) -> tuple[str, ...]:
        """Every outcome a call through this flow can end with (for reports and campaign rules)."""
        found = {st.outcome for st in self.compiled.states.values() if st.outcome and st.kind in ("hangup", "transfer")}
        found |= {"caller_hangup", "max_turns", "error"}
        return tuple(sorted(found))

    @property
    def answering_machine(self) -> MachineDetection | None:
        """The flow's ``answering_machine:`` settings (None: it does not ask who answered)."""
        return self.compiled.answering_machine

    @property
    def keypad_problems(self) -> tuple[Diagnostic, ...]:
        """Why some ask states cannot be used by keypad alone (errors) or only partly (warnings);
        ``start(..., dtmf_only=True)`` refuses a flow with errors here."""
        return self.compiled.keypad_problems

    def phrases(self) -> dict[str, tuple[str, ...]]:
        """Every intent's phrases in the flow's language (built-in ones included)."""
        return dict(self.compiled.intent_phrases)

    # --- running -------------------------------------------------------------------------------

    def start(
        self,
        context: Mapping[str, Any] | None = None,
        *,
        profile: CalleeProfile | None = None,
        now: float = 0.0,
        today: dt.date | None = None,
        dtmf_only: bool = False,
        detect_machine: bool = False,
        accept_confidence: float | None = None,
        confirm_confidence: float | None = None,
    ) -> Session:
        """A new call through this flow. ``context`` fills slots (e.g. customer_name) and must
        match their types; keys that are not slots stay in ``session.context``. Raises
        :class:`FlowError` when a value does not fit its slot or a required slot
        (:attr:`context_slots`) has no value.

        ``dtmf_only``: the caller answers by keypad alone (no recogniser for the language, or
        the caller's choice). Every ask state then says which key does what, in the flow's
        language ("Press 1 for yes, 2 for no."), and its ``Listen`` asks for keys only. A flow
        with a state no keypad can answer (:attr:`keypad_problems`) is refused.

        ``detect_machine``: the engine can tell who answered (an outbound call). A flow with
        ``answering_machine:`` (:attr:`answering_machine`) then begins with a
        ``DetectMachine`` action and waits for ``AnsweredBy`` before its start state.

        ``accept_confidence``: the accept threshold of the engine that listens on this call
        (``engine.accept_confidence``, from the speech benchmark's calibration). An ask state
        that listens with a grammar and gives no ``confirm_below`` of its own (nor the flow's
        ``asr:``) reads back every answer heard below it ("Did you say ...?") before acting on
        it: the policy the benchmark measures. None: no engine (keys, text), nothing is read
        back but where the flow says so.

        ``confirm_confidence``: the same engine's threshold for the caller's "yes" to such a
        read-back (``engine.confirm_on(band)``), at most ``accept_confidence``; None: the yes
        must be as sure as an answer taken at once. A state with its own ``confirm_below``
        takes a yes at that instead."""
        if accept_confidence is not None and not 0.0 <= accept_confidence <= 1.0:
            raise ValueError(f"accept_confidence must be from 0 to 1, got {accept_confidence}")
        accept = accept_confidence or 0.0
        if confirm_confidence is not None and not 0.0 <= confirm_confidence <= accept:
            raise ValueError(f"confirm_confidence must be from 0 to accept_confidence ({accept}): {confirm_confidence}")
        if dtmf_only and any(d.is_error for d in self.keypad_problems):
            raise FlowError(self.keypad_problems)
        slots: dict[str, Any] = {n: s.default for n, s in self.compiled.slots.items()}
        ctx = dict(context or {})
        day = today or dt.datetime.fromtimestamp(now, tz=dt.UTC).date()
        problems: list[Diagnostic] = []
        for name, slot in self.compiled.slots.items():
            value = ctx.get(name)
            if value is None or value == "":
                if slot.required:
                    problems.append(
                        self._problem(
                            slot, f"the call's context has no value for required slot '{name}'", describe(slot)
                        )
                    )
                continue
            try:
                slots[name] = coerce(slot, value, day)
            except ValueError as exc:
                problems.append(self._problem(slot, f"context value for slot '{name}': {exc}"))
        if problems:
            raise FlowError(problems)
        return Session(
            flow=self.compiled,
            slots=slots,
            context=ctx,
            profile=profile or CalleeProfile(),
            now=now,
            today=today,
            dtmf_only=dtmf_only,
            detect_machine=detect_machine,
            accept_confidence=accept,
            confirm_confidence=accept if confirm_confidence is None else confirm_confidence,
        )

    def _problem(self, slot: Slot, message: str, wanted: str = "") -> Diagnostic:
        pos = slot.pos
        return Diagnostic(
            file=pos.file if pos else self.path,
            line=pos.line if pos else 1,
            col=pos.col if pos else 1,
            severity="error",
            message=message,
            hint=f"give {slot.name}: {wanted}" if wanted else "",
        )
