#!/bin/bash
# Records the kernel outputs that tests/unit/test_iproute_utils.py and test_iptables_utils.py parse.
# Run as root (network namespace; through /work/helpers/labrun integration on the shared lab machine):
#   bash tests/unit/data/record.sh
# Everything is made in a throw-away namespace "mutrec" and removed at the end.
set -euo pipefail
cd "$(dirname "$0")"
NS=mutrec
ip netns del "$NS" 2>/dev/null || true
trap 'ip netns del "$NS" 2>/dev/null || true' EXIT
ip netns add "$NS"
n() { ip netns exec "$NS" "$@"; }
n ip link set lo up
n ip link add eth0 type veth peer name eth0peer
n ip link set eth0peer up
n ip link set eth0 address 02:00:c0:00:02:01 mtu 1500 up
n ip addr add 192.0.2.1/24 dev eth0
n ip link add flannel.1 type vxlan id 1 local 192.0.2.1 dev eth0 dstport 8472 nolearning
n ip link set flannel.1 address 02:AA:BB:CC:DD:01 mtu 1450 up
n ip addr add 10.244.1.0/32 dev flannel.1
n ip addr add 10.244.1.1/24 dev flannel.1
n ip -6 addr add fd00::1/64 dev flannel.1 nodad
# neighbours: two permanent, one reachable, one stale (the kernel's own are not the module's)
n ip neigh replace 10.244.2.0 lladdr 02:AA:BB:CC:DD:02 dev flannel.1 nud permanent
n ip neigh replace 10.244.3.0 lladdr 02:aa:bb:cc:dd:03 dev flannel.1 nud permanent
n ip neigh replace 10.244.4.0 lladdr 02:aa:bb:cc:dd:04 dev flannel.1 nud reachable
n ip neigh replace 10.244.5.0 lladdr 02:aa:bb:cc:dd:05 dev flannel.1 nud stale
n ip -6 neigh replace fd00::2 lladdr 02:aa:bb:cc:dd:06 dev flannel.1 nud permanent
# fdb: the desired form, one with extra attributes, the all-zero flood entry, a dynamic one
n bridge fdb append 02:AA:BB:CC:DD:02 dev flannel.1 dst 192.0.2.2 self permanent
n bridge fdb append 02:aa:bb:cc:dd:03 dev flannel.1 dst 192.0.2.3 port 4789 vni 7 self permanent
n bridge fdb append 00:00:00:00:00:00 dev flannel.1 dst 192.0.2.2 self permanent
n bridge fdb append 00:00:00:00:00:00 dev flannel.1 dst 192.0.2.3 self permanent
n bridge fdb add 02:aa:bb:cc:dd:07 dev flannel.1 dst 192.0.2.7 self dynamic
n ip route add 10.244.2.0/24 via 10.244.2.0 dev flannel.1 onlink proto 244
n ip route add 198.51.100.0/24 via 192.0.2.254 dev eth0

n ip -j -d addr show dev flannel.1 > ip-addr-flannel.json
n ip -j -d addr show dev eth0 > ip-addr-eth0.json
n ip -j -d addr show dev nosuch 2> ip-addr-nosuch.err > /dev/null || true
n ip -j neigh show dev flannel.1 > ip-neigh-flannel.json
n bridge -j fdb show dev flannel.1 > bridge-fdb-flannel.json
# route get for a direct, a routed, a via-vxlan and an unreachable address, one -force batch
printf 'route get 192.0.2.2\nroute get 203.0.113.9\nroute get 198.51.100.7\nroute get 10.244.2.5\n' \
  | n ip -j -force -batch - > ip-route-get-mixed.json 2> ip-route-get-mixed.err || true
# a batch that fails on its second line (without -force it stops there)
printf 'link set dev eth0 up\nlink set dev nosuch up\nlink set dev lo up\n' \
  | n ip -batch - > /dev/null 2> ip-batch-fail.err || true

# iptables: what Docker and the fabric leave in filter and nat
n iptables -N DOCKER-USER
n iptables -A DOCKER-USER -j RETURN
n iptables -I FORWARD 1 -j DOCKER-USER
n iptables -P FORWARD DROP
n iptables -N FABRIC-FORWARD
n iptables -A FABRIC-FORWARD -s 10.244.0.0/16 -j ACCEPT
n iptables -A FABRIC-FORWARD -d 10.244.0.0/16 -j ACCEPT
n iptables -A FORWARD -m comment --comment crosshost.fabric -j FABRIC-FORWARD
n iptables -A FORWARD -s 10.244.1.5/32 -p tcp -m tcp --dport 80 -m comment --comment "web server" -j ACCEPT
n iptables -t nat -N FABRIC-POSTROUTING
n iptables -t nat -A FABRIC-POSTROUTING -s 10.244.0.0/16 -d 10.244.0.0/16 -j RETURN
n iptables -t nat -A FABRIC-POSTROUTING -s 10.244.0.0/16 ! -d 224.0.0.0/4 -j MASQUERADE --random-fully
n iptables -t nat -I POSTROUTING 1 -m comment --comment crosshost.fabric -j FABRIC-POSTROUTING
n iptables -t nat -A POSTROUTING -o eth0 -j MASQUERADE
n iptables-save > iptables-save-fabric.txt

# the scratch ruleset (iptables-scratch-in.txt: scratch_text() of test_iptables_utils.DESIRED over the
# ruleset above) loaded into an empty namespace, as fabric_firewall canonicalises desired rules
ip netns del mutrec2 2>/dev/null || true
trap 'ip netns del "$NS" 2>/dev/null || true; ip netns del mutrec2 2>/dev/null || true' EXIT
ip netns add mutrec2
ip netns exec mutrec2 iptables-restore --noflush iptables-scratch-in.txt
ip netns exec mutrec2 iptables-save > iptables-scratch-saved.txt
