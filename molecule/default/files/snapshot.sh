#!/bin/sh
# What a host looks like, for the reset proof (tests/test_z_reset.py): links, addresses, routes,
# rules, permanent neighbours and FDB entries, iptables, sysctls, unit files and the files the
# collection may touch. Taken in prepare.yml before the first site.yml and again after reset.yml.
# Containers' veth devices are left out: their names change whenever Docker restarts a container.
echo "## links"; ip -br link show | grep -v '^veth' | sed -E 's/@[^ ]+//' | sort
echo "## addresses"; ip -br -4 addr show | grep -v '^veth' | sed -E 's/@[^ ]+//' | sort
echo "## routes"; ip -4 route show table all | sort
echo "## rules"; ip -4 rule show
echo "## neighbours"; ip -4 neigh show nud permanent | sort
echo "## fdb"; bridge fdb show | grep -v ' dev veth' | grep -v 'master docker0' | sort
# An empty table (built-in chains with ACCEPT policies, no rule) is left out: iptables-nft creates
# one when it is merely listed, which the fabric's rule reader does (raw, for Docker >= 28).
echo "## iptables"; iptables-save | sed -e '/^#/d' -e 's/\[[0-9]*:[0-9]*\]/[]/' | awk '
  /^\*/ { buf = $0; keep = 0; next }
  /^COMMIT/ { if (keep) print buf "\nCOMMIT"; next }
  { buf = buf "\n" $0; if ($0 !~ /^:[A-Z]+ ACCEPT \[\]$/) keep = 1 }'
echo "## sysctl"; sysctl net.ipv4.ip_forward
# Names and states only (the columns' width depends on the longest name); transient units (the
# test's own sampler) are left out.
echo "## unit files"; systemctl list-unit-files --no-legend --no-pager | awk '$2 != "transient" {print $1, $2}' | sort
echo "## files"
for d in /etc/crosshost-fabric /etc/systemd/system /etc/tmpfiles.d /etc/sysctl.d /etc/docker /run/flannel \
         /usr/local/sbin /usr/local/bin /etc/bird; do
  [ -e "$d" ] || { echo "$d absent"; continue; }
  find "$d" \( -type f -o -type l \) -print | sort | while read -r f; do
    echo "$(stat -c '%n %a %U:%G' "$f") $(sha256sum < "$f" | cut -c1-16)"
  done
done
