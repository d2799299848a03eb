-- What the daily rollups (20261204004100_daily_rollups.sql) cost an ingest batch, made smaller.
--
-- An agent's batch of 1,000 milkings of a 1,000-cow farm touches ~950 cow-days: the INSERT
-- trigger upserts that many cow_daily rows, about a third of the batch's time in the database.
-- Two costs on top of that work go:
--  * The INSERT trigger ran the same SQL as UPDATE/DELETE, built with format() and EXECUTEd, so it
--    was planned again for every batch. Inserts (every ingest, every COPY) now run a function of
--    static SQL, planned once per connection; UPDATE and DELETE (repairs, retention) keep the
--    general one.
--  * The foreign keys of cow_daily/herd_daily to tenants checked the farm once per cow-day
--    created (~850 lookups a batch). The trigger now locks each farm of the statement once, as
--    the foreign key did (FOR KEY SHARE: the farm cannot be deleted before the batch commits),
--    and refuses milkings of a farm that does not exist; deleting a farm deletes its rollups by
--    a trigger on tenants instead of ON DELETE CASCADE.

ALTER TABLE public.cow_daily DROP CONSTRAINT cow_daily_tenant_id_fkey;
ALTER TABLE public.herd_daily DROP CONSTRAINT herd_daily_tenant_id_fkey;

CREATE FUNCTION private.rollup_new_sessions() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = '' AS $fn$
BEGIN
  IF (SELECT count(*) FROM (SELECT 1 FROM public.tenants t
                            WHERE t.tenant_id IN (SELECT n.tenant_id FROM new_rows n)
                            FOR KEY SHARE OF t) AS farm)
     < (SELECT count(DISTINCT n.tenant_id) FROM new_rows n) THEN
    RAISE EXCEPTION 'milking sessions of a farm that does not exist'
      USING ERRCODE = 'foreign_key_violation';
  END IF;

  WITH per_cow AS (
    SELECT s.tenant_id, s.animal_id, (s.started_at AT TIME ZONE t.time_zone)::date AS day,
        count(*)::integer AS milkings,
        sum(s.yield_kg::float8) AS yield_kg,
        coalesce(sum(s.conductivity_avg::float8), 0) AS conductivity_avg_sum,
        count(s.conductivity_avg)::integer AS conductivity_avg_n,
        coalesce(sum(s.conductivity_lf::float8), 0) AS conductivity_lf_sum,
        count(s.conductivity_lf)::integer AS conductivity_lf_n,
        coalesce(sum(s.conductivity_rf::float8), 0) AS conductivity_rf_sum,
        count(s.conductivity_rf)::integer AS conductivity_rf_n,
        coalesce(sum(s.conductivity_lr::float8), 0) AS conductivity_lr_sum,
        count(s.conductivity_lr)::integer AS conductivity_lr_n,
        coalesce(sum(s.conductivity_rr::float8), 0) AS conductivity_rr_sum,
        count(s.conductivity_rr)::integer AS conductivity_rr_n,
        coalesce(sum(s.blood_avg::float8), 0) AS blood_avg_sum,
        count(s.blood_avg)::integer AS blood_avg_n,
        coalesce(sum(s.flow_avg::float8), 0) AS flow_avg_sum,
        count(s.flow_avg)::integer AS flow_avg_n
    FROM new_rows s JOIN public.tenants t USING (tenant_id)
    GROUP BY 1, 2, 3
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
        -- a cow-day this statement created (an existing one had milkings before it)
        count(*) FILTER (WHERE c.milkings = p.milkings)::integer,
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
        flow_avg_n = h.flow_avg_n + EXCLUDED.flow_avg_n;
  RETURN NULL;
END $fn$;

DROP TRIGGER rollup_insert ON public.milking_sessions;
CREATE TRIGGER rollup_insert AFTER INSERT ON public.milking_sessions
  REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION private.rollup_new_sessions();

-- A farm's rollups go with the farm (what ON DELETE CASCADE did).
CREATE FUNCTION private.forget_farm_rollups() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = '' AS $fn$
BEGIN
  DELETE FROM public.cow_daily c USING old_rows o WHERE c.tenant_id = o.tenant_id;
  DELETE FROM public.herd_daily h USING old_rows o WHERE h.tenant_id = o.tenant_id;
  RETURN NULL;
END $fn$;

CREATE TRIGGER forget_rollups AFTER DELETE ON public.tenants
  REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION private.forget_farm_rollups();

REVOKE ALL ON FUNCTION private.rollup_new_sessions(), private.forget_farm_rollups() FROM PUBLIC;
