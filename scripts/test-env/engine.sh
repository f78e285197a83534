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
  has_addr() { grep -q "inet $1/" <<<"$(ip -4 addr show dev "$OCTW_TEST_IFACE")"; }
  for a in "$OCTW_TEST_DNS_ADDR" "$OCTW_TEST_OUTSIDE_ADDR"; do
    has_addr "$a" || ip addr add "$a/32" dev "$OCTW_TEST_IFACE" 2>/dev/null || has_addr "$a" \
      || die "cannot add $a to $OCTW_TEST_IFACE (is it assigned to another interface? $(ip -4 -br addr | grep -F "$a/" || true))"
  done
  ip link set "$OCTW_TEST_IFACE" up || die "cannot bring $OCTW_TEST_IFACE up"
}

engine_answers() { "$DOCKER" version --format '{{.Server.Version}}' >/dev/null 2>&1; }

systemd_is_init() { [ "$(ps -p 1 -o comm= 2>/dev/null)" = "systemd" ]; }

# The engine's pid: from its pidfile, else the oldest process named dockerd (an engine
# started by other means, without the default pidfile).
dockerd_pid() {
  local pid
  pid=$(cat "$OCTW_DOCKERD_PIDFILE" 2>/dev/null || pgrep -xo dockerd || true)
  [ -n "$pid" ] && [ -r "/proc/$pid/cmdline" ] || return 1
  local argv0
  argv0=$(tr '\0' '\n' < "/proc/$pid/cmdline" | sed -n 1p)
  [[ "$argv0" == *dockerd ]] || return 1
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
    >>"$OCTW_DOCKERD_LOG" 2>&1 </dev/null 9>&-  # 9: test-env.sh's lock, not the daemon's
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
  systemctl daemon-reload || die "systemctl daemon-reload failed"
  systemctl restart docker.service || die "systemctl restart docker.service failed"
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

# Proves that a container's lookup of an unknown name reaches OCTW_TEST_DNS_ADDR and nothing
# else: a capture on every interface must see the query go to that address (positive
# control) and nowhere else (e.g. the machine's resolver). When the address is free, a
# throwaway DNS server there also answers, and the container must get that answer; when the
# conformance suite's own DNS server holds it, the capture alone decides.
check_engine_dns() {
  local image="$1" dir label net out leaks seen listener_pid="" capture_pid own_listener=1
  ensure_debian_packages tcpdump
  dir="$OCTW_BUILD_DIR/dns-check"; rm -rf "$dir"; mkdir -p "$dir"
  label="octwdnscheck$(openssl rand -hex 6)"
  net="octw-dns-check-$$"
  if [ -n "$(ss -Hlun "src $OCTW_TEST_DNS_ADDR:53")" ]; then
    own_listener=0
    log "container DNS check: $OCTW_TEST_DNS_ADDR:53 is already served (the conformance suite?); checking with the capture only"
  else
    node "$OCTW_SCRIPTS_DIR/test-env/dns-check-listener.mjs" "$OCTW_TEST_DNS_ADDR" "$OCTW_TEST_OUTSIDE_ADDR" 60 \
      > "$dir/queries.txt" 2> "$dir/listener.err" &
    listener_pid=$!
    wait_until 10 "DNS check listener" grep -q listening "$dir/listener.err" \
      || { kill "$listener_pid" 2>/dev/null; die "the DNS check listener did not start on $OCTW_TEST_DNS_ADDR:53: $(cat "$dir/listener.err")"; }
  fi
  tcpdump -i any -n -U -w "$dir/dns.pcap" 'udp port 53 or tcp port 53' 2> "$dir/tcpdump.err" &
  capture_pid=$!
  wait_until 10 "packet capture" grep -q listening "$dir/tcpdump.err" \
    || { kill $listener_pid "$capture_pid" 2>/dev/null; die "tcpdump did not start: $(cat "$dir/tcpdump.err")"; }
  "$DOCKER" network create "$net" >/dev/null
  out=$("$DOCKER" run --rm --network "$net" --user 200123:200123 --read-only --cap-drop ALL \
          --security-opt no-new-privileges "$image" getent hosts "$label.example" 2>&1 || true)
  "$DOCKER" network rm "$net" >/dev/null
  sleep 1
  kill "$capture_pid" $listener_pid 2>/dev/null || true
  wait "$capture_pid" $listener_pid 2>/dev/null || true
  seen=$(tcpdump -r "$dir/dns.pcap" -n -A "dst host $OCTW_TEST_DNS_ADDR" 2>/dev/null | grep -c "$label" || true)
  leaks=$(tcpdump -r "$dir/dns.pcap" -n -A "not host $OCTW_TEST_DNS_ADDR" 2>/dev/null | grep -c "$label" || true)
  [ "$seen" -gt 0 ] || die "container DNS check: the capture saw no query for $label.example to $OCTW_TEST_DNS_ADDR (container said: $out)"
  [ "$leaks" -eq 0 ] || die "container DNS check: $leaks packet(s) with the query went to an address other than $OCTW_TEST_DNS_ADDR (see $dir/dns.pcap)"
  if [ "$own_listener" = 1 ]; then
    grep -q "^$label.example 1 " "$dir/queries.txt" \
      || die "container DNS check: the lookup of $label.example never reached the test server on $OCTW_TEST_DNS_ADDR (container said: $out)"
    [ "$(awk '{print $1}' <<<"$out")" = "$OCTW_TEST_OUTSIDE_ADDR" ] \
      || die "container DNS check: the container did not get the test server's answer $OCTW_TEST_OUTSIDE_ADDR (got: $out)"
  fi
  log "container DNS: a lookup from a user-defined network went only to $OCTW_TEST_DNS_ADDR ($seen packets there, 0 elsewhere)"
}
