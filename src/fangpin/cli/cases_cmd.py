"""`fangpin case …`: the statutory procedure from the command line (thin adapter over fangpin.cases).

Every action goes through `fangpin.cases.act`, so the CLI can no more skip a step than the web app can."""
from __future__ import annotations

import json
from datetime import date
from typing import Optional

import typer

from fangpin.cli.main import DbOpt, _engine, app, console

case_app = typer.Typer(help="Cases (识别认定、帮扶、风险消除): show, act, overdue", no_args_is_help=True)
app.add_typer(case_app, name="case")


def _actor(user: str, role: str, region: str):
    from fangpin.cases import Actor

    return Actor(user, user, role, region)


@case_app.command("show")
def case_show(case: str = typer.Argument(..., help="Case id or tracking number"), db: Optional[str] = DbOpt) -> None:
    """A case with its state and every recorded step."""
    from fangpin.alerts.cases_link import install_hooks
    from fangpin.cases import get_case, history

    install_hooks()
    with _engine(db).connect() as c:
        v = get_case(c, int(case) if case.isdigit() else case)
        ev = history(c, v.id)
    console.print(f"#{v.id} {v.case_no} {v.state_zh} / {v.state_en} (version {v.version}); household {v.household_id}, "
                  f"region {v.region_code}, risk types {', '.join(v.risk_types) or '—'}")
    for e in ev:
        console.print(f"  {e['seq']:>2}. {e['at']} {e['action']:<16} {e['actor_role']:<18} {e.get('comment') or ''}")


@case_app.command("act")
def case_act(
    case: int = typer.Argument(...),
    action: str = typer.Argument(..., help="e.g. authorise, verify_home, data_check, village_review, township_audit, "
                                           "county_approve, reject, return"),
    user: str = typer.Option(..., "--user"),
    role: str = typer.Option(..., "--role", help="village_cadre | township_officer | county_officer | admin"),
    region: str = typer.Option(..., "--region", help="The actor's region code (village 12 / township 9 / county 6)"),
    version: int = typer.Option(..., "--version", help="The case version you are acting on (optimistic locking)"),
    comment: Optional[str] = typer.Option(None, "--comment"),
    payload: Optional[str] = typer.Option(None, "--payload", help='JSON, e.g. {"monitored_type": "BYYZP"}'),
    db: Optional[str] = DbOpt,
) -> None:
    """Take one step of the procedure; refusals and conflicts are explained in Chinese and English."""
    from fangpin.alerts.cases_link import install_hooks
    from fangpin.cases import CaseConflict, CaseError, act

    install_hooks()
    try:
        with _engine(db).begin() as conn:
            v = act(conn, case, action, _actor(user, role, region), expected_version=version, comment=comment,
                    payload=json.loads(payload) if payload else None)
    except (CaseError, CaseConflict) as e:
        console.print(f"[red]{e}[/red]", soft_wrap=True)
        raise typer.Exit(code=1)
    console.print(f"#{v.id} → {v.state_zh} / {v.state_en} (version {v.version})")


@case_app.command("overdue")
def case_overdue(
    today: Optional[str] = typer.Option(None, "--today"),
    region: str = typer.Option("", "--region"),
    escalate: bool = typer.Option(True, "--escalate/--no-escalate", help="Escalate each overdue item one level up"),
    db: Optional[str] = DbOpt,
) -> None:
    """Overdue items (POLICY.md §5 day limits) with escalation to the next level."""
    from fangpin.cases import overdue

    d = date.fromisoformat(today) if today else date.today()
    with _engine(db).begin() as conn:
        items = overdue(conn, d, region=region, escalate=escalate)
    for it in items:
        console.print(f"  {it}", soft_wrap=True)
    console.print(f"{len(items)} overdue item(s) on {d}")
