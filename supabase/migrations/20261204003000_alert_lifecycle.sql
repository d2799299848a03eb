-- Alert lifecycle: who may change what, and a status history that can only grow.
--
-- Status changes are the labels the model retrains on (acknowledged = a real case,
-- false_positive = not), so the history is append-only, and who/when are stamped by the
-- database from the signed-in user's token, not taken from the client.

-- Signed-in users change an alert's status and note, nothing else (not its score, reasons or
-- level, which belong to the AI engine and the risk scan, running as the service role).
REVOKE UPDATE ON public.alerts FROM anon, authenticated;
GRANT UPDATE (status, status_changed_by, status_changed_at, note, updated_at) ON public.alerts TO authenticated;

-- History rows written on behalf of a user carry that user and the server's clock.
-- Rows written by background jobs (no user in the transaction) keep changed_by NULL: "the system".
CREATE FUNCTION private.stamp_alert_status_change() RETURNS trigger
LANGUAGE plpgsql SET search_path = '' AS $$
BEGIN
  IF auth.uid() IS NOT NULL THEN
    NEW.changed_by := auth.uid();
    NEW.changed_at := now();
  END IF;
  RETURN NEW;
END $$;

CREATE TRIGGER alert_status_changes_stamp BEFORE INSERT ON public.alert_status_changes
  FOR EACH ROW EXECUTE FUNCTION private.stamp_alert_status_change();

-- Append-only, for every role including the table owner. The one exception is the cascade from
-- deleting the alert's farm (the delete then runs inside the foreign key's trigger, depth > 1).
CREATE FUNCTION private.refuse_history_rewrite() RETURNS trigger
LANGUAGE plpgsql SET search_path = '' AS $$
BEGIN
  IF TG_OP = 'DELETE' AND pg_trigger_depth() > 1 THEN
    RETURN OLD;
  END IF;
  RAISE EXCEPTION 'alert status history is append-only: % refused', TG_OP
    USING ERRCODE = 'insufficient_privilege',
          HINT = 'record a new status change instead; earlier ones are kept as labels';
END $$;

CREATE TRIGGER alert_status_changes_append_only BEFORE UPDATE OR DELETE ON public.alert_status_changes
  FOR EACH ROW EXECUTE FUNCTION private.refuse_history_rewrite();

-- One open data-feed alert per milking unit (the risk scan raises them; this is its backstop).
CREATE UNIQUE INDEX alerts_open_data_feed_idx ON public.alerts (tenant_id, unit)
  WHERE kind = 'data_feed' AND status IN ('new', 'acknowledged');

-- The alert list filters by time as well as by status.
CREATE INDEX alerts_recent_idx ON public.alerts (tenant_id, created_at DESC);
