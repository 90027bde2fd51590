"""The pocketsphinx decoders of a process: lean ones for grammars, full ones for free mode.

A ``pocketsphinx.Decoder`` built with the wheel's defaults loads the trigram language model
and the whole CMU dictionary besides the acoustic model. Measured here
(``benchmarks/decoders.py``): 0.46 CPU-s and 91 MB per decoder, of which the trigram model is
about 64 MB and 0.3 s and the dictionary (135k words) 22 MB and 0.15 s; the acoustic model
itself is 5 MB and 0.016 s. The build holds the GIL the whole time (a thread ticking every
20 ms fell 1.5 s behind during four builds), so on a live server it stalls the media clock.

A grammar search needs neither: it knows only its phrases' words. So the decoders that serve
grammars and the phone loop are *lean* (no language model, an empty dictionary); a grammar's
words are taught to the decoder that will search it, with their pronunciations (every
variant) from one lexicon decoder per process (dictionary only, no language model). Free mode
keeps full decoders, in a pool of their own. Idle decoders of both kinds are kept for reuse.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from typing import Any

from voicebot.errors import DependencyError

# The allphone search every lean decoder carries: the phone loop when the model has a phone
# language model, and the search a decoder rests on between grammars (a grammar search can
# only be removed while another one is active).
PHONE_SEARCH = "voicebot-phones"


class SphinxDecoders:
    """Builds, lends and takes back pocketsphinx decoders (thread-safe)."""

    def __init__(
        self, pocketsphinx: Any, options: dict[str, Any], phone_lm: str | None, *, model_phone_lm: str | None
    ) -> None:
        """``phone_lm``: the phone loop's language model (None: no phone loop);
        ``model_phone_lm``: the acoustic model's phone language model, if it has one."""
        self._ps = pocketsphinx
        self._full_options = dict(options)
        # Lean decoders load the model's small phone language model (0.8 MB) as their ``lm``:
        # searches score differently (the phone loop by up to 1 %) in a decoder without any
        # language model, measured, and the calibration was fitted on decoders that had one.
        self._lean_options = {**options, "lm": model_phone_lm, "dict": None}
        self._lexicon_options = {**options, "lm": None}
        self.phone_lm = phone_lm
        self._lean: list[Any] = []
        self._full: list[Any] = []
        self._lock = threading.Lock()
        self._lexicon: Any = None

    def _build(self, options: dict[str, Any]) -> Any:
        try:
            decoder = self._ps.Decoder(**options)
        except (RuntimeError, ValueError) as exc:
            raise DependencyError(f"pocketsphinx could not load its model: {exc}") from exc
        return decoder

    def _build_lean(self) -> Any:
        decoder = self._build(self._lean_options)
        decoder.add_allphone_file(PHONE_SEARCH, self.phone_lm)
        return decoder

    def reserve(self, count: int) -> None:
        """Build lean decoders until ``count`` are idle (at start-up, before calls come)."""
        while True:
            with self._lock:
                if len(self._lean) >= count:
                    return
            decoder = self._build_lean()
            with self._lock:
                self._lean.append(decoder)

    def idle(self) -> tuple[int, int]:
        """How many lean and full decoders wait in the pool."""
        with self._lock:
            return len(self._lean), len(self._full)

    def lean(self, words: Iterable[str] = ()) -> Any:
        """A lean decoder (its allphone search active) that knows ``words``."""
        with self._lock:
            decoder = self._lean.pop() if self._lean else None
        if decoder is None:
            decoder = self._build_lean()
        for word in words:
            if decoder.lookup_word(word) is None:
                variants = self.pronunciations(word)
                for i, phones in enumerate(variants):
                    decoder.add_word(word if i == 0 else f"{word}({i + 1})", phones, False)
        decoder.activate_search(PHONE_SEARCH)
        return decoder

    def full(self) -> Any:
        """A decoder with the language model and the whole dictionary (free mode)."""
        with self._lock:
            if self._full:
                return self._full.pop()
        return self._build(self._full_options)

    def release(self, decoder: Any, *, full: bool = False) -> None:
        """Take a decoder back, its feature front end as a new decoder's."""
        # Nothing a decoder learnt from one call's audio may reach the next caller (measured:
        # a decoder reused after an Opus call returned nothing for clean speech). Restoring
        # the cepstral mean vector alone (``set_cmn``) left the rest of the feature front
        # end's memory of the line (with the model's noise remover on, and off too): the
        # phone loop scored the same "yes" 0.818 on a new decoder and 0.820 to 0.828 after
        # other audio. ``reinit_feat`` rebuilds the front end from the decoder's own
        # configuration (0.03 ms, measured), after which the same audio scores exactly as
        # on a new decoder (tests/integration/speech/test_speech_pocketsphinx.py).
        decoder.reinit_feat()
        with self._lock:
            (self._full if full else self._lean).append(decoder)

    def pronunciations(self, word: str) -> list[str]:
        """Every pronunciation the dictionary gives ``word`` (none when it is unknown)."""
        with self._lock:
            if self._lexicon is None:
                self._lexicon = self._build_lexicon()
            found: list[str] = []
            while (phones := self._lexicon.lookup_word(word if not found else f"{word}({len(found) + 1})")) is not None:
                found.append(str(phones))
            return found

    def _build_lexicon(self) -> Any:
        try:
            return self._ps.Decoder(**self._lexicon_options)
        except (RuntimeError, ValueError) as exc:
            raise DependencyError(f"pocketsphinx could not load its dictionary: {exc}") from exc


__all__ = ["PHONE_SEARCH", "SphinxDecoders"]
