"""The collection builds into a tarball that installs and is used by fully qualified names."""

import json
import os
import subprocess
import sys
import tarfile

import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN = os.path.dirname(sys.executable)


def sh(args, cwd, env=None):
    proc = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout


def test_build_install_and_use_by_fqcn(tmp_path):
    sh([os.path.join(BIN, "ansible-galaxy"), "collection", "build", "--output-path", str(tmp_path), ROOT], cwd=tmp_path)
    tarball = [f for f in os.listdir(tmp_path) if f.endswith(".tar.gz")]
    assert tarball == ["crosshost-fabric-0.1.0.tar.gz"]
    # Nothing from the working tree's tooling leaks into the artifact.
    listing = sh(["tar", "tzf", str(tmp_path / tarball[0])], cwd=tmp_path)
    for junk in (".venv/", ".build/", ".git/", "lab/build/", ".ansible/"):
        assert junk not in listing
    with tarfile.open(tmp_path / tarball[0]) as tar:
        names = tar.getnames()
        manifest = json.load(tar.extractfile("MANIFEST.json"))
        license_text = tar.extractfile("LICENSE").read().decode()
    # The developer's lab, tests and tooling stay in the checkout: a user gets the collection.
    tops = {name.split("/")[0] for name in names}
    for dev in ("lab", "molecule", "benchmarks", "tools", "tests", "inventories", ".ci", "Makefile", "ansible.cfg",
                "requirements.txt", "ruff.toml", ".yamllint", ".ansible-lint", ".gitignore"):
        assert dev not in tops, dev
    assert {"plugins", "roles", "playbooks", "meta", "README.md", "LICENSE"} <= tops
    # galaxy.yml says GPL-3.0-or-later: the full text ships, and no placeholder URL does.
    assert "GNU GENERAL PUBLIC LICENSE\n                       Version 3" in license_text
    assert "example.invalid" not in json.dumps(manifest)
    assert manifest["collection_info"]["license"] == ["GPL-3.0-or-later"]
    inst = tmp_path / "inst"
    # --no-deps: ansible.posix comes with the `ansible` package here (Galaxy is not reachable).
    sh([os.path.join(BIN, "ansible-galaxy"), "collection", "install", "--force", "--no-deps", "-p", str(inst),
        str(tmp_path / tarball[0])], cwd=tmp_path)
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=str(inst), ANSIBLE_NOCOLOR="1")
    env.pop("ANSIBLE_CONFIG", None)
    docs = sh([os.path.join(BIN, "ansible-doc"), "-l", "crosshost.fabric"], cwd=tmp_path, env=env)
    for name in ("fabric_plan", "fabric_vxlan", "fabric_firewall"):
        assert "crosshost.fabric." + name in docs
    inv = tmp_path / "hosts.yml"
    inv.write_text(yaml.safe_dump({"fabric": {"hosts": {"a1": {"ansible_host": "192.0.2.1"},
                                                        "a2": {"ansible_host": "192.0.2.2"}}}}))
    (tmp_path / "use.yml").write_text("- name: By FQCN\n  ansible.builtin.import_playbook: crosshost.fabric.plan\n")
    out = sh([os.path.join(BIN, "ansible-playbook"), "-i", str(inv), str(tmp_path / "use.yml")], cwd=tmp_path, env=env)
    assert "2 hosts planned" in out
    assert "a2:\n    subnet: 10.244.2.0/24" in (tmp_path / ".fabric" / "leases.yml").read_text()


def test_the_readme_commands_for_an_installed_collection_run(tmp_path):
    """The README's commands for Galaxy users (playbooks by FQCN) run against the installed tarball.

    The hosts are unreachable on this machine's loopback (SSH to 127.0.0.1 port 1): site.yml gets past
    its checks and the plan and stops at the first contact, so nothing changes anywhere."""
    readme = open(os.path.join(ROOT, "README.md"), encoding="utf-8").read()
    commands = [line.split("#")[0].split() for line in readme.splitlines()
                if line.startswith("ansible-playbook -i inventories/prod crosshost.fabric.")]
    assert sorted(c[3] for c in commands) == ["crosshost.fabric.plan", "crosshost.fabric.release",
                                             "crosshost.fabric.reset", "crosshost.fabric.site",
                                             "crosshost.fabric.verify"], commands
    sh([os.path.join(BIN, "ansible-galaxy"), "collection", "build", "--output-path", str(tmp_path), ROOT], cwd=tmp_path)
    inst = tmp_path / "inst"
    sh([os.path.join(BIN, "ansible-galaxy"), "collection", "install", "--force", "--no-deps", "-p", str(inst),
        str(tmp_path / "crosshost-fabric-0.1.0.tar.gz")], cwd=tmp_path)
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=str(inst), ANSIBLE_NOCOLOR="1")
    env.pop("ANSIBLE_CONFIG", None)
    prod = tmp_path / "inventories" / "prod"
    prod.mkdir(parents=True)
    (prod / "hosts.yml").write_text(yaml.safe_dump({"fabric": {"hosts": {
        name: {"ansible_host": "127.0.0.1", "ansible_port": 1, "fabric_public_ip": ip, "fabric_iface": "eth0"}
        for name, ip in (("node1", "192.0.2.11"), ("node2", "192.0.2.12"))}}}))
    results = {}
    order = ["crosshost.fabric.plan", "crosshost.fabric.release", "crosshost.fabric.site",
             "crosshost.fabric.verify", "crosshost.fabric.reset"]
    for argv in sorted(commands, key=lambda c: order.index(c[3])):
        proc = subprocess.run([os.path.join(BIN, argv[0]), *argv[1:]], cwd=tmp_path, env=env,
                              capture_output=True, text=True, timeout=300)
        results[argv[3]] = (proc.returncode, proc.stdout + proc.stderr)
    rc, out = results["crosshost.fabric.plan"]
    assert rc == 0 and "node2  192.0.2.12  10.244.2.0/24  10.244.2.1  1450" in out, out
    leases = (prod / ".fabric" / "leases.yml").read_text()
    assert "crosshost.fabric.release" in leases  # the ledger's header names the FQCN form too
    rc, out = results["crosshost.fabric.release"]
    assert rc == 0 and "no lease to release for: node7" in out, out
    rc, out = results["crosshost.fabric.site"]
    assert rc != 0 and "UNREACHABLE" in out, out
    assert "Refuse what the inventory alone can refuse" in out and "could not be found" not in out, out
    for fqcn in ("crosshost.fabric.verify", "crosshost.fabric.reset"):
        rc, out = results[fqcn]
        assert rc != 0 and "UNREACHABLE" in out and "could not be found" not in out, out


def test_the_docs_point_only_at_files_of_the_project():
    """No file points at the lab notes file outside the repository (LAB dot md): what the project relies on
    is in its own docs (lab/README.md)."""
    skip = {".git", ".venv", ".build", "build", "__pycache__", ".pytest_cache", ".ruff_cache", ".ansible"}
    offenders = []
    for top, dirs, files in os.walk(ROOT):
        dirs[:] = [d for d in dirs if d not in skip]
        for name in files:
            path = os.path.join(top, name)
            try:
                text = open(path, encoding="utf-8").read()
            except (UnicodeDecodeError, OSError):
                continue
            if "LAB" + ".md" in text:
                offenders.append(os.path.relpath(path, ROOT))
    assert offenders == []
    assert "## What the lab relies on" in open(os.path.join(ROOT, "lab", "README.md"), encoding="utf-8").read()
