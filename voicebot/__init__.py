"""voicebot: a multilingual customer-service voice bot on pipecat.

The public surface is small: :mod:`voicebot.cli` (the ``voicebot`` command),
:class:`voicebot.call.CallSession` (one call = one pipeline + one transport) and
:class:`voicebot.runtime.Runtime` (the models and stores a process shares).
"""

__version__ = "0.1.0"
