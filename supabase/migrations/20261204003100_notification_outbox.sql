-- The notification outbox: one row per (alert event, notification target), written by a trigger
-- in the same transaction that creates the alert or escalates it past the farm's critical
-- threshold, so an alert can never be committed without its notifications (nor the reverse),
-- whichever code path writes it (the AI engine on ingest, the risk scan).
-- The dispatcher (pecus.cloud.notify) delivers the rows; its guarantees are documented there.
--
-- Row life: pending -> sending (claimed, with a lease) -> sent
--                               \-> pending again (failed attempt, next_attempt_at backs off)
--                               \-> failed (attempts exhausted)
--           pending -> held (quiet hours: waits until they end) -> pending
--           pending/held -> skipped (alert closed before it went out, or target removed)

-- Farm setting: deliver non-critical alerts as one digest every N hours instead of one by one.
ALTER TABLE public.tenants
  ADD COLUMN digest_hours smallint CHECK (digest_hours BETWEEN 1 AND 168);

ALTER TABLE public.notifications
  ADD COLUMN target_id bigint,
  ADD COLUMN event text NOT NULL DEFAULT 'created' CHECK (event IN ('created', 'escalated')),
  ADD COLUMN critical boolean NOT NULL DEFAULT false,
  ADD COLUMN digest boolean NOT NULL DEFAULT false,
  ADD COLUMN claimed_until timestamptz,
  ADD COLUMN updated_at timestamptz NOT NULL DEFAULT now();

ALTER TABLE public.notifications DROP CONSTRAINT notifications_status_check;
ALTER TABLE public.notifications ADD CONSTRAINT notifications_status_check
  CHECK (status IN ('pending', 'held', 'sending', 'sent', 'failed', 'skipped'));

-- One message per alert, event and target, whatever retries or re-runs happen upstream.
CREATE UNIQUE INDEX notifications_event_idx ON public.notifications (tenant_id, alert_id, event, target_id);
-- Claims whose dispatcher died: found again when the lease runs out.
CREATE INDEX notifications_claimed_idx ON public.notifications (claimed_until) WHERE status = 'sending';
-- Digest rows of one target are sent together.
CREATE INDEX notifications_digest_idx ON public.notifications (tenant_id, target_id)
  WHERE digest AND status IN ('pending', 'held');

-- The outbox write. An alert counts as critical at level 'critical' or at/above the farm's
-- critical threshold; an update notifies only when it crosses into critical (escalation) while the
-- alert is still open. `notification_targets` is resolved when the trigger runs.
CREATE FUNCTION private.write_alert_outbox() RETURNS trigger
LANGUAGE plpgsql SET search_path = '' AS $$
DECLARE
  farm public.tenants%ROWTYPE;
  is_critical boolean;
  was_critical boolean;
  evt text := 'created';
  written integer;
BEGIN
  SELECT * INTO farm FROM public.tenants WHERE tenant_id = NEW.tenant_id;
  is_critical := NEW.level = 'critical'
    OR coalesce(NEW.risk_score >= farm.critical_threshold, false);
  IF TG_OP = 'UPDATE' THEN
    was_critical := OLD.level = 'critical'
      OR coalesce(OLD.risk_score >= farm.critical_threshold, false);
    IF was_critical OR NOT is_critical OR NEW.status NOT IN ('new', 'acknowledged') THEN
      RETURN NULL;
    END IF;
    evt := 'escalated';
  END IF;

  INSERT INTO public.notifications
    (tenant_id, alert_id, target_id, event, critical, digest, next_attempt_at)
  SELECT NEW.tenant_id, NEW.alert_id, t.target_id, evt, is_critical,
         NOT is_critical AND farm.digest_hours IS NOT NULL,
         CASE WHEN NOT is_critical AND farm.digest_hours IS NOT NULL
              THEN now() + make_interval(hours => farm.digest_hours) ELSE now() END
  FROM public.notification_targets t
  WHERE t.tenant_id = NEW.tenant_id
  ON CONFLICT DO NOTHING;
  GET DIAGNOSTICS written = ROW_COUNT;
  IF written > 0 THEN
    -- Wakes a dispatcher listening on a session connection; the poll finds the rows otherwise.
    PERFORM pg_notify('pecus_outbox', NEW.tenant_id::text);
  END IF;
  RETURN NULL;
END $$;

CREATE TRIGGER alerts_outbox AFTER INSERT OR UPDATE OF level, risk_score ON public.alerts
  FOR EACH ROW EXECUTE FUNCTION private.write_alert_outbox();
