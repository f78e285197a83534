# The Docker engine for the tests (sourced by scripts/test-env.sh).
# The engine must forward container DNS to OCTW_TEST_DNS_ADDR, never to the machine's
# resolver: Docker's embedded DNS otherwise copies /etc/resolv.conf, and a test lookup of an
# unknown name would leave the machine.

OCTW_DOCKERD_LOG="${OCTW_DOCKERD_LOG:-/var/log/octw-dockerd.log}"
OCTW_DOCKERD_PIDFILE=/var/run/docker.pid

# A dummy interface is the natural holder of local-only addresses; some kernels (this
# project's VMs) lack the dummy driver, and a bridge with no ports behaves the same for
# addresses that are only delivered locally.
ensure_test_interface() {
  if ! ip link show "$OCTW_TEST_IFACE" >/dev/null 2>&1; then
    if ip link add "$OCTW_TEST_IFACE" type dummy 2>/dev/null; then
      log "created dummy interface $OCTW_TEST_IFACE"
    else
      ip link add "$OCTW_TEST_IFACE" type bridge || die "cannot create interface $OCTW_TEST_IFACE (neither dummy nor bridge)"
      log "created interface $OCTW_TEST_IFACE (bridge without ports: this kernel has no dummy driver)"
    fi
  fi
  local a
  for a in "$OCTW_TEST_DNS_ADDR" "$OCTW_TEST_OUTSIDE_ADDR"; do
    ip -4 addr show dev "$OCTW_TEST_IFACE" | grep -q "inet $a/" \
      || ip addr add "$a/32" dev "$OCTW_TEST_IFACE" || die "cannot add $a to $OCTW_TEST_IFACE"
  done
  ip link set "$OCTW_TEST_IFACE" up || die "cannot bring $OCTW_TEST_IFACE up"
}

engine_answers() { "$DOCKER" version --format '{{.Server.Version}}' >/dev/null 2>&1; }

systemd_is_init() { [ "$(ps -p 1 -o comm= 2>/dev/null)" = "systemd" ]; }

dockerd_pid() {
  local pid
  pid=$(cat "$OCTW_DOCKERD_PIDFILE" 2>/dev/null) || return 1
  [ -n "$pid" ] && [ -r "/proc/$pid/cmdline" ] || return 1
  tr '\0' '\n' < "/proc/$pid/cmdline" | head -1 | grep -q dockerd || return 1
  echo "$pid"
}

# True when the running dockerd was started with exactly our --dns (flag or daemon.json).
dockerd_has_test_dns() {
  local pid args
  pid=$(dockerd_pid) || return 1
  args=$(tr '\0' ' ' < "/proc/$pid/cmdline")
  case " $args " in
    *" --dns $OCTW_TEST_DNS_ADDR "*|*" --dns=$OCTW_TEST_DNS_ADDR "*) ;;
    *) return 1 ;;
  esac
  # A second --dns (or one from daemon.json) would let lookups fall through to it.
  [ "$(grep -o -- '--dns[ =]' <<<"$args" | wc -l)" -eq 1 ] || return 1
  ! grep -qs '"dns"' /etc/docker/daemon.json
}

stop_dockerd() {
  local pid
  pid=$(dockerd_pid) || return 0
  kill -TERM "$pid"
  local deadline=$(( $(date +%s) + 60 ))
  while [ -d "/proc/$pid" ]; do
    [ "$(date +%s)" -lt "$deadline" ] || die "dockerd (pid $pid) did not stop within 60s"
    sleep 1
  done
}

start_dockerd_without_systemd() {
  log "starting dockerd --dns $OCTW_TEST_DNS_ADDR (log: $OCTW_DOCKERD_LOG)"
  # setsid: its own session, so it outlives this script and a Ctrl-C of it.
  setsid -f /usr/sbin/dockerd --dns "$OCTW_TEST_DNS_ADDR" --pidfile "$OCTW_DOCKERD_PIDFILE" \
    >>"$OCTW_DOCKERD_LOG" 2>&1 </dev/null
}

start_dockerd_with_systemd() {
  local dropin=/etc/systemd/system/docker.service.d/octw-test-dns.conf
  log "configuring docker.service with --dns $OCTW_TEST_DNS_ADDR ($dropin) and restarting it"
  mkdir -p "$(dirname "$dropin")"
  cat > "$dropin" <<UNIT
# Written by OCTW's scripts/test-env.sh: container DNS goes to the test resolver only.
[Service]
ExecStart=
ExecStart=/usr/sbin/dockerd -H fd:// --containerd=/run/containerd/containerd.sock --dns $OCTW_TEST_DNS_ADDR --pidfile $OCTW_DOCKERD_PIDFILE
UNIT
  systemctl daemon-reload && systemctl restart docker.service || die "systemctl restart docker.service failed"
}

ensure_engine() {
  ensure_debian_packages docker.io iptables
  ensure_test_interface
  if engine_answers && dockerd_has_test_dns; then
    log "engine answers ($("$DOCKER" version --format '{{.Server.Version}}')), dockerd forwards DNS to $OCTW_TEST_DNS_ADDR"
  else
    if engine_answers || dockerd_pid >/dev/null; then
      log "RESTARTING this machine's Docker engine: it was not started with --dns $OCTW_TEST_DNS_ADDR (its containers stop)"
      systemd_is_init || stop_dockerd
    fi
    if systemd_is_init; then start_dockerd_with_systemd; else start_dockerd_without_systemd; fi
    wait_until 90 "Docker engine" engine_answers \
      || die "the Docker engine did not answer within 90s (see $OCTW_DOCKERD_LOG)"
    dockerd_has_test_dns || die "dockerd runs but not with --dns $OCTW_TEST_DNS_ADDR; check /etc/docker/daemon.json and its command line"
    log "engine answers ($("$DOCKER" version --format '{{.Server.Version}}'))"
  fi
  env_set DOCKER_HOST "$DOCKER_HOST"
  env_set OCTW_TEST_DNS_ADDR "$OCTW_TEST_DNS_ADDR"
  env_set OCTW_TEST_OUTSIDE_ADDR "$OCTW_TEST_OUTSIDE_ADDR"
}
