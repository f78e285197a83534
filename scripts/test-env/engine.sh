# The Docker engine (sourced by scripts/test-env.sh and scripts/up.sh). Its two callers want
# different engines, installed and started by the same functions (start_engine):
#  - the tests (ensure_engine): container DNS forwarded to OCTW_TEST_DNS_ADDR only, never to
#    the machine's resolver: Docker's embedded DNS otherwise copies /etc/resolv.conf, and a
#    test lookup of an unknown name would leave the machine. It (re)starts dockerd so.
#  - the main job (ensure_engine_running): an engine that answers is used as it is, never
#    restarted (other work may run on it); when none runs, Debian's is installed and started
#    as Debian ships it, container DNS to the host's resolvers, which the tenants' egress
#    proxies need to reach their allowlisted hosts.

OCTW_DOCKERD_LOG="${OCTW_DOCKERD_LOG:-/var/log/octw-dockerd.log}"
OCTW_DOCKERD_PIDFILE=/var/run/docker.pid
OCTW_DEFAULT_DOCKER_HOST=unix:///var/run/docker.sock
OCTW_TEST_DNS_DROPIN=/etc/systemd/system/docker.service.d/octw-test-dns.conf

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

dockerd_args() {
  local pid
  pid=$(dockerd_pid) || return 1
  tr '\0' ' ' < "/proc/$pid/cmdline"
}

# True when the running dockerd forwards container DNS to the test address (among others).
dockerd_uses_test_dns() {
  local args
  args=$(dockerd_args) || return 1
  case " $args " in
    *" --dns $OCTW_TEST_DNS_ADDR "*|*" --dns=$OCTW_TEST_DNS_ADDR "*) return 0 ;;
    *) return 1 ;;
  esac
}

# True when the running dockerd was started with exactly our --dns (flag or daemon.json).
dockerd_has_test_dns() {
  local args
  dockerd_uses_test_dns || return 1
  args=$(dockerd_args) || return 1
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

# start_dockerd_without_systemd [dns address]
start_dockerd_without_systemd() {
  local dns=()
  [ -z "${1:-}" ] || dns=(--dns "$1")
  log "starting dockerd${1:+ --dns $1} (log: $OCTW_DOCKERD_LOG)"
  # setsid: its own session, so it outlives this script and a Ctrl-C of it.
  setsid -f /usr/sbin/dockerd "${dns[@]}" --pidfile "$OCTW_DOCKERD_PIDFILE" \
    >>"$OCTW_DOCKERD_LOG" 2>&1 </dev/null 9>&-  # 9: test-env.sh's lock, not the daemon's
}

# start_dockerd_with_systemd [dns address]: with an address, docker.service is configured to
# forward to it (a drop-in) and restarted; without, it is started as this machine configures it.
start_dockerd_with_systemd() {
  if [ -z "${1:-}" ]; then
    log "starting docker.service"
    systemctl start docker.service || die "systemctl start docker.service failed (see journalctl -u docker.service)"
    return 0
  fi
  log "configuring docker.service with --dns $1 ($OCTW_TEST_DNS_DROPIN) and restarting it"
  mkdir -p "$(dirname "$OCTW_TEST_DNS_DROPIN")"
  cat > "$OCTW_TEST_DNS_DROPIN" <<UNIT
# Written by OCTW's scripts/test-env.sh: container DNS goes to the test resolver only.
[Service]
ExecStart=
ExecStart=/usr/sbin/dockerd -H fd:// --containerd=/run/containerd/containerd.sock --dns $1 --pidfile $OCTW_DOCKERD_PIDFILE
UNIT
  systemctl daemon-reload || die "systemctl daemon-reload failed"
  systemctl restart docker.service || die "systemctl restart docker.service failed"
}

# start_engine [dns address]: starts (or, under systemd with an address, restarts) dockerd and
# waits until it answers.
start_engine() {
  if systemd_is_init; then start_dockerd_with_systemd "${1:-}"; else start_dockerd_without_systemd "${1:-}"; fi
  wait_until 90 "Docker engine" engine_answers \
    || die "the Docker engine did not answer within 90s (see $(if systemd_is_init; then echo "journalctl -u docker.service"; else echo "$OCTW_DOCKERD_LOG"; fi))"
}

ensure_engine_packages() { ensure_debian_packages docker.io iptables; }

ensure_engine() {
  ensure_engine_packages
  ensure_test_interface
  if engine_answers && dockerd_has_test_dns; then
    log "engine answers ($("$DOCKER" version --format '{{.Server.Version}}')), dockerd forwards DNS to $OCTW_TEST_DNS_ADDR"
  else
    if engine_answers || dockerd_pid >/dev/null; then
      log "RESTARTING this machine's Docker engine: it was not started with --dns $OCTW_TEST_DNS_ADDR (its containers stop)"
      systemd_is_init || stop_dockerd
    fi
    start_engine "$OCTW_TEST_DNS_ADDR"
    dockerd_has_test_dns || die "dockerd runs but not with --dns $OCTW_TEST_DNS_ADDR; check /etc/docker/daemon.json and its command line"
    log "engine answers ($("$DOCKER" version --format '{{.Server.Version}}'))"
  fi
  env_set DOCKER_HOST "$DOCKER_HOST"
  env_set OCTW_TEST_DNS_ADDR "$OCTW_TEST_DNS_ADDR"
  env_set OCTW_TEST_OUTSIDE_ADDR "$OCTW_TEST_OUTSIDE_ADDR"
}

engine_is_root() { [ "$(id -u)" -eq 0 ]; }
engine_on_debian() { [ -r /etc/debian_version ] && command -v apt-get >/dev/null; }

# The main job's engine. Returns 0 when one answers (started here if need be); otherwise
# sets ENGINE_MISSING to what is missing and what to run, and returns 1. Only the default
# socket is ever started here: an engine named by another DOCKER_HOST is the user's.
# shellcheck disable=SC2034 # ENGINE_MISSING is read by scripts/up.sh
ensure_engine_running() {
  ENGINE_MISSING=""
  engine_answers && return 0
  if [ "$DOCKER_HOST" != "$OCTW_DEFAULT_DOCKER_HOST" ]; then
    ENGINE_MISSING="a Docker engine answering on DOCKER_HOST=$DOCKER_HOST. Start the engine it names, or unset DOCKER_HOST to use $OCTW_DEFAULT_DOCKER_HOST (as root on Debian, npm run up installs and starts that one itself)."
    command -v "$DOCKER" >/dev/null \
      || ENGINE_MISSING="the docker client, to talk to DOCKER_HOST=$DOCKER_HOST. Install Debian's docker.io (apt-get install docker.io) or Docker's CLI."
    return 1
  fi
  if ! engine_on_debian; then
    ENGINE_MISSING="a Docker engine answering on $DOCKER_HOST. This is not Debian (no /etc/debian_version or no apt-get), so npm run up does not install one: install Docker Engine for this system, start it, and run npm run up again."
    return 1
  fi
  if ! engine_is_root; then
    if dockerd_pid >/dev/null; then
      ENGINE_MISSING="access to the Docker engine on $DOCKER_HOST: dockerd runs but does not answer user $(id -un). Run npm run up as root (sudo npm run up), or add the user to the docker group (sudo usermod -aG docker $(id -un), then log in again)."
    else
      ENGINE_MISSING="a Docker engine answering on $DOCKER_HOST. Run npm run up as root (sudo npm run up): it installs and starts Debian's docker.io itself. Or do that yourself: sudo apt-get install -y docker.io iptables && sudo systemctl start docker.service (without systemd: sudo dockerd &)."
    fi
    return 1
  fi
  ensure_engine_packages
  # docker.io's postinst starts the engine where systemd runs.
  engine_answers && return 0
  if dockerd_pid >/dev/null; then
    log "dockerd runs but does not answer on $DOCKER_HOST yet; waiting for it"
    wait_until 60 "Docker engine" engine_answers \
      || die "dockerd (pid $(dockerd_pid)) runs but has not answered on $DOCKER_HOST for 60s; see its log ($OCTW_DOCKERD_LOG or journalctl -u docker.service)"
    return 0
  fi
  log "no Docker engine answers on $DOCKER_HOST: starting Debian's (container DNS as Debian configures it)"
  start_engine
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
