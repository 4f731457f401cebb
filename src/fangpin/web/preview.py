"""GET /api/preview — "how many households match this rule now", per township, within the user's region
(issue 8 §2; fangpin.monitoring.preview). Counts only (no household is named), so province viewers may use it; department data officers
(upload and feed health only) → 403. Anonymous → 401; a ``scope`` outside the user's region → 404."""
from __future__ import annotations

from datetime import date

from fangpin.web.types import DateIn
from typing import Optional

from fastapi import APIRouter, Depends, HTTPException, Query, Request

from fangpin.auth import User
from fangpin.web.api import _not_found, viewer_user

router = APIRouter(prefix="/api", tags=["preview"])


@router.get("/preview")
def rule_preview(request: Request, user: User = Depends(viewer_user),
                 rule: Optional[str] = Query(None, description="rule id of rules.yaml, e.g. INC-LINE"),
                 when: Optional[str] = Query(None, max_length=2000, description="or a condition over features"),
                 as_of: Optional[DateIn] = Query(None),
                 monitoring_line: Optional[float] = Query(None), sharp_drop_ratio: Optional[float] = Query(None),
                 med_oop_trigger: Optional[float] = Query(None), line_factor: Optional[float] = Query(None),
                 scope: Optional[str] = Query(None, max_length=12, description="region prefix within yours")):
    from fangpin.issues import FangpinValueError
    from fangpin.monitoring import preview as PV

    region = scope or user.scope
    if not region.startswith(user.scope) or (region and not region.isdigit()):
        raise _not_found("region")
    params = {k: v for k, v in (("monitoring_line", monitoring_line), ("sharp_drop_ratio", sharp_drop_ratio),
                                ("med_oop_trigger", med_oop_trigger)) if v is not None}
    try:
        snap = PV.registry_snapshot(request.app.state.engine)
        return PV.preview(snap, as_of or date.today(), rule=rule, when=when, params=params,
                          line_factor=line_factor, scope=region, resident=True)
    except FangpinValueError as e:
        raise HTTPException(422, detail={"code": e.code, "message_zh": e.issue.zh, "message_en": e.issue.en})
