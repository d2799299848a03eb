-- The AI engine's tables: a risk score per milking, the models it may use, and the episode
-- bookkeeping of mastitis alerts.

-- One score per milking, written by live scoring (and the risk scan) as the service role.
-- Keyed and hash-partitioned like milking_sessions, so a farm's scores sit in one partition and
-- the table distributes by tenant_id with Citus the same way. `started_at` is the milking's, so
-- cow charts and "which milkings have no score yet" need no join.
CREATE TABLE public.session_scores (
    tenant_id uuid NOT NULL,
    source_id integer NOT NULL,
    transaction_id bigint NOT NULL,
    animal_id text NOT NULL,
    started_at timestamptz NOT NULL,
    risk_score real NOT NULL CHECK (risk_score BETWEEN 0 AND 1),
    model_version text NOT NULL,
    scored_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, source_id, transaction_id)
) PARTITION BY HASH (tenant_id);

DO $$
BEGIN
  FOR i IN 0..15 LOOP
    EXECUTE format(
      'CREATE TABLE partitions.session_scores_p%s PARTITION OF public.session_scores '
      'FOR VALUES WITH (MODULUS 16, REMAINDER %s)', lpad(i::text, 2, '0'), i);
    EXECUTE format('ALTER TABLE partitions.session_scores_p%s ENABLE ROW LEVEL SECURITY', lpad(i::text, 2, '0'));
  END LOOP;
END $$;

CREATE INDEX session_scores_cow_idx ON public.session_scores (tenant_id, animal_id, started_at);

ALTER TABLE public.session_scores ENABLE ROW LEVEL SECURITY;
CREATE POLICY members_read ON public.session_scores FOR SELECT TO authenticated
  USING (tenant_id IN (SELECT private.my_tenants()));

-- Models trained with farm feedback (`pecus model train --with-feedback --register`). The
-- artifact is checked against sha256 before it is loaded; live scoring uses the newest
-- approved version (`pecus model approve`), or the model shipped in the package when newer.
-- Not tenant data: RLS on and no policy, so only the service role (the API's own role) reads it.
CREATE TABLE public.model_versions (
    version text PRIMARY KEY,
    created_at timestamptz NOT NULL DEFAULT now(),
    sha256 text NOT NULL CHECK (sha256 ~ '^[0-9a-f]{64}$'),
    manifest jsonb NOT NULL,
    artifact bytea NOT NULL,
    approved_at timestamptz,
    approved_by text
);
ALTER TABLE public.model_versions ENABLE ROW LEVEL SECURITY;
REVOKE ALL ON public.model_versions FROM anon, authenticated;

-- Episodes: the newest milking (its start) that alerted for this cow. A new alerting milking
-- within 72 h of it belongs to the same episode and updates the alert instead of adding one.
ALTER TABLE public.alerts ADD COLUMN last_observed_at timestamptz;
