"""How ``voicebot dial`` reports a call in its exit code (documented in ``dial --help``).

The classification of a call's SIP result is :func:`voicebot.report.classify`, the one the
metrics and the campaign use as well; this module only maps it to numbers.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from voicebot.report import classify

if TYPE_CHECKING:
    from voicebot.call import CallResult

EXIT_ANSWERED = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_BUSY = 3
EXIT_NO_ANSWER = 4
EXIT_REJECTED = 5
EXIT_AUTH = 6
EXIT_NETWORK = 7
EXIT_VANISHED = 8
EXIT_INTERRUPTED = 9

DIAL_EXIT_CODES = """exit codes (one call; with --calls M > 1: 0 every call answered, 1 some were not):
  0  answered (the call was established; it ended normally)
  1  internal failure, or a missing engine or model (the message names what to install)
  2  bad arguments (a malformed URI, an unreadable --play file, a bad --dtmf digit, ...)
  3  busy (486 Busy Here, 600 Busy Everywhere)
  4  no answer (ring timeout and CANCEL, 408/480/487 from the far end)
  5  rejected (any other 3xx-6xx final response, e.g. 403, 404, 488, 603)
  6  authentication failed (401/407 after answering the challenge, or no credentials)
  7  network failure (cannot resolve the host, port unreachable, no response at all)
  8  the far end vanished (no RTP for --rtp-timeout seconds; we sent BYE)
  9  interrupted (Ctrl-C / SIGTERM) before the call was answered
"""

EXIT_FOR_OUTCOME = {
    "completed": EXIT_ANSWERED,
    "dropped": EXIT_ANSWERED,  # answered; only a media timeout counts as vanished (below)
    "busy": EXIT_BUSY,
    "no_answer": EXIT_NO_ANSWER,
    "rejected": EXIT_REJECTED,
    "auth_failed": EXIT_AUTH,
    "network": EXIT_NETWORK,
}


def exit_code_for(result: CallResult) -> int:
    """Map a call's outcome to the documented ``dial`` exit code."""
    if result.answered and result.reason.startswith("media timeout"):
        return EXIT_VANISHED
    return EXIT_FOR_OUTCOME[classify(result.answered, result.status, result.reason)]


__all__ = ["DIAL_EXIT_CODES", "EXIT_FOR_OUTCOME", "exit_code_for"]
