"""One step of the random add/remove/release sequences of the property tests (test_properties.py,
test_mutants.py): the inventory after the operation and the hosts it releases."""


def step(op, name, inventory, pick_release):
    """Apply ``op`` ("add", "remove" or "release") of host ``name`` to ``inventory`` (in place).

    Returns the list of hosts to release, or None when the step is to be skipped;
    ``pick_release(name)`` chooses what "release" releases (None: skip the step).
    """
    if op == "add" and name not in inventory:
        inventory.append(name)
    elif op == "remove" and name in inventory:
        inventory.remove(name)
    elif op == "release":
        return pick_release(name)
    return []
