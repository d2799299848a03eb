-- Pecus Chain core schema: farms (tenants), people, sources, robots, cows, milkings, alerts,
-- the notification outbox and agent sync runs.
--
-- Every tenant table is keyed by tenant_id first. That keeps one farm's rows together in every
-- index, makes RLS filters index-friendly, and lets the schema be distributed by tenant_id with
-- Citus when one PostgreSQL is outgrown (docs/database.md has the scale reasoning).
--
-- milking_sessions is the big table (hundreds of millions of rows at a few hundred farms):
--  * Primary key (tenant_id, source_id, transaction_id) is the idempotency key of ingest, so it
--    cannot include a time column. Range partitioning by time would need the time in every
--    unique key, so we hash-partition by tenant_id instead: 16 partitions keep each index and
--    each VACUUM a sixteenth of the table, every query of a farm prunes to one partition, and
--    the partition key is the future Citus distribution key.
--  * (tenant_id, animal_id, started_at) serves "one cow's last N days" (AI hydration, cow charts).
--  * (tenant_id, started_at) serves "the herd's last N days" (overview, herd averages, risk scan).
--  * Partitions live in schema `partitions`, which the API roles cannot use: RLS policies are
--    checked on the parent, so a partition must never be reachable directly.
--  * Sensor values are `real` (float4): 7 significant digits is far beyond sensor precision and
--    saves ~70 bytes a row.

CREATE SCHEMA IF NOT EXISTS private;
CREATE SCHEMA IF NOT EXISTS partitions;
REVOKE ALL ON SCHEMA partitions FROM PUBLIC;

-- Farms ------------------------------------------------------------------------------------------
CREATE TABLE public.tenants (
    tenant_id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    name text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    time_zone text NOT NULL DEFAULT 'UTC',
    alert_threshold real CHECK (alert_threshold > 0 AND alert_threshold < 1),
    critical_threshold real CHECK (critical_threshold > 0 AND critical_threshold < 1),
    quiet_hours_start time,
    quiet_hours_end time,
    stale_after_minutes integer NOT NULL DEFAULT 360 CHECK (stale_after_minutes > 0),
    created_at timestamptz NOT NULL DEFAULT now()
);

-- People: one user may belong to many farms (a vet); the role decides what they may change.
CREATE TABLE public.memberships (
    tenant_id uuid NOT NULL REFERENCES public.tenants ON DELETE CASCADE,
    user_id uuid NOT NULL REFERENCES auth.users ON DELETE CASCADE,
    role text NOT NULL CHECK (role IN ('owner', 'farmer', 'vet', 'viewer')),
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, user_id)
);
CREATE INDEX memberships_user_idx ON public.memberships (user_id, tenant_id);

-- A source is one local database an agent reads (normally the farm's DelPro).
CREATE TABLE public.sources (
    tenant_id uuid NOT NULL REFERENCES public.tenants ON DELETE CASCADE,
    source_id integer GENERATED ALWAYS AS IDENTITY,
    name text NOT NULL CHECK (length(name) BETWEEN 1 AND 64),
    watermark bigint NOT NULL DEFAULT 0,
    created_at timestamptz NOT NULL DEFAULT now(),
    last_ingest_at timestamptz,
    PRIMARY KEY (tenant_id, source_id),
    UNIQUE (tenant_id, name)
);

-- Robots / parlours, registered on first sight by ingest.
CREATE TABLE public.milking_units (
    tenant_id uuid NOT NULL REFERENCES public.tenants ON DELETE CASCADE,
    unit text NOT NULL CHECK (length(unit) BETWEEN 1 AND 64),
    source_id integer NOT NULL,
    first_seen_at timestamptz NOT NULL DEFAULT now(),
    last_session_at timestamptz,
    PRIMARY KEY (tenant_id, unit),
    FOREIGN KEY (tenant_id, source_id) REFERENCES public.sources
);

-- API keys of the farm agents: only a SHA-256 of the (256-bit random) secret is stored.
CREATE TABLE public.agent_keys (
    tenant_id uuid NOT NULL REFERENCES public.tenants ON DELETE CASCADE,
    key_id uuid NOT NULL DEFAULT gen_random_uuid(),
    label text NOT NULL DEFAULT '',
    key_prefix text NOT NULL,
    key_hash bytea NOT NULL UNIQUE,
    created_at timestamptz NOT NULL DEFAULT now(),
    last_used_at timestamptz,
    revoked_at timestamptz,
    PRIMARY KEY (tenant_id, key_id)
);

-- Cows by the farm's own number.
CREATE TABLE public.animals (
    tenant_id uuid NOT NULL REFERENCES public.tenants ON DELETE CASCADE,
    animal_id text NOT NULL CHECK (length(animal_id) BETWEEN 1 AND 64),
    lactation_number smallint,
    calving_date date,
    exit_date date,
    first_seen_at timestamptz NOT NULL DEFAULT now(),
    last_session_at timestamptz,
    PRIMARY KEY (tenant_id, animal_id)
);

-- Milkings: the columns of shared/sessions-schema.md.
CREATE TABLE public.milking_sessions (
    tenant_id uuid NOT NULL,
    source_id integer NOT NULL,
    transaction_id bigint NOT NULL CHECK (transaction_id > 0),
    unit text NOT NULL,
    animal_id text NOT NULL,
    started_at timestamptz NOT NULL,
    ended_at timestamptz NOT NULL,
    yield_kg real NOT NULL,
    expected_yield_kg real,
    conductivity_avg real,
    conductivity_max real,
    conductivity_lf real,
    conductivity_rf real,
    conductivity_lr real,
    conductivity_rr real,
    yield_lf real,
    yield_rf real,
    yield_lr real,
    yield_rr real,
    blood_avg real,
    blood_max real,
    flow_avg real,
    flow_peak real,
    duration_s integer,
    cell_count integer,
    mdi real,
    incomplete boolean,
    kickoff boolean,
    lactation_number smallint,
    days_in_milk smallint,
    extra jsonb,
    received_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, source_id, transaction_id)
) PARTITION BY HASH (tenant_id);

DO $$
BEGIN
  FOR i IN 0..15 LOOP
    EXECUTE format(
      'CREATE TABLE partitions.milking_sessions_p%s PARTITION OF public.milking_sessions '
      'FOR VALUES WITH (MODULUS 16, REMAINDER %s)', lpad(i::text, 2, '0'), i);
    EXECUTE format('ALTER TABLE partitions.milking_sessions_p%s ENABLE ROW LEVEL SECURITY', lpad(i::text, 2, '0'));
  END LOOP;
END $$;

CREATE INDEX milking_sessions_cow_idx ON public.milking_sessions (tenant_id, animal_id, started_at);
CREATE INDEX milking_sessions_herd_idx ON public.milking_sessions (tenant_id, started_at);

-- Alerts: a mastitis warning for a cow, or a data-feed warning for a unit.
CREATE TABLE public.alerts (
    tenant_id uuid NOT NULL REFERENCES public.tenants ON DELETE CASCADE,
    alert_id bigint GENERATED ALWAYS AS IDENTITY,
    kind text NOT NULL DEFAULT 'mastitis' CHECK (kind IN ('mastitis', 'data_feed')),
    animal_id text,
    unit text,
    source_id integer,
    transaction_id bigint,
    risk_score real CHECK (risk_score BETWEEN 0 AND 1),
    level text NOT NULL DEFAULT 'warning' CHECK (level IN ('warning', 'critical')),
    model_version text,
    reasons jsonb NOT NULL DEFAULT '[]',
    status text NOT NULL DEFAULT 'new'
        CHECK (status IN ('new', 'acknowledged', 'false_positive', 'resolved')),
    status_changed_by uuid,
    status_changed_at timestamptz,
    note text,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, alert_id),
    CHECK (kind <> 'mastitis' OR animal_id IS NOT NULL)
);
CREATE INDEX alerts_open_idx ON public.alerts (tenant_id, status, risk_score DESC, created_at DESC);
CREATE INDEX alerts_cow_idx ON public.alerts (tenant_id, animal_id, created_at DESC);

-- Every status change is kept: these are the labels the model retrains on.
CREATE TABLE public.alert_status_changes (
    tenant_id uuid NOT NULL,
    alert_id bigint NOT NULL,
    change_id bigint GENERATED ALWAYS AS IDENTITY,
    from_status text NOT NULL,
    to_status text NOT NULL,
    changed_by uuid,
    changed_at timestamptz NOT NULL DEFAULT now(),
    note text,
    PRIMARY KEY (tenant_id, alert_id, change_id),
    FOREIGN KEY (tenant_id, alert_id) REFERENCES public.alerts ON DELETE CASCADE
);

-- Transactional outbox: written in the same transaction as the alert, delivered by a dispatcher.
CREATE TABLE public.notifications (
    tenant_id uuid NOT NULL REFERENCES public.tenants ON DELETE CASCADE,
    notification_id bigint GENERATED ALWAYS AS IDENTITY,
    alert_id bigint,
    channel text NOT NULL DEFAULT 'default',
    message text NOT NULL DEFAULT '',
    status text NOT NULL DEFAULT 'pending'
        CHECK (status IN ('pending', 'held', 'sending', 'sent', 'failed')),
    attempts integer NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    sent_at timestamptz,
    last_error text,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, notification_id),
    FOREIGN KEY (tenant_id, alert_id) REFERENCES public.alerts ON DELETE CASCADE
);
CREATE INDEX notifications_due_idx ON public.notifications (next_attempt_at)
    WHERE status IN ('pending', 'held');

-- Each agent upload, so the dashboard can show data freshness per farm and source.
CREATE TABLE public.sync_runs (
    tenant_id uuid NOT NULL REFERENCES public.tenants ON DELETE CASCADE,
    run_id bigint GENERATED ALWAYS AS IDENTITY,
    source_id integer,
    agent_key_id uuid,
    agent_version text,
    agent_host text,
    cycle_id text,
    started_at timestamptz NOT NULL DEFAULT now(),
    finished_at timestamptz,
    rows_received integer NOT NULL DEFAULT 0,
    rows_inserted integer NOT NULL DEFAULT 0,
    result text NOT NULL DEFAULT 'ok' CHECK (result IN ('ok', 'rejected', 'error')),
    error text,
    PRIMARY KEY (tenant_id, run_id)
);
CREATE INDEX sync_runs_recent_idx ON public.sync_runs (tenant_id, started_at DESC);
