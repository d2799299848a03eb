-- Daily rollups of milking_sessions: the chart query's herd average per day, fast at any size.
--
-- The cow page compares the cow with the herd's average day over 7–90 days. Computed from raw
-- sessions that is ~700 rows a day for a 250-cow herd (63,000 rows for 90 days, read from the heap
-- of a 10 M-row table): tens of milliseconds, growing with the herd. Instead two small tables hold
-- per-day sums and counts, maintained *in the same transaction* as the sessions by statement-level
-- triggers on milking_sessions (one aggregate per INSERT/COPY statement, not per row, via
-- transition tables), so they are never stale and need no refresh job, whichever code path writes
-- the sessions. A materialized view would be stale between refreshes and recompute every farm at
-- once; a scheduled job would be one more moving part.
--  * cow_daily (tenant, cow, local day): the cow's own daily series, and what makes "cows milked
--    that day" countable incrementally (a cow-day counts from its first milking).
--  * herd_daily (tenant, local day): the herd's sums; the average cow's day is a division.
-- Sums and non-null counts (not averages), so batches add up in any order; a deleted or updated
-- session subtracts itself. Days are local dates in the farm's time zone.
-- `private.rebuild_daily(farm)` recomputes a farm from its raw sessions (repair, or after the
-- farm's time zone changes); tests compare the triggers' result with it.

CREATE TABLE public.cow_daily (
    tenant_id uuid NOT NULL REFERENCES public.tenants ON DELETE CASCADE,
    animal_id text NOT NULL,
    day date NOT NULL,
    milkings integer NOT NULL DEFAULT 0,
    yield_kg double precision NOT NULL DEFAULT 0,
    conductivity_avg_sum double precision NOT NULL DEFAULT 0,
    conductivity_avg_n integer NOT NULL DEFAULT 0,
    conductivity_lf_sum double precision NOT NULL DEFAULT 0,
    conductivity_lf_n integer NOT NULL DEFAULT 0,
    conductivity_rf_sum double precision NOT NULL DEFAULT 0,
    conductivity_rf_n integer NOT NULL DEFAULT 0,
    conductivity_lr_sum double precision NOT NULL DEFAULT 0,
    conductivity_lr_n integer NOT NULL DEFAULT 0,
    conductivity_rr_sum double precision NOT NULL DEFAULT 0,
    conductivity_rr_n integer NOT NULL DEFAULT 0,
    blood_avg_sum double precision NOT NULL DEFAULT 0,
    blood_avg_n integer NOT NULL DEFAULT 0,
    flow_avg_sum double precision NOT NULL DEFAULT 0,
    flow_avg_n integer NOT NULL DEFAULT 0,
    PRIMARY KEY (tenant_id, animal_id, day)
);

CREATE TABLE public.herd_daily (
    tenant_id uuid NOT NULL REFERENCES public.tenants ON DELETE CASCADE,
    day date NOT NULL,
    cows integer NOT NULL DEFAULT 0,
    milkings integer NOT NULL DEFAULT 0,
    yield_kg double precision NOT NULL DEFAULT 0,
    conductivity_avg_sum double precision NOT NULL DEFAULT 0,
    conductivity_avg_n integer NOT NULL DEFAULT 0,
    conductivity_lf_sum double precision NOT NULL DEFAULT 0,
    conductivity_lf_n integer NOT NULL DEFAULT 0,
    conductivity_rf_sum double precision NOT NULL DEFAULT 0,
    conductivity_rf_n integer NOT NULL DEFAULT 0,
    conductivity_lr_sum double precision NOT NULL DEFAULT 0,
    conductivity_lr_n integer NOT NULL DEFAULT 0,
    conductivity_rr_sum double precision NOT NULL DEFAULT 0,
    conductivity_rr_n integer NOT NULL DEFAULT 0,
    blood_avg_sum double precision NOT NULL DEFAULT 0,
    blood_avg_n integer NOT NULL DEFAULT 0,
    flow_avg_sum double precision NOT NULL DEFAULT 0,
    flow_avg_n integer NOT NULL DEFAULT 0,
    PRIMARY KEY (tenant_id, day)
);

ALTER TABLE public.cow_daily ENABLE ROW LEVEL SECURITY;
ALTER TABLE public.herd_daily ENABLE ROW LEVEL SECURITY;
CREATE POLICY members_read ON public.cow_daily FOR SELECT TO authenticated
  USING (tenant_id IN (SELECT private.my_tenants()));
CREATE POLICY members_read ON public.herd_daily FOR SELECT TO authenticated
  USING (tenant_id IN (SELECT private.my_tenants()));

-- One trigger function for INSERT (and COPY), UPDATE and DELETE: the transition tables become
-- signed rows (+1 new, -1 old) added to the sums. Dynamic SQL sees the transition tables too, so
-- the arithmetic is written once.
CREATE FUNCTION private.rollup_sessions() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = '' AS $fn$
DECLARE
  changed text := CASE TG_OP
    WHEN 'INSERT' THEN 'SELECT 1 AS sign, * FROM new_rows'
    WHEN 'DELETE' THEN 'SELECT -1 AS sign, * FROM old_rows'
    ELSE 'SELECT 1 AS sign, * FROM new_rows UNION ALL SELECT -1 AS sign, * FROM old_rows' END;
BEGIN
  EXECUTE format($sql$
    WITH d AS (
      SELECT s.sign, s.tenant_id, s.animal_id, (s.started_at AT TIME ZONE t.time_zone)::date AS day,
             s.yield_kg, s.conductivity_avg, s.conductivity_lf, s.conductivity_rf, s.conductivity_lr, s.conductivity_rr, s.blood_avg, s.flow_avg
      FROM (%s) s JOIN public.tenants t USING (tenant_id)
    ), per_cow AS (
      SELECT d.tenant_id, d.animal_id, d.day,
          sum(d.sign)::integer AS milkings,
          sum(d.sign * d.yield_kg::float8) AS yield_kg,
          coalesce(sum(d.sign * d.conductivity_avg::float8), 0) AS conductivity_avg_sum,
          coalesce(sum(d.sign) FILTER (WHERE d.conductivity_avg IS NOT NULL), 0)::integer AS conductivity_avg_n,
          coalesce(sum(d.sign * d.conductivity_lf::float8), 0) AS conductivity_lf_sum,
          coalesce(sum(d.sign) FILTER (WHERE d.conductivity_lf IS NOT NULL), 0)::integer AS conductivity_lf_n,
          coalesce(sum(d.sign * d.conductivity_rf::float8), 0) AS conductivity_rf_sum,
          coalesce(sum(d.sign) FILTER (WHERE d.conductivity_rf IS NOT NULL), 0)::integer AS conductivity_rf_n,
          coalesce(sum(d.sign * d.conductivity_lr::float8), 0) AS conductivity_lr_sum,
          coalesce(sum(d.sign) FILTER (WHERE d.conductivity_lr IS NOT NULL), 0)::integer AS conductivity_lr_n,
          coalesce(sum(d.sign * d.conductivity_rr::float8), 0) AS conductivity_rr_sum,
          coalesce(sum(d.sign) FILTER (WHERE d.conductivity_rr IS NOT NULL), 0)::integer AS conductivity_rr_n,
          coalesce(sum(d.sign * d.blood_avg::float8), 0) AS blood_avg_sum,
          coalesce(sum(d.sign) FILTER (WHERE d.blood_avg IS NOT NULL), 0)::integer AS blood_avg_n,
          coalesce(sum(d.sign * d.flow_avg::float8), 0) AS flow_avg_sum,
          coalesce(sum(d.sign) FILTER (WHERE d.flow_avg IS NOT NULL), 0)::integer AS flow_avg_n
      FROM d GROUP BY d.tenant_id, d.animal_id, d.day
    ), cows AS (
      -- ORDER BY: every transaction locks rollup rows in the same order, so none deadlock.
      INSERT INTO public.cow_daily AS c (tenant_id, animal_id, day, milkings, yield_kg, conductivity_avg_sum, conductivity_avg_n, conductivity_lf_sum, conductivity_lf_n, conductivity_rf_sum, conductivity_rf_n, conductivity_lr_sum, conductivity_lr_n, conductivity_rr_sum, conductivity_rr_n, blood_avg_sum, blood_avg_n, flow_avg_sum, flow_avg_n)
      SELECT p.tenant_id, p.animal_id, p.day, p.milkings, p.yield_kg, p.conductivity_avg_sum, p.conductivity_avg_n, p.conductivity_lf_sum, p.conductivity_lf_n, p.conductivity_rf_sum, p.conductivity_rf_n, p.conductivity_lr_sum, p.conductivity_lr_n, p.conductivity_rr_sum, p.conductivity_rr_n, p.blood_avg_sum, p.blood_avg_n, p.flow_avg_sum, p.flow_avg_n
      FROM per_cow p ORDER BY p.tenant_id, p.animal_id, p.day
      ON CONFLICT (tenant_id, animal_id, day) DO UPDATE SET
          milkings = c.milkings + EXCLUDED.milkings,
          yield_kg = c.yield_kg + EXCLUDED.yield_kg,
          conductivity_avg_sum = c.conductivity_avg_sum + EXCLUDED.conductivity_avg_sum,
          conductivity_avg_n = c.conductivity_avg_n + EXCLUDED.conductivity_avg_n,
          conductivity_lf_sum = c.conductivity_lf_sum + EXCLUDED.conductivity_lf_sum,
          conductivity_lf_n = c.conductivity_lf_n + EXCLUDED.conductivity_lf_n,
          conductivity_rf_sum = c.conductivity_rf_sum + EXCLUDED.conductivity_rf_sum,
          conductivity_rf_n = c.conductivity_rf_n + EXCLUDED.conductivity_rf_n,
          conductivity_lr_sum = c.conductivity_lr_sum + EXCLUDED.conductivity_lr_sum,
          conductivity_lr_n = c.conductivity_lr_n + EXCLUDED.conductivity_lr_n,
          conductivity_rr_sum = c.conductivity_rr_sum + EXCLUDED.conductivity_rr_sum,
          conductivity_rr_n = c.conductivity_rr_n + EXCLUDED.conductivity_rr_n,
          blood_avg_sum = c.blood_avg_sum + EXCLUDED.blood_avg_sum,
          blood_avg_n = c.blood_avg_n + EXCLUDED.blood_avg_n,
          flow_avg_sum = c.flow_avg_sum + EXCLUDED.flow_avg_sum,
          flow_avg_n = c.flow_avg_n + EXCLUDED.flow_avg_n
      RETURNING c.tenant_id, c.animal_id, c.day, c.milkings
    )
    INSERT INTO public.herd_daily AS h (tenant_id, day, cows, milkings, yield_kg, conductivity_avg_sum, conductivity_avg_n, conductivity_lf_sum, conductivity_lf_n, conductivity_rf_sum, conductivity_rf_n, conductivity_lr_sum, conductivity_lr_n, conductivity_rr_sum, conductivity_rr_n, blood_avg_sum, blood_avg_n, flow_avg_sum, flow_avg_n)
    SELECT p.tenant_id, p.day,
          -- a cow-day counts while it has milkings: did this change start or end one?
          sum((c.milkings > 0)::integer - (c.milkings - p.milkings > 0)::integer)::integer,
          sum(p.milkings),
          sum(p.yield_kg),
          sum(p.conductivity_avg_sum),
          sum(p.conductivity_avg_n),
          sum(p.conductivity_lf_sum),
          sum(p.conductivity_lf_n),
          sum(p.conductivity_rf_sum),
          sum(p.conductivity_rf_n),
          sum(p.conductivity_lr_sum),
          sum(p.conductivity_lr_n),
          sum(p.conductivity_rr_sum),
          sum(p.conductivity_rr_n),
          sum(p.blood_avg_sum),
          sum(p.blood_avg_n),
          sum(p.flow_avg_sum),
          sum(p.flow_avg_n)
    FROM per_cow p JOIN cows c USING (tenant_id, animal_id, day)
    GROUP BY p.tenant_id, p.day ORDER BY p.tenant_id, p.day
    ON CONFLICT (tenant_id, day) DO UPDATE SET
          cows = h.cows + EXCLUDED.cows,
          milkings = h.milkings + EXCLUDED.milkings,
          yield_kg = h.yield_kg + EXCLUDED.yield_kg,
          conductivity_avg_sum = h.conductivity_avg_sum + EXCLUDED.conductivity_avg_sum,
          conductivity_avg_n = h.conductivity_avg_n + EXCLUDED.conductivity_avg_n,
          conductivity_lf_sum = h.conductivity_lf_sum + EXCLUDED.conductivity_lf_sum,
          conductivity_lf_n = h.conductivity_lf_n + EXCLUDED.conductivity_lf_n,
          conductivity_rf_sum = h.conductivity_rf_sum + EXCLUDED.conductivity_rf_sum,
          conductivity_rf_n = h.conductivity_rf_n + EXCLUDED.conductivity_rf_n,
          conductivity_lr_sum = h.conductivity_lr_sum + EXCLUDED.conductivity_lr_sum,
          conductivity_lr_n = h.conductivity_lr_n + EXCLUDED.conductivity_lr_n,
          conductivity_rr_sum = h.conductivity_rr_sum + EXCLUDED.conductivity_rr_sum,
          conductivity_rr_n = h.conductivity_rr_n + EXCLUDED.conductivity_rr_n,
          blood_avg_sum = h.blood_avg_sum + EXCLUDED.blood_avg_sum,
          blood_avg_n = h.blood_avg_n + EXCLUDED.blood_avg_n,
          flow_avg_sum = h.flow_avg_sum + EXCLUDED.flow_avg_sum,
          flow_avg_n = h.flow_avg_n + EXCLUDED.flow_avg_n
  $sql$, changed);

  IF TG_OP <> 'INSERT' THEN
    -- Days left without milkings disappear, as if they had never had any.
    DELETE FROM public.cow_daily c USING old_rows o
    WHERE c.tenant_id = o.tenant_id AND c.animal_id = o.animal_id AND c.milkings <= 0;
    DELETE FROM public.herd_daily h USING (SELECT DISTINCT tenant_id FROM old_rows) o
    WHERE h.tenant_id = o.tenant_id AND h.milkings <= 0;
  END IF;
  RETURN NULL;
END $fn$;

CREATE TRIGGER rollup_insert AFTER INSERT ON public.milking_sessions
  REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION private.rollup_sessions();
CREATE TRIGGER rollup_update AFTER UPDATE ON public.milking_sessions
  REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION private.rollup_sessions();
CREATE TRIGGER rollup_delete AFTER DELETE ON public.milking_sessions
  REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION private.rollup_sessions();

-- Recompute one farm's rollups from its raw sessions.
CREATE FUNCTION private.rebuild_daily(farm uuid) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = '' AS $fn$
BEGIN
  DELETE FROM public.cow_daily WHERE tenant_id = farm;
  DELETE FROM public.herd_daily WHERE tenant_id = farm;
  INSERT INTO public.cow_daily (tenant_id, animal_id, day, milkings, yield_kg, conductivity_avg_sum, conductivity_avg_n, conductivity_lf_sum, conductivity_lf_n, conductivity_rf_sum, conductivity_rf_n, conductivity_lr_sum, conductivity_lr_n, conductivity_rr_sum, conductivity_rr_n, blood_avg_sum, blood_avg_n, flow_avg_sum, flow_avg_n)
  SELECT s.tenant_id, s.animal_id, (s.started_at AT TIME ZONE t.time_zone)::date,
         count(*)::integer,
         sum(s.yield_kg::float8),
         coalesce(sum(s.conductivity_avg::float8), 0),
         count(s.conductivity_avg)::integer,
         coalesce(sum(s.conductivity_lf::float8), 0),
         count(s.conductivity_lf)::integer,
         coalesce(sum(s.conductivity_rf::float8), 0),
         count(s.conductivity_rf)::integer,
         coalesce(sum(s.conductivity_lr::float8), 0),
         count(s.conductivity_lr)::integer,
         coalesce(sum(s.conductivity_rr::float8), 0),
         count(s.conductivity_rr)::integer,
         coalesce(sum(s.blood_avg::float8), 0),
         count(s.blood_avg)::integer,
         coalesce(sum(s.flow_avg::float8), 0),
         count(s.flow_avg)::integer
  FROM public.milking_sessions s JOIN public.tenants t USING (tenant_id)
  WHERE s.tenant_id = farm
  GROUP BY 1, 2, 3;
  INSERT INTO public.herd_daily (tenant_id, day, cows, milkings, yield_kg, conductivity_avg_sum, conductivity_avg_n, conductivity_lf_sum, conductivity_lf_n, conductivity_rf_sum, conductivity_rf_n, conductivity_lr_sum, conductivity_lr_n, conductivity_rr_sum, conductivity_rr_n, blood_avg_sum, blood_avg_n, flow_avg_sum, flow_avg_n)
  SELECT c.tenant_id, c.day,
         count(*)::integer,
         sum(c.milkings),
         sum(c.yield_kg),
         sum(c.conductivity_avg_sum),
         sum(c.conductivity_avg_n),
         sum(c.conductivity_lf_sum),
         sum(c.conductivity_lf_n),
         sum(c.conductivity_rf_sum),
         sum(c.conductivity_rf_n),
         sum(c.conductivity_lr_sum),
         sum(c.conductivity_lr_n),
         sum(c.conductivity_rr_sum),
         sum(c.conductivity_rr_n),
         sum(c.blood_avg_sum),
         sum(c.blood_avg_n),
         sum(c.flow_avg_sum),
         sum(c.flow_avg_n)
  FROM public.cow_daily c WHERE c.tenant_id = farm
  GROUP BY 1, 2;
END $fn$;

REVOKE ALL ON FUNCTION private.rollup_sessions(), private.rebuild_daily(uuid) FROM PUBLIC;
