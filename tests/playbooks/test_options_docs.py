"""What users read (ansible-doc of the fabric_plan module and of the plan role) states the options and
defaults of plugins/plugin_utils/options.py, as Ansible itself parses the generated documents."""

import json
import os
import subprocess
import sys

from ansible_collections.crosshost.fabric.plugins.plugin_utils.options import PLAN_OPTIONS

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN = os.path.dirname(sys.executable)


def ansible_doc(kind, name):
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=os.path.join(ROOT, ".build", "collections"), ANSIBLE_NOCOLOR="1")
    proc = subprocess.run([os.path.join(BIN, "ansible-doc"), "-t", kind, name, "-j"], capture_output=True, text=True,
                          env=env, cwd=ROOT, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return json.loads(proc.stdout)[name]


def test_module_doc_states_the_options_and_defaults():
    doc = ansible_doc("module", "crosshost.fabric.fabric_plan")["doc"]["options"]
    assert set(doc) == {o.name for o in PLAN_OPTIONS}
    for o in PLAN_OPTIONS:
        assert (doc[o.name]["type"], doc[o.name].get("default")) == (o.type, o.default), o.name


def test_role_doc_states_the_options_and_defaults():
    spec = ansible_doc("role", "crosshost.fabric.plan")["entry_points"]["main"]["options"]
    # The role's own knobs (plan_*, like vxlan_* and forward_*) are not fabric variables.
    assert {k for k in spec if not k.startswith("plan_")} == {o.var for o in PLAN_OPTIONS}
    for o in PLAN_OPTIONS:
        assert (spec[o.var]["type"], spec[o.var].get("default")) == (o.type, o.default), o.var
