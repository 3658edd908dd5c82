# shellcheck shell=bash
# Building the lab node images, one per Docker engine (sourced by lab/setup.sh, after lab/lib.sh).
# An image's build inputs are this file, image/rootfs/ (every image), image/engines/<engine>/ (that
# engine's own files) and its package lists in lib.sh: a change to any of them rebuilds the image.
#
# Reads: $force_image (true/false, default false).

# Unmount whatever is still mounted below a directory (a debootstrap that died leaves /proc, /sys,
# /dev there), then remove it without crossing into another file system.
safe_rmtree() {
  local dir=$1 m
  [ -e "$dir" ] || return 0
  dir=$(realpath "$dir")
  case $dir in "$LAB_BUILD_DIR"/*) ;; *) die "refusing to remove $dir (outside $LAB_BUILD_DIR)" ;; esac
  while read -r m; do
    umount -l "$m" 2>/dev/null || true
  done < <(awk -v d="$dir/" 'index($2, d) == 1 {print $2}' /proc/mounts | sort -r)
  rm -rf --one-file-system "$dir"
}

# Hash of everything the selected engine's image is built from (lab_engine has set the lists).
image_inputs_hash() {
  local engine=$1
  (
    cd "$LAB_DIR" || exit 1
    local inputs=(image/build.sh image/rootfs)
    [ -d "image/engines/$engine" ] && inputs+=("image/engines/$engine")
    {
      printf '%s\n' "$engine" "$LAB_SUITE" "$LAB_MIRROR" "${LAB_PACKAGES[@]}"
      printf '%s\n' "engine root: $LAB_ENGINE_SUITE" "${LAB_ENGINE_PACKAGES[@]}"
      find "${inputs[@]}" -type f -print0 | LC_ALL=C sort -z | xargs -0 sha256sum
      find "${inputs[@]}" -print0 | LC_ALL=C sort -z | xargs -0 stat -c '%n %a'
    } | sha256sum | cut -c1-16
  )
}

# Plain debootstrap tree of a suite as a tarball, cached by suite, mirror and package list.
#   base_tarball SUITE PACKAGE...   (prints the tarball's path)
base_tarball() {
  local suite=$1
  shift
  local packages=("$@") key tarball tree
  key=$(printf '%s\n' "$suite" "$LAB_MIRROR" "${packages[@]}" | sha256sum | cut -c1-16)
  tarball=$LAB_BUILD_DIR/debootstrap-$suite-$key.tar
  if [ -s "$tarball" ]; then
    echo "$tarball"
    return 0
  fi
  tree=$LAB_BUILD_DIR/debootstrap-$suite.tmp
  safe_rmtree "$tree"
  mkdir -p "$tree"
  local include logf=$LAB_BUILD_DIR/debootstrap-$suite.log
  include=$(IFS=,; echo "${packages[*]}")
  log "debootstrap $suite ($include)"
  local t0=$SECONDS
  if ! debootstrap --variant=minbase --include="$include" "$suite" "$tree" "$LAB_MIRROR" >"$logf" 2>&1; then
    tail -n 30 "$logf" >&2
    [ -f "$tree/debootstrap/debootstrap.log" ] && tail -n 30 "$tree/debootstrap/debootstrap.log" >&2
    safe_rmtree "$tree"
    die "debootstrap $suite failed (log: $logf)"
  fi
  chroot "$tree" apt-get clean
  log "debootstrap $suite took $((SECONDS - t0)) s"
  rm -f "$LAB_BUILD_DIR"/debootstrap-"$suite"-*.tar
  tar -C "$tree" --numeric-owner -cf "$tarball.tmp" .
  mv "$tarball.tmp" "$tarball"
  safe_rmtree "$tree"
  echo "$tarball"
}

# Tiny workload image for the nodes' own Docker: busybox-static and its applet links.
make_busybox_tar() {
  local root=$1 out=$2 bb=$LAB_BUILD_DIR/busybox-root a
  safe_rmtree "$bb"
  mkdir -p "$bb"/{bin,etc,tmp,proc,sys,dev,root,var/run}
  chmod 1777 "$bb/tmp"
  cp "$root/bin/busybox" "$bb/bin/busybox"
  for a in $(chroot "$root" /bin/busybox --list); do
    [ "$a" = busybox ] || ln -s busybox "$bb/bin/$a"
  done
  printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' >"$bb/etc/passwd"
  printf 'root:x:0:\nnogroup:x:65534:\n' >"$bb/etc/group"
  mkdir -p "$(dirname "$out")"
  tar -C "$bb" --numeric-owner --owner=0 --group=0 -cf "$out" .
  safe_rmtree "$bb"
}

customize_tree() {
  local root=$1
  cp -a "$LAB_DIR/image/rootfs/." "$root/"

  make_busybox_tar "$root" "$root/usr/local/share/crosshost-lab/busybox.tar"

  # Units that cannot work in a container or that would reach outside the lab.
  local mask=(
    getty.target console-getty.service getty@tty1.service serial-getty@.service
    systemd-udevd.service systemd-udevd-control.socket systemd-udevd-kernel.socket
    systemd-udev-trigger.service systemd-udev-settle.service systemd-hwdb-update.service
    systemd-networkd-wait-online.service systemd-modules-load.service systemd-remount-fs.service
    systemd-firstboot.service
    sys-kernel-config.mount sys-kernel-debug.mount sys-kernel-tracing.mount
    sys-fs-fuse-connections.mount dev-hugepages.mount
    apt-daily.timer apt-daily-upgrade.timer
  )
  chroot "$root" systemctl mask "${mask[@]}" >/dev/null 2>&1
  chroot "$root" systemctl enable lab-early-sysctl.service lab-default-route.service \
    lab-workload-image.service containerd.service docker.service >/dev/null 2>&1
  # The collection enables BIRD when a backend needs it; a fresh host has it off.
  chroot "$root" systemctl disable bird.service >/dev/null 2>&1 || true
  chroot "$root" systemctl set-default multi-user.target >/dev/null 2>&1

  # Defaults from /usr/lib/sysctl.d that are not per network namespace: systemd-sysctl on a node
  # would write them into this machine's kernel (e.g. kernel.pid_max). Shadow them with empty files.
  local f
  for f in "$root"/usr/lib/sysctl.d/*.conf; do
    [ -e "$f" ] || continue
    if grep -Eq '^[[:space:]]*-?(kernel|fs|vm|user|dev|abi|debug)\.' "$f"; then
      ln -sf /dev/null "$root/etc/sysctl.d/$(basename "$f")"
    fi
  done

  # Documentation is of no use in a lab node; it only slows the import.
  rm -rf "$root"/usr/share/doc/* "$root"/usr/share/man/* "$root"/usr/share/info/*

  # Each container gets its own machine id at boot.
  : >"$root/etc/machine-id"
  rm -f "$root/var/lib/dbus/machine-id"
  printf 'localhost\n' >"$root/etc/hostname"
  printf '127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n' >"$root/etc/hosts"
}

# What one engine adds to the common tree: its own files (image/engines/<engine>/rootfs/) and, for
# an engine that runs from a root of another suite, that root at /opt/<suite>.
customize_engine() {
  local engine=$1 root=$2 overlay=$LAB_DIR/image/engines/$1/rootfs
  if [ -d "$overlay" ]; then
    cp -a "$overlay/." "$root/"
  fi
  [ -n "$LAB_ENGINE_SUITE" ] || return 0
  local sub=$root/opt/$LAB_ENGINE_SUITE tarball
  tarball=$(base_tarball "$LAB_ENGINE_SUITE" "${LAB_ENGINE_PACKAGES[@]}")
  mkdir -p "$sub"
  tar -C "$sub" --numeric-owner -xf "$tarball"
  rm -rf "$sub"/usr/share/doc/* "$sub"/usr/share/man/* "$sub"/usr/share/info/*
  # Its resolver settings are the node's (bind-mounted at start, see lab-engine-root).
  : >"$sub/etc/resolv.conf"
  # The engine root's dockerd starts its own containerd; the node's would only stand beside it.
  chroot "$root" systemctl disable containerd.service >/dev/null 2>&1
  chroot "$root" systemctl mask containerd.service >/dev/null 2>&1
  # The engine root's docker CLI (a Go program) comes first in the node's PATH, so that `docker
  # version` and `docker info` show what a host with this engine shows. Only if it runs on the node.
  if [ -x "$sub/usr/bin/docker" ]; then
    cp "$sub/usr/bin/docker" "$root/usr/local/bin/docker"
    if ! chroot "$root" /usr/local/bin/docker --version >/dev/null 2>&1; then
      log "the $LAB_ENGINE_SUITE docker CLI does not run on the node; keeping the node's"
      rm -f "$root/usr/local/bin/docker"
    fi
  fi
}

# Build the node image of one engine unless it exists with the same build inputs.
build_node_image() {
  local engine=$1 hash current
  lab_engine "$engine"
  hash=$(image_inputs_hash "$engine")
  current=$(docker image inspect -f "{{ index .Config.Labels \"$LAB_HASH_LABEL\" }}" "$LAB_IMAGE" 2>/dev/null || true)
  if [ "$current" = "$hash" ] && ! ${force_image:-false}; then
    log "image $LAB_IMAGE is up to date ($hash)"
    return 0
  fi
  log "building $LAB_IMAGE (inputs $hash, was ${current:-absent})"
  mkdir -p "$LAB_BUILD_DIR"
  local t0=$SECONDS tarball root=$LAB_BUILD_DIR/rootfs-$engine
  tarball=$(base_tarball "$LAB_SUITE" "${LAB_PACKAGES[@]}")
  safe_rmtree "$root"
  mkdir -p "$root"
  tar -C "$root" --numeric-owner -xf "$tarball"
  customize_tree "$root"
  customize_engine "$engine" "$root"
  local t1=$SECONDS
  tar -C "$root" --numeric-owner -c . | docker import \
    --change 'CMD ["/lib/systemd/systemd"]' \
    --change 'ENV container=docker' \
    --change "LABEL $LAB_HASH_LABEL=$hash" \
    - "$LAB_IMAGE" >/dev/null
  log "$LAB_IMAGE: docker import took $((SECONDS - t1)) s; image built in $((SECONDS - t0)) s"
  safe_rmtree "$root"
  # Drop the untagged leftovers of earlier builds.
  docker image prune -f --filter "label=$LAB_HASH_LABEL" >/dev/null || true
}
