-- Background jobs that several API instances (and a Render cron job) may all try to run: each run
-- takes the job's PostgreSQL advisory lock, and records here when it last ran, so an instance
-- whose schedule comes due just after another instance ran the job skips it.
CREATE TABLE private.job_runs (
    job text PRIMARY KEY CHECK (length(job) BETWEEN 1 AND 64),
    started_at timestamptz NOT NULL,
    finished_at timestamptz,
    ok boolean,
    summary jsonb NOT NULL DEFAULT '{}',
    error text
);
REVOKE ALL ON private.job_runs FROM PUBLIC, anon, authenticated;
