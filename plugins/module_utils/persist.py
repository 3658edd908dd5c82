# -*- coding: utf-8 -*-
# Copyright: crosshost.fabric contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Files the host-side modules persist (boot scripts, saved rules): one writer.

Runs on the managed host: Python standard library only.

``diff_item(path, content)`` tells whether a file must change and returns the
diff item Ansible shows for it; ``write(path, content, mode)`` then makes the
change atomically: a temporary file in the same folder, written, flushed and
fsynced, given its mode, then renamed over the old one (``os.replace``), so a
crash leaves the old file or the new one, never half of either; the temporary
file is removed whatever goes wrong.  ``content=None`` means "the file must not
exist".  ``sync`` does both for modules that have nothing else to apply first.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import tempfile


def read(path):
    """The file's text, or None when it does not exist or cannot be read."""
    try:
        with open(path, "rb") as handle:
            return handle.read().decode("utf-8")
    except (IOError, OSError, UnicodeDecodeError):
        return None


def diff_item(path, content):
    """None when ``path`` already holds ``content`` (None: is absent); else Ansible's diff item."""
    current = read(path)
    # A file that exists but cannot be read as text (or a dangling link) still has to go.
    if (content is None and not os.path.lexists(path)) or (content is not None and current == content):
        return None
    return {
        "before_header": path if current is not None else "%s (absent)" % path,
        "after_header": path if content is not None else "%s (absent)" % path,
        "before": current or "",
        "after": content or "",
    }


def write(path, content, mode=0o644, keep_mode=False):
    """Replace ``path`` with ``content`` atomically, or remove it when ``content`` is None.

    ``mode`` is the file's mode; with ``keep_mode`` an existing file keeps its own
    (a user's 0600 stays 0600) and ``mode`` is for a new file only.  Raises OSError.
    """
    if content is None:
        if os.path.lexists(path):
            os.unlink(path)
        return
    directory = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(directory):
        os.makedirs(directory, 0o755)
    if keep_mode and os.path.exists(path):
        mode = os.stat(path).st_mode & 0o7777
    fd, tmp = tempfile.mkstemp(prefix=".%s." % os.path.basename(path), dir=directory)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(content.encode("utf-8"))
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def sync(path, content, check_mode=False, mode=0o644, keep_mode=False):
    """Make ``path`` hold ``content`` (None: absent); the diff item, or None when nothing changed."""
    item = diff_item(path, content)
    if item is not None and not check_mode:
        write(path, content, mode=mode, keep_mode=keep_mode)
    return item


def shell_script(comments, body):
    """A boot script: POSIX sh, a comment saying who wrote it, a sane PATH, ``body``, ``exit $rc``.

    ``body`` sets ``rc=0`` and turns it to 1 on any failure, so that the unit
    running the script reports it while the rest is still applied.
    """
    lines = ["#!/bin/sh"]
    lines.extend("# " + line for line in comments)
    lines += ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "export PATH"]
    lines.extend(body)
    lines += ["", "exit $rc", ""]
    return "\n".join(lines)
