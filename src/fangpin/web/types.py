"""Input types shared by the web modules.

``DateIn``: a date the platform can compute with. Python dates run from year 1 to 9999, but month series, "a year
before" windows and policy lookups step outside that range for dates near its ends (schemathesis found
``?on=0001-01-01`` and ``?month=0000-03`` answering 500). Dates before 1900 or after 2999 are refused at the
door with 422 and a message that names the field.
"""
from __future__ import annotations

from datetime import date
from typing import Annotated

from pydantic import Field

DATE_MIN = date(1900, 1, 1)
DATE_MAX = date(2999, 12, 31)

DateIn = Annotated[date, Field(ge=DATE_MIN, le=DATE_MAX)]
