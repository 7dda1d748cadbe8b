"""Twilio channel: a phone number reaches the bot through a bidirectional Media Stream.

Pure pieces (no I/O): :mod:`.twiml`, :mod:`.signature`, :mod:`.protocol`.
I/O: :mod:`.rest` (REST redirects), :mod:`.stream` (one WebSocket per call),
:mod:`.routes` (the FastAPI router), :mod:`.channel` (the call transport).
"""
