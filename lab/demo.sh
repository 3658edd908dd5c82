#!/usr/bin/env bash
# The demo: 3 lab nodes, the fabric converged on them with site.yml, then a busybox container on
# every node pings a busybox container on every other node by its fabric address.
# Run from the repository root after `make setup` (as `make demo`).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

bash lab/up.sh 3
.venv/bin/ansible-playbook -i inventories/lab site.yml
echo
cat inventories/lab/.fabric/plan.txt
echo
nodes=(lab-node1 lab-node2 lab-node3)
declare -A addr
for n in "${nodes[@]}"; do
  docker exec "$n" docker rm -f demo >/dev/null 2>&1 || true
  docker exec "$n" docker run -d --name demo busybox sleep 3600 >/dev/null
  addr[$n]=$(docker exec "$n" docker inspect -f '{{.NetworkSettings.IPAddress}}' demo)
  echo "$n: container demo has ${addr[$n]}"
done
fail=0
for a in "${nodes[@]}"; do
  for b in "${nodes[@]}"; do
    [ "$a" = "$b" ] && continue
    if docker exec "$a" docker exec demo ping -c 1 -W 2 "${addr[$b]}" >/dev/null; then
      echo "ping $a/demo -> $b/demo (${addr[$b]}): ok"
    else
      echo "ping $a/demo -> $b/demo (${addr[$b]}): FAILED"; fail=1
    fi
  done
done
echo
echo "The lab keeps running: ansible-playbook -i inventories/lab site.yml again, or 'make lab-down'."
exit $fail
