#!/usr/bin/env bash
# Where a hardened OpenClaw gateway's memory goes, and what its cold start costs (issue 12).
# A benchmark, not a test. Starts one gateway the way TenantGateway declares it (read-only root,
# tmpfs /tmp, no capabilities, no-new-privileges, own UID, 0700 state volume, internal network,
# dns 127.0.0.1), with extra environment given as arguments, and prints:
#   cold start (docker start → /readyz 200), then after IDLE_S seconds idle: cgroup memory
#   (usage, rss, cache), and per process VmRSS / RssAnon / RssFile.
# Usage (repo root, test env loaded):  bash bench/gateway-memory/measure.sh <label> [KEY=VALUE ...]
#   RUNS=n    cold starts to time (the 2nd and later see a warm state volume / compile cache)
#   IDLE_S=s  idle time before the memory reading (default 60)
#   CONFIG_EXTRA='"plugins":{…}'  further top-level openclaw.json members
#   GATEWAY_CMD="node --flag /usr/local/bin/openclaw gateway run"  (V8 flags NODE_OPTIONS refuses)
#   LOG_FILE=path  keep the gateway's log there
#   INIT_EXTRA='sh commands'  run by the (root) init container before the config is written, with
#             the state volume at /state and $uid set (to lay out the volume as state-init would)
set -euo pipefail
label="$1"; shift
image="${OCTW_IMAGE_OPENCLAW:?load /work/main/.octw/test-env.env first}"
runs="${RUNS:-3}"; idle="${IDLE_S:-60}"
uid=$((230000 + RANDOM % 1000)); name="octw-bench-mem-$$"; net="$name-net"; vol="$name-state"
cleanup() { [ -z "${LOG_FILE:-}" ] || docker logs "$name" > "$LOG_FILE" 2>&1 || true; docker rm -f "$name" "$name-init" >/dev/null 2>&1 || true; docker volume rm "$vol" >/dev/null 2>&1 || true; docker network rm "$net" >/dev/null 2>&1 || true; }
trap cleanup EXIT
sub="10.250.$((RANDOM % 200)).0/28"
docker network create --internal --subnet "$sub" "$net" >/dev/null
addr="${sub%.0/28}.5"
docker volume create "$vol" >/dev/null
cfg='{"gateway":{"mode":"local","bind":"lan","port":18789,"trustedProxies":["'"${sub%.0/28}"'.2"],"auth":{"mode":"trusted-proxy","trustedProxy":{"userHeader":"x-octw-user"}},"controlUi":{"allowedOrigins":[]}},"update":{"checkOnStart":false}'"${CONFIG_EXTRA:+,$CONFIG_EXTRA}"'}'
printf '%s\n' "$cfg" | docker run -i --name "$name-init" --network none --user 0:0 --cap-drop ALL --cap-add CHOWN --cap-add FOWNER \
  -v "$vol:/state" --entrypoint /bin/sh "$image" -c "uid=$uid; ${INIT_EXTRA:+$INIT_EXTRA && }cat > /state/openclaw.json && chmod 0400 /state/openclaw.json && chown $uid:$uid /state/openclaw.json /state && chmod 0700 /state" >/dev/null
# shellcheck disable=SC2054 # the commas are NO_PROXY's own list syntax
envs=(-e OPENCLAW_STATE_DIR=/var/lib/openclaw -e HOME=/var/lib/openclaw -e XDG_CACHE_HOME=/tmp/.cache -e OPENCLAW_CONFIG_READONLY=1
      -e OPENCLAW_NO_AUTO_UPDATE=1 -e OPENCLAW_DISABLE_BONJOUR=1 -e OPENCLAW_PROXY_URL=http://127.0.0.9:3128 -e HTTPS_PROXY=http://127.0.0.9:3128 -e NO_PROXY=localhost,127.0.0.1)
for kv in "$@"; do envs+=(-e "$kv"); done
# shellcheck disable=SC2086 # GATEWAY_CMD is a word list
docker create --name "$name" --hostname "$name" --user "$uid:$uid" --read-only --cap-drop ALL --security-opt no-new-privileges:true \
  --tmpfs "/tmp:rw,noexec,nosuid,nodev,size=512m,mode=1777,uid=$uid,gid=$uid" --memory 1536m --memory-swap 1536m --cpus 1 \
  --ulimit nproc=512:512 --ulimit nofile=8192:8192 --ipc private --network "$net" --ip "$addr" --dns 127.0.0.1 \
  -v "$vol:/var/lib/openclaw" "${envs[@]}" "$image" ${GATEWAY_CMD:-openclaw gateway run} >/dev/null
ready_ms() { # docker start → /readyz 200 (polled from the host over the bridge every 50 ms)
  local t0 now; t0=$(date +%s%N); docker start "$name" >/dev/null
  while :; do
    if curl -fsS -m 1 -o /dev/null "http://$addr:18789/readyz" 2>/dev/null; then
      now=$(date +%s%N)
      # CPU time the container used until ready: steadier than wall time on a shared machine.
      local cpu; cpu=$(cat "/sys/fs/cgroup/cpuacct/docker/$(docker inspect -f '{{.Id}}' "$name")/cpuacct.usage" 2>/dev/null || echo 0)
      echo "$(((now - t0) / 1000000))ms/cpu$((cpu / 1000000))ms"; return
    fi
    now=$(date +%s%N); [ $(((now - t0) / 1000000000)) -lt 90 ] || { echo "timeout"; docker logs --tail 30 "$name" >&2; return 1; }
    sleep 0.05
  done
}
starts=()
for i in $(seq 1 "$runs"); do
  starts+=("$(ready_ms)")
  [ "$i" -lt "$runs" ] && docker stop -t 10 "$name" >/dev/null
done
sleep "$idle"
id=$(docker inspect -f '{{.Id}}' "$name")
cg=/sys/fs/cgroup/memory/docker/$id
[ -d "$cg" ] || cg=/sys/fs/cgroup/docker/$id
echo "== $label  (env: ${*:-none}${GATEWAY_CMD:+; command: $GATEWAY_CMD})"
echo "cold start to /readyz (wall ms/container CPU ms), run 1..$runs: ${starts[*]}"
# All the CPU of the last start incl. the work OpenClaw defers past ready (sidecars), and the idle.
echo "container CPU from the last start to this reading (ready + ${idle} s idle): $(( $(cat "/sys/fs/cgroup/cpuacct/docker/$id/cpuacct.usage" 2>/dev/null || echo 0) / 1000000 )) ms"
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
if [ -f "$cg/memory.usage_in_bytes" ]; then
  awk '{printf "cgroup usage %d MiB\n", $1/1048576}' "$cg/memory.usage_in_bytes"
  awk '$1=="total_rss"||$1=="total_cache"||$1=="total_shmem"||$1=="total_mapped_file"{printf "  %s %d MiB\n",$1,$2/1048576}' "$cg/memory.stat"
else
  awk '{printf "cgroup memory.current %d MiB\n", $1/1048576}' "$cg/memory.current"
fi
docker stats --no-stream --format 'docker stats: {{.MemUsage}}' "$name"
for pid in $(cat "$cg/cgroup.procs" 2>/dev/null || cat "$cg/tasks"); do
  [ -r "/proc/$pid/status" ] || continue
  cmd=$(tr '\0' ' ' < "/proc/$pid/cmdline" | cut -c1-80)
  awk -v c="$cmd" -v p="$pid" '/^VmRSS|^RssAnon|^RssFile|^RssShmem/{v[$1]=$2} END{printf "  pid %s %-80s VmRSS %d RssAnon %d RssFile %d MiB\n", p, c, v["VmRSS:"]/1024, v["RssAnon:"]/1024, v["RssFile:"]/1024}' "/proc/$pid/status"
done
