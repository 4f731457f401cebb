"""`fangpin serve` and `fangpin users …` (registered on the main app; thin adapters over fangpin.web / fangpin.auth)."""
from __future__ import annotations

from typing import Optional

import typer

from fangpin.cli.main import DbOpt, _engine, app, console

users_app = typer.Typer(help="Web accounts (roles and regions)", no_args_is_help=True)
app.add_typer(users_app, name="users")


@app.command()
def serve(
    db: Optional[str] = DbOpt,
    host: str = typer.Option("127.0.0.1", "--host", help="Listen address (put a TLS proxy in front in production)"),
    port: int = typer.Option(8000, "--port"),
    secure_cookies: bool = typer.Option(False, "--secure-cookies", help="Mark the session cookie Secure (HTTPS)"),
) -> None:
    """Serve the web pages and the REST API (OpenAPI at /openapi.json). Set FANGPIN_SECRET_KEY to keep sessions
    across restarts."""
    import uvicorn

    from fangpin.web.app import create_app

    from fangpin.config import database_url
    from fangpin.db import make_engine, normalise_url

    url = normalise_url(database_url(db))
    # one connection per request thread (Starlette runs sync endpoints on a 40-thread pool): with SQLAlchemy's
    # default 5 + 10 a slow minute turned into "QueuePool limit reached" 500s in the load test
    web = create_app(engine=make_engine(db, pool_size=20, max_overflow=20) if not url.startswith("sqlite")
                     else _engine(db), secure_cookies=secure_cookies)
    console.print(f"fangpin web on http://{host}:{port}/  (API docs: /docs)")
    # keep idle connections longer than clients (browsers, proxies) do: with uvicorn's 5 s default a client reusing a
    # connection just as the server closes it gets "connection reset" (seen in the load test)
    uvicorn.run(web, host=host, port=port, log_level="info", timeout_keep_alive=75)


@users_app.command("add")
def users_add(
    username: str = typer.Argument(...),
    role: str = typer.Option(..., "--role", help="village_cadre | township_officer | county_officer | "
                                                 "department_officer | province_viewer | admin"),
    region: str = typer.Option(..., "--region", help="Region code of the role (12/9/6/6/2 digits; admin: 00 = all)"),
    name: Optional[str] = typer.Option(None, "--name", help="Display name"),
    db: Optional[str] = DbOpt,
) -> None:
    """Create an account (the password is asked for, never passed on the command line)."""
    from fangpin.auth import AuthError, create_user
    from fangpin.db import upgrade

    password = typer.prompt("password", hide_input=True, confirmation_prompt=True)
    e = _engine(db)
    upgrade(e)
    try:
        with e.begin() as conn:
            u = create_user(conn, username, password, role, region, name)
    except AuthError as err:
        console.print(f"[red]{err}[/red]")
        raise typer.Exit(1)
    console.print(f"user {u.username} ({u.role}, {u.region_code}) created")


@users_app.command("seed-demo")
def users_seed_demo(
    village: str = typer.Option(..., "--village", help="12-digit village code; township/county/province derived"),
    password: str = typer.Option("fangpin-demo", "--password"),
    db: Optional[str] = DbOpt,
) -> None:
    """One demo account per role for the village's village/township/county/province (demo data only)."""
    from fangpin.auth import seed_demo_users
    from fangpin.db import upgrade

    e = _engine(db)
    upgrade(e)
    with e.begin() as conn:
        rows = seed_demo_users(conn, village, password)
    for r in rows:
        console.print(f"{r['username']:<16} {r['password']:<14} {r['role']:<20} {r['region_code']}")


def _users_engine(db):
    from fangpin.db import upgrade

    e = _engine(db)
    upgrade(e)
    return e


def _fail(err) -> None:
    console.print(f"[red]{err}[/red]")
    raise typer.Exit(1)


@users_app.command("passwd")
def users_passwd(username: str = typer.Argument(...), db: Optional[str] = DbOpt) -> None:
    """Set a new password (asked for); every session of the account ends (docs/SECURITY.md §5)."""
    from fangpin.auth import AuthError, set_password

    password = typer.prompt("new password", hide_input=True, confirmation_prompt=True)
    try:
        with _users_engine(db).begin() as conn:
            n = set_password(conn, username, password)
    except AuthError as err:
        _fail(err)
    console.print(f"password of {username} changed; {n} session(s) revoked")


@users_app.command("disable")
def users_disable(username: str = typer.Argument(...), db: Optional[str] = DbOpt) -> None:
    """Disable an account (it can no longer log in); every session of it ends at once."""
    from fangpin.auth import AuthError, set_active

    try:
        with _users_engine(db).begin() as conn:
            n = set_active(conn, username, False)
    except AuthError as err:
        _fail(err)
    console.print(f"user {username} disabled; {n} session(s) revoked")


@users_app.command("enable")
def users_enable(username: str = typer.Argument(...), db: Optional[str] = DbOpt) -> None:
    """Enable a disabled account again (its old sessions stay revoked)."""
    from fangpin.auth import AuthError, set_active

    try:
        with _users_engine(db).begin() as conn:
            set_active(conn, username, True)
    except AuthError as err:
        _fail(err)
    console.print(f"user {username} enabled")


@users_app.command("sessions")
def users_sessions(username: str = typer.Argument(...), all_: bool = typer.Option(False, "--all",
                   help="Also ended sessions (revoked or expired, kept 30 days)"), db: Optional[str] = DbOpt) -> None:
    """List the login sessions of an account: start, last use, absolute expiry, client address, state."""
    from datetime import datetime

    from fangpin.auth import AuthError, user_by_name
    from fangpin.auth.sessions import list_sessions

    now = datetime.now()
    try:
        with _users_engine(db).connect() as conn:
            rows = list_sessions(conn, user_by_name(conn, username).id)
    except AuthError as err:
        _fail(err)
    shown = [r for r in rows if all_ or r.live(now)]
    console.print(f"{'session':<14} {'created':<19}  {'last seen':<19}  {'expires':<19}  {'client':<15} state")
    for r in shown:
        state = ("live" if r.live(now) else f"revoked ({r.revoked_reason})" if r.revoked_at else
                 "expired" if now >= r.expires_at else "idle timeout")
        console.print(f"{r.id_hash[:12]:<14} {r.created_at:%Y-%m-%d %H:%M:%S}  {r.last_seen_at:%Y-%m-%d %H:%M:%S}  "
                      f"{r.expires_at:%Y-%m-%d %H:%M:%S}  {(r.client_addr or '-'):<15} {state}")
    console.print(f"{sum(r.live(now) for r in rows)} live session(s) of {username}")


@users_app.command("revoke")
def users_revoke(username: str = typer.Argument(...), db: Optional[str] = DbOpt) -> None:
    """End every session of an account now (e.g. a lost phone or a shared computer); the password stays."""
    from fangpin.auth import AuthError, user_by_name
    from fangpin.auth.sessions import revoke_user

    try:
        with _users_engine(db).begin() as conn:
            n = revoke_user(conn, user_by_name(conn, username).id, "admin_revoke")
    except AuthError as err:
        _fail(err)
    console.print(f"{n} session(s) of {username} revoked")
