"""Schemathesis against the app's own OpenAPI spec (/openapi.json), in-process over ASGI, as anonymous and as
logged-in users of several roles (session cookie + X-CSRF-Token, so writes get past the CSRF check and reach the
handlers). Counts server errors (5xx or an exception escaping the app): the figure ``security.schemathesis_5xx``.
"""
from __future__ import annotations

import traceback
from dataclasses import dataclass, field

__all__ = ["FuzzOutcome", "fuzz_api"]


@dataclass
class FuzzOutcome:
    calls: int = 0
    server_errors: int = 0
    by_status: dict[int, int] = field(default_factory=dict)
    examples: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {"calls": self.calls, "server_errors": self.server_errors,
                "by_status": dict(sorted(self.by_status.items())), "examples": self.examples[:20]}


def _credentials(app, users: list[tuple[str, str]]) -> list[tuple[str, dict, dict]]:
    from fastapi.testclient import TestClient

    from fangpin.web.session import COOKIE

    out = [("anonymous", {}, {})]
    for username, password in users:
        with TestClient(app) as c:
            r = c.post("/api/session", json={"username": username, "password": password})
            r.raise_for_status()
            out.append((username, {COOKIE: c.cookies.get(COOKIE)}, {"X-CSRF-Token": r.json()["csrf_token"]}))
    return out


def fuzz_api(app, users: list[tuple[str, str]], max_examples: int = 25, seed: int | None = 0) -> FuzzOutcome:
    """Every operation × (anonymous + each user) × (positive, negative generation), ``max_examples`` cases each."""
    import schemathesis

    out = FuzzOutcome()
    creds = _credentials(app, users)  # before fuzzing: random logins may lock the test client's address
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    ops = [r.ok() for r in schema.get_all_operations()]
    # log-out revokes the server-side session (docs/SECURITY.md §5): probe it last, or every later operation of that
    # user would only ever see 401
    ops.sort(key=lambda o: (o.method.upper(), o.path) == ("DELETE", "/api/session"))
    for who, cookies, headers in creds:
        for op in ops:
            for mode in schemathesis.GenerationMode:  # valid inputs, then inputs that break the schema
                _probe(out, op, mode, who, cookies, headers, max_examples, seed)
    return out


def _probe(out: FuzzOutcome, op, mode, who: str, cookies: dict, headers: dict, max_examples: int, seed) -> None:
    from hypothesis import HealthCheck, Phase, given, settings
    from hypothesis.errors import Unsatisfiable

    if True:
        if True:
            @settings(max_examples=max_examples, deadline=None, database=None, derandomize=seed is not None,
                      suppress_health_check=list(HealthCheck), phases=[Phase.explicit, Phase.generate])
            @given(case=op.as_strategy(generation_mode=mode))
            def probe(case):
                try:
                    r = case.call(cookies=cookies, headers=headers)
                    status = r.status_code
                    detail = r.content[:300].decode("utf-8", "replace")  # PDFs/XLSX are binary
                except Exception:  # noqa: BLE001 — an exception escaping the app is a server error
                    status, detail = 599, traceback.format_exc(limit=3)[-600:]
                out.calls += 1
                out.by_status[status] = out.by_status.get(status, 0) + 1
                if status >= 500:
                    out.server_errors += 1
                    out.examples.append(f"{who}: {case.method} {case.formatted_path} query={case.query} "
                                        f"body={str(case.body)[:200]} → {status}: {detail}")

            try:
                probe()
            except Unsatisfiable:  # nothing to break (e.g. no parameters in negative mode)
                pass
