"""A small synthetic county with one monitoring run, shared by the programme tests."""
from __future__ import annotations

from datetime import date

import pytest

from fangpin.cases import Actor

AS_OF = date(2024, 12, 31)


@pytest.fixture
def county(engine):
    from fangpin.alerts.service import monitor
    from fangpin.synth.run import SynthParams, run

    run(engine, SynthParams(households=300, months=24, seed=41), None)
    report, result = monitor(engine, AS_OF)
    return {"engine": engine, "features": result.features, "report": report}


def actors(village: str) -> dict[str, Actor]:
    return {"village": Actor("v", "村干部", "village_cadre", village),
            "township": Actor("t", "乡镇干部", "township_officer", village[:9]),
            "county": Actor("c", "县干部", "county_officer", village[:6])}
