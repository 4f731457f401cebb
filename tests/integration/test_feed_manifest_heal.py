"""Issue 7 §4 (found by the kill -9 trials): a crash between a feed batch's commit and its landing-manifest line
must not leave the batch out of the manifest forever, and a torn last line must not break replay."""
from __future__ import annotations

import json
import shutil

from fangpin.db import make_engine
from fangpin.exchange.feeds import _manifest_lines, import_feed, replay
from fangpin.reliability.fuzz_files import build_samples


def test_reimport_heals_a_manifest_missing_a_committed_batch_and_replay_skips_a_torn_line(tmp_path):
    s = build_samples(tmp_path / "county", households=60)
    feed, files = next((f, ps) for f, ps in sorted(s.feeds.items()) if ps and ps[0].parent.name == f)
    shutil.copy(s.template_db, tmp_path / "a.db")
    e = make_engine(f"sqlite:///{tmp_path / 'a.db'}")
    land = tmp_path / "landing"
    r = import_feed(e, feed, files[0], landing_dir=land)
    assert r.status == "committed"
    mf = land / "manifest.jsonl"
    # the crash: the batch is committed, its manifest line never written — and a half line from another writer
    mf.write_text('{"feed": "medical", "sha2')
    again = import_feed(e, feed, files[0], landing_dir=land)
    assert again.status == "unchanged"
    entries = _manifest_lines(land)
    assert [(x["feed"], x["sha256"]) for x in entries] == [(feed, r.sha256)]
    assert mf.read_text().splitlines()[1].startswith("{")  # the healed entry starts on its own line
    # replay into a fresh copy of the registry rebuilds the batch from the healed manifest
    shutil.copy(s.template_db, tmp_path / "b.db")
    e2 = make_engine(f"sqlite:///{tmp_path / 'b.db'}")
    reps = replay(e2, landing_dir=land)
    assert [x.status for x in reps] == ["committed"] and reps[0].accepted == r.accepted
    e.dispose()
    e2.dispose()
