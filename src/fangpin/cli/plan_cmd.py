"""`fangpin plan …` and `fangpin visit …`: the household's single assistance chain from the command line (thin
adapter over fangpin.cases — the same domain functions as the web forms and the API; refusals are printed in Chinese
and English and exit 1)."""
from __future__ import annotations

import json
from contextlib import contextmanager
from datetime import date
from typing import Iterator, Optional

import typer

from fangpin.cli.main import DbOpt, _engine, app, console

plan_app = typer.Typer(help="Assistance plan (帮扶计划/救助链): show, helper, measure, deliver, end-measure, assess, accept",
                       no_args_is_help=True)
visit_app = typer.Typer(help="Follow-up visits (回访): schedule, record, cadre visit", no_args_is_help=True)
app.add_typer(plan_app, name="plan")
app.add_typer(visit_app, name="visit")

UserOpt = typer.Option(..., "--user", help="Your user id (recorded on every change)")
RoleOpt = typer.Option(..., "--role", help="village_cadre | township_officer | county_officer | admin")
RegionOpt = typer.Option(..., "--region", help="Your region code (village 12 / township 9 / county 6 digits)")


def _d(s: Optional[str]) -> Optional[date]:
    if s is None:
        return None
    try:
        return date.fromisoformat(s)
    except ValueError:
        console.print(f"[red]date must be YYYY-MM-DD: {s!r} / 日期应写作 YYYY-MM-DD[/red]")
        raise typer.Exit(code=2)


@contextmanager
def _tx(db: Optional[str]) -> Iterator:
    from fangpin.alerts.cases_link import install_hooks
    from fangpin.cases import CaseConflict, CaseError

    install_hooks()
    try:
        with _engine(db).begin() as conn:
            yield conn
    except (CaseError, CaseConflict) as e:
        console.print(f"[red]{e.code}: {e.issue.zh} / {e.issue.en}[/red]", soft_wrap=True)
        raise typer.Exit(code=1)


def _actor(user: str, role: str, region: str):
    from fangpin.cases import Actor

    return Actor(user, user, role, region)


@plan_app.command("show")
def plan_show(household: str = typer.Argument(..., help="户编号 (household number)"),
              on: Optional[str] = typer.Option(None, "--on", help="As of (default today)"),
              as_json: bool = typer.Option(False, "--json"), db: Optional[str] = DbOpt) -> None:
    """The chain: relapse-prevention and civil-affairs measures, helper, visits, §8 checks, eligibility."""
    from fangpin.cases import assistance_chain, latest_eligibility
    from fangpin.cases.common import jsonable

    d = _d(on) or date.today()
    with _tx(db) as conn:
        ch = assistance_chain(conn, household, d)
        el = latest_eligibility(conn, household)
    if as_json:
        console.print_json(json.dumps(jsonable({**ch, "checks": ch["checks"], "eligibility": el}), ensure_ascii=False))
        return
    console.print(f"{ch['hh_no']} plan {ch['plan_id']} (version {ch['plan_version']}) as of {d}")
    for view in ("relapse_prevention", "civil_affairs"):
        console.print(f"  [{view}]")
        for m in ch[view]:
            console.print(f"    #{m['id']} {m['category']} {m['subtype'] or ''} {m['start_date']}–{m['end_date'] or ''} "
                          f"{'active' if m['active'] else 'ended'}, deliveries {m['deliveries']}")
    for h in ch["helpers"]:
        console.print(f"  helper {h['name']} ({h['unit']}) {h['start_date']}–{h['end_date'] or ''}")
    for v in ch["visits"]:
        console.print(f"  visit #{v['id']} due {v['due_date']} done {v['done_on'] or '—'} {v['result'] or ''}")
    for c in ch["checks"]:
        console.print(f"  check {c.code}: {'OK' if c.ok else 'FAILS'} — {c.zh}")
    if el is None:
        console.print("  eligibility: not assessed / 未测算")
    elif not el["ok"]:
        console.print(f"  eligibility run #{el['id']} ({el['on_date']}): not computed — {el['error']['zh']} / "
                      f"{el['error']['en']}", soft_wrap=True)
    else:
        console.print(f"  eligibility run #{el['id']} ({el['on_date']}, {el['trigger']}, {el['parameter_version']}): "
                      f"net per capita {el['income']['net_per_capita_year']}, categories "
                      f"{', '.join(el['income']['categories']) or '—'}")
        for r in el["results"]:
            console.print(f"    result #{r['id']} {r['programme']} {r['member'] or ''} "
                          f"{'eligible' if r['eligible'] else 'not eligible'} {r['rule_id']} "
                          f"{r['amount_month'] or r['amount_year'] or ''} → {r['proposal'] or '—'}")


@plan_app.command("helper")
def plan_helper(household: str, name: str = typer.Option(..., "--name"), unit: str = typer.Option(..., "--unit"),
                phone: Optional[str] = typer.Option(None, "--phone"), start: str = typer.Option(..., "--start"),
                user: str = UserOpt, role: str = RoleOpt, region: str = RegionOpt, db: Optional[str] = DbOpt) -> None:
    """Assign the helper (帮扶责任人, POLICY.md §8); the previous one ends the day before."""
    from fangpin.cases import assign_helper

    with _tx(db) as conn:
        hid = assign_helper(conn, household, _actor(user, role, region), name=name, unit=unit, phone=phone,
                            start_date=_d(start))
    console.print(f"helper #{hid} assigned to {household}")


@plan_app.command("measure")
def plan_measure(household: str, category: str = typer.Option(..., "--category", help="e.g. 产业帮扶 / INDUSTRY"),
                 start: str = typer.Option(..., "--start"), end: Optional[str] = typer.Option(None, "--end"),
                 subtype: Optional[str] = typer.Option(None, "--subtype", help="低保 / 特困 / 低保边缘 / 临时救助"),
                 source: str = typer.Option("relapse_prevention", "--source",
                                            help="relapse_prevention | civil_affairs"),
                 description: Optional[str] = typer.Option(None, "--description"),
                 external_ref: Optional[str] = typer.Option(None, "--external-ref"),
                 user: str = UserOpt, role: str = RoleOpt, region: str = RegionOpt, db: Optional[str] = DbOpt) -> None:
    """Add a measure to the household's chain (POLICY.md §8); duplicates of 低保/特困 are refused."""
    from fangpin.cases import add_measure

    with _tx(db) as conn:
        mid = add_measure(conn, household, _actor(user, role, region), category=category, start_date=_d(start),
                          end_date=_d(end), subtype=subtype, source=source, description=description,
                          external_ref=external_ref)
    console.print(f"measure #{mid} added to {household}")


@plan_app.command("deliver")
def plan_deliver(measure: int, on: str = typer.Option(..., "--on"),
                 amount: Optional[float] = typer.Option(None, "--amount"), note: Optional[str] = typer.Option(None, "--note"),
                 user: str = UserOpt, role: str = RoleOpt, region: str = RegionOpt, db: Optional[str] = DbOpt) -> None:
    """Record a delivery of a measure (措施落实记录)."""
    from fangpin.cases import record_delivery

    with _tx(db) as conn:
        did = record_delivery(conn, measure, _actor(user, role, region), delivered_on=_d(on), amount=amount, note=note)
    console.print(f"delivery #{did} recorded for measure #{measure}")


@plan_app.command("end-measure")
def plan_end_measure(measure: int, on: str = typer.Option(..., "--on"), reason: str = typer.Option(..., "--reason"),
                     user: str = UserOpt, role: str = RoleOpt, region: str = RegionOpt,
                     db: Optional[str] = DbOpt) -> None:
    """End a measure (with a reason)."""
    from fangpin.cases import end_measure

    with _tx(db) as conn:
        end_measure(conn, measure, _actor(user, role, region), end_date=_d(on), reason=reason)
    console.print(f"measure #{measure} ends {on}")


@plan_app.command("assess")
def plan_assess(household: str, on: Optional[str] = typer.Option(None, "--on"),
                trigger: str = typer.Option("manual", "--trigger", help="manual | civil_affairs | review"),
                user: str = UserOpt, role: str = RoleOpt, region: str = RegionOpt, db: Optional[str] = DbOpt) -> None:
    """Compute the household's eligibility (POLICY.md §10) from the registry and record it on the chain."""
    from fangpin.cases import assess_eligibility

    with _tx(db) as conn:
        run = assess_eligibility(conn, household, _actor(user, role, region), on=_d(on), trigger=trigger)
    if not run["ok"]:
        console.print(f"run #{run['id']}: not computed — {run['error']['zh']} / {run['error']['en']}", soft_wrap=True)
        return
    console.print(f"run #{run['id']} ({run['parameter_version']}): categories "
                  f"{', '.join(run['income']['categories']) or '—'}")
    for r in run["results"]:
        console.print(f"  result #{r['id']} {r['programme']} {r['member'] or ''} {r['rule_id']} → {r['proposal'] or '—'}")
        if r["eligible"] and r["proposal"] == "measure":
            for s in r["steps"]:
                console.print(f"      {s['zh']}", soft_wrap=True)


@plan_app.command("accept")
def plan_accept(result: int, start: str = typer.Option(..., "--start"),
                external_ref: Optional[str] = typer.Option(None, "--external-ref"),
                user: str = UserOpt, role: str = RoleOpt, region: str = RegionOpt, db: Optional[str] = DbOpt) -> None:
    """Put a proposed civil-affairs measure on the chain (refused if the chain already holds it)."""
    from fangpin.cases import accept_proposal

    with _tx(db) as conn:
        mid = accept_proposal(conn, result, _actor(user, role, region), start_date=_d(start), external_ref=external_ref)
    console.print(f"measure #{mid} recorded from result #{result}")


@visit_app.command("schedule")
def visit_schedule(household: str, due: Optional[str] = typer.Option(None, "--due"),
                   count: int = typer.Option(1, "--count"),
                   every: Optional[int] = typer.Option(None, "--every",
                                                       help="Days apart (default: follow_up_visit_interval_days)"),
                   user: str = UserOpt, role: str = RoleOpt, region: str = RegionOpt, db: Optional[str] = DbOpt) -> None:
    """Schedule follow-up visits (POLICY.md §4.2); the interval defaults to the dated parameter."""
    from fangpin.cases import schedule_visits

    with _tx(db) as conn:
        ids = schedule_visits(conn, household, _actor(user, role, region), first_due=_d(due), every_days=every,
                              count=count)
    console.print(f"visit(s) {', '.join('#' + str(i) for i in ids)} scheduled for {household}")


@visit_app.command("record")
def visit_record(household: str, result: str = typer.Option(..., "--result"),
                 on: Optional[str] = typer.Option(None, "--on"),
                 new_risk: bool = typer.Option(False, "--new-risk", help="The visit found a new risk"),
                 open_lead: bool = typer.Option(False, "--open-lead",
                                                help="Open a cadre-visit lead (household with no open case)"),
                 risk: list[str] = typer.Option([], "--risk", help="Risk type of the lead (repeatable)"),
                 user: str = UserOpt, role: str = RoleOpt, region: str = RegionOpt, db: Optional[str] = DbOpt) -> None:
    """A cadre visit: records the due follow-up visit (or an unscheduled one); optionally opens a lead."""
    from fangpin.cases import cadre_visit

    with _tx(db) as conn:
        out = cadre_visit(conn, household, _actor(user, role, region), done_on=_d(on) or date.today(), result=result,
                          new_risk=new_risk, open_lead=open_lead, risk_types=risk)
    console.print(f"visit #{out['visit_id']} recorded"
                  + (f"; next visit #{out['next_visit_id']}" if out["next_visit_id"] else "")
                  + (f"; lead {out['case_no']} (case #{out['case_id']}) opened" if out["case_id"] else ""))
