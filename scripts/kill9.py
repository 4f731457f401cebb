"""kill -9 crash-safety trials (issue 7 §4): `python scripts/kill9.py --trials 50 [--job feed_import ...]`.
Prints a JSON summary; see fangpin.reliability.kill9 and docs/RELIABILITY.md."""
from __future__ import annotations

import argparse
import json
from pathlib import Path

from fangpin.reliability.kill9 import JOBS, run_trials

if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--trials", type=int, default=50, help="trials per job")
    ap.add_argument("--job", action="append", choices=sorted(JOBS), help="default: every job")
    ap.add_argument("--work", type=Path, default=Path("/tmp/fangpin-kill9"))
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()
    res = run_trials(a.work, a.trials, a.job, a.seed, log=print)
    print(json.dumps(res, ensure_ascii=False, indent=1))
    raise SystemExit(1 if res["total_inconsistent"] else 0)
