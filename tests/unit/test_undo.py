"""What reset.yml gives back of the user's Docker configuration (issue 11 item 2): the record the
docker role writes before its first merge, and the restore from it. Pure Python."""

from ansible_collections.crosshost.fabric.plugins.plugin_utils.undo import docker_restore, docker_undo

FABRIC = {"bip": "10.244.1.1/24", "mtu": 1450, "ip-masq": False}


def merged(current):
    return {**current, **FABRIC}


def roundtrip(before, existed=True, later=None):
    record = docker_undo(before, FABRIC, existed)
    now = merged(before)
    now.update(later or {})
    return docker_restore(now, record)


def test_the_users_keys_come_back_and_the_fabrics_go():
    before = {"storage-driver": "vfs", "log-level": "warn"}
    assert roundtrip(before) == before


def test_a_key_the_user_had_gets_its_value_back():
    before = {"mtu": 9000, "ip-masq": True, "bip": "172.30.0.1/16", "debug": True}
    assert roundtrip(before) == before


def test_keys_the_user_added_after_the_fabric_are_kept():
    before = {"storage-driver": "vfs"}
    assert roundtrip(before, later={"registry-mirrors": ["https://m.example"]}) == {
        "storage-driver": "vfs", "registry-mirrors": ["https://m.example"]}


def test_no_file_before_and_nothing_of_the_users_after_means_no_file():
    assert roundtrip({}, existed=False) is None
    # ... but a key the user added meanwhile keeps the file
    assert roundtrip({}, existed=False, later={"debug": True}) == {"debug": True}


def test_an_empty_file_before_stays_an_empty_file():
    assert roundtrip({}, existed=True) == {}


def test_a_record_made_after_an_older_release_ran_counts_the_fabrics_values_as_the_fabrics():
    record = docker_undo({"storage-driver": "vfs", **FABRIC}, FABRIC, True)
    assert record["keys"] == {k: {"present": False} for k in FABRIC}
    assert docker_restore({"storage-driver": "vfs", **FABRIC}, record) == {"storage-driver": "vfs"}
    # a file holding only the fabric's keys was the fabric's
    record = docker_undo(dict(FABRIC), FABRIC, True)
    assert record["daemon_json_existed"] is False
    assert docker_restore(dict(FABRIC), record) is None


def test_without_a_record_the_fabrics_keys_are_removed():
    assert docker_restore({"storage-driver": "vfs", **FABRIC}, None) == {"storage-driver": "vfs"}
    assert docker_restore(dict(FABRIC), {}) == {}


def test_flannels_subnet_env_is_recorded_unless_the_fabric_ran_here_before():
    flannel = "FLANNEL_NETWORK=10.244.0.0/16\nFLANNEL_SUBNET=10.244.77.1/24\n"
    assert docker_undo({"storage-driver": "vfs"}, FABRIC, True, flannel)["subnet_env"] == flannel
    # daemon.json already holds the fabric's bip: an older release ran here, the file is the fabric's
    assert docker_undo(dict(FABRIC), FABRIC, True, flannel)["subnet_env"] is None
    assert docker_undo({}, FABRIC, True, None)["subnet_env"] is None


def test_dockers_old_bridge_address_is_recorded_and_used_as_bip_for_the_one_restart():
    from ansible_collections.crosshost.fabric.plugins.plugin_utils.undo import docker_restart_config

    record = docker_undo({"storage-driver": "vfs"}, FABRIC, True, bridge="172.17.0.1/16")
    assert record["bridge"] == "172.17.0.1/16"
    restored = docker_restore({"storage-driver": "vfs", **FABRIC}, record)
    assert docker_restart_config(restored, record) == {"storage-driver": "vfs", "bip": "172.17.0.1/16"}
    # the user's own bip wins; a bridge already on the fabric's address is not recorded
    mine = docker_undo({"bip": "192.168.5.1/24"}, FABRIC, True, bridge="192.168.5.1/24")
    assert docker_restart_config(docker_restore(merged({"bip": "192.168.5.1/24"}), mine), mine) == {
        "bip": "192.168.5.1/24"}
    assert docker_undo({}, FABRIC, True, bridge="10.244.1.1/24")["bridge"] is None
    assert docker_restart_config({"debug": True}, {}) == {"debug": True}
    assert docker_restart_config(None, record) == {"bip": "172.17.0.1/16"}
