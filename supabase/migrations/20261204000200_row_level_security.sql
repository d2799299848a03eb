-- Row-level security on every tenant table, written the way Supabase recommends:
--  * policies are `TO authenticated`; anon has no policy, so it sees nothing;
--  * membership is looked up by SECURITY DEFINER helpers in the non-exposed schema `private`
--    (search_path = '') that return the caller's tenant ids; `tenant_id IN (SELECT ...)` runs the
--    helper once per statement (an InitPlan), not once per row;
--  * service_role has BYPASSRLS (ingest and background jobs act as the table owner).
-- Every column a policy filters on (tenant_id, memberships.user_id) leads an index.

CREATE FUNCTION private.my_tenants() RETURNS SETOF uuid
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = '' AS $$
  SELECT m.tenant_id FROM public.memberships m WHERE m.user_id = (SELECT auth.uid())
$$;

CREATE FUNCTION private.my_tenants_with_role(roles text[]) RETURNS SETOF uuid
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = '' AS $$
  SELECT m.tenant_id FROM public.memberships m
  WHERE m.user_id = (SELECT auth.uid()) AND m.role = ANY (roles)
$$;

REVOKE ALL ON FUNCTION private.my_tenants(), private.my_tenants_with_role(text[]) FROM PUBLIC;
GRANT USAGE ON SCHEMA private TO authenticated;
GRANT EXECUTE ON FUNCTION private.my_tenants(), private.my_tenants_with_role(text[]) TO authenticated;

DO $$
DECLARE t text;
BEGIN
  FOREACH t IN ARRAY ARRAY['tenants', 'memberships', 'sources', 'milking_units', 'agent_keys', 'animals',
                           'milking_sessions', 'alerts', 'alert_status_changes', 'notifications', 'sync_runs']
  LOOP
    EXECUTE format('ALTER TABLE public.%I ENABLE ROW LEVEL SECURITY', t);
  END LOOP;
END $$;

-- Read access for every member of the farm.
DO $$
DECLARE t text;
BEGIN
  FOREACH t IN ARRAY ARRAY['tenants', 'memberships', 'sources', 'milking_units', 'animals',
                           'milking_sessions', 'alerts', 'alert_status_changes', 'sync_runs']
  LOOP
    EXECUTE format(
      'CREATE POLICY members_read ON public.%I FOR SELECT TO authenticated '
      'USING (tenant_id IN (SELECT private.my_tenants()))', t);
  END LOOP;
END $$;

-- Owners manage the farm: its settings, its people, its agent keys; they see the outbox.
CREATE POLICY owners_update ON public.tenants FOR UPDATE TO authenticated
  USING (tenant_id IN (SELECT private.my_tenants_with_role('{owner}')))
  WITH CHECK (tenant_id IN (SELECT private.my_tenants_with_role('{owner}')));

CREATE POLICY owners_insert ON public.memberships FOR INSERT TO authenticated
  WITH CHECK (tenant_id IN (SELECT private.my_tenants_with_role('{owner}')));
CREATE POLICY owners_update ON public.memberships FOR UPDATE TO authenticated
  USING (tenant_id IN (SELECT private.my_tenants_with_role('{owner}')))
  WITH CHECK (tenant_id IN (SELECT private.my_tenants_with_role('{owner}')));
CREATE POLICY owners_delete ON public.memberships FOR DELETE TO authenticated
  USING (tenant_id IN (SELECT private.my_tenants_with_role('{owner}')));

CREATE POLICY owners_read ON public.agent_keys FOR SELECT TO authenticated
  USING (tenant_id IN (SELECT private.my_tenants_with_role('{owner}')));
CREATE POLICY owners_insert ON public.agent_keys FOR INSERT TO authenticated
  WITH CHECK (tenant_id IN (SELECT private.my_tenants_with_role('{owner}')));
CREATE POLICY owners_update ON public.agent_keys FOR UPDATE TO authenticated
  USING (tenant_id IN (SELECT private.my_tenants_with_role('{owner}')))
  WITH CHECK (tenant_id IN (SELECT private.my_tenants_with_role('{owner}')));

CREATE POLICY owners_read ON public.notifications FOR SELECT TO authenticated
  USING (tenant_id IN (SELECT private.my_tenants_with_role('{owner}')));

-- Alert status is feedback for the model: owners, farmers and vets change it; viewers only read.
CREATE POLICY carers_update ON public.alerts FOR UPDATE TO authenticated
  USING (tenant_id IN (SELECT private.my_tenants_with_role('{owner,farmer,vet}')))
  WITH CHECK (tenant_id IN (SELECT private.my_tenants_with_role('{owner,farmer,vet}')));
CREATE POLICY carers_insert ON public.alert_status_changes FOR INSERT TO authenticated
  WITH CHECK (tenant_id IN (SELECT private.my_tenants_with_role('{owner,farmer,vet}')));

-- Milkings, cows, robots, sources and sync runs are written by ingest (service role) only.
-- The agent key hash stays out of reach of every API role but the owner's own farm.
