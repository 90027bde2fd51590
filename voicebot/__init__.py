"""voicebot: a pure-Python SIP/RTP softphone engine for voice bots and outbound calling.

The top-level names are the library API of DESIGN.md::

    from voicebot import UserAgent, Flow

They are imported on first use, so ``import voicebot`` stays cheap for code that only needs
one layer (a flow checker does not load the SIP stack, a SIP tool does not load Vosk).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_LAZY = {
    "UserAgent": "voicebot.agent",
    "Call": "voicebot.call",
    "CallResult": "voicebot.call",
    "Flow": "voicebot.flow",
    "VoicebotError": "voicebot.errors",
}

if TYPE_CHECKING:
    from voicebot.agent import UserAgent
    from voicebot.call import Call, CallResult
    from voicebot.errors import VoicebotError
    from voicebot.flow import Flow


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'voicebot' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


__all__ = ["Call", "CallResult", "Flow", "UserAgent", "VoicebotError", "__version__"]
