"""Issue 7 §4: SIGKILL at random moments during feed import, a monitoring run and the visit-list report; the
database and outputs stay consistent and the re-run reaches the uninterrupted result. 3 trials per job here
(heavy); `make reliability` / `python scripts/kill9.py --trials 50` run 50 each."""
from __future__ import annotations

import pytest

from fangpin.reliability.kill9 import run_trials


@pytest.mark.heavy
def test_kill9_trials_leave_nothing_inconsistent(tmp_path):
    res = run_trials(tmp_path / "k9", trials=3, seed=1)
    assert res["total_trials"] == 9
    assert res["total_inconsistent"] == 0, {k: v["problems"] for k, v in res.items() if isinstance(v, dict)}
    assert sum(v["killed_while_working"] for v in res.values() if isinstance(v, dict)) >= 5
