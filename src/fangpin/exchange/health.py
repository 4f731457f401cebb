"""Feed health (POLICY.md §6: each department delivers on a schedule; FEEDS.md §B contracts).

Per feed: last delivery against the contract's freshness deadline (``freshness.every_days + grace_days``; a feed
never delivered is overdue), rows delivered and the share rejected, how accepted rows were linked (exact /
household head / probabilistic / review / unmatched / village; rates over accepted rows), pending review items,
and *drift*: values of code columns that are not in the contract (only columns with ``on_unknown: warn`` accept
them — with a warning per row — so drift shows up here as a count and examples per column; ``on_unknown: reject``
columns reject such rows, which shows up in the rejected share and the batch report).
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.engine import Connection

from fangpin.exchange.contracts import load_contracts
from fangpin.exchange.models import LINK_METHODS, FeedRecord, LinkReview
from fangpin.registry.models import ImportBatch

__all__ = ["feeds_status"]


def feeds_status(conn: Connection, *, now: datetime | None = None) -> list[dict]:
    """One dict per contract feed (order of the contracts), JSON-friendly apart from datetimes/dates."""
    now = now or datetime.now()
    ib, fr, lr = ImportBatch.__table__, FeedRecord.__table__, LinkReview.__table__
    batches: dict[str, list] = {}
    for kind, started, total, acc, rej, report in conn.execute(
            select(ib.c.kind, ib.c.started_at, ib.c.rows_total, ib.c.rows_accepted, ib.c.rows_rejected, ib.c.report)
            .where(ib.c.kind.like("feed:%"), ib.c.status == "committed").order_by(ib.c.id)):
        batches.setdefault(kind.split(":", 1)[1], []).append((started, total or 0, acc or 0, rej or 0, report or {}))
    methods: dict[str, dict[str, int]] = {}
    for feed, method, n in conn.execute(select(fr.c.feed, fr.c.link_method, func.count()).group_by(fr.c.feed,
                                                                                                  fr.c.link_method)):
        methods.setdefault(feed, {})[method] = n
    latest = dict(conn.execute(select(fr.c.feed, func.max(fr.c.event_date)).group_by(fr.c.feed)).all())
    pending = dict(conn.execute(select(fr.c.feed, func.count()).join(lr, lr.c.feed_record_id == fr.c.id)
                                .where(lr.c.status == "pending").group_by(fr.c.feed)).all())
    out = []
    for feed, c in load_contracts().items():
        bs = batches.get(feed, [])
        last = max((b[0] for b in bs), default=None)
        days = (now - last).total_seconds() / 86400 if last else None
        rows = sum(b[1] for b in bs)
        accepted = sum(b[2] for b in bs)
        rejected = sum(b[3] for b in bs)
        m = {k: methods.get(feed, {}).get(k, 0) for k in LINK_METHODS}
        n_rec = sum(m.values())
        drift: dict[str, dict] = {}
        for b in bs:
            for col, d in (b[4].get("drift") or {}).items():
                agg = drift.setdefault(col, {"count": 0, "examples": []})
                agg["count"] += d.get("count", 0)
                for ex in d.get("examples", []):
                    if ex not in agg["examples"] and len(agg["examples"]) < 10:
                        agg["examples"].append(ex)
        out.append({
            "feed": feed, "department_zh": c.department.zh, "department_en": c.department.en,
            "contract_version": c.version, "every_days": c.freshness.every_days,
            "deadline_days": c.freshness.deadline_days, "freshness_source": c.freshness.source,
            "last_delivery": last, "days_since_delivery": round(days, 1) if days is not None else None,
            "overdue": days is None or days > c.freshness.deadline_days,
            "latest_event_date": latest.get(feed), "batches": len(bs), "rows": rows, "accepted": accepted,
            "rejected": rejected, "rejected_share": rejected / rows if rows else 0.0,
            "match": m, "match_rates": {k: (v / n_rec if n_rec else 0.0) for k, v in m.items()},
            "pending_reviews": pending.get(feed, 0), "drift": drift,
        })
    return out
