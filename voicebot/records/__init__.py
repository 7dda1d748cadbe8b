"""Call records: one row per call, its turns, events, actions, QA marks and a stereo recording.

Entry points: :func:`voicebot.records.store.open_store`, :class:`voicebot.records.recorder.CallRecorder`,
:func:`voicebot.records.recorder.recover_interrupted`, :func:`voicebot.records.retention.apply_retention`,
:func:`voicebot.records.export.export_scenario` and :func:`voicebot.records.routes.make_router` (QA pages, analytics, /metrics);
:class:`voicebot.records.service.Records` wires all of it into one bot process.
"""
