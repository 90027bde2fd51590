"""The compiler: every shipped dialog compiles cleanly, every broken flow gets its exact message."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path

import pytest

from voicebot.errors import ConfigError
from voicebot.flow import Flow, FlowError
from voicebot.flow.scripts import run_scripts

ROOT = Path(__file__).resolve().parents[3]
DIALOGS = sorted((ROOT / "dialogs").glob("*.yaml"))
BROKEN = sorted((ROOT / "tests" / "data" / "flows_broken").glob("*.yaml"))


def test_there_are_dialogs_in_every_required_language() -> None:
    flows = [Flow.load(p) for p in DIALOGS]
    langs = [f.language for f in flows]
    assert langs.count("en") >= 3 and "ko" in langs and "zh" in langs
    names = {f.name for f in flows}
    assert {"appointment_reminder", "satisfaction_survey", "payment_reminder"} <= names


@pytest.mark.parametrize("path", DIALOGS, ids=lambda p: p.name)
def test_dialog_compiles_without_errors_or_warnings(path: Path) -> None:
    diags = Flow.check(path)
    assert diags == [], "\n".join(map(str, diags))


@pytest.mark.parametrize("path", DIALOGS, ids=lambda p: p.name)
def test_dialog_scripts_pass(path: Path) -> None:
    flow = Flow.load(path)
    reports = run_scripts(flow)
    assert len(reports) >= 4
    bad = [f for r in reports for f in r.failures]
    assert not bad, "\n".join(bad)


@pytest.mark.parametrize("path", BROKEN, ids=lambda p: p.name)
def test_broken_flow_reports_exact_message_and_position(path: Path) -> None:
    first = path.read_text(encoding="utf-8").splitlines()[0]
    assert first.startswith("# expect: ")
    expected = first[len("# expect: ") :]
    diags = Flow.check(path)
    texts = [d.text() for d in diags]
    assert expected in texts, "\n".join(texts)
    with pytest.raises(FlowError) as info:
        Flow.load(path)
    assert isinstance(info.value, ConfigError)
    assert any(d.text() == expected for d in info.value.diagnostics)
    assert str(path) in str(info.value)


def test_broken_corpus_is_big_enough() -> None:
    assert len(BROKEN) >= 20


def test_every_error_has_a_position_and_hint(write_flow: Callable[..., Path]) -> None:
    for path in BROKEN:
        for d in Flow.check(path):
            assert d.line >= 1 and d.col >= 1
            if d.is_error and "YAML syntax" not in d.message:
                assert d.hint, str(d)


def test_compiled_table_is_immutable() -> None:
    flow = Flow.load(DIALOGS[0])
    with pytest.raises(TypeError):
        flow.table[("x", "next")] = ()  # type: ignore[index]
    with pytest.raises(TypeError):
        flow.states["x"] = flow.states[flow.start_state]  # type: ignore[index]
    with pytest.raises(dataclasses.FrozenInstanceError):
        flow.states[flow.start_state].kind = "hangup"  # type: ignore[misc]


def test_table_covers_every_listening_input() -> None:
    for path in DIALOGS:
        flow = Flow.load(path)
        for name, st in flow.states.items():
            if st.kind == "ask":
                for inp in ("no_input", "no_match", "no_input_limit", "no_match_limit"):
                    assert (name, inp) in flow.table, (path.name, name, inp)
            for (s, _), edges in flow.table.items():
                if s == name:
                    assert all(e.target in flow.states for e in edges)


def test_yes_no_on_are_strings_not_booleans(write_flow: Callable[..., Path]) -> None:
    p = write_flow(
        """
        flow: t
        start: ask
        states:
          ask:
            ask: Ready?
            reprompt: Ready, yes or no?
            on:
              yes: bye
              no: bye
          bye:
            hangup: done
        """
    )
    flow = Flow.load(p)
    assert ("ask", "intent:yes") in flow.table and ("ask", "intent:no") in flow.table


def test_include_merges_and_reports_duplicates_in_the_included_file(write_flow: Callable[..., Path]) -> None:
    write_flow(
        """
        intents:
          later:
            phrases: [call me later, not now please]
        states:
          bye:
            say: Goodbye.
            hangup: done
        """,
        "parts/common.yaml",
    )
    p = write_flow(
        """
        flow: t
        include: [parts/common.yaml]
        start: ask
        states:
          ask:
            ask: Is now a good time?
            reprompt: Is now good?
            on:
              yes: bye
              later: bye
        """
    )
    flow = Flow.load(p)
    assert "bye" in flow.states and "call me later" in flow.phrases()["later"]
    dup = write_flow(
        """
        flow: t
        include: [parts/common.yaml]
        start: bye
        states:
          bye:
            hangup: other
        """,
        "dup.yaml",
    )
    texts = [str(d) for d in Flow.check(dup)]
    assert any(
        "dup.yaml:5:3: error: duplicate state 'bye' (already defined at " in t and "common.yaml:5)" in t for t in texts
    ), texts


def test_include_cycle_is_reported(write_flow: Callable[..., Path]) -> None:
    write_flow("include: [b.yaml]\n", "a.yaml")
    write_flow("include: [a.yaml]\n", "b.yaml")
    p = write_flow("flow: t\ninclude: [a.yaml]\nstart: bye\nstates:\n  bye:\n    hangup: done\n", "main.yaml")
    texts = [d.text() for d in Flow.check(p)]
    assert any("include cycle" in t for t in texts), texts


def test_subflow_states_are_prefixed_and_returns_resolved() -> None:
    flow = Flow.load(Path(DIALOGS[0]).parent / "payment_reminder.yaml")
    assert "verify.ask_digits" in flow.states
    assert flow.table[("verify", "next")][0].target == "verify.ask_digits"
    assert flow.table[("verify.ok", "next")][0].target == "lookup"
    assert flow.table[("verify.failed", "next")][0].target == "not_verified_bye"


def test_subflow_unhandled_return_label(write_flow: Callable[..., Path]) -> None:
    write_flow(
        """
        flow: sub
        start: s
        states:
          s:
            say: In the subflow.
            next: r
          r:
            return: finished
        """,
        "sub.yaml",
    )
    p = write_flow(
        """
        flow: t
        start: call
        states:
          call:
            subflow: sub.yaml
            on:
              done: bye
          bye:
            hangup: done
        """
    )
    texts = [str(d) for d in Flow.check(p)]
    assert any("sub.yaml:8:13: error: return label 'finished' is not handled" in t for t in texts), texts


def test_warnings_do_not_stop_loading(write_flow: Callable[..., Path]) -> None:
    p = write_flow(
        """
        flow: t
        slots:
          unused: {type: text}
        start: ask
        states:
          ask:
            ask: Ready?
            timeout: 1
            on:
              yes: bye
          bye:
            hangup: done
        """
    )
    flow = Flow.load(p)
    msgs = [d.text() for d in flow.warnings]
    assert "3:3: warning: slot 'unused' is never used; remove it, or use it in a prompt or branch" in msgs
    assert any("has no 'reprompt'" in m for m in msgs)
    assert any("timeout of 1 s is very short" in m for m in msgs)


def test_ambiguous_phrase_is_a_warning(write_flow: Callable[..., Path]) -> None:
    p = write_flow(
        """
        flow: t
        intents:
          maybe:
            phrases: [perhaps, sure]
        start: ask
        states:
          ask:
            ask: Ready?
            reprompt: Ready? Yes or no.
            on:
              yes: bye
              maybe: bye
          bye:
            hangup: done
        """
    )
    assert any("phrase 'sure' belongs to both 'yes' and 'maybe'" in d.message for d in Flow.check(p))


def test_empty_and_non_mapping_files(write_flow: Callable[..., Path]) -> None:
    assert next(d.text() for d in Flow.check(write_flow("", "e.yaml"))).startswith("1:1: error: empty flow file")
    assert "a flow file must be a mapping" in Flow.check(write_flow("- a\n- b\n", "l.yaml"))[0].message
    missing = Flow.check(write_flow("flow: t\n", "m.yaml"))
    assert any("missing 'states:'" in d.message for d in missing)


def test_non_utf8_file(tmp_path: Path) -> None:
    p = tmp_path / "latin.yaml"
    p.write_bytes("flow: caf\xe9\n".encode("latin-1"))
    assert Flow.check(p)[0].message.startswith("file is not UTF-8")


def test_quoted_template_columns(write_flow: Callable[..., Path]) -> None:
    p = write_flow(
        """
        flow: t
        slots:
          name: {type: text}
        start: s
        states:
          s:
            say: 'Hi {name}, {name2}!'
            hangup: done
        """
    )
    # line 7, the quote is at column 10, the text starts at 11, '{name2}' at offset 11
    assert "7:22: error: unknown slot 'name2' in prompt; did you mean 'name'?" in [d.text() for d in Flow.check(p)]


def _plain_yaml(path: Path) -> object:
    from voicebot.flow.diagnostics import Reporter
    from voicebot.flow.yamlsrc import load_file, plain

    return plain(load_file(path, Reporter()))


@pytest.mark.parametrize("path", [*DIALOGS, ROOT / "dialogs" / "common" / "verify_identity.yaml"], ids=lambda p: p.name)
def test_dialogs_validate_against_the_json_schema(path: Path) -> None:
    import json

    import jsonschema

    schema = json.loads((ROOT / "docs" / "flow.schema.json").read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator.check_schema(schema)
    jsonschema.validate(_plain_yaml(path), schema)


def test_json_schema_rejects_what_the_compiler_rejects() -> None:
    import json

    import jsonschema

    schema = json.loads((ROOT / "docs" / "flow.schema.json").read_text(encoding="utf-8"))
    for name in ("unknown_top_key.yaml", "bad_slot_type.yaml", "unknown_key.yaml", "webhook_url.yaml"):
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate(_plain_yaml(ROOT / "tests" / "data" / "flows_broken" / name), schema)


def test_json_schema_names_the_keys_the_compiler_takes() -> None:
    import json

    from voicebot.flow.compiler import schema as keys

    schema = json.loads((ROOT / "docs" / "flow.schema.json").read_text(encoding="utf-8"))
    props = schema["properties"]
    assert set(props) == set(keys.TOP_KEYS) | {"returns"}
    assert set(props["slots"]["additionalProperties"]["oneOf"][1]["properties"]) == set(keys.SLOT_KEYS)
    assert set(props["asr"]["oneOf"][1]["properties"]) == set(keys.ASR_KEYS)
    ask = props["states"]["additionalProperties"]["oneOf"][0]["properties"]
    assert set(ask) == set(keys.KIND_KEYS["ask"]) | set(keys.COMMON_STATE_KEYS)
    assert set(props["tests"]["items"]["properties"]) == set(keys.SCRIPT_KEYS)


def test_hostile_yaml_is_refused_cleanly(write_flow: Callable[..., Path]) -> None:
    deep = write_flow("a: " + "[" * 5000 + "]" * 5000 + "\n", "deep.yaml")
    diags = Flow.check(deep)
    assert len(diags) == 1 and diags[0].is_error and "nest" in diags[0].message
    rows = ["a: &a [x,x,x,x,x,x,x,x,x]"]
    for prev, name in zip("abcdef", "bcdefg", strict=True):
        rows.append(f"{name}: &{name} [" + ",".join([f"*{prev}"] * 9) + "]")
    bomb = write_flow("\n".join(rows) + "\n", "bomb.yaml")
    assert "flow file too large" in Flow.check(bomb)[0].message


def test_docs_examples_work(tmp_path: Path) -> None:
    import re

    text = (ROOT / "docs" / "flows.md").read_text(encoding="utf-8")
    first_yaml = re.findall(r"```yaml\n(.*?)```", text, re.S)[0]
    p = tmp_path / "reminder.yaml"
    p.write_text(first_yaml, encoding="utf-8")
    assert Flow.check(p) == []
    assert all(r.passed for r in run_scripts(Flow.load(p)))
    code = re.findall(r"```python\n(.*?)```", text, re.S)[0]
    real = "from voicebot.flowio.webhook import execute\n"
    assert real in code
    # no network in unit tests: the webhook answers from here (the real executor has its own tests)
    code = code.replace(real, "execute = lambda action: WebhookResult(ok=True, data={})\n")
    scope: dict[str, object] = {}
    import os

    cwd = os.getcwd()
    os.chdir(ROOT)
    try:
        exec(compile(code, "docs/flows.md", "exec"), scope)
    finally:
        os.chdir(cwd)
    result = scope["result"]
    assert getattr(result, "outcome", None) == "confirmed"


def test_phrases_in_the_wrong_language_are_a_warning(write_flow: Callable[..., Path]) -> None:
    p = write_flow(
        """
        flow: t
        language: ko
        intents:
          later: [call me later]
        start: ask
        states:
          ask:
            ask: 지금 괜찮으세요?
            reprompt: 네 또는 아니요로 말씀해 주세요.
            on:
              yes: bye
              later: bye
          bye:
            hangup: done
        """
    )
    msgs = [d.text() for d in Flow.check(p)]
    assert (
        "4:10: warning: phrase 'call me later' of intent 'later' does not look like language 'ko'; "
        "give per-language phrases: phrases: {en: [...], ko: [...], zh: [...]}" in msgs
    ), msgs


def test_outcomes_lists_every_ending() -> None:
    flow = Flow.load(ROOT / "dialogs" / "appointment_reminder.yaml")
    assert {"confirmed", "rescheduled", "cancelled", "opted_out", "abusive", "transferred", "no_input"} <= set(
        flow.outcomes
    )
    assert "caller_hangup" in flow.outcomes


def test_context_slots_are_the_ones_only_the_call_can_fill() -> None:
    assert Flow.load(ROOT / "dialogs" / "appointment_reminder.yaml").context_slots == ("appointment_date",)
    assert Flow.load(ROOT / "dialogs" / "payment_reminder.yaml").context_slots == ("account_id", "account_last4")
    assert Flow.load(ROOT / "dialogs" / "satisfaction_survey.yaml").context_slots == ()


def test_compiled_flow_pickles_for_worker_processes() -> None:
    import pickle

    flow = Flow.load(ROOT / "dialogs" / "payment_reminder.yaml")
    copy = pickle.loads(pickle.dumps(flow))
    assert copy.table == flow.table and copy.outcomes == flow.outcomes
    s = copy.start({"account_id": "1", "account_last4": "1234"})
    assert s.begin()[-1] == flow.start({"account_id": "1", "account_last4": "1234"}).begin()[-1]
    with pytest.raises(TypeError):
        copy.table.clear()


def test_script_mistakes_are_compile_errors(write_flow: Callable[..., Path]) -> None:
    p = write_flow(
        """
        flow: t
        slots:
          n: {type: number}
        start: ask
        states:
          ask:
            ask: How many?
            reprompt: A number please.
            slot: n
            next: bye
          bye:
            hangup: done
        tests:
          - name: one
            profile: {last_outcom: x}
            context: {m: 1}
            turns:
              - caller: three
                state: byee
                slots: {nn: 3}
              - caller: x
                dtmf: "1"
        """
    )
    msgs = [d.text() for d in Flow.check(p)]
    assert "15:15: error: unknown key 'last_outcom' in a script profile; did you mean 'last_outcome'?" in msgs
    assert "16:15: error: unknown slot 'm' in script context; expected one of: n" in msgs
    assert "19:16: error: unknown state 'byee' in script; did you mean 'bye'?" in msgs
    assert "20:17: error: unknown slot 'nn' in script; did you mean 'n'?" in msgs
    assert "22:9: error: a turn has one input, this one has caller and dtmf; split it into two turns" in msgs
    assert len(msgs) == 5
