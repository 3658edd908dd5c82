"""Offline stand-in for the get-pip.py that ansible-test downloads to bootstrap pip in its venvs.

ansible-test (ansible_test/_util/target/setup/requirements.py, bootstrap()) fetches
https://ci-files.testing.ansible.com/ansible-test/get-pip-<version>.py unless
~/.ansible/test/cache/get_pip_<version>.py exists, then runs it in each fresh sanity venv as
`python get_pip.py --disable-pip-version-check pip==<version> [--no-setuptools] [--no-wheel]`.
This script does the same job without that host: the pip wheel that Python itself bundles
(ensurepip) installs the requested packages from the package index pip is configured for.
`make sanity` copies it into the cache of its own HOME under .build/sanity.
"""

import glob
import os
import sys

import ensurepip


def main():
    wheels = glob.glob(os.path.join(os.path.dirname(ensurepip.__file__), "_bundled", "pip-*.whl"))
    if not wheels:
        sys.exit("get_pip stand-in: this Python has no bundled pip wheel (ensurepip)")
    sys.path.insert(0, wheels[0])
    from pip._internal.cli.main import main as pip_main  # pylint: disable=import-outside-toplevel

    # get-pip.py's own switches: without them it would also install setuptools and wheel.
    args = [a for a in sys.argv[1:] if a not in ("--no-setuptools", "--no-wheel")]
    sys.exit(pip_main(["install", "--upgrade", "--force-reinstall", *args]))


if __name__ == "__main__":
    main()
