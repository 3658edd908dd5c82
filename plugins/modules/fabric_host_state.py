#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: crosshost.fabric contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: fabric_host_state
short_description: Read in one round trip what the fabric's roles would otherwise check one task at a time
version_added: "0.3.0"
description:
  - Reads, and changes nothing, the Docker engine (C(docker info)), files (existence, type, mode, owner,
    group, SHA-1), the text of a few files, systemd units (enabled and active state, one C(systemctl show)),
    which packages are missing (one C(dpkg-query) or C(rpm -q)) and sysctl values.
  - C(site.yml) runs it once per host before any role changes the host (the forward role's engine step);
    the roles then skip every task whose result the read shows already in place (filters
    C(crosshost.fabric.file_in_place), C(crosshost.fabric.units_enabled),
    C(crosshost.fabric.packages_present)). A path, unit or package that was not read is never taken as in
    place; its task runs as it would without the read.
  - A failed read of one item (a command that is missing, a file that cannot be read) leaves that item
    unknown; the module fails only on bad arguments.
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - crosshost.fabric.attributes
attributes:
  check_mode:
    details: It only reads.
  diff_mode:
    support: none
    details: It changes nothing.
options:
  files:
    description: Paths to describe (a directory's entry has no SHA-1). Symbolic links are followed.
    type: list
    elements: path
    default: []
  read:
    description: Paths whose content is returned (base64, as M(ansible.builtin.slurp) does); a missing one is left out.
    type: list
    elements: path
    default: []
  globs:
    description:
      - Shell patterns (C(*), C(?), C([...]), as Python's C(glob) reads them) whose matching paths are returned,
        sorted; a pattern nothing matches gives an empty list. C(site.yml) lists the collection's VTEP boot scripts
        (C(/etc/crosshost-fabric/flannel.*.sh)) this way, so that a VTEP of an older VNI is found and removed.
    type: list
    elements: str
    default: []
    version_added: "0.4.0"
  units:
    description: systemd units whose enabled and active state are returned (C(docker) means C(docker.service)).
    type: list
    elements: str
    default: []
  packages:
    description: Package names to look up in the package database (dpkg or rpm).
    type: list
    elements: str
    default: []
  sysctls:
    description: Kernel parameters to read from C(/proc/sys) (C(net.ipv4.ip_forward)).
    type: list
    elements: str
    default: []
  docker:
    description:
      - Read the running Docker engine (C(docker info)) and, when none answers, the installed one
        (C(dockerd --version)).
    type: bool
    default: false
  network:
    description:
      - Also return, as facts, the network facts C(crosshost.fabric.fabric_plan) reads (the part of
        M(ansible.builtin.setup)'s network facts it needs, in the same shape), the kernel release and, on a
        host run by systemd, C(service_mgr). From C(ip -j addr show) and C(ip -j -4 route get 8.8.8.8), a
        lookup in the routing table that sends no packet; one round trip instead of a C(setup) run.
    type: bool
    default: false
seealso:
  - module: ansible.builtin.stat
  - module: ansible.builtin.slurp
  - module: ansible.builtin.package_facts
author:
  - crosshost.fabric developers (!UNKNOWN)
"""

EXAMPLES = r"""
- name: Read the host's state once (what site.yml's engine step does)
  crosshost.fabric.fabric_host_state:
    docker: true
    files: [/etc/tmpfiles.d/crosshost-fabric.conf, /etc/systemd/system/crosshost-fabric-vxlan.service]
    read: [/etc/docker/daemon.json]
    globs: [/etc/crosshost-fabric/flannel.*.sh]
    units: [crosshost-fabric-vxlan.service, docker]
    packages: [iptables, iproute2]
    sysctls: [net.ipv4.ip_forward]
  register: fabric_host_state_read

- name: Read each host's network facts and flannel's subnet.env before planning (what the plan role does)
  crosshost.fabric.fabric_host_state:
    network: true
    read: [/run/flannel/subnet.env]
  register: plan_running

- name: Write the tmpfiles entry unless the read shows it in place
  ansible.builtin.copy:
    src: tmpfiles.conf
    dest: /etc/tmpfiles.d/crosshost-fabric.conf
    owner: root
    group: root
    mode: "0644"
  when: >-
    not (fabric_host_state_read | crosshost.fabric.file_in_place('/etc/tmpfiles.d/crosshost-fabric.conf',
         lookup('ansible.builtin.file', 'tmpfiles.conf', rstrip=false), mode='0644', owner='root', group='root'))
"""

RETURN = r"""
files:
  description: For every path of O(files), what is there.
  returned: always
  type: dict
  sample:
    /etc/tmpfiles.d/crosshost-fabric.conf:
      exists: true
      isdir: false
      mode: "0644"
      uid: 0
      gid: 0
      owner: root
      group: root
      sha1: 9b8a6f3c0e1d2a7b5c4d3e2f1a0b9c8d7e6f5a4b
    /etc/systemd/system/crosshost-fabric-vxlan.service:
      exists: false
contents:
  description: The base64 content of every existing, readable path of O(read).
  returned: always
  type: dict
  sample: {/etc/docker/daemon.json: eyJsaXZlLXJlc3RvcmUiOiB0cnVlfQ==}
globs:
  description: For every pattern of O(globs), the sorted paths that match it.
  returned: always
  type: dict
  sample: {/etc/crosshost-fabric/flannel.*.sh: [/etc/crosshost-fabric/flannel.1.sh]}
service_mgr:
  description: C(systemd) when systemd runs the host (C(/run/systemd/system) exists), else C(other).
  returned: always
  type: str
  sample: systemd
units:
  description: For every unit of O(units), C(systemctl show)'s C(LoadState), C(UnitFileState) and C(ActiveState).
  returned: always
  type: dict
  sample:
    docker: {load: loaded, enabled: enabled, active: active}
    crosshost-fabric-vxlan.service: {load: not-found, enabled: "", active: inactive}
packages_known:
  description: Whether a package database was read (false without dpkg-query and rpm, or when it failed).
  returned: always
  type: bool
packages_asked:
  description: The packages of O(packages), as asked.
  returned: always
  type: list
  elements: str
  sample: [iptables, iproute2, ethtool]
packages_missing:
  description: The packages of O(packages) that are not installed.
  returned: always
  type: list
  elements: str
  sample: [ethtool]
sysctls:
  description: The value of every O(sysctls) parameter that exists.
  returned: always
  type: dict
  sample: {net.ipv4.ip_forward: "1"}
ansible_facts:
  description:
    - With O(network), the network facts (C(interfaces), one entry per interface named as M(ansible.builtin.setup)
      names it, C(default_ipv4), C(all_ipv4_addresses)), C(kernel), and C(service_mgr) when systemd runs the host.
  returned: when O(network) is true
  type: dict
  sample:
    interfaces: [lo, eth0]
    eth0:
      device: eth0
      mtu: 1500
      active: true
      macaddress: "02:42:ac:13:00:02"
      ipv4: {address: 172.19.0.2, netmask: 255.255.0.0, network: 172.19.0.0, prefix: "16", broadcast: 172.19.255.255}
    default_ipv4: {address: 172.19.0.2, interface: eth0, gateway: 172.19.0.1, mtu: 1500, prefix: "16"}
    all_ipv4_addresses: [172.19.0.2]
    kernel: 6.1.0-18-amd64
    service_mgr: systemd
docker:
  description:
    - The running engine's C(docker info) (C(rc), C(info)) and, when it does not answer, C(dockerd --version)'s
      output (C(dockerd)). Empty without O(docker).
  returned: always
  type: dict
  sample: {rc: 0, info: {ServerVersion: 20.10.24, FirewallBackend: {Driver: iptables}}, dockerd: ""}
"""

import base64  # noqa: E402
import glob  # noqa: E402
import grp  # noqa: E402
import hashlib  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import pwd  # noqa: E402
import stat  # noqa: E402

from ansible.module_utils.basic import AnsibleModule  # noqa: E402
from ansible_collections.crosshost.fabric.plugins.module_utils import host_facts  # noqa: E402

C_ENV = {"LANG": "C", "LC_ALL": "C", "LC_MESSAGES": "C"}


def describe(path):
    """What is at path (following links): existence, type, mode, owner, group and a file's SHA-1."""
    try:
        st = os.stat(path)
    except OSError:
        return {"exists": False}
    found = {
        "exists": True,
        "isdir": stat.S_ISDIR(st.st_mode),
        "mode": "%04o" % stat.S_IMODE(st.st_mode),
        "uid": st.st_uid,
        "gid": st.st_gid,
    }
    try:
        found["owner"] = pwd.getpwuid(st.st_uid).pw_name
    except KeyError:
        found["owner"] = str(st.st_uid)
    try:
        found["group"] = grp.getgrgid(st.st_gid).gr_name
    except KeyError:
        found["group"] = str(st.st_gid)
    if stat.S_ISREG(st.st_mode):
        digest = hashlib.sha1()
        try:
            with open(path, "rb") as f:
                for block in iter(lambda: f.read(65536), b""):
                    digest.update(block)
            found["sha1"] = digest.hexdigest()
        except (IOError, OSError):
            pass
    return found


def unit_name(name):
    return name if "." in name else name + ".service"


def parse_show(text):
    """systemctl show's blocks (one per unit, in the order asked, separated by an empty line)."""
    blocks, current = [], {}
    for line in text.splitlines():
        if not line.strip():
            if current:
                blocks.append(current)
                current = {}
            continue
        key, _sep, value = line.partition("=")
        current[key] = value
    if current:
        blocks.append(current)
    return blocks


def read_units(module, names):
    if not names:
        return {}
    systemctl = module.get_bin_path("systemctl")
    unknown = dict((n, {"load": "", "enabled": "", "active": ""}) for n in names)
    if not systemctl:
        return unknown
    argv = [systemctl, "show", "--property=Id,LoadState,UnitFileState,ActiveState", "--"]
    argv += [unit_name(n) for n in names]
    rc, out, _err = module.run_command(argv, environ_update=C_ENV)
    blocks = parse_show(out) if rc == 0 else []
    if len(blocks) != len(names):
        return unknown
    found = {}
    for i, name in enumerate(names):
        b = blocks[i]
        found[name] = {
            "load": b.get("LoadState", ""),
            "enabled": b.get("UnitFileState", ""),
            "active": b.get("ActiveState", ""),
        }
    return found


def read_packages(module, names):
    """(known, missing): whether a package database answered, and the names not installed."""
    if not names:
        return True, []
    dpkg = module.get_bin_path("dpkg-query")
    if dpkg:
        rc, out, _err = module.run_command(
            [dpkg, "-W", "-f", "${Package}\t${db:Status-Abbrev}\n", "--"] + list(names), environ_update=C_ENV
        )
        # rc 1: some names are unknown to dpkg (not installed); their lines are missing.
        if rc not in (0, 1):
            return False, list(names)
        installed = set()
        for line in out.splitlines():
            pkg, _sep, status = line.partition("\t")
            if status.startswith("ii"):
                installed.add(pkg.split(":")[0])
        return True, [n for n in names if n not in installed]
    rpm = module.get_bin_path("rpm")
    if rpm:
        missing = []
        for name in names:
            rc, _out, _err = module.run_command([rpm, "-q", "--", name], environ_update=C_ENV)
            if rc != 0:
                missing.append(name)
        return True, missing
    return False, list(names)


def read_docker(module):
    found = {"rc": None, "info": {}, "dockerd": ""}
    docker = module.get_bin_path("docker")
    if docker:
        rc, out, _err = module.run_command([docker, "info", "--format", "{{json .}}"], environ_update=C_ENV)
        found["rc"] = rc
        if rc == 0 and out.strip().startswith("{"):
            try:
                found["info"] = json.loads(out)
            except ValueError:
                found["info"] = {}
    if not found["info"].get("ServerVersion"):
        dockerd = module.get_bin_path("dockerd")
        if dockerd:
            rc, out, _err = module.run_command([dockerd, "--version"], environ_update=C_ENV)
            found["dockerd"] = out.strip() if rc == 0 else ""
    return found


def read_network(module):
    """The facts host_facts.network_facts builds from ``ip -j``; the kernel; service_mgr under systemd."""
    ip = module.get_bin_path("ip", required=True)
    rc, out, err = module.run_command([ip, "-j", "addr", "show"], environ_update=C_ENV)
    if rc != 0:
        module.fail_json(msg="ip -j addr show failed: %s" % err.strip())
    links = json.loads(out or "[]")
    # A lookup in the routing table (as setup does it): no packet leaves the host.
    rc, out, _err = module.run_command([ip, "-j", "-4", "route", "get", "8.8.8.8"], environ_update=C_ENV)
    route = json.loads(out) if rc == 0 and out.strip().startswith("[") else []
    facts = host_facts.network_facts(links, route)
    facts["kernel"] = os.uname()[2]
    if os.path.isdir("/run/systemd/system"):
        facts["service_mgr"] = "systemd"
    return facts


def main():
    module = AnsibleModule(
        argument_spec=dict(
            files=dict(type="list", elements="path", default=[]),
            read=dict(type="list", elements="path", default=[]),
            globs=dict(type="list", elements="str", default=[]),
            units=dict(type="list", elements="str", default=[]),
            packages=dict(type="list", elements="str", default=[]),
            sysctls=dict(type="list", elements="str", default=[]),
            docker=dict(type="bool", default=False),
            network=dict(type="bool", default=False),
        ),
        supports_check_mode=True,
    )
    p = module.params
    contents = {}
    for path in p["read"]:
        try:
            with open(path, "rb") as f:
                contents[path] = base64.b64encode(f.read()).decode("ascii")
        except (IOError, OSError):
            pass
    sysctls = {}
    for name in p["sysctls"]:
        if "/" in name or ".." in name:
            module.fail_json(msg="not a sysctl name: %s" % name)
        try:
            with open("/proc/sys/" + name.replace(".", "/")) as f:
                sysctls[name] = f.read().strip()
        except (IOError, OSError):
            pass
    known, missing = read_packages(module, p["packages"])
    extra = {"ansible_facts": read_network(module)} if p["network"] else {}
    module.exit_json(
        changed=False,
        files=dict((path, describe(path)) for path in p["files"]),
        contents=contents,
        globs=dict((pattern, sorted(glob.glob(pattern))) for pattern in p["globs"]),
        service_mgr="systemd" if os.path.isdir("/run/systemd/system") else "other",
        units=read_units(module, p["units"]),
        packages_known=known,
        packages_asked=p["packages"],
        packages_missing=missing,
        sysctls=sysctls,
        docker=read_docker(module) if p["docker"] else {},
        **extra
    )


if __name__ == "__main__":
    main()
