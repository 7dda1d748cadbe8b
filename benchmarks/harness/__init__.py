"""The ``voicebot bench`` harness: scenarios replayed over the direct line, Twilio, SIP or WebRTC, and the report."""
