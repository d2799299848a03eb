-- Ground truth from the farm: the treatments the farmer recorded in DelPro, synced by the agent
-- as a second stream with its own watermark, and each farm's words for clinical mastitis.

-- One treatment as DelPro records it. `treatment_id` is the source's own row id (its OID), the
-- watermark of this stream; re-sent rows change nothing. Diagnosis names are farm-defined text.
CREATE TABLE public.treatments (
    tenant_id uuid NOT NULL,
    source_id integer NOT NULL,
    treatment_id bigint NOT NULL CHECK (treatment_id > 0),
    animal_id text NOT NULL CHECK (length(animal_id) BETWEEN 1 AND 64),
    lactation_number smallint CHECK (lactation_number BETWEEN 1 AND 20),
    started_at timestamptz NOT NULL,
    duration_days smallint CHECK (duration_days BETWEEN 0 AND 365),
    diagnosis text NOT NULL CHECK (length(diagnosis) <= 200),
    treatment text CHECK (length(treatment) <= 200),
    received_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, source_id, treatment_id),
    FOREIGN KEY (tenant_id, source_id) REFERENCES public.sources ON DELETE CASCADE
);
CREATE INDEX treatments_cow_idx ON public.treatments (tenant_id, animal_id, started_at);

ALTER TABLE public.treatments ENABLE ROW LEVEL SECURITY;
CREATE POLICY members_read ON public.treatments FOR SELECT TO authenticated
  USING (tenant_id IN (SELECT private.my_tenants()));
-- Only ingest (the service role) writes treatments.
REVOKE INSERT, UPDATE, DELETE, TRUNCATE ON public.treatments FROM anon, authenticated;

-- The highest treatment id of a source committed in the cloud.
ALTER TABLE public.sources ADD COLUMN treatments_watermark bigint NOT NULL DEFAULT 0;

-- Which diagnosis names mean clinical mastitis on this farm: case- and accent-insensitive
-- substrings, edited by the owner (the owners_update policy on tenants already covers it).
ALTER TABLE public.tenants ADD COLUMN mastitis_patterns text[] NOT NULL
  DEFAULT ARRAY['mastitis', 'mastite', 'euterentzündung', 'uierontsteking', 'mammite']
  CHECK (cardinality(mastitis_patterns) <= 50);
