# The Postgres server for the *.pg.test.ts tests (sourced by scripts/test-env.sh): Debian's
# cluster on 127.0.0.1:5432 with a superuser `octw_test` whose password is generated once per
# checkout and kept in .octw/ (mode 0600).

OCTW_PG_VERSION="${OCTW_PG_VERSION:-15}"
OCTW_PG_CLUSTER="${OCTW_PG_CLUSTER:-main}"
OCTW_PG_PASSWORD_FILE="$OCTW_STATE_DIR/pg-password"

pg_superuser_sql() { runuser -u postgres -- psql -X -q -v ON_ERROR_STOP=1 -d postgres "$@"; }

pg_login_works() {
  local out
  out=$(PGPASSWORD="$(cat "$OCTW_PG_PASSWORD_FILE")" PGCONNECT_TIMEOUT=5 \
    psql -X -q -h 127.0.0.1 -p 5432 -U octw_test -d postgres -tAc 'select 1' 2>/dev/null || true)
  [ "$out" = 1 ]
}

ensure_postgres() {
  ensure_debian_packages "postgresql-$OCTW_PG_VERSION" postgresql-client-common
  if ! pg_lsclusters -h | awk -v v="$OCTW_PG_VERSION" -v c="$OCTW_PG_CLUSTER" '$1==v && $2==c {f=1} END {exit !f}'; then
    log "creating Postgres cluster $OCTW_PG_VERSION/$OCTW_PG_CLUSTER"
    pg_createcluster "$OCTW_PG_VERSION" "$OCTW_PG_CLUSTER" -p 5432 >/dev/null || die "pg_createcluster failed"
  fi
  local port conf_dir listen_conf
  port=$(pg_conftool -s "$OCTW_PG_VERSION" "$OCTW_PG_CLUSTER" show port 2>/dev/null || echo 5432)
  [ "$port" = 5432 ] || die "cluster $OCTW_PG_VERSION/$OCTW_PG_CLUSTER is configured for port $port, tests need 5432"
  # Loopback by address: tests must not depend on how "localhost" resolves. A conf.d file
  # (included by Debian's postgresql.conf) leaves the packaged config untouched.
  conf_dir="/etc/postgresql/$OCTW_PG_VERSION/$OCTW_PG_CLUSTER/conf.d"
  listen_conf="$conf_dir/octw-test-env.conf"
  grep -q "include_dir = 'conf.d'" "/etc/postgresql/$OCTW_PG_VERSION/$OCTW_PG_CLUSTER/postgresql.conf" \
    || die "postgresql.conf of $OCTW_PG_VERSION/$OCTW_PG_CLUSTER does not include conf.d; cannot pin listen_addresses"
  if ! grep -qx "listen_addresses = '127.0.0.1'" "$listen_conf" 2>/dev/null; then
    mkdir -p "$conf_dir"
    printf '%s\n' "# Written by OCTW's scripts/test-env.sh: the test server listens on loopback only." \
      "listen_addresses = '127.0.0.1'" > "$listen_conf"
    if pg_ctlcluster "$OCTW_PG_VERSION" "$OCTW_PG_CLUSTER" status >/dev/null 2>&1; then
      log "restarting Postgres to listen on 127.0.0.1 only"
      pg_ctlcluster "$OCTW_PG_VERSION" "$OCTW_PG_CLUSTER" restart 9>&- || die "pg_ctlcluster restart failed"
    fi
  fi
  if ! pg_ctlcluster "$OCTW_PG_VERSION" "$OCTW_PG_CLUSTER" status >/dev/null 2>&1; then
    log "starting Postgres $OCTW_PG_VERSION/$OCTW_PG_CLUSTER"
    # pg_ctlcluster works with and without systemd; with systemd it goes through the unit.
    # 9>&-: the server must not inherit (and hold forever) test-env.sh's lock.
    pg_ctlcluster "$OCTW_PG_VERSION" "$OCTW_PG_CLUSTER" start 9>&- \
      || die "Postgres did not start (see /var/log/postgresql/postgresql-$OCTW_PG_VERSION-$OCTW_PG_CLUSTER.log)"
  fi
  wait_until 60 "Postgres" pg_isready -q -h 127.0.0.1 -p 5432 || die "Postgres does not accept connections on 127.0.0.1:5432"

  if [ ! -s "$OCTW_PG_PASSWORD_FILE" ]; then
    mkdir -p "$OCTW_STATE_DIR"
    ( umask 077; openssl rand -hex 24 > "$OCTW_PG_PASSWORD_FILE" ) || die "cannot write $OCTW_PG_PASSWORD_FILE"
    log "generated the octw_test password ($OCTW_PG_PASSWORD_FILE, mode 0600)"
  fi
  chmod 0600 "$OCTW_PG_PASSWORD_FILE"
  if ! pg_login_works; then
    log "setting role octw_test (superuser) to the password in $OCTW_PG_PASSWORD_FILE"
    local verifier
    verifier=$(node "$OCTW_SCRIPTS_DIR/test-env/scram-verifier.mjs" < "$OCTW_PG_PASSWORD_FILE") || die "cannot compute the SCRAM verifier"
    pg_superuser_sql -v verifier="$verifier" <<'SQL' || die "cannot create/alter role octw_test"
select format('create role octw_test with login superuser password %L', :'verifier')
 where not exists (select from pg_roles where rolname = 'octw_test') \gexec
select format('alter role octw_test with login superuser password %L', :'verifier') \gexec
SQL
    pg_login_works || die "scram login as octw_test on 127.0.0.1:5432 fails after setting its password"
  fi
  log "Postgres answers on 127.0.0.1:5432; scram login as octw_test works"
  env_set OCTW_TEST_PG_URL "postgres://octw_test:$(cat "$OCTW_PG_PASSWORD_FILE")@127.0.0.1:5432/postgres"
}
