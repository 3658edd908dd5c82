#!/usr/bin/env bash
# Start the demo lab: node containers lab-node1..N (default 3) on the internal Docker network
# crosshost-lab, booted (systemd running, Docker answering, busybox workload image loaded).
# Idempotent: running nodes are kept. Needs `bash lab/setup.sh` first.
#
#   bash lab/up.sh [N]
#   ansible-playbook -i inventories/lab site.yml      # then converge the fabric on them
#   bash lab/down.sh                                  # and remove them
#
# The inventory inventories/lab/hosts.yml lists lab-node1..3; with another N, adjust it.
set -euo pipefail

# shellcheck source=lab/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

LAB_NETWORK=${LAB_NETWORK:-crosshost-lab}
count=${1:-3}
[[ $count =~ ^[1-9][0-9]*$ ]] || die "usage: $0 [number of nodes]"

need_root
need_docker
need_image
lab_network_create "$LAB_NETWORK"
# host-gw and BGP put container addresses on the lab wire; let them pass within this bridge only.
lab_bridge_accept "$LAB_NETWORK" add

for i in $(seq "$count"); do
  name=lab-node$i
  state=$(docker inspect -f '{{.State.Status}}' "$name" 2>/dev/null || true)
  case $state in
    running) log "$name is running" ;;
    "")
      docker run -d --name "$name" --hostname "$name" --network "$LAB_NETWORK" \
        --label "$LAB_LABEL=1" --stop-signal SIGRTMIN+3 "${LAB_NODE_FLAGS[@]}" "$LAB_IMAGE" >/dev/null
      log "started $name"
      ;;
    *)
      docker start "$name" >/dev/null
      log "restarted $name (was $state)"
      ;;
  esac
done

for i in $(seq "$count"); do
  lab_wait_node "lab-node$i" 180
done
for i in $(seq "$count"); do
  printf '%s\t%s\n' "lab-node$i" "$(docker inspect -f "{{(index .NetworkSettings.Networks \"$LAB_NETWORK\").IPAddress}}" "lab-node$i")"
done
log "lab is up ($count nodes on $LAB_NETWORK)"
