"""The filters' documentation shows real use: tasks that do something with the filter's output, with
the arguments the collection's own roles pass (issue 10 item 9)."""

import glob
import os

import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _docs():
    for path in sorted(glob.glob(os.path.join(ROOT, "plugins", "filter", "*.yml"))):
        with open(path, encoding="utf-8") as handle:
            yield os.path.basename(path)[:-4], yaml.safe_load(handle)


def test_every_filter_example_is_a_real_task():
    for name, doc in _docs():
        tasks = yaml.safe_load(doc["EXAMPLES"])
        assert tasks, name
        text = doc["EXAMPLES"]
        assert "crosshost.fabric.%s(" % name in text, name
        for task in tasks:
            assert task.get("ansible.builtin.debug", {}).get("msg") != "done", (name, task)
            for var in task.get("vars") or {}:
                assert "." not in var, (name, var)  # a variable, not a module name
        # At least one task gives the filter's output to a module that acts on it.
        assert any(set(t) - {"name", "vars", "register", "when"} - {"ansible.builtin.debug"} for t in tasks), name


def test_vxlan_state_example_passes_what_the_vxlan_role_passes():
    doc = dict(_docs())["vxlan_state"]
    example = [t for t in yaml.safe_load(doc["EXAMPLES"]) if "crosshost.fabric.fabric_vxlan" in t][0]
    converge = None
    for path in sorted(glob.glob(os.path.join(ROOT, "roles", "vxlan", "tasks", "*.yml"))):
        with open(path, encoding="utf-8") as handle:
            for task in yaml.safe_load(handle) or ():
                for sub in task.get("block") or [task]:
                    args = sub.get("crosshost.fabric.fabric_vxlan")
                    if args and args.get("state") == "present":
                        converge = sub
    assert converge is not None, "the vxlan role no longer converges with crosshost.fabric.fabric_vxlan"
    role_args = {k: v.replace("vxlan_host.", "vx.") for k, v in converge["crosshost.fabric.fabric_vxlan"].items()
                 if k not in ("persist", "persist_dir")}
    assert example["crosshost.fabric.fabric_vxlan"] == role_args


def test_modules_share_their_attributes_through_the_collections_doc_fragment():
    """The attribute block is written once (plugins/doc_fragments/attributes.py), not copied per module."""
    import ast

    for path in sorted(glob.glob(os.path.join(ROOT, "plugins", "modules", "*.py"))):
        with open(path, encoding="utf-8") as handle:
            tree = ast.parse(handle.read())
        doc = yaml.safe_load(next(n.value.value for n in tree.body if isinstance(n, ast.Assign)
                                  and getattr(n.targets[0], "id", None) == "DOCUMENTATION"))
        fragments = doc.get("extends_documentation_fragment") or []
        assert {"crosshost.fabric.attributes", "crosshost.fabric.attributes.controller"} & set(fragments), path
        own = doc.get("attributes") or {}
        assert "platform" not in own, path  # the fragment says it
        assert all(set(v) <= {"details", "support"} for v in own.values()), path
