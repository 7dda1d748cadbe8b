"""The in-app voice button: a widget on a shop's page talking to the bot over WebRTC (or a
PCM WebSocket), authorised by a short-lived session token from the shop's backend.

Modules: ``tokens`` (issue/verify tokens, origin check), ``protocol`` (messages, pure),
``channel`` (the call: outputs, typed text, captions, handoff), ``links`` (one browser
connection), ``service`` (options, admission, live calls), ``routes`` (``make_router``).
"""
