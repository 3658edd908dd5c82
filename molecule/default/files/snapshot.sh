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
echo "## iptables"; iptables-save | sed -e '/^#/d' -e 's/\[[0-9]*:[0-9]*\]/[]/'
echo "## sysctl"; sysctl net.ipv4.ip_forward
echo "## unit files"; systemctl list-unit-files --no-legend --no-pager | sort
echo "## files"
for d in /etc/crosshost-fabric /etc/systemd/system /etc/tmpfiles.d /etc/sysctl.d /etc/docker /run/flannel \
         /usr/local/sbin /usr/local/bin /etc/bird; do
  [ -e "$d" ] || { echo "$d absent"; continue; }
  find "$d" \( -type f -o -type l \) -print | sort | while read -r f; do
    echo "$(stat -c '%n %a %U:%G' "$f") $(sha256sum < "$f" | cut -c1-16)"
  done
done
