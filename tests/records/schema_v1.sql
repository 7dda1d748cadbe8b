-- The record schema exactly as release version 1 created it ({float} and {serial} per dialect).
-- Frozen: the migration tests open a database made from this text.
CREATE TABLE IF NOT EXISTS calls (
    id TEXT PRIMARY KEY,
    channel TEXT NOT NULL,
    caller TEXT,
    language TEXT,
    started_at {float} NOT NULL,
    ended_at {float},
    outcome TEXT,
    end_reason TEXT,
    handoff_reason TEXT,
    dev_models INTEGER NOT NULL DEFAULT 0,
    pipeline TEXT,
    instance TEXT
);
CREATE INDEX IF NOT EXISTS calls_started_at ON calls (started_at);
CREATE INDEX IF NOT EXISTS calls_open ON calls (ended_at);
CREATE TABLE IF NOT EXISTS turns (
    call_id TEXT NOT NULL,
    idx INTEGER NOT NULL,
    caller_speech_start_ms {float},
    caller_speech_end_ms {float},
    asr_final_ms {float},
    bot_reply_ms {float},
    bot_first_audio_ms {float},
    bot_speech_end_ms {float},
    interrupted INTEGER NOT NULL DEFAULT 0,
    caller_text TEXT,
    caller_language TEXT,
    caller_dtmf TEXT NOT NULL DEFAULT '',
    bot_text TEXT,
    bot_text_heard TEXT,
    intent TEXT,
    slots TEXT NOT NULL DEFAULT '{}',
    sentiment TEXT,
    complete INTEGER NOT NULL DEFAULT 0,
    speaker TEXT,
    agent_name TEXT,
    PRIMARY KEY (call_id, idx)
);
CREATE INDEX IF NOT EXISTS turns_intent ON turns (intent);
CREATE TABLE IF NOT EXISTS events (
    call_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    t_ms {float} NOT NULL,
    kind TEXT NOT NULL,
    data TEXT NOT NULL DEFAULT '{}',
    PRIMARY KEY (call_id, seq)
);
CREATE TABLE IF NOT EXISTS actions (
    call_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    t_ms {float} NOT NULL,
    kind TEXT NOT NULL,
    name TEXT NOT NULL,
    turn_idx INTEGER,
    data TEXT NOT NULL DEFAULT '{}',
    PRIMARY KEY (call_id, seq)
);
CREATE TABLE IF NOT EXISTS annotations (
    id {serial},
    call_id TEXT NOT NULL,
    turn_idx INTEGER NOT NULL,
    wrong INTEGER NOT NULL,
    note TEXT NOT NULL DEFAULT '',
    author TEXT,
    created_at {float} NOT NULL
);
CREATE INDEX IF NOT EXISTS annotations_call ON annotations (call_id);
CREATE TABLE IF NOT EXISTS recordings (
    call_id TEXT PRIMARY KEY,
    path TEXT NOT NULL,
    sample_rate INTEGER NOT NULL,
    channels INTEGER NOT NULL DEFAULT 2
);
CREATE TABLE IF NOT EXISTS voicemails (
    call_id TEXT PRIMARY KEY,
    created_at {float} NOT NULL,
    duration_s {float} NOT NULL,
    path TEXT NOT NULL,
    sample_rate INTEGER NOT NULL,
    language TEXT,
    caller TEXT,
    channel TEXT,
    queue TEXT,
    transcript TEXT,
    summary TEXT,
    end_reason TEXT,
    status TEXT NOT NULL DEFAULT 'new',
    done_by TEXT,
    done_at {float}
);
CREATE INDEX IF NOT EXISTS voicemails_created_at ON voicemails (created_at);
CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL);
