-- Data sync: bizType configurations; streams (a bizType and a target) with gap-free sequences;
-- their messages; the senders' message ids, remembered for the bizType's retention; messages
-- scheduled for the start of their validity; and how far each device acknowledged each stream.

CREATE TABLE sync_configs (
    workspace_id TEXT COLLATE "C" NOT NULL REFERENCES workspaces (workspace_id),
    biz_type     TEXT COLLATE "C" NOT NULL,
    definition   TEXT NOT NULL,
    updated_at   BIGINT NOT NULL,
    PRIMARY KEY (workspace_id, biz_type)
);

CREATE TABLE sync_streams (
    stream_id    BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    workspace_id TEXT COLLATE "C" NOT NULL REFERENCES workspaces (workspace_id),
    biz_type     TEXT COLLATE "C" NOT NULL,
    target_kind  TEXT NOT NULL,
    target_id    TEXT COLLATE "C" NOT NULL,
    last_seq     BIGINT NOT NULL,
    UNIQUE (workspace_id, biz_type, target_kind, target_id)
);

CREATE TABLE sync_messages (
    stream_id    BIGINT NOT NULL REFERENCES sync_streams (stream_id),
    seq          BIGINT NOT NULL,
    third_msg_id TEXT NOT NULL,
    payload      TEXT NOT NULL,
    filter       TEXT,
    created_at   BIGINT NOT NULL,
    expires_at   BIGINT NOT NULL,
    PRIMARY KEY (stream_id, seq)
);
CREATE INDEX sync_messages_by_expiry ON sync_messages (expires_at);

CREATE TABLE sync_message_ids (
    stream_id    BIGINT NOT NULL REFERENCES sync_streams (stream_id),
    third_msg_id TEXT NOT NULL,
    seq          BIGINT,
    expires_at   BIGINT NOT NULL,
    PRIMARY KEY (stream_id, third_msg_id)
);
CREATE INDEX sync_message_ids_by_expiry ON sync_message_ids (expires_at);

CREATE TABLE sync_scheduled (
    scheduled_id  BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    stream_id     BIGINT NOT NULL REFERENCES sync_streams (stream_id),
    third_msg_id  TEXT NOT NULL,
    payload       TEXT NOT NULL,
    filter        TEXT,
    created_at    BIGINT NOT NULL,
    expires_at    BIGINT NOT NULL,
    id_expires_at BIGINT NOT NULL,
    keep_newest   BIGINT,
    due_at        BIGINT NOT NULL
);
CREATE INDEX sync_scheduled_by_due ON sync_scheduled (due_at);

CREATE TABLE sync_acks (
    stream_id BIGINT NOT NULL REFERENCES sync_streams (stream_id),
    device_id TEXT NOT NULL,
    seq       BIGINT NOT NULL,
    acked_at  BIGINT NOT NULL,
    PRIMARY KEY (stream_id, device_id)
);
