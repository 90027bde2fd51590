"""voicebot: a pure-Python SIP/RTP softphone engine for voice bots and outbound calling."""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__"]
