"""Property-based fuzzing of every file importer (issue 7 §3): the roster (FEEDS.md §A) and each department feed
contract (FEEDS.md §B) fed random bytes, truncated or bit-flipped workbooks, zip bombs, huge cells, wrong
encodings, HTML and NUL bytes — built from real files of a small synthetic county.

The property (:func:`attempt`): the importer either refuses the file with a bilingual message (a ``rejected``
report, or :class:`FileRejected` / :class:`FangpinValueError`) and the database is byte-for-byte unchanged in
every table it writes, or it commits exactly one whole batch (``accepted`` rows, no more, no fewer). Any other
exception, a rejection that wrote rows, or a commit with a wrong row count is a failure.
"""
from __future__ import annotations

import codecs
import io
import random
import shutil
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import func, select

__all__ = ["Samples", "MUTATIONS", "build_samples", "mutate", "attempt", "zip_bomb", "FuzzFileOutcome"]

FEEDS = ("civil_affairs", "medical", "education", "housing", "water", "employment", "disaster", "disability",
         "public_security")


@dataclass
class Samples:
    template_db: Path
    feeds: dict[str, list[Path]]  # feed → sample files (csv and/or xlsx)
    roster: dict[str, Path]  # role → file (households, members, income, guarantees)


def build_samples(work: Path, households: int = 150, seed: int = 5, months: int = 24) -> Samples:
    """A small county (registry in SQLite) plus its feed files and an exported roster (xlsx)."""
    from fangpin.db import make_engine, upgrade
    from fangpin.synth.feeds import write_feeds
    from fangpin.synth.roster import write_roster
    from fangpin.synth.run import SynthParams, run

    work = Path(work)
    if work.exists():
        shutil.rmtree(work)
    work.mkdir(parents=True)
    db = work / "template.db"
    e = make_engine(f"sqlite:///{db}")
    upgrade(e)
    run(e, SynthParams(households=households, months=months, seed=seed), work / "truth")
    write_feeds(work / "truth", work / "feeds", seed=seed)
    write_roster(e, work / "roster", fmt="xlsx")
    e.dispose()
    feeds: dict[str, list[Path]] = {}
    for p in sorted((work / "feeds").glob("*/*.*")):
        if p.parent.name in FEEDS and p.suffix.lower() in (".csv", ".xlsx", ".txt"):
            feeds.setdefault(p.parent.name, []).append(p)
    roster = {p.stem: p for p in (work / "roster").glob("*.xlsx")}
    some = next(iter(feeds.values()))
    for f in FEEDS:  # a feed the small county did not produce: fuzz it from another feed's file (wrong columns)
        feeds.setdefault(f, some)
    return Samples(db, feeds, roster)


# ---------------------------------------------------------------------------------------------------------------
# Mutations: (name, function(blob, rng) -> (bytes, extension))


def zip_bomb(unzipped_mb: int = 200) -> bytes:
    """A minimal-looking .xlsx whose worksheet inflates to ``unzipped_mb`` MB of spaces (~200 KB on disk)."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as z:
        z.writestr("[Content_Types].xml", '<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/'
                   'package/2006/content-types"/>')
        z.writestr("xl/workbook.xml", '<?xml version="1.0"?><workbook xmlns="http://schemas.openxmlformats.org/'
                   'spreadsheetml/2006/main"><sheets><sheet name="S" sheetId="1" r:id="rId1"/></sheets></workbook>')
        with z.open("xl/worksheets/sheet1.xml", "w", force_zip64=True) as f:
            f.write(b'<?xml version="1.0"?><worksheet><sheetData>')
            chunk = b" " * (1 << 20)
            for _ in range(unzipped_mb):
                f.write(chunk)
            f.write(b"</sheetData></worksheet>")
    return buf.getvalue()


def _is_zip(b: bytes) -> bool:
    return b[:4] == b"PK\x03\x04"


def _random_bytes(blob, rng):
    return bytes(rng.getrandbits(8) for _ in range(rng.choice([1, 7, 64, 1000, 20000]))), ".xlsx"


def _truncate(blob, rng):
    return blob[: rng.randrange(1, max(2, len(blob)))], ".xlsx" if _is_zip(blob) else ".csv"


def _bitflip(blob, rng):
    b = bytearray(blob)
    for _ in range(rng.choice([1, 3, 20, 200])):
        i = rng.randrange(len(b))
        b[i] ^= 1 << rng.randrange(8)
    return bytes(b), ".xlsx" if _is_zip(blob) else ".csv"


def _zip_member_damage(blob, rng):
    """Rewrite one member of the workbook: truncated, emptied or garbage XML (a valid zip around it)."""
    if not _is_zip(blob):
        return _bitflip(blob, rng)
    src = zipfile.ZipFile(io.BytesIO(blob))
    infos = src.infolist()
    victim = rng.choice(infos).filename
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        for i in infos:
            data = src.read(i.filename)
            if i.filename == victim:
                data = rng.choice([data[: len(data) // 2], b"", b"<not-xml", data.replace(b"<", b"&", 5)])
            z.writestr(i.filename, data)
    return out.getvalue(), ".xlsx"


def _bomb(blob, rng):
    return zip_bomb(rng.choice([64, 100])), ".xlsx"


def _as_text(blob) -> str | None:
    if _is_zip(blob):
        return None
    for enc in ("utf-8-sig", "gb18030"):
        try:
            return blob.decode(enc)
        except UnicodeDecodeError:
            continue
    return None


def _huge_cell(blob, rng):
    """A CSV with one enormous cell (a few MB) in the first data row, or an xlsx whose cells hit Excel's
    32,767-character limit."""
    text = _as_text(blob)
    if text is None:
        import openpyxl

        wb = openpyxl.load_workbook(io.BytesIO(blob))
        ws = wb.worksheets[0]
        for row in ws.iter_rows(min_row=ws.max_row - 2, max_row=ws.max_row):
            for c in row:
                if type(c).__name__ == "MergedCell":
                    continue
                c.value = rng.choice(["张", "9", "x", "="]) * 32767
        out = io.BytesIO()
        wb.save(out)
        return out.getvalue(), ".xlsx"
    lines = text.splitlines()
    k = min(len(lines) - 1, rng.randrange(1, 6)) if len(lines) > 1 else 0
    cells = lines[k].split(",")
    cells[rng.randrange(len(cells))] = rng.choice(["张", "1", "a"]) * rng.choice([100_000, 3_000_000])
    lines[k] = ",".join(cells)
    return "\n".join(lines).encode("utf-8"), ".csv"


def _encoding(blob, rng):
    """The same table in another encoding (UTF-16 without BOM, Big5, Latin-1 mojibake, double-encoded UTF-8,
    a stray BOM in the middle), or bytes invalid in every encoding we read."""
    text = _as_text(blob)
    if text is None:
        return _bitflip(blob, rng)
    choice = rng.randrange(6)
    if choice == 0:
        return text.encode("utf-16-le"), ".csv"
    if choice == 1:
        return text.encode("big5", errors="replace"), ".csv"
    if choice == 2:
        return text.encode("utf-8").decode("latin-1").encode("utf-8"), ".csv"  # mojibake
    if choice == 3:
        b = text.encode("utf-8")
        i = rng.randrange(len(b))
        return b[:i] + codecs.BOM_UTF8 + b[i:], ".csv"
    if choice == 4:
        return codecs.BOM_UTF8 + text.encode("gb18030"), ".csv"  # lies: says UTF-8, is GB18030
    return bytes([0xFF, 0xFE, 0xFD]) * 300 + text.encode("utf-8"), ".csv"


def _nul_and_html(blob, rng):
    return rng.choice([b"\x00" * 5000, blob.replace(b",", b"\x00", 50) if not _is_zip(blob) else b"\x00" + blob,
                       b"<html><body><table><tr><td>\xe5\xa7\x93\xe5\x90\x8d</td></tr></table></body></html>",
                       b"%PDF-1.4\n" + blob[:500]]), ".xls"


MUTATIONS = {"random_bytes": _random_bytes, "truncate": _truncate, "bitflip": _bitflip,
             "zip_member": _zip_member_damage, "zip_bomb": _bomb, "huge_cell": _huge_cell,
             "encoding": _encoding, "nul_html_pdf": _nul_and_html}


def mutate(name: str, blob: bytes, seed: int) -> tuple[bytes, str]:
    return MUTATIONS[name](blob, random.Random(seed))


# ---------------------------------------------------------------------------------------------------------------
# The property


def _counts(engine) -> dict[str, int]:
    from fangpin.exchange.models import FeedRecord, LinkReview
    from fangpin.registry.models import (Base, GuaranteeStatus, HouseholdVersion, ImportBatch, IncomeRecord,
                                         MemberVersion, Person)

    tables = [ImportBatch, FeedRecord, LinkReview, Person, HouseholdVersion, MemberVersion, IncomeRecord,
              GuaranteeStatus]
    with engine.connect() as c:
        return {t.__tablename__: c.execute(select(func.count()).select_from(t)).scalar_one() for t in tables}


@dataclass
class FuzzFileOutcome:
    attempts: int = 0
    rejected: int = 0
    committed: int = 0
    failures: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {"attempts": self.attempts, "rejected": self.rejected, "committed": self.committed,
                "failures": len(self.failures), "failure_examples": self.failures[:20]}


def attempt(engine, target: str, blob: bytes, ext: str, samples: Samples, tmp: Path, label: str,
            out: FuzzFileOutcome) -> None:
    """Import ``blob`` as ``target`` ("roster:<role>" or "feed:<name>") and check the property."""
    from fangpin.exchange.feeds import import_feed
    from fangpin.exchange.roster import import_roster
    from fangpin.exchange.tabular import FileRejected
    from fangpin.issues import FangpinValueError

    tmp.mkdir(parents=True, exist_ok=True)
    kind, name = target.split(":", 1)
    path = tmp / f"{name}{ext}"
    path.write_bytes(blob)
    before = _counts(engine)
    out.attempts += 1
    try:
        if kind == "roster":
            files = {**samples.roster, name: path}
            rep = import_roster(engine, files)
            status, accepted, zh, en = rep.status, None, rep.message_zh, rep.message_en
        else:
            rep = import_feed(engine, name, path, landing_dir=tmp / "landing")
            status, accepted, zh, en = rep.status, rep.accepted, rep.message_zh, rep.message_en
    except (FileRejected, FangpinValueError) as e:
        status, accepted, zh, en = "rejected", None, e.issue.zh, e.issue.en
    except Exception as e:  # noqa: BLE001 — the property: no other exception escapes an importer
        out.failures.append(f"{label}: {type(e).__name__}: {str(e)[:300]}")
        if _counts(engine) != before:
            out.failures.append(f"{label}: the crash left rows behind")
        return
    after = _counts(engine)
    if status in ("rejected", "unchanged"):
        out.rejected += status == "rejected"
        if after != before:
            out.failures.append(f"{label}: {status} but the database changed: "
                                f"{ {k: after[k] - before[k] for k in after if after[k] != before[k]} }")
        if status == "rejected" and not (zh and en and zh != en):
            out.failures.append(f"{label}: rejected without a bilingual message ({zh!r} / {en!r})")
        return
    if status != "committed":
        out.failures.append(f"{label}: unexpected status {status!r}")
        return
    out.committed += 1
    if after["import_batch"] - before["import_batch"] != 1:
        out.failures.append(f"{label}: committed {after['import_batch'] - before['import_batch']} batches")
    if accepted is not None and after["feed_record"] - before["feed_record"] != accepted:
        out.failures.append(f"{label}: accepted {accepted} rows but wrote {after['feed_record'] - before['feed_record']}")
