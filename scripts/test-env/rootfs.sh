# Root filesystems for the images (sourced by scripts/test-env/images.sh): debootstrap's
# minbase plus the packages an image lists in images/<name>/debian-packages, slimmed by
# images/base/slim-rootfs.sh and turned into an image with `docker import` (no registry).

# Bump when build_rootfs_image changes what it produces (debootstrap flags, import changes):
# it is part of every rootfs hash, so the images are rebuilt; edits that change nothing
# (comments, messages) then cost no rebuild.
# shellcheck disable=SC2034 # read by images.sh
OCTW_ROOTFS_PROCEDURE=1

# Debian's mirror as apt on this machine is configured for it (the only one reachable).
debian_mirror() {
  local suite="$1" uri
  # shellcheck disable=SC2016 # $(...) is apt's own field syntax
  uri=$(apt-get indextargets --format '$(REPO_URI) $(RELEASE)' 2>/dev/null \
        | awk -v s="$suite" '$2 == s { print $1; exit }')
  [ -n "$uri" ] || die "apt on this machine has no source for Debian '$suite' (needed by debootstrap)"
  echo "$uri"
}

debian_packages_of() { grep -v '^[[:space:]]*#' "$1" | tr -s ' \n' ',' | sed 's/^,//; s/,$//'; }

# build_rootfs_image <name> <tag>: builds octw/rootfs-<name>:<tag> unless it exists.
build_rootfs_image() {
  local name="$1" ref="octw/rootfs-$1:$2"
  if "$DOCKER" image inspect "$ref" >/dev/null 2>&1; then
    log "rootfs $name: re-using $ref"
    return 0
  fi
  ensure_debian_packages debootstrap
  local suite packages mirror dir
  suite=$(sed -n 's/^DEBIAN_SUITE=//p' images/versions.env)
  packages=$(debian_packages_of "images/$name/debian-packages")
  mirror=$(debian_mirror "$suite")
  dir="$OCTW_BUILD_DIR/rootfs-$name"
  rm -rf "$dir"
  mkdir -p "$OCTW_CACHE_DIR/debs"
  log "rootfs $name: debootstrap --variant=minbase --include=$packages $suite"
  debootstrap --variant=minbase --include="$packages" --cache-dir="$OCTW_CACHE_DIR/debs" \
    "$suite" "$dir" "$mirror" > "$OCTW_BUILD_DIR/debootstrap-$name.log" 2>&1 \
    || die "debootstrap of rootfs $name failed (see $OCTW_BUILD_DIR/debootstrap-$name.log)"
  sh images/base/slim-rootfs.sh "$dir" || die "slimming rootfs $name failed"
  log "rootfs $name: docker import ($(du -sm "$dir" | cut -f1) MB)"
  tar --numeric-owner -C "$dir" -c . | "$DOCKER" import \
      --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
      --change 'CMD ["/bin/sh"]' - "$ref" >/dev/null \
    || die "docker import of rootfs $name failed"
  rm -rf "$dir"
}
