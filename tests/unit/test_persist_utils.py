"""plugins/module_utils/persist.py on a real file system (tmp_path): exact texts, modes and write steps."""

import os
import stat

import pytest

from ansible_collections.crosshost.fabric.plugins.module_utils import persist


def mode_of(path):
    return stat.S_IMODE(os.lstat(path).st_mode)


def test_read_gives_the_text_or_none(tmp_path):
    path = tmp_path / "f"
    path.write_bytes("grüß\n".encode("utf-8"))
    assert persist.read(str(path)) == "grüß\n"
    path.write_bytes(b"\xff\xfe")
    assert persist.read(str(path)) is None  # not UTF-8
    assert persist.read(str(tmp_path / "missing")) is None
    assert persist.read(str(tmp_path)) is None  # a folder


def test_diff_item_of_a_change_a_new_file_and_a_removal(tmp_path):
    path = str(tmp_path / "f")
    assert persist.diff_item(path, None) is None
    assert persist.diff_item(path, "") == {"before_header": path + " (absent)", "after_header": path,
                                           "before": "", "after": ""}
    with open(path, "w") as handle:
        handle.write("old\n")
    assert persist.diff_item(path, "old\n") is None
    assert persist.diff_item(path, "new\n") == {"before_header": path, "after_header": path,
                                                "before": "old\n", "after": "new\n"}
    assert persist.diff_item(path, None) == {"before_header": path, "after_header": path + " (absent)",
                                             "before": "old\n", "after": ""}


def test_a_dangling_symlink_is_something_to_remove(tmp_path):
    link = tmp_path / "link"
    os.symlink(str(tmp_path / "nowhere"), str(link))
    assert persist.diff_item(str(link), None) == {"before_header": str(link) + " (absent)",
                                                  "after_header": str(link) + " (absent)", "before": "", "after": ""}
    assert persist.sync(str(link), None) is not None
    assert not os.path.lexists(str(link))


def test_a_file_that_is_not_text_is_something_to_remove(tmp_path):
    path = tmp_path / "f"
    path.write_bytes(b"\xff\xfe")
    assert persist.diff_item(str(path), None) == {"before_header": str(path) + " (absent)",
                                                  "after_header": str(path) + " (absent)", "before": "", "after": ""}
    assert persist.sync(str(path), None, check_mode=True) is not None
    assert path.exists()
    assert persist.sync(str(path), None) is not None
    assert not path.exists()


def test_write_goes_through_a_synced_temporary_file_renamed_over_the_old(tmp_path, monkeypatch):
    path = tmp_path / "boot.sh"
    path.write_text("old\n")
    steps = []
    real_fsync, real_replace, real_chmod = os.fsync, os.replace, os.chmod

    def fsync(fd):
        steps.append(("fsync", os.readlink("/proc/self/fd/%d" % fd)))
        real_fsync(fd)

    def chmod(name, mode):
        steps.append(("chmod", str(name), mode))
        real_chmod(name, mode)

    def replace(src, dst):
        steps.append(("replace", str(src), str(dst), open(src).read()))
        real_replace(src, dst)

    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(os, "chmod", chmod)
    monkeypatch.setattr(os, "replace", replace)
    persist.write(str(path), "new\n", mode=0o750)
    tmp = steps[0][1]
    assert os.path.dirname(tmp) == str(tmp_path)
    assert os.path.basename(tmp).startswith(".boot.sh.")
    assert steps == [("fsync", tmp), ("chmod", tmp, 0o750), ("replace", tmp, str(path), "new\n")]
    assert path.read_text() == "new\n" and mode_of(str(path)) == 0o750
    assert sorted(os.listdir(tmp_path)) == ["boot.sh"]


def test_write_makes_the_folder_and_sets_the_mode_unless_kept(tmp_path):
    os.umask(0o022)
    path = tmp_path / "a" / "b" / "rules"
    persist.write(str(path), "x\n")
    assert mode_of(str(path)) == 0o644
    assert mode_of(str(tmp_path / "a" / "b")) == 0o755
    os.chmod(str(path), 0o600)
    persist.write(str(path), "y\n")  # keep_mode off: the given mode
    assert mode_of(str(path)) == 0o644
    os.chmod(str(path), 0o4711)
    persist.write(str(path), "z\n", mode=0o640, keep_mode=True)
    assert mode_of(str(path)) == 0o4711 and path.read_text() == "z\n"
    new = tmp_path / "new"
    persist.write(str(new), "n\n", mode=0o640, keep_mode=True)  # a new file: mode applies
    assert mode_of(str(new)) == 0o640


def test_write_of_a_relative_path(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    persist.write("rel.txt", "r\n")
    assert (tmp_path / "rel.txt").read_text() == "r\n"
    persist.write("rel.txt", None)
    persist.write("rel.txt", None)  # already gone: nothing to do
    assert os.listdir(tmp_path) == []


def test_write_removes_its_temporary_file_when_the_data_cannot_be_written(tmp_path, monkeypatch):
    def broken(_fd):
        raise OSError("I/O error")

    monkeypatch.setattr(os, "fsync", broken)
    with pytest.raises(OSError):
        persist.write(str(tmp_path / "f"), "x\n")
    assert os.listdir(tmp_path) == []


def test_sync_writes_with_the_mode_asked(tmp_path):
    path = tmp_path / "f"
    path.write_text("a\n")
    os.chmod(str(path), 0o600)
    assert persist.sync(str(path), "b\n", mode=0o700) == {"before_header": str(path), "after_header": str(path),
                                                          "before": "a\n", "after": "b\n"}
    assert mode_of(str(path)) == 0o700
    os.chmod(str(path), 0o600)
    persist.sync(str(path), "c\n", mode=0o700, keep_mode=True)
    assert mode_of(str(path)) == 0o600 and path.read_text() == "c\n"


def test_shell_script_is_exactly_the_boot_script():
    assert persist.shell_script(["Written by x", "do not edit"], ["rc=0", "ip link set up dev a || rc=1"]) == (
        "#!/bin/sh\n"
        "# Written by x\n"
        "# do not edit\n"
        "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\n"
        "export PATH\n"
        "rc=0\n"
        "ip link set up dev a || rc=1\n"
        "\n"
        "exit $rc\n"
    )


def test_default_modes_whatever_the_umask(tmp_path):
    old = os.umask(0)
    try:
        persist.sync(str(tmp_path / "new" / "f"), "x\n")
    finally:
        os.umask(old)
    assert mode_of(str(tmp_path / "new")) == 0o755
    assert mode_of(str(tmp_path / "new" / "f")) == 0o644
