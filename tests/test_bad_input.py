"""The catalogue of bad input (tests/bad_input.py, docs/bad-input.md): every row, checked.

Each case must end with exit status 2 (command line) or an ``InputError`` (Python), one line
that names the problem and the fix, no traceback, no file in the workspace created, changed or
removed, and exactly the message that docs/bad-input.md documents for it.
"""

from __future__ import annotations

import pytest
from bad_input import CASES, make_workspace, read_documented, run_case, snapshot


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    root = tmp_path_factory.mktemp("bad-input") / "work"
    make_workspace(root)
    return root


@pytest.fixture(scope="module")
def documented():
    return read_documented()


def test_the_catalogue_is_large_and_the_docs_list_exactly_its_cases(documented):
    assert len(CASES) >= 25
    assert len({case.name for case in CASES}) == len(CASES)
    assert sorted(documented) == sorted(case.shown for case in CASES)


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_bad_input_gets_one_line_and_changes_nothing(case, workspace, documented):
    before = snapshot(workspace)
    outcome, message = run_case(case, workspace)
    assert outcome == ("exit 2" if case.argv else "InputError")
    assert message and len(message.splitlines()) == 1 and "Traceback" not in message
    assert ":" in message  # the problem, then the fix
    assert snapshot(workspace) == before
    assert not (workspace / "PWNED").exists()
    assert (outcome, message) == documented[case.shown], "run python tests/bad_input.py"
