"""The ``run`` callable of the module_utils unit tests: answers from a table of recorded kernel output.

``Run({tuple(argv): (rc, out, err) or an exception})`` answers each command line from the table
(raising the exception where one is given) and keeps every call with its stdin, so that a test
compares the exact commands and batches the code sent.
"""

import pathlib

DATA = pathlib.Path(__file__).parent / "data"


def recorded(name):
    """The text of a file recorded from a real kernel (tests/unit/data/record.sh)."""
    return (DATA / name).read_text()


class Run:
    def __init__(self, answers):
        self.answers = answers
        self.calls = []

    def __call__(self, argv, data=None):
        self.calls.append((list(argv), data))
        answer = self.answers[tuple(argv)]
        if isinstance(answer, Exception):
            raise answer
        return answer
