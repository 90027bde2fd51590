"""Media attacks in-process over real loopback sockets: the media fixtures are shared."""

from tests.integration.media.conftest import correlate_windowed as correlate_windowed
from tests.integration.media.conftest import pytest_pyfunc_call as pytest_pyfunc_call
from tests.integration.media.conftest import read_wav_channels as read_wav_channels
from tests.integration.media.conftest import speech_wav as speech_wav
