# shellcheck shell=bash
# shellcheck disable=SC2034  # the settings below are used by the scripts that source this file
# Shared settings and helpers for the lab scripts (sourced, not run).
#
# The lab is a set of Debian containers that boot systemd and run their own Docker engine (20.10, 26.1
# or 28.5: FABRIC_ENGINE), so that the collection meets them as it would meet real hosts. All of them sit on `internal: true` Docker
# networks: nothing a lab node sends can leave this machine.

LAB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
LAB_BUILD_DIR="${LAB_BUILD_DIR:-$LAB_DIR/build}"

LAB_MIRROR="${LAB_MIRROR:-http://deb.debian.org/debian}"
LAB_LABEL=org.crosshost.lab            # put on every container and network the lab scripts create
LAB_HASH_LABEL=org.crosshost.lab.inputs # on the node image: hash of its build inputs

# The Docker engines the lab offers, one node image each (crosshost/fabric-node:<engine>):
#   bookworm  Debian 12, its docker.io 20.10
#   trixie    Debian 13, its docker.io 26.1 (+ docker-cli)
#   sid       Debian 12 node whose dockerd is Debian unstable's docker.io 28.5, run from a sid root
#             at /opt/sid (sid's systemd does not boot on this machine's cgroup v1)
# FABRIC_ENGINE picks the engine of the lab scripts and of the molecule scenarios (default bookworm).
LAB_ENGINES=(bookworm trixie sid)
FABRIC_ENGINE="${FABRIC_ENGINE:-bookworm}"

# Packages of every node image (debootstrap --variant=minbase --include=...).
LAB_PACKAGES_COMMON=(
  systemd systemd-sysv dbus
  python3 python3-apt
  iproute2 iptables kmod procps ethtool iputils-ping tcpdump
  docker.io
  bird2 iperf3
  busybox-static ca-certificates
)

# Set the build settings of one engine:
#   LAB_IMAGE             the node image
#   LAB_SUITE, LAB_PACKAGES          the node's root (debootstrap)
#   LAB_ENGINE_SUITE, LAB_ENGINE_PACKAGES  a second root put at /opt/<suite> (empty: none)
lab_engine() {
  local engine=$1
  LAB_IMAGE=crosshost/fabric-node:$engine
  LAB_PACKAGES=("${LAB_PACKAGES_COMMON[@]}")
  LAB_ENGINE_SUITE=
  LAB_ENGINE_PACKAGES=()
  case $engine in
    bookworm) LAB_SUITE=bookworm ;;
    trixie)
      LAB_SUITE=trixie
      LAB_PACKAGES+=(docker-cli) # a package of its own since Docker 26 in Debian
      ;;
    sid)
      LAB_SUITE=bookworm
      LAB_ENGINE_SUITE=sid
      LAB_ENGINE_PACKAGES=(docker.io docker-cli)
      ;;
    *) die "unknown engine '$engine' (FABRIC_ENGINE): one of ${LAB_ENGINES[*]}" ;;
  esac
}

# `docker run` flags that let systemd, Docker, BIRD and the kernel network stack work in a container
# here (lab/README.md, "What the lab relies on": --privileged is refused, CAP_SYS_RESOURCE is missing).
LAB_NODE_FLAGS=(
  --cap-add NET_ADMIN --cap-add NET_RAW --cap-add NET_BROADCAST
  --cap-add SYS_ADMIN --cap-add SYS_PTRACE --cap-add MKNOD
  --security-opt apparmor=unconfined --security-opt seccomp=unconfined
  --tmpfs /run --tmpfs /run/lock
  -v /sys/fs/cgroup:/sys/fs/cgroup:rw --cgroupns=host
)

log() { printf '[lab] %s\n' "$*" >&2; }
die() { printf '[lab] ERROR: %s\n' "$*" >&2; exit 1; }

need_root() {
  [ "$(id -u)" -eq 0 ] || die "run as root"
}

need_docker() {
  docker info >/dev/null 2>&1 || die "Docker does not answer: run 'bash lab/setup.sh' first"
}

need_image() {
  docker image inspect "$LAB_IMAGE" >/dev/null 2>&1 || die "image $LAB_IMAGE is missing: run 'bash lab/setup.sh' first"
}

# Create an internal Docker network unless it exists. Refuses to reuse a network that is not internal.
lab_network_create() {
  local name=$1 internal
  if internal=$(docker network inspect -f '{{.Internal}}' "$name" 2>/dev/null); then
    [ "$internal" = true ] || die "network $name exists and is not internal; remove it first"
    return 0
  fi
  docker network create --internal --label "$LAB_LABEL=1" "$name" >/dev/null
  log "created internal network $name"
}

# Bridge device of a Docker network (br-<first 12 characters of its id>).
lab_network_bridge() {
  local id
  id=$(docker network inspect -f '{{.Id}}' "$1") || return 1
  printf 'br-%s\n' "${id:0:12}"
}

# Let routed (not encapsulated) traffic pass between containers of one internal lab network: the
# machine's Docker isolation rules otherwise drop bridged packets whose addresses are outside the
# network's subnet (host-gw and BGP backends put container addresses on the wire). Same bridge in and
# out, so nothing can leave the lab. `lab_bridge_accept NET delete` removes the rule.
lab_bridge_accept() {
  local br action=${2:-add}
  br=$(lab_network_bridge "$1") || return 0
  if iptables -C DOCKER-USER -i "$br" -o "$br" -j ACCEPT 2>/dev/null; then
    [ "$action" = delete ] && iptables -D DOCKER-USER -i "$br" -o "$br" -j ACCEPT
  else
    [ "$action" = add ] && iptables -I DOCKER-USER -i "$br" -o "$br" -j ACCEPT
  fi
  return 0
}

# Wait until a node container has booted: systemd done starting, Docker answering, workload image in.
lab_wait_node() {
  local name=$1 timeout=${2:-180} start state
  start=$(date +%s)
  while :; do
    state=$(docker exec "$name" systemctl is-system-running 2>/dev/null || true)
    if [ "$state" = running ] || [ "$state" = degraded ]; then
      if docker exec "$name" docker image inspect busybox:latest >/dev/null 2>&1; then
        [ "$state" = degraded ] && log "$name: systemd is degraded: $(docker exec "$name" systemctl --failed --no-legend --plain | awk '{print $1}' | xargs)"
        return 0
      fi
    fi
    if [ $(($(date +%s) - start)) -ge "$timeout" ]; then
      log "$name not ready after ${timeout}s (systemd: ${state:-?})"
      docker exec "$name" systemctl --failed --no-pager >&2 2>/dev/null || true
      return 1
    fi
    sleep 1
  done
}

# The selected engine's settings; LAB_IMAGE set by the caller still wins (a node image of one's own).
lab_image_override=${LAB_IMAGE:-}
lab_engine "$FABRIC_ENGINE"
[ -z "$lab_image_override" ] || LAB_IMAGE=$lab_image_override
