#!/usr/bin/env bash
# Prepare this machine (Debian 12, root) for the crosshost.fabric lab. Idempotent; CI runs it on a
# fresh machine through `make setup`.
#
#   1. installs the Debian packages the lab and the test suite need (only when some are missing);
#   2. starts dockerd in the background unless `docker info` answers (log: /var/log/dockerd.log);
#   3. builds the node images crosshost/fabric-node:<engine>, one per Docker engine of the lab
#      (bookworm: 20.10, trixie: 26.1, sid: 28.5; see lab/lib.sh), each unless it exists with the
#      same build inputs: lab/image/ and the package lists in lab/lib.sh (hash kept in the image
#      label org.crosshost.lab.inputs). The debootstrap trees are cached as tarballs under
#      lab/build/, so a rebuild after a change of lab/image/ takes seconds.
#
# Options: --force-image (rebuild the images), --no-image (packages and dockerd only),
#          --engine NAME (build only this engine's image; may be repeated).
set -euo pipefail

# shellcheck source=lab/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

HOST_PACKAGES=(docker.io debootstrap iptables iproute2 ethtool procps make python3 python3-venv python3-pip git ca-certificates tar shellcheck bird2)
DOCKERD_LOG=${DOCKERD_LOG:-/var/log/dockerd.log}

force_image=false
build_image=true
engines=()
while [ $# -gt 0 ]; do
  case $1 in
    --force-image) force_image=true ;;
    --no-image) build_image=false ;;
    --engine)
      [ $# -ge 2 ] || die "--engine needs a name: ${LAB_ENGINES[*]}"
      engines+=("$2")
      shift
      ;;
    *) die "unknown option: $1" ;;
  esac
  shift
done
[ ${#engines[@]} -gt 0 ] || engines=("${LAB_ENGINES[@]}")

install_host_packages() {
  local missing=() p
  for p in "${HOST_PACKAGES[@]}"; do
    dpkg-query -W -f '${db:Status-Status}\n' "$p" 2>/dev/null | grep -qx installed || missing+=("$p")
  done
  if [ ${#missing[@]} -eq 0 ]; then
    log "host packages present"
    return 0
  fi
  log "installing: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  # Keep package scripts from starting dockerd themselves: we start it below with a known log file.
  local policy=/usr/sbin/policy-rc.d own_policy=false
  if [ ! -e $policy ]; then
    printf '#!/bin/sh\nexit 101\n' >$policy
    chmod 755 $policy
    own_policy=true
  fi
  local rc=0
  { apt-get update -q && apt-get install -y -q --no-install-recommends "${missing[@]}"; } || rc=$?
  if $own_policy; then rm -f $policy; fi
  [ $rc -eq 0 ] || die "apt-get failed ($rc)"
}

start_dockerd() {
  if docker info >/dev/null 2>&1; then
    log "dockerd answers"
    return 0
  fi
  if pgrep -x dockerd >/dev/null; then
    log "dockerd is running but does not answer yet; waiting"
  else
    log "starting dockerd (log: $DOCKERD_LOG)"
    # A new session, stdin closed: dockerd outlives this script.
    setsid dockerd >>"$DOCKERD_LOG" 2>&1 </dev/null &
  fi
  local i
  for i in $(seq 60); do
    if docker info >/dev/null 2>&1; then
      log "dockerd answers after ${i}s"
      return 0
    fi
    sleep 1
  done
  tail -n 30 "$DOCKERD_LOG" >&2 || true
  die "dockerd did not answer within 60 s"
}

# shellcheck source=lab/image/build.sh
. "$LAB_DIR/image/build.sh"

need_root
install_host_packages
start_dockerd
if $build_image; then
  for engine in "${engines[@]}"; do
    lab_engine "$engine" # an unknown name stops here, before anything is built
  done
  for engine in "${engines[@]}"; do
    build_node_image "$engine"
  done
fi
log "setup done"
