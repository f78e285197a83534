#!/usr/bin/env bash
# Smoke test of the images under the hardening the components declare: an arbitrary UID not
# in /etc/passwd, --read-only, --cap-drop ALL, no-new-privileges, tmpfs only where
# docs/contracts.md says, on an --internal network. Prints PASS/FAIL per check; exits 1 if
# any check failed. Needs .octw/test-env.env (run scripts/test-env.sh first).
# Usage: bash scripts/smoke-images.sh [openclaw|egress-squid|postgres]...
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/test-env/common.sh
[ -s "$OCTW_ENV_FILE" ] || die "$OCTW_ENV_FILE is missing: run scripts/test-env.sh first"
set -a
# shellcheck disable=SC1090 # written by scripts/test-env.sh
. "$OCTW_ENV_FILE"
set +a
for v in OCTW_IMAGE_BASE OCTW_IMAGE_OPENCLAW OCTW_IMAGE_EGRESS OCTW_IMAGE_POSTGRES; do
  [ -n "${!v:-}" ] || die "$v is not set in $OCTW_ENV_FILE: run scripts/test-env.sh (with images)"
done

run_id="octw-smoke-$$"
NET="$run_id-net"
HARDENING=(--read-only --cap-drop ALL --security-opt no-new-privileges --dns 127.0.0.1)
failures=0
pass() { log "PASS $*"; }
fail() { log "FAIL $*"; failures=$((failures + 1)); }
# check <description> <command...>: the command's success is the check.
check() { local what="$1"; shift; if "$@"; then pass "$what"; else fail "$what"; fi; }
# The engine warns about --dns 127.0.0.1 on every run/create; that setting is the point (no
# DNS out of a tenant), so the warning is noise here.
dk() { "$DOCKER" "$@" 2> >(grep -v 'Localhost DNS setting (--dns=127.0.0.1)' >&2); }

cleanup() {
  "$DOCKER" ps -aq --filter "label=octw.smoke=$run_id" | xargs -r "$DOCKER" rm -f >/dev/null 2>&1 || true
  "$DOCKER" network rm "$NET" >/dev/null 2>&1 || true
  "$DOCKER" volume ls -q --filter "label=octw.smoke=$run_id" | xargs -r "$DOCKER" volume rm -f >/dev/null 2>&1 || true
  rm -rf "${TMPD:-}"
}
trap cleanup EXIT
TMPD=$(mktemp -d)
"$DOCKER" network create --internal --label "octw.smoke=$run_id" "$NET" >/dev/null

ip_of() { "$DOCKER" inspect --format "{{(index .NetworkSettings.Networks \"$NET\").IPAddress}}" "$1"; }
running() { [ "$("$DOCKER" inspect --format '{{.State.Running}}' "$1" 2>/dev/null)" = true ]; }

# A volume whose root is owned by <uid:gid>, mode 0700, prepared the way the components do
# it: a one-shot root container that holds only CAP_CHOWN and CAP_FOWNER.
prepared_volume() {
  local vol="$1" owner="$2" mountpoint="$3" image="$4"
  "$DOCKER" volume create --label "octw.smoke=$run_id" "$vol" >/dev/null
  dk run --rm --label "octw.smoke=$run_id" --network none --user 0:0 "${HARDENING[@]}" \
    --cap-add CHOWN --cap-add FOWNER -v "$vol:$mountpoint" --entrypoint /bin/sh "$image" \
    -c "chown $owner $mountpoint && chmod 0700 $mountpoint"
}

# A short-lived probe on the tenant network, running node from the OpenClaw image as another
# arbitrary UID, with the same hardening.
probe_node() {
  dk run --rm -i --label "octw.smoke=$run_id" --network "$NET" --user 200999:200999 \
    "${HARDENING[@]}" --tmpfs /tmp:rw,nosuid,nodev,noexec,size=16m "$OCTW_IMAGE_OPENCLAW" node --input-type=module "$@"
}

smoke_openclaw() {
  local uid=200123 c="$run_id-openclaw" vol="$run_id-openclaw-state" token out t0 t1
  token=$(openssl rand -hex 24)
  check "openclaw: state volume prepared 0700 for $uid by a CHOWN/FOWNER-only root container" \
    prepared_volume "$vol" "$uid:$uid" /var/lib/openclaw "$OCTW_IMAGE_OPENCLAW"
  # The token lives in the config file inside the 0700 volume, never in the environment.
  ( umask 077; cat > "$TMPD/openclaw.json" <<JSON
{
  "gateway": { "mode": "local", "bind": "lan", "port": 18789, "auth": { "mode": "token", "token": "$token" } },
  "update": { "checkOnStart": false },
  "models": { "catalogRefresh": { "enabled": false } }
}
JSON
  chmod 0644 "$TMPD/openclaw.json" )
  dk create --label "octw.smoke=$run_id" --name "$c" --hostname octw-smoke-openclaw \
    --network "$NET" --user "$uid:$uid" "${HARDENING[@]}" --memory 1g \
    --tmpfs /tmp:rw,nosuid,nodev,noexec,size=256m -v "$vol:/var/lib/openclaw" \
    -e OPENCLAW_OFFLINE=1 "$OCTW_IMAGE_OPENCLAW" >/dev/null
  # docker cp is the same archive upload the components use (before start).
  check "openclaw: config uploaded into the volume before start" \
    "$DOCKER" cp "$TMPD/openclaw.json" "$c:/var/lib/openclaw/openclaw.json"
  t0=$(date +%s.%N)
  "$DOCKER" start "$c" >/dev/null
  local ip; ip=$(ip_of "$c")
  out=$(probe_node - "$ip" "$token" <<'JS' 2>&1 || true
const [ip, token] = process.argv.slice(2);
const deadline = Date.now() + 90_000;
let health;
while (Date.now() < deadline) {
  try {
    const res = await fetch(`http://${ip}:18789/healthz`);
    const body = await res.text();
    // The Control UI answers unknown paths with 200 too: the JSON body is the proof.
    try { health = { status: res.status, json: JSON.parse(body) }; } catch { health = undefined; }
    if (health && res.status === 200) break;
  } catch { /* not listening yet */ }
  await new Promise((r) => setTimeout(r, 250));
}
const invoke = (auth) => fetch(`http://${ip}:18789/tools/invoke`, {
  method: "POST", headers: { "content-type": "application/json", ...(auth ? { authorization: `Bearer ${auth}` } : {}) },
  body: JSON.stringify({ tool: "sessions_list", args: {} }),
}).then(async (r) => {
  // Past authentication the handler answers with the tool's outcome ({ ok, result|error });
  // which tool result does not matter here, only that auth let the request through.
  const body = await r.text();
  let reached = false;
  try { reached = typeof JSON.parse(body).ok === "boolean"; } catch { /* not JSON */ }
  return r.status === 401 ? 401 : reached ? "tool-invoked" : `${r.status} ${body.slice(0, 200)}`;
}, (e) => String(e));
console.log(JSON.stringify({ health, noToken: await invoke(), wrongToken: await invoke("wrong"), rightToken: await invoke(token) }));
JS
)
  t1=$(date +%s.%N)
  log "openclaw probe: $out"
  check "openclaw: /healthz answers 200 with a JSON body on the --internal network ($(printf '%.1f' "$(echo "$t1 - $t0" | bc)") s after start)" \
    grep -q '"health":{"status":200,"json":{"ok":true' <<<"$out"
  check "openclaw: /tools/invoke refuses no token and a wrong token (401)" \
    grep -q '"noToken":401,"wrongToken":401' <<<"$out"
  check "openclaw: /tools/invoke accepts the configured token (positive control)" \
    grep -q '"rightToken":"tool-invoked"' <<<"$out"
  check "openclaw: runs as uid $uid, not root" \
    test "$("$DOCKER" exec "$c" id -u 2>/dev/null)" = "$uid"
  check "openclaw: the root filesystem is read-only, the state dir writable (control)" \
    "$DOCKER" exec "$c" sh -c '! touch /opt/openclaw/x 2>/dev/null && touch /var/lib/openclaw/.smoke && rm /var/lib/openclaw/.smoke'
  check "openclaw: the state dir is 0700 and owned by $uid" \
    test "$("$DOCKER" exec "$c" stat -c '%a %u' /var/lib/openclaw 2>/dev/null)" = "700 $uid"
  check "openclaw: still running" running "$c"
  local mem; mem=$("$DOCKER" stats --no-stream --format '{{.MemUsage}}' "$c" 2>/dev/null || true)
  log "openclaw: memory $mem"
  "$DOCKER" logs "$c" > "$TMPD/openclaw.log" 2>&1 || true
  running "$c" || tail -n 30 "$TMPD/openclaw.log" >&2
  "$DOCKER" rm -f "$c" >/dev/null
}

smoke_squid() {
  local c="$run_id-squid" conf out
  # Deny by default; CONNECT only to port 8443, so the same probe shows the allow (positive
  # control) and the deny.
  conf=$(base64 -w0 <<'CONF'
http_port 3128
access_log stdio:/dev/stdout
acl probe_port port 8443
http_access allow CONNECT probe_port
http_access deny all
CONF
)
  dk run -d --label "octw.smoke=$run_id" --name "$c" --network "$NET" --user 200125:200125 \
    "${HARDENING[@]}" --tmpfs /run/squid:rw,nosuid,nodev,noexec,size=8m \
    --tmpfs /var/spool/squid:rw,nosuid,nodev,noexec,size=64m --tmpfs /var/log/squid:rw,nosuid,nodev,noexec,size=16m \
    --tmpfs /tmp:rw,nosuid,nodev,noexec,size=16m -e "OCTW_SQUID_CONFIG_B64=$conf" "$OCTW_IMAGE_EGRESS" >/dev/null
  local ip; ip=$(ip_of "$c")
  out=$(probe_node - "$ip" <<'JS' 2>&1 || true
import net from "node:net";
const [proxy] = process.argv.slice(2);
const self = (await import("node:os")).networkInterfaces();
const myIp = Object.values(self).flat().find((a) => a.family === "IPv4" && !a.internal).address;
const server = net.createServer((s) => s.end("hello from the probe\n")).listen(8443, "0.0.0.0");
const connect = (port) => new Promise((resolve) => {
  const deadline = Date.now() + 30_000;
  const attempt = () => {
    const s = net.connect(3128, proxy, () => s.write(`CONNECT ${myIp}:${port} HTTP/1.1\r\nHost: ${myIp}:${port}\r\n\r\n`));
    let data = "";
    s.on("data", (d) => { data += d; if (data.includes("\r\n\r\n")) { resolve(data.split("\r\n")[0]); s.destroy(); } });
    s.on("error", () => { if (Date.now() < deadline) setTimeout(attempt, 250); else resolve("unreachable"); });
  };
  attempt();
});
console.log(JSON.stringify({ denied: await connect(443), allowed: await connect(8443) }));
server.close();
JS
)
  log "squid probe: $out"
  check "egress-squid: CONNECT to a port the config denies gets 403" grep -q '"denied":"HTTP/1.1 403' <<<"$out"
  check "egress-squid: CONNECT to the allowed port gets 200 (positive control)" grep -q '"allowed":"HTTP/1.1 200' <<<"$out"
  check "egress-squid: runs as uid 200125" \
    test "$("$DOCKER" exec "$c" id -u 2>/dev/null)" = 200125
  check "egress-squid: access log on stdout" sh -c "'$DOCKER' logs '$c' 2>/dev/null | grep -q 'TCP_DENIED/403'"
  running "$c" || "$DOCKER" logs "$c" 2>&1 | tail -n 30 >&2
  "$DOCKER" rm -f "$c" >/dev/null
}

smoke_squid_refuses_missing_config() {
  local out rc=0
  out=$(dk run --rm --label "octw.smoke=$run_id" --network none --user 200125:200125 "${HARDENING[@]}" \
    --tmpfs /run/squid:rw,nosuid,nodev,noexec,size=8m "$OCTW_IMAGE_EGRESS" 2>&1) || rc=$?
  check "egress-squid: without OCTW_SQUID_CONFIG_B64 it exits non-zero naming the variable" \
    sh -c "[ $rc -ne 0 ] && echo \"\$1\" | grep -q OCTW_SQUID_CONFIG_B64" _ "$out"
}

smoke_postgres() {
  local c="$run_id-postgres" vol="$run_id-pgdata" pw ip out
  pw=$(openssl rand -hex 24)
  check "postgres: data volume prepared 0700 for 5432:5432" \
    prepared_volume "$vol" 5432:5432 /var/lib/postgresql/data "$OCTW_IMAGE_POSTGRES"
  ( umask 077; printf '%s\n' "$pw" > "$TMPD/superuser-password"; chmod 0400 "$TMPD/superuser-password" )
  dk create --label "octw.smoke=$run_id" --name "$c" --network "$NET" --user 5432:5432 \
    "${HARDENING[@]}" --tmpfs /run/postgresql:rw,nosuid,nodev,noexec,size=8m \
    --tmpfs /tmp:rw,nosuid,nodev,noexec,size=64m -v "$vol:/var/lib/postgresql/data" \
    -e POSTGRES_PASSWORD_FILE=/var/lib/postgresql/data/superuser-password "$OCTW_IMAGE_POSTGRES" >/dev/null
  # An archive upload keeps the tar header's owner: 5432, as the contract wants the file.
  # (`docker cp -a` cannot do it on this engine: it looks "5432:5432" up as a user name.)
  check "postgres: password file uploaded into the volume (0400, owner 5432) before start" \
    sh -c "tar --owner=5432 --group=5432 --numeric-owner -C '$TMPD' -c superuser-password | '$DOCKER' cp - '$c:/var/lib/postgresql/data/'"
  "$DOCKER" start "$c" >/dev/null
  ip=$(ip_of "$c")
  # The password reaches the probe's psql through stdin, never a container's environment.
  # shellcheck disable=SC2016 # the probe's own sh expands $0, $1, $pw
  psql_probe() {
    printf '%s\n' "$1" | dk run --rm -i --label "octw.smoke=$run_id" --network "$NET" --user 200998:200998 \
      "${HARDENING[@]}" --tmpfs /tmp:rw,nosuid,nodev,noexec,size=8m -e HOME=/tmp --entrypoint /bin/sh \
      "$OCTW_IMAGE_POSTGRES" -c 'read -r pw; i=0; while ! pg_isready -q -h "$0" -p 5432 -U postgres && [ $i -lt 60 ]; do i=$((i+1)); sleep 0.5; done
        PGPASSWORD="$pw" PGCONNECT_TIMEOUT=5 psql -X -h "$0" -U postgres -d postgres -tAc "$1"' "$ip" "$2" 2>&1
  }
  out=$(psql_probe "$pw" "select current_user || ' ' || (select rolpassword like 'SCRAM-SHA-256\$%' from pg_authid where rolname = 'postgres') || ' ' || current_setting('password_encryption')" || true)
  log "postgres probe (right password): $out"
  check "postgres: scram login with the password from the file works; verifier is SCRAM-SHA-256" \
    test "$out" = "postgres true scram-sha-256"
  out=$(psql_probe "wrong-$pw" "select 1" || true)
  check "postgres: a wrong password is refused" grep -q 'password authentication failed' <<<"$out"
  check "postgres: runs as 5432, password file moved out of PGDATA" \
    sh -c "[ \"\$('$DOCKER' exec '$c' id -u)\" = 5432 ] && ! '$DOCKER' exec '$c' test -e /var/lib/postgresql/data/superuser-password"
  check "postgres: still running" running "$c"
  running "$c" || "$DOCKER" logs "$c" 2>&1 | tail -n 30 >&2
  "$DOCKER" rm -f "$c" >/dev/null
}

targets=("$@"); [ "${#targets[@]}" -gt 0 ] || targets=(openclaw egress-squid postgres)
for t in "${targets[@]}"; do
  case "$t" in
    openclaw) smoke_openclaw ;;
    egress-squid) smoke_squid; smoke_squid_refuses_missing_config ;;
    postgres) smoke_postgres ;;
    *) die "unknown image '$t' (allowed: openclaw, egress-squid, postgres)" ;;
  esac
done
if [ "$failures" -gt 0 ]; then log "smoke: $failures check(s) FAILED"; exit 1; fi
log "smoke: all checks passed"
