"""The flow compiler: YAML flow file -> validated, immutable transition table.

It reads the file with positions (:mod:`voicebot.flow.yamlsrc`), merges ``include:`` files,
inlines ``subflow:`` states under a name prefix, checks every key, type, target, template and
expression, adds the built-in states that global intents and limits lead to, and then checks
the graph: unreachable states, dead ends, states with no path to a hang-up or transfer, and
loops that never wait for the caller. Every problem becomes a :class:`Diagnostic` with
``file:line:column``, what is wrong and what to write instead. One module per section of the
flow file; :mod:`.driver` runs them in order.
"""

from __future__ import annotations

from voicebot.flow.compiler.driver import compile_file

__all__ = ["compile_file"]
