#!/usr/bin/env bash
# Remove the demo lab: every container and network that lab/up.sh created (they carry the label
# org.crosshost.lab), the bridge ACCEPT rule up.sh added, and the demo's lease file and plan beside
# inventories/lab (they describe hosts that no longer exist; --keep-leases keeps them).
# The node image is kept.
set -euo pipefail

# shellcheck source=lab/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

LAB_NETWORK=${LAB_NETWORK:-crosshost-lab}
keep_leases=false
for arg in "$@"; do
  case $arg in
    --keep-leases) keep_leases=true ;;
    *) die "unknown option: $arg" ;;
  esac
done

need_root
need_docker
mapfile -t containers < <(docker ps -aq --filter "label=$LAB_LABEL" --filter "name=^lab-node[0-9]+$")
if [ ${#containers[@]} -gt 0 ]; then
  docker rm -f "${containers[@]}" >/dev/null
  log "removed ${#containers[@]} node container(s)"
fi
if docker network inspect "$LAB_NETWORK" >/dev/null 2>&1; then
  if [ "$(docker network inspect -f "{{ index .Labels \"$LAB_LABEL\" }}" "$LAB_NETWORK")" = 1 ]; then
    lab_bridge_accept "$LAB_NETWORK" delete
    docker network rm "$LAB_NETWORK" >/dev/null
    log "removed network $LAB_NETWORK"
  else
    log "network $LAB_NETWORK was not created by the lab scripts; left alone"
  fi
fi
if ! $keep_leases; then
  inv=$LAB_DIR/../inventories/lab
  if [ -e "$inv/.fabric" ] || [ -e "$inv/fabric-leases.yml" ] || [ -e "$inv/fabric-plan" ]; then
    rm -rf "$inv/.fabric" "$inv/fabric-leases.yml" "$inv/fabric-leases.yml.lock" "$inv/fabric-plan"
    log "removed the demo's lease file and plan (inventories/lab)"
  fi
fi
log "lab is down"
