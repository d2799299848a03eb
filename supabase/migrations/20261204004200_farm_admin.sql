-- Farm administration for the dashboard: notification targets, and members by e-mail.

-- Where a farm's alerts go, as apprise URLs (Twilio SMS / WhatsApp, Telegram, e-mail, ntfy, …).
-- The URL holds secrets (tokens, passwords), so API roles may write it but never read it back:
-- column privileges leave `apprise_url` out of their SELECT, and the dashboard reads
-- `masked_url` (apprise's own privacy rendering, computed when the target is added). The
-- notification dispatcher reads the full URL as the service role.
CREATE TABLE public.notification_targets (
    tenant_id uuid NOT NULL REFERENCES public.tenants ON DELETE CASCADE,
    target_id bigint GENERATED ALWAYS AS IDENTITY,
    label text NOT NULL DEFAULT '' CHECK (length(label) <= 100),
    scheme text NOT NULL CHECK (length(scheme) BETWEEN 1 AND 32),
    apprise_url text NOT NULL CHECK (length(apprise_url) BETWEEN 4 AND 2048),
    masked_url text NOT NULL,
    created_by uuid,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, target_id)
);
ALTER TABLE public.notification_targets ENABLE ROW LEVEL SECURITY;
REVOKE ALL ON public.notification_targets FROM anon, authenticated;
GRANT SELECT (tenant_id, target_id, label, scheme, masked_url, created_by, created_at),
      INSERT (tenant_id, label, scheme, apprise_url, masked_url, created_by),
      DELETE
  ON public.notification_targets TO authenticated;
CREATE POLICY owners_read ON public.notification_targets FOR SELECT TO authenticated
  USING (tenant_id IN (SELECT private.my_tenants_with_role('{owner}')));
CREATE POLICY owners_insert ON public.notification_targets FOR INSERT TO authenticated
  WITH CHECK (tenant_id IN (SELECT private.my_tenants_with_role('{owner}')));
CREATE POLICY owners_delete ON public.notification_targets FOR DELETE TO authenticated
  USING (tenant_id IN (SELECT private.my_tenants_with_role('{owner}')));

-- auth.users is not readable by API roles (as on Supabase). These two helpers expose exactly
-- what the members page needs, and only to the right people.

-- The members of a farm with their e-mails, for members of that farm (empty otherwise).
CREATE FUNCTION private.farm_members(p_farm uuid)
RETURNS TABLE (user_id uuid, email text, role text, created_at timestamptz)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = '' AS $$
  SELECT m.user_id, u.email::text, m.role, m.created_at
  FROM public.memberships m JOIN auth.users u ON u.id = m.user_id
  WHERE m.tenant_id = p_farm AND p_farm IN (SELECT private.my_tenants())
$$;

-- The account with this e-mail, for an owner of the farm who invites it (null otherwise).
CREATE FUNCTION private.account_for_invite(p_farm uuid, p_email text) RETURNS uuid
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = '' AS $$
  SELECT u.id FROM auth.users u
  WHERE lower(u.email) = lower(p_email)
    AND p_farm IN (SELECT private.my_tenants_with_role('{owner}'))
  LIMIT 1
$$;

REVOKE ALL ON FUNCTION private.farm_members(uuid), private.account_for_invite(uuid, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION private.farm_members(uuid), private.account_for_invite(uuid, text) TO authenticated;
