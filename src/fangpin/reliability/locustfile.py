"""Locust users for the load test: each simulated user logs in as one of the load-test accounts (mixed roles,
FANGPIN_LOAD_USERS names the JSON written by `python -m fangpin.reliability.load build`) and browses like staff do:
dashboard, household list pages, household details, open alerts, cases; aggregate-only roles see the dashboard,
department data officers the feed health pages (the only pages they may open).
Any answer other than the expected status counts as an error."""
from __future__ import annotations

import itertools
import json
import os
import random

from locust import HttpUser, between, task

_ACCOUNTS = json.loads(open(os.environ["FANGPIN_LOAD_USERS"]).read())["users"]
_NEXT = itertools.count()


class Staff(HttpUser):
    wait_time = between(1, 3)  # think time between clicks

    def on_start(self):
        self.account = _ACCOUNTS[next(_NEXT) % len(_ACCOUNTS)]
        r = self.client.post("/api/session", json={"username": self.account["username"],
                                                    "password": self.account["password"]}, name="login")
        self.records = self.account["role"] not in ("department_officer", "province_viewer")
        # department data officers see only upload and feed health (docs/RELIABILITY.md §1): their clicks go there
        self.department = self.account["role"] == "department_officer"
        self.hh: list[str] = []
        self.cases: list[int] = []
        if r.status_code == 200 and self.records:
            page = self.client.get("/api/households?per_page=50", name="/api/households").json()
            self.hh = [i["hh_no"] for i in page.get("items", [])]

    @task(3)
    def dashboard(self):
        if self.department:
            self.client.get("/api/feeds/health", name="/api/feeds/health")
        else:
            self.client.get("/api/dashboard", name="/api/dashboard")

    @task(2)
    def dashboard_page(self):
        if self.department:
            self.client.get("/feeds/health", name="/feeds/health")
        else:
            self.client.get("/dashboard", name="/dashboard")

    @task(4)
    def households(self):
        if self.records:
            self.client.get(f"/api/households?page={random.randint(1, 5)}&per_page=50", name="/api/households")

    @task(6)
    def household(self):
        if self.records and self.hh:
            self.client.get(f"/api/households/{random.choice(self.hh)}", name="/api/households/{hh_no}")

    @task(3)
    def household_page(self):
        if self.records and self.hh:
            self.client.get(f"/households/{random.choice(self.hh)}", name="/households/{hh_no}")

    @task(4)
    def alerts(self):
        if self.records:
            r = self.client.get(f"/api/alerts?page={random.randint(1, 3)}", name="/api/alerts")
            if r.status_code == 200:
                self.cases = [i["case_id"] for i in r.json().get("items", []) if i.get("case_id")][:20] or self.cases

    @task(2)
    def alerts_page(self):
        if self.records:
            self.client.get("/alerts", name="/alerts")

    @task(1)
    def me(self):
        self.client.get("/api/me", name="/api/me")
