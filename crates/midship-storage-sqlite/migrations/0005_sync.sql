-- Data sync: bizType configurations; streams (a bizType and a target) with gap-free sequences;
-- their messages; the senders' message ids, remembered for the bizType's retention; messages
-- scheduled for the start of their validity; and how far each device acknowledged each stream.

CREATE TABLE sync_configs (
    workspace_id TEXT NOT NULL REFERENCES workspaces (workspace_id),
    biz_type     TEXT NOT NULL,
    definition   TEXT NOT NULL,
    updated_at   INTEGER NOT NULL,
    PRIMARY KEY (workspace_id, biz_type)
);

CREATE TABLE sync_streams (
    stream_id    INTEGER PRIMARY KEY,
    workspace_id TEXT NOT NULL REFERENCES workspaces (workspace_id),
    biz_type     TEXT NOT NULL,
    target_kind  TEXT NOT NULL,
    target_id    TEXT NOT NULL,
    last_seq     INTEGER NOT NULL,
    UNIQUE (workspace_id, biz_type, target_kind, target_id)
);

CREATE TABLE sync_messages (
    stream_id    INTEGER NOT NULL REFERENCES sync_streams (stream_id),
    seq          INTEGER NOT NULL,
    third_msg_id TEXT NOT NULL,
    payload      TEXT NOT NULL,
    filter       TEXT,
    created_at   INTEGER NOT NULL,
    expires_at   INTEGER NOT NULL,
    PRIMARY KEY (stream_id, seq)
) WITHOUT ROWID;
CREATE INDEX sync_messages_by_expiry ON sync_messages (expires_at);

CREATE TABLE sync_message_ids (
    stream_id    INTEGER NOT NULL REFERENCES sync_streams (stream_id),
    third_msg_id TEXT NOT NULL,
    seq          INTEGER,
    expires_at   INTEGER NOT NULL,
    PRIMARY KEY (stream_id, third_msg_id)
) WITHOUT ROWID;
CREATE INDEX sync_message_ids_by_expiry ON sync_message_ids (expires_at);

CREATE TABLE sync_scheduled (
    scheduled_id  INTEGER PRIMARY KEY AUTOINCREMENT,
    stream_id     INTEGER NOT NULL REFERENCES sync_streams (stream_id),
    third_msg_id  TEXT NOT NULL,
    payload       TEXT NOT NULL,
    filter        TEXT,
    created_at    INTEGER NOT NULL,
    expires_at    INTEGER NOT NULL,
    id_expires_at INTEGER NOT NULL,
    keep_newest   INTEGER,
    due_at        INTEGER NOT NULL
);
CREATE INDEX sync_scheduled_by_due ON sync_scheduled (due_at);

CREATE TABLE sync_acks (
    stream_id INTEGER NOT NULL REFERENCES sync_streams (stream_id),
    device_id TEXT NOT NULL,
    seq       INTEGER NOT NULL,
    acked_at  INTEGER NOT NULL,
    PRIMARY KEY (stream_id, device_id)
) WITHOUT ROWID;
