import type pg from "pg";

/** Every object of @octw/audit lives in this schema. */
export const AUDIT_SCHEMA = "octw";

/**
 * Role names chosen by the AuditStore component. The roles themselves are created (by
 * @pulumi/postgresql) before migrations run; migrations run AS `owner`.
 *  - owner:   owns every object; runs migrations; binds tenant readers. It is also the
 *             operator's role (`octw approvals`, `octw secrets set|rotate`): the only role that
 *             may append any event type (approval decisions included) and write tenant secrets.
 *  - edge, router, shipper, waker: one login role per service. Each may append only the event types
 *             SERVICE_EVENT_TYPES lists for it (enforced inside octw.append_events); only the
 *             router may read tenant_secrets, and no service may write them.
 *  - reader:  group role of the per-tenant reader logins; sees nothing by itself.
 */
export interface AuditRoles {
  owner: string;
  reader: string;
  edge: string;
  router: string;
  shipper: string;
  /** @octw/waker: appends the tenant.* transitions of SERVICE_EVENT_TYPES.waker only. */
  waker: string;
}

/** The services that write audit events, each under its own role (AuditRoles[service]). */
export const SERVICE_ROLES = ["edge", "router", "shipper", "waker"] as const;
export type ServiceRole = (typeof SERVICE_ROLES)[number];

/**
 * The event types each service may append, exactly (no prefixes: `egress.denied` must not let
 * the shipper write `egress.approval.*`). One credential per service, so a compromised service
 * can forge only its own kind of event. Everything else (approval decisions `egress.approval.*`,
 * `secret.set`, `secret.rewrapped`) comes from the owner/operator role only.
 */
export const SERVICE_EVENT_TYPES: Readonly<Record<ServiceRole, readonly string[]>> = Object.freeze({
  // @octw/edge's EdgeAuditType
  edge: Object.freeze(["edge.auth.allowed", "edge.auth.denied", "edge.upstream.failed"]),
  // one per request; secret.read is what TenantSecrets.get records when the router opens a key
  router: Object.freeze(["inference.call", "secret.read"]),
  shipper: Object.freeze(["egress.denied"]),
  // every transition of a suspended/woken tenant, and every suspend that failed or that a
  // scheduled job deferred (packages/waker/src/waker.ts)
  waker: Object.freeze(["tenant.suspend_deferred", "tenant.suspend_failed", "tenant.suspended", "tenant.wake_failed", "tenant.woken"]),
});

const ROLE_KEYS = ["owner", "reader", ...SERVICE_ROLES] as const;

export interface Migration {
  version: number;
  name: string;
  sql: string;
}

const ROLE_NAME = /^[a-z_][a-z0-9_]{0,62}$/;

export function validateRoles(roles: AuditRoles): void {
  if (typeof roles !== "object" || roles === null) throw new Error(`roles: must be an object naming the ${ROLE_KEYS.join(", ")} roles`);
  if ("writer" in roles) {
    throw new Error("roles.writer: the shared writer role is retired (migration 3); edge, router, shipper and waker each have their own role");
  }
  for (const key of ROLE_KEYS) {
    const name = roles[key];
    if (typeof name !== "string" || !ROLE_NAME.test(name)) {
      throw new Error(`roles.${key}: must be a lowercase Postgres role name matching ${ROLE_NAME.source}, got ${JSON.stringify(name)}`);
    }
  }
  if (new Set(ROLE_KEYS.map((k) => roles[k])).size !== ROLE_KEYS.length) {
    throw new Error(`roles: ${ROLE_KEYS.join(", ")} must be ${ROLE_KEYS.length} different roles (the privilege split depends on it)`);
  }
}

export function quoteIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

export function quoteLiteral(value: string): string {
  if (value.includes("\u0000")) throw new Error("SQL literal must not contain NUL");
  return `'${value.replace(/'/g, "''")}'`;
}

const S = AUDIT_SCHEMA;

// Mirrors chain.ts: "-" for NULL, else "<utf8 byte length>:<value>". The database is UTF-8
// (checked before migrating), so octet_length() is the UTF-8 byte length.
const m1AuditEvents = `
-- No SET clause, so the planner can inline it (it runs once per field per event); its only
-- caller, append_events, pins search_path, and every name in it is schema-qualified.
CREATE FUNCTION ${S}.chain_field(v text) RETURNS text
  LANGUAGE sql IMMUTABLE PARALLEL SAFE
  AS $fn$ SELECT CASE WHEN v IS NULL THEN '-' ELSE pg_catalog.textcat(pg_catalog.textcat(pg_catalog.octet_length(v)::pg_catalog.text, ':'), v) END $fn$;

CREATE TABLE ${S}.audit_events (
  id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  tenant          text        NOT NULL CHECK (tenant ~ '^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$'),
  seq             bigint      NOT NULL CHECK (seq >= 1),
  time            timestamptz NOT NULL CHECK (isfinite(time)),
  actor           text        NOT NULL CHECK (length(actor) BETWEEN 1 AND 256),
  action          text        NOT NULL CHECK (length(action) <= 128 AND action ~ '^[a-z][a-z0-9_]*(\\.[a-z][a-z0-9_]*)+$'),
  target          text        CHECK (length(target) BETWEEN 1 AND 1024),
  decision        text        CHECK (length(decision) BETWEEN 1 AND 64),
  details         jsonb       CHECK (jsonb_typeof(details) = 'object'),
  idempotency_key text        NOT NULL CHECK (idempotency_key ~ '^[A-Za-z0-9._:-]{1,200}$'),
  prev_hash       bytea       NOT NULL CHECK (octet_length(prev_hash) = 32),
  hash            bytea       NOT NULL CHECK (octet_length(hash) = 32),
  UNIQUE (tenant, seq),
  UNIQUE (tenant, idempotency_key)
);
CREATE INDEX audit_events_tenant_time ON ${S}.audit_events (tenant, time);

-- The head (last seq and hash) of every tenant's chain. Appends lock the head row, so two
-- writers can never fork a chain; verify compares it with the last row to catch a deleted tail.
CREATE TABLE ${S}.audit_heads (
  tenant text   PRIMARY KEY,
  seq    bigint NOT NULL CHECK (seq >= 0),
  hash   bytea  NOT NULL CHECK (octet_length(hash) = 32)
);

-- Which login role reads which tenant. Only the owner writes it (bind_tenant_reader).
CREATE TABLE ${S}.reader_bindings (
  role_name name PRIMARY KEY,
  tenant    text NOT NULL CHECK (tenant ~ '^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$')
);

-- Append-only, enforced below the privilege system too: these triggers fire for every role,
-- the table owner included. Only a superuser can step around them (session_replication_role
-- or ALTER TABLE ... DISABLE TRIGGER), which the hash chain then exposes.
CREATE FUNCTION ${S}.reject_change() RETURNS trigger
  LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp
  AS $fn$
BEGIN
  RAISE EXCEPTION '%.% is append-only: % is not allowed', TG_TABLE_SCHEMA, TG_TABLE_NAME, TG_OP
    USING ERRCODE = '42501';
END
$fn$;
CREATE TRIGGER audit_events_no_update_delete BEFORE UPDATE OR DELETE ON ${S}.audit_events
  FOR EACH ROW EXECUTE FUNCTION ${S}.reject_change();
CREATE TRIGGER audit_events_no_truncate BEFORE TRUNCATE ON ${S}.audit_events
  FOR EACH STATEMENT EXECUTE FUNCTION ${S}.reject_change();
CREATE TRIGGER audit_heads_no_delete BEFORE DELETE ON ${S}.audit_heads
  FOR EACH ROW EXECUTE FUNCTION ${S}.reject_change();
CREATE TRIGGER audit_heads_no_truncate BEFORE TRUNCATE ON ${S}.audit_heads
  FOR EACH STATEMENT EXECUTE FUNCTION ${S}.reject_change();

-- A head only moves forward, one append at a time.
CREATE FUNCTION ${S}.head_forward_only() RETURNS trigger
  LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp
  AS $fn$
BEGIN
  IF NEW.tenant <> OLD.tenant OR NEW.seq <= OLD.seq THEN
    RAISE EXCEPTION 'audit head of tenant % may only move forward', OLD.tenant USING ERRCODE = '42501';
  END IF;
  RETURN NEW;
END
$fn$;
CREATE TRIGGER audit_heads_forward_only BEFORE UPDATE ON ${S}.audit_heads
  FOR EACH ROW EXECUTE FUNCTION ${S}.head_forward_only();

-- The writer's only way in. SECURITY DEFINER: runs as the owner, so the writer needs no
-- privilege on any table. Events are a JSON array of NormalizedEvent (see event.ts).
CREATE FUNCTION ${S}.append_events(events jsonb) RETURNS integer
  LANGUAGE plpgsql SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
  AS $fn$
DECLARE
  e jsonb;
  fresh jsonb[];
  t text;
  cur text := NULL;
  k text;
  tenants text[];
  s bigint;
  prev bytea;
  ts timestamptz;
  det jsonb;
  nh bytea;
  a_tenant text[] := '{}';
  a_seq bigint[] := '{}';
  a_time timestamptz[] := '{}';
  a_actor text[] := '{}';
  a_action text[] := '{}';
  a_target text[] := '{}';
  a_decision text[] := '{}';
  a_details jsonb[] := '{}';
  a_key text[] := '{}';
  a_prev bytea[] := '{}';
  a_hash bytea[] := '{}';
BEGIN
  IF jsonb_typeof(events) IS DISTINCT FROM 'array' THEN
    RAISE EXCEPTION 'events: must be a JSON array of audit events' USING ERRCODE = '22023';
  END IF;
  IF jsonb_array_length(events) > 10000 THEN
    RAISE EXCEPTION 'events: at most 10000 per call, got %', jsonb_array_length(events) USING ERRCODE = '22023';
  END IF;
  IF EXISTS (SELECT 1 FROM jsonb_array_elements(events) el
              WHERE jsonb_typeof(el) IS DISTINCT FROM 'object' OR el->>'tenant' IS NULL OR el->>'idempotencyKey' IS NULL
                 OR el->>'actor' IS NULL OR el->>'action' IS NULL OR el->>'time' IS NULL) THEN
    RAISE EXCEPTION 'event: tenant, actor, action, time and idempotencyKey are required' USING ERRCODE = '22023';
  END IF;
  SELECT array_agg(DISTINCT el->>'tenant' ORDER BY el->>'tenant') INTO tenants FROM jsonb_array_elements(events) el;
  IF tenants IS NULL THEN RETURN 0; END IF;
  -- Create missing heads, then lock every head of the batch in one (sorted) order, so that
  -- concurrent batches serialise per tenant and can never deadlock each other.
  INSERT INTO ${S}.audit_heads (tenant, seq, hash)
    SELECT x, 0, '\\x0000000000000000000000000000000000000000000000000000000000000000'::bytea
      FROM unnest(tenants) x
    ON CONFLICT (tenant) DO NOTHING;
  PERFORM 1 FROM ${S}.audit_heads WHERE tenant = ANY (tenants) ORDER BY tenant FOR UPDATE;

  -- The events not stored yet, once each (replays of the spool re-send events that may already
  -- be stored: they are skipped, not errors), grouped by tenant, in batch order within a tenant.
  -- Computed after the heads are locked, so no concurrent append of these tenants is in flight.
  SELECT coalesce(array_agg(d.value ORDER BY d.value->>'tenant', d.ord), '{}') INTO fresh
    FROM (SELECT DISTINCT ON (x.value->>'tenant', x.value->>'idempotencyKey') x.value, x.ord
            FROM jsonb_array_elements(events) WITH ORDINALITY AS x(value, ord)
           ORDER BY x.value->>'tenant', x.value->>'idempotencyKey', x.ord) d
   WHERE NOT EXISTS (SELECT 1 FROM ${S}.audit_events a
                      WHERE a.tenant = d.value->>'tenant' AND a.idempotency_key = d.value->>'idempotencyKey');

  -- The chain is sequential, so it is computed in memory here; rows and heads are then written
  -- with one statement each (per-row statements cost ~20x more).
  FOREACH e IN ARRAY fresh LOOP
    t := e->>'tenant';
    k := e->>'idempotencyKey';
    IF cur IS DISTINCT FROM t THEN
      SELECT h.seq, h.hash INTO s, prev FROM ${S}.audit_heads h WHERE h.tenant = t;
      cur := t;
    END IF;
    det := CASE WHEN e->'details' IS NULL OR jsonb_typeof(e->'details') = 'null' THEN NULL ELSE e->'details' END;
    ts := (e->>'time')::timestamptz;
    s := s + 1;
    nh := sha256(prev || convert_to(
            ${S}.chain_field('octw.audit.v1')
         || ${S}.chain_field(t)
         || ${S}.chain_field(s::text)
         || ${S}.chain_field(to_char(ts AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'))
         || ${S}.chain_field(e->>'actor')
         || ${S}.chain_field(e->>'action')
         || ${S}.chain_field(e->>'target')
         || ${S}.chain_field(e->>'decision')
         || ${S}.chain_field(det::text)
         || ${S}.chain_field(k), 'UTF8'));
    a_tenant := a_tenant || t;
    a_seq := a_seq || s;
    a_time := a_time || ts;
    a_actor := a_actor || (e->>'actor');
    a_action := a_action || (e->>'action');
    a_target := a_target || (e->>'target');
    a_decision := a_decision || (e->>'decision');
    a_details := a_details || det;
    a_key := a_key || k;
    a_prev := a_prev || prev;
    a_hash := a_hash || nh;
    prev := nh;
  END LOOP;
  IF cardinality(a_tenant) = 0 THEN RETURN 0; END IF;

  INSERT INTO ${S}.audit_events
    (tenant, seq, time, actor, action, target, decision, details, idempotency_key, prev_hash, hash)
    SELECT * FROM unnest(a_tenant, a_seq, a_time, a_actor, a_action, a_target, a_decision, a_details, a_key, a_prev, a_hash);
  UPDATE ${S}.audit_heads h SET seq = last.seq, hash = last.hash
    FROM (SELECT DISTINCT ON (u.tenant) u.tenant, u.seq, u.hash
            FROM unnest(a_tenant, a_seq, a_hash) AS u(tenant, seq, hash)
           ORDER BY u.tenant, u.seq DESC) last
   WHERE h.tenant = last.tenant;
  RETURN cardinality(a_tenant);
END
$fn$;

-- Tenant scoping for readers: identity is the authenticated login role (current_user), which
-- a session cannot change to a role it is not a member of; a session setting could be.
ALTER TABLE ${S}.reader_bindings ENABLE ROW LEVEL SECURITY;
CREATE POLICY own_binding ON ${S}.reader_bindings FOR SELECT
  USING (role_name = current_user);
ALTER TABLE ${S}.audit_events ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_reader ON ${S}.audit_events FOR SELECT
  USING (tenant = (SELECT b.tenant FROM ${S}.reader_bindings b WHERE b.role_name = current_user));
ALTER TABLE ${S}.audit_heads ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_reader ON ${S}.audit_heads FOR SELECT
  USING (tenant = (SELECT b.tenant FROM ${S}.reader_bindings b WHERE b.role_name = current_user));

-- Binds a login role to the one tenant it may read. Not SECURITY DEFINER: only the owner
-- (who may write reader_bindings) can call it successfully.
CREATE FUNCTION ${S}.bind_tenant_reader(reader_role name, reader_tenant text) RETURNS void
  LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp
  AS $fn$
DECLARE
  r record;
BEGIN
  SELECT rolsuper, rolbypassrls INTO r FROM pg_roles WHERE rolname = reader_role;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'reader_role: role % does not exist', reader_role USING ERRCODE = '42704';
  END IF;
  IF r.rolsuper OR r.rolbypassrls THEN
    RAISE EXCEPTION 'reader_role: % bypasses row-level security and cannot be a tenant reader', reader_role USING ERRCODE = '42501';
  END IF;
  INSERT INTO ${S}.reader_bindings (role_name, tenant) VALUES (reader_role, reader_tenant)
    ON CONFLICT (role_name) DO UPDATE SET tenant = EXCLUDED.tenant;
END
$fn$;

CREATE FUNCTION ${S}.unbind_tenant_reader(reader_role name) RETURNS void
  LANGUAGE sql SET search_path = pg_catalog, pg_temp
  AS $fn$ DELETE FROM ${S}.reader_bindings WHERE role_name = reader_role $fn$;

-- Functions are executable by PUBLIC by default; grants are handed out explicitly instead.
REVOKE ALL ON FUNCTION ${S}.chain_field(text) FROM PUBLIC;
REVOKE ALL ON FUNCTION ${S}.reject_change() FROM PUBLIC;
REVOKE ALL ON FUNCTION ${S}.head_forward_only() FROM PUBLIC;
REVOKE ALL ON FUNCTION ${S}.append_events(jsonb) FROM PUBLIC;
REVOKE ALL ON FUNCTION ${S}.bind_tenant_reader(name, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION ${S}.unbind_tenant_reader(name) FROM PUBLIC;
`;

const m2TenantSecrets = `
-- AES-256-GCM sealed tenant secrets (see secrets-crypto.ts). Values never appear in clear.
CREATE TABLE ${S}.tenant_secrets (
  tenant      text        NOT NULL CHECK (tenant ~ '^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$'),
  name        text        NOT NULL CHECK (name ~ '^[A-Za-z0-9][A-Za-z0-9._:/-]{0,127}$'),
  version     integer     NOT NULL CHECK (version >= 1),
  key_version integer     NOT NULL CHECK (key_version >= 1),
  nonce       bytea       NOT NULL CHECK (octet_length(nonce) = 12),
  ciphertext  bytea       NOT NULL,
  auth_tag    bytea       NOT NULL CHECK (octet_length(auth_tag) = 16),
  created_at  timestamptz NOT NULL DEFAULT now(),
  rotated_at  timestamptz,
  PRIMARY KEY (tenant, name, version),
  -- A nonce must never repeat under one key; random 96-bit nonces make it unlikely, this makes it impossible.
  UNIQUE (tenant, key_version, nonce)
);
CREATE INDEX tenant_secrets_key_version ON ${S}.tenant_secrets (key_version);
`;

// One credential per service (issue 10): which role may append which event type is checked
// inside the database, so a stolen service credential cannot forge another service's events or
// an operator's decision, whatever client it uses.
const m3PerRoleAppend = `
-- (role, event type) pairs a role may append; filled by migrationSql's grant step from
-- SERVICE_EVENT_TYPES. Only the owner writes it (no grant on it to anyone).
CREATE TABLE ${S}.append_grants (
  role_name name NOT NULL,
  action    text NOT NULL CHECK (length(action) <= 128 AND action ~ '^[a-z][a-z0-9_]*(\\.[a-z][a-z0-9_]*)+$'),
  PRIMARY KEY (role_name, action)
);

-- The unchecked chain writer keeps its body (migration 1) under another name and becomes the
-- owner's alone: whoever was granted EXECUTE on it before (the shared writer role of earlier
-- versions) loses it here, so the checked entry point below is the only way in.
ALTER FUNCTION ${S}.append_events(jsonb) RENAME TO append_events_unchecked;
DO $revoke$
DECLARE
  g record;
BEGIN
  FOR g IN
    SELECT DISTINCT a.grantee FROM pg_proc p, aclexplode(p.proacl) a
     WHERE p.oid = '${S}.append_events_unchecked(jsonb)'::regprocedure AND a.grantee <> p.proowner AND a.grantee <> 0
  LOOP
    EXECUTE format('REVOKE ALL ON FUNCTION ${S}.append_events_unchecked(jsonb) FROM %I', pg_get_userbyid(g.grantee));
  END LOOP;
END
$revoke$;
REVOKE ALL ON FUNCTION ${S}.append_events_unchecked(jsonb) FROM PUBLIC;

-- The shared writer could also read and write every tenant's sealed secrets. From here on only
-- the owner (the operator's CLI) writes them and only the router role reads them; both grants
-- are declared after migrations (requiredGrants), so whatever is granted now is the old one.
DO $revoke_secrets$
DECLARE
  g record;
BEGIN
  FOR g IN
    SELECT DISTINCT a.grantee FROM pg_class c, aclexplode(c.relacl) a
     WHERE c.oid = '${S}.tenant_secrets'::regclass AND a.grantee <> c.relowner AND a.grantee <> 0
  LOOP
    EXECUTE format('REVOKE ALL ON ${S}.tenant_secrets FROM %I', pg_get_userbyid(g.grantee));
  END LOOP;
END
$revoke_secrets$;

-- Same signature and contract as before, plus: every event type of the batch must be granted
-- to the calling login role (session_user: a SECURITY DEFINER function runs as its owner, so
-- current_user is the owner here). Members of the owner role (the owner, superusers) may append
-- anything: they own the rules. A refused batch stores nothing (42501, which AuditClient treats
-- as permanent, so it is reported and never replayed from the spool).
CREATE FUNCTION ${S}.append_events(events jsonb) RETURNS integer
  LANGUAGE plpgsql SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
  AS $fn$
DECLARE
  refused text;
BEGIN
  IF jsonb_typeof(events) = 'array' AND NOT pg_has_role(session_user, current_user, 'MEMBER') THEN
    SELECT x.action INTO refused
      FROM (SELECT DISTINCT el->>'action' AS action FROM jsonb_array_elements(events) el
             WHERE jsonb_typeof(el) = 'object' AND el ? 'action') x
     WHERE NOT EXISTS (SELECT 1 FROM ${S}.append_grants g JOIN pg_roles r ON r.rolname = g.role_name
                        WHERE g.action = x.action AND pg_has_role(session_user, r.oid, 'MEMBER'))
     ORDER BY x.action
     LIMIT 1;
    IF FOUND THEN
      -- An action is named only in the shape of one (never arbitrary input text).
      RAISE EXCEPTION 'role % may not append % events', session_user,
        CASE WHEN refused ~ '^[a-z][a-z0-9_]*(\\.[a-z][a-z0-9_]*)+$' AND length(refused) <= 128 THEN refused ELSE 'malformed' END
        USING ERRCODE = '42501';
    END IF;
  END IF;
  RETURN ${S}.append_events_unchecked(events);
END
$fn$;
REVOKE ALL ON FUNCTION ${S}.append_events(jsonb) FROM PUBLIC;
`;

// Ingest speed (issue 16). First, Postgres' regex engine expands a counted repetition such as {0,127}
// into that many automaton states, so the two CHECKs below cost ~13 µs per stored event — more
// than everything else in an append together. Each is replaced by the same rule written as
// "pattern without a count" AND "length bound": the classes are ASCII-only, so length() counts
// exactly the characters the counted form counted. Rows stored so far satisfied the old form,
// hence the new one; ADD CONSTRAINT re-checks them anyway.
// Second, the chain writer's statements are planned for every call instead of once per session:
// a service keeps its connections for days, and a plan made while audit_events was small
// (hash anti-join over a sequential scan for the idempotency check) stays cached while the
// table grows, making every append cost time proportional to the table (measured: 5 ms per
// 500-event batch with a fresh plan, 49 ms with one cached at an empty table, 52 000 rows in).
const m4FastIngest = `
ALTER FUNCTION ${S}.append_events_unchecked(jsonb) SET plan_cache_mode = force_custom_plan;
ALTER TABLE ${S}.audit_events
  DROP CONSTRAINT audit_events_tenant_check,
  ADD CONSTRAINT audit_events_tenant_check CHECK (length(tenant) <= 128 AND tenant ~ '^[A-Za-z0-9][A-Za-z0-9._:-]*$'),
  DROP CONSTRAINT audit_events_idempotency_key_check,
  ADD CONSTRAINT audit_events_idempotency_key_check CHECK (length(idempotency_key) <= 200 AND idempotency_key ~ '^[A-Za-z0-9._:-]+$');
`;

// Ingest speed, part two (issue 16). Measured on 10 000-event batches (perf and /proc CPU),
// append_events(jsonb) spends a third of its ~21 µs per event on the one-jsonb argument: parsing
// the whole document (~2.5 µs), four passes of jsonb_array_elements that materialise every element
// (~1.6 µs, spilled to a temp file past work_mem), sorts keyed by text extracted from jsonb, and a
// plpgsql loop of ~16 statements per event that extracts each field again (~6 µs with the
// encoding and SHA-256; the row and its four indexes take most of the rest, ~8 µs). The same
// chain from one typed array per column: the client's arrays are parsed once, plpgsql keeps them
// expanded (O(1) subscripts), the loop keeps only what is sequential (seq, the encoding and
// SHA-256), and the common batch (all events new, grouped by tenant) skips the idempotency probe:
// the unique index checks it, and a violation falls back to the probing path. The encoding is the same
// expression as migration 1's (chain.ts), so both functions write byte-identical chains;
// append_events(jsonb) stays for clients older than this migration.
// Differences of contract, none of guarantee: details is an object or SQL NULL (a JSON null is
// refused by the CHECK instead of being stored as NULL), and the arrays must be one-dimensional
// and of equal length.
const m5ColumnIngest = `
CREATE FUNCTION ${S}.append_event_columns_unchecked(
    e_tenant text[], e_actor text[], e_action text[], e_target text[], e_decision text[],
    e_details jsonb[], e_time timestamptz[], e_key text[]) RETURNS integer
  LANGUAGE plpgsql SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
  SET plan_cache_mode = force_custom_plan
  AS $fn$
DECLARE
  n integer := coalesce(cardinality(e_tenant), 0);
  tenants text[];
  fresh bigint[];
  i bigint;
  nt integer;
  changes integer;
  optimistic boolean := true;
  cur text := NULL;
  s bigint;
  prev bytea;
  a_seq bigint[] := '{}';
  a_prev bytea[] := '{}';
  a_hash bytea[] := '{}';
  h_tenant text[] := '{}';
  h_seq bigint[] := '{}';
  h_hash bytea[] := '{}';
BEGIN
  IF n > 10000 THEN
    RAISE EXCEPTION 'events: at most 10000 per call, got %', n USING ERRCODE = '22023';
  END IF;
  IF coalesce(array_ndims(e_tenant), 1) <> 1 OR coalesce(array_ndims(e_actor), 1) <> 1 OR coalesce(array_ndims(e_action), 1) <> 1
     OR coalesce(array_ndims(e_target), 1) <> 1 OR coalesce(array_ndims(e_decision), 1) <> 1 OR coalesce(array_ndims(e_details), 1) <> 1
     OR coalesce(array_ndims(e_time), 1) <> 1 OR coalesce(array_ndims(e_key), 1) <> 1
     OR coalesce(cardinality(e_actor), 0) <> n OR coalesce(cardinality(e_action), 0) <> n OR coalesce(cardinality(e_target), 0) <> n
     OR coalesce(cardinality(e_decision), 0) <> n OR coalesce(cardinality(e_details), 0) <> n OR coalesce(cardinality(e_time), 0) <> n
     OR coalesce(cardinality(e_key), 0) <> n THEN
    RAISE EXCEPTION 'events: the eight column arrays must be one-dimensional and of equal length' USING ERRCODE = '22023';
  END IF;
  IF n = 0 THEN RETURN 0; END IF;
  IF array_position(e_tenant, NULL) IS NOT NULL OR array_position(e_actor, NULL) IS NOT NULL OR array_position(e_action, NULL) IS NOT NULL
     OR array_position(e_time, NULL) IS NOT NULL OR array_position(e_key, NULL) IS NOT NULL THEN
    RAISE EXCEPTION 'event: tenant, actor, action, time and idempotencyKey are required' USING ERRCODE = '22023';
  END IF;
  -- Heads are locked in the order append_events(jsonb) locks them (sorted, default collation),
  -- so the two entry points serialise per tenant and never deadlock each other.
  SELECT array_agg(x ORDER BY x) INTO tenants FROM (SELECT DISTINCT u AS x FROM unnest(e_tenant) u) d;
  INSERT INTO ${S}.audit_heads (tenant, seq, hash)
    SELECT x, 0, '\\x0000000000000000000000000000000000000000000000000000000000000000'::bytea
      FROM unnest(tenants) x
    ON CONFLICT (tenant) DO NOTHING;
  PERFORM 1 FROM ${S}.audit_heads WHERE tenant = ANY (tenants) ORDER BY tenant FOR UPDATE;

  -- First, optimistically: every event fresh (no key stored yet, none repeated in the batch) and
  -- each tenant's events together, which is what AuditClient sends (a replay of its spool is the
  -- exception). Then the chain follows the arrays as they are, and the rows are inserted zipped
  -- (set-returning functions in the select list stream in lockstep; unnest in FROM would first
  -- copy each array into a tuplestore). The unique index on (tenant, idempotency_key) is what
  -- checks "no key stored yet": a violation rolls the attempt back (its own subtransaction) and
  -- the careful path below computes which events are fresh, exactly as before.
  fresh := ARRAY(SELECT pg_catalog.generate_series(1::bigint, n));
  nt := cardinality(tenants);
  LOOP
    cur := NULL; changes := 0; a_seq := '{}'; a_prev := '{}'; a_hash := '{}'; h_tenant := '{}'; h_seq := '{}'; h_hash := '{}';
    -- Only what is sequential, in as few plpgsql statements as possible (each costs about as
    -- much as the SHA-256 of an event).
    FOREACH i IN ARRAY fresh LOOP
      IF cur IS DISTINCT FROM e_tenant[i] THEN
        IF cur IS NOT NULL THEN
          h_tenant := h_tenant || cur; h_seq := h_seq || s; h_hash := h_hash || prev;
        END IF;
        changes := changes + 1;
        -- a tenant seen again: the batch is not grouped by tenant (only when optimistic)
        EXIT WHEN changes > nt;
        cur := e_tenant[i];
        SELECT h.seq, h.hash INTO s, prev FROM ${S}.audit_heads h WHERE h.tenant = cur;
      END IF;
      s := s + 1;
      a_prev := a_prev || prev;
      prev := sha256(prev || convert_to(
              ${S}.chain_field('octw.audit.v1')
           || ${S}.chain_field(cur)
           || ${S}.chain_field(s::text)
           || ${S}.chain_field(to_char(e_time[i] AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'))
           || ${S}.chain_field(e_actor[i])
           || ${S}.chain_field(e_action[i])
           || ${S}.chain_field(e_target[i])
           || ${S}.chain_field(e_decision[i])
           || ${S}.chain_field(e_details[i]::text)
           || ${S}.chain_field(e_key[i]), 'UTF8'));
      a_seq := a_seq || s;
      a_hash := a_hash || prev;
    END LOOP;
    IF cur IS NOT NULL THEN
      h_tenant := h_tenant || cur; h_seq := h_seq || s; h_hash := h_hash || prev;
    END IF;

    IF optimistic THEN
      optimistic := false;
      IF changes = nt THEN
        BEGIN
          INSERT INTO ${S}.audit_events
            (tenant, seq, time, actor, action, target, decision, details, idempotency_key, prev_hash, hash)
            SELECT unnest(e_tenant), unnest(a_seq), unnest(e_time), unnest(e_actor), unnest(e_action), unnest(e_target),
                   unnest(e_decision), unnest(e_details), unnest(e_key), unnest(a_prev), unnest(a_hash);
          UPDATE ${S}.audit_heads h SET seq = u.seq, hash = u.hash
            FROM unnest(h_tenant, h_seq, h_hash) AS u(tenant, seq, hash)
           WHERE h.tenant = u.tenant;
          RETURN n;
        EXCEPTION WHEN unique_violation THEN
          NULL; -- a key stored already or repeated in the batch: the careful path
        END;
      END IF;
      -- The careful path: positions of the events not stored yet, the first of each (tenant, key)
      -- in the batch, grouped by tenant (in any fixed order: chains are per tenant) and in batch
      -- order within a tenant.
      SELECT coalesce(array_agg(d.i ORDER BY d.t COLLATE "C", d.i), '{}') INTO fresh
        FROM (SELECT u.t, u.k, min(u.i) AS i FROM unnest(e_tenant, e_key) WITH ORDINALITY AS u(t, k, i) GROUP BY u.t, u.k) d
       WHERE NOT EXISTS (SELECT 1 FROM ${S}.audit_events a WHERE a.tenant = d.t AND a.idempotency_key = d.k);
      CONTINUE;
    END IF;

    IF cur IS NULL THEN RETURN 0; END IF;
    INSERT INTO ${S}.audit_events
      (tenant, seq, time, actor, action, target, decision, details, idempotency_key, prev_hash, hash)
      SELECT e.tenant, f.seq, e.time, e.actor, e.action, e.target, e.decision, e.details, e.key, f.prev, f.hash
        FROM unnest(fresh, a_seq, a_prev, a_hash) AS f(i, seq, prev, hash)
        JOIN unnest(e_tenant, e_time, e_actor, e_action, e_target, e_decision, e_details, e_key)
               WITH ORDINALITY AS e(tenant, time, actor, action, target, decision, details, key, i) ON e.i = f.i;
    UPDATE ${S}.audit_heads h SET seq = u.seq, hash = u.hash
      FROM unnest(h_tenant, h_seq, h_hash) AS u(tenant, seq, hash)
     WHERE h.tenant = u.tenant;
    RETURN cardinality(fresh);
  END LOOP;
END
$fn$;
REVOKE ALL ON FUNCTION ${S}.append_event_columns_unchecked(text[], text[], text[], text[], text[], jsonb[], timestamptz[], text[]) FROM PUBLIC;

-- The services' entry point: migration 3's check (every event type granted to the calling login
-- role, members of the owner exempt), then the chain writer above.
CREATE FUNCTION ${S}.append_event_columns(
    e_tenant text[], e_actor text[], e_action text[], e_target text[], e_decision text[],
    e_details jsonb[], e_time timestamptz[], e_key text[]) RETURNS integer
  LANGUAGE plpgsql SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
  AS $fn$
DECLARE
  refused text;
BEGIN
  IF NOT pg_has_role(session_user, current_user, 'MEMBER') THEN
    SELECT x.action INTO refused
      FROM (SELECT DISTINCT a AS action FROM unnest(e_action) a WHERE a IS NOT NULL) x
     WHERE NOT EXISTS (SELECT 1 FROM ${S}.append_grants g JOIN pg_roles r ON r.rolname = g.role_name
                        WHERE g.action = x.action AND pg_has_role(session_user, r.oid, 'MEMBER'))
     ORDER BY x.action
     LIMIT 1;
    IF FOUND THEN
      RAISE EXCEPTION 'role % may not append % events', session_user,
        CASE WHEN refused ~ '^[a-z][a-z0-9_]*(\\.[a-z][a-z0-9_]*)+$' AND length(refused) <= 128 THEN refused ELSE 'malformed' END
        USING ERRCODE = '42501';
    END IF;
  END IF;
  RETURN ${S}.append_event_columns_unchecked(e_tenant, e_actor, e_action, e_target, e_decision, e_details, e_time, e_key);
END
$fn$;
REVOKE ALL ON FUNCTION ${S}.append_event_columns(text[], text[], text[], text[], text[], jsonb[], timestamptz[], text[]) FROM PUBLIC;
`;

export const migrations: readonly Migration[] = Object.freeze([
  { version: 1, name: "audit_events", sql: m1AuditEvents },
  { version: 2, name: "tenant_secrets", sql: m2TenantSecrets },
  { version: 3, name: "per_role_append", sql: m3PerRoleAppend },
  { version: 4, name: "fast_ingest", sql: m4FastIngest },
  { version: 5, name: "column_ingest", sql: m5ColumnIngest },
]);

// pg_advisory_xact_lock key: ASCII "octw" / "mig\0", so it cannot collide with other users by accident.
const LOCK_KEY_1 = 0x6f637477;
const LOCK_KEY_2 = 0x6d696700;

/**
 * ONE self-contained SQL text that applies every pending migration, idempotently: it takes
 * a transaction-level advisory lock (concurrent appliers queue up), records applied versions
 * in octw.schema_migrations, skips those already there, and commits everything at once.
 * It must run as roles.owner, and refuses service/reader roles that could bypass RLS or act as
 * the owner or another service. Last, it replaces octw.append_grants with the (role, event type)
 * pairs of SERVICE_EVENT_TYPES for these role names.
 * Run it with a single simple query (client.query(sql)); after an error, ROLLBACK or close
 * the connection (the transaction block is left aborted).
 */
export function migrationSql(roles: AuditRoles): string {
  validateRoles(roles);
  const owner = quoteLiteral(roles.owner);
  const reader = quoteLiteral(roles.reader);
  const services = SERVICE_ROLES.map((k) => quoteLiteral(roles[k])).join(", ");
  const parts: string[] = [
    "BEGIN;",
    `SELECT pg_advisory_xact_lock(${LOCK_KEY_1}, ${LOCK_KEY_2});`,
    `DO $octw_preflight$
DECLARE
  missing text;
BEGIN
  IF current_user <> ${owner} THEN
    RAISE EXCEPTION 'migrations must run as the owner role %, not as %', ${owner}, current_user USING ERRCODE = '42501';
  END IF;
  SELECT r INTO missing FROM unnest(ARRAY[${reader}, ${services}]) r WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = r) LIMIT 1;
  IF FOUND THEN
    RAISE EXCEPTION 'role % does not exist (create roles before migrating)', missing USING ERRCODE = '42704';
  END IF;
  IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname IN (${reader}, ${services}) AND (rolsuper OR rolbypassrls)) THEN
    RAISE EXCEPTION 'service and reader roles must not be superuser or BYPASSRLS' USING ERRCODE = '42501';
  END IF;
  -- A member of the owner may append anything, and a member of another service's role may act
  -- as it (SET ROLE): either would undo the split, so it is refused rather than granted.
  SELECT a INTO missing FROM unnest(ARRAY[${services}]) a, unnest(ARRAY[${owner}, ${services}]) b
   WHERE a <> b AND pg_has_role(a, b, 'MEMBER') LIMIT 1;
  IF FOUND THEN
    RAISE EXCEPTION 'service role % must not be a member of the owner role or of another service role', missing USING ERRCODE = '42501';
  END IF;
  IF current_setting('server_encoding') <> 'UTF8' THEN
    RAISE EXCEPTION 'the audit database must be UTF8, not %', current_setting('server_encoding') USING ERRCODE = '22023';
  END IF;
  IF EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = '${S}' AND nspowner <> (SELECT oid FROM pg_roles WHERE rolname = ${owner})) THEN
    RAISE EXCEPTION 'schema ${S} exists but is not owned by %', ${owner} USING ERRCODE = '42501';
  END IF;
  -- PUBLIC gets CONNECT and TEMP on new databases; each role gets what requiredGrants() lists instead.
  EXECUTE format('REVOKE ALL ON DATABASE %I FROM PUBLIC', current_database());
END
$octw_preflight$;`,
    `CREATE SCHEMA IF NOT EXISTS ${S};`,
    `REVOKE ALL ON SCHEMA ${S} FROM PUBLIC;`,
    `CREATE TABLE IF NOT EXISTS ${S}.schema_migrations (
  version    integer PRIMARY KEY,
  name       text NOT NULL,
  applied_at timestamptz NOT NULL DEFAULT now()
);`,
  ];
  for (const m of migrations) {
    const tag = `octw_migration_${m.version}`;
    if (m.sql.includes(`$${tag}$`) || m.sql.includes(`$${tag}_sql$`)) throw new Error(`migration ${m.version} contains its own quoting tag`);
    parts.push(`DO $${tag}$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM ${S}.schema_migrations WHERE version = ${m.version}) THEN
    EXECUTE $${tag}_sql$${m.sql}$${tag}_sql$;
    INSERT INTO ${S}.schema_migrations (version, name) VALUES (${m.version}, ${quoteLiteral(m.name)});
  END IF;
END
$${tag}$;`);
  }
  // Not a versioned migration: the (role, event type) pairs of these roles, replaced as a whole
  // on every run (inside the same transaction, so appends never see an empty table), so the
  // table always says exactly what SERVICE_EVENT_TYPES says for the current role names.
  const pairs = SERVICE_ROLES.flatMap((k) => SERVICE_EVENT_TYPES[k].map((a) => `(${quoteLiteral(roles[k])}, ${quoteLiteral(a)})`));
  parts.push(`DELETE FROM ${S}.append_grants;`, `INSERT INTO ${S}.append_grants (role_name, action) VALUES\n  ${pairs.join(",\n  ")};`);
  parts.push("COMMIT;");
  return parts.join("\n");
}

/** Applies migrationSql(roles) on a connection of the owner role; returns the versions now applied. */
export async function applyMigrations(client: pg.ClientBase, roles: AuditRoles): Promise<number[]> {
  const sql = migrationSql(roles);
  try {
    await client.query(sql);
  } catch (err) {
    await client.query("ROLLBACK").catch(() => {});
    throw err;
  }
  const res = await client.query<{ version: number }>(`SELECT version FROM ${S}.schema_migrations ORDER BY version`);
  return res.rows.map((r) => r.version);
}

/**
 * SQL that binds a login role (a member of roles.reader) to the one tenant it may read.
 * Run as the owner. For the stack's dynamic provider, which can only send SQL text.
 */
export function bindTenantReaderSql(readerRole: string, tenant: string): string {
  if (!ROLE_NAME.test(readerRole)) throw new Error(`readerRole: must match ${ROLE_NAME.source}, got ${JSON.stringify(readerRole)}`);
  if (!/^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/.test(tenant)) throw new Error(`tenant: must be 1-128 characters of [A-Za-z0-9._:-], got ${JSON.stringify(tenant)}`);
  return `SELECT ${S}.bind_tenant_reader(${quoteLiteral(readerRole)}, ${quoteLiteral(tenant)});`;
}

export async function bindTenantReader(client: pg.ClientBase, readerRole: string, tenant: string): Promise<void> {
  await client.query(bindTenantReaderSql(readerRole, tenant));
}
