"""Strict parser for Job_AggregateGIM's re-aggregation parameter.

    -insertPendingAgg <AGR_SET>:<START>:<END>
    <AGR_SET> = ALLSETS | <HIERARCHY,...>-<LEVEL>[.Online|.Offline]

START and END are YYYY-MM-DD dates of the DATE_TIME calendar; the interval is
[START 00:00, END 00:00) local time, so `H_QUEUE-HOUR:2014-05-01:2014-05-02`
is the single day of 2014-05-01, as in the seed's example. Pure module.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

FLAG = "-insertPendingAgg"

# The seed's list of RAA hierarchies and levels.
HIERARCHIES = (
    "H_AGENT", "H_ID", "H_I_STATE_RSN", "H_QUEUE_GRP", "H_QUEUE_ABN", "H_AGENT_GRP", "H_I_AGENT",
    "H_QUEUE", "H_AGENT_CAMPAIGN", "H_AGENT_QUEUE", "H_I_SESS_STATE", "H_QUEUE_ACC_AGENT", "H_CAMPAIGN",
)
LEVELS = ("SUBHOUR", "HOUR", "DAY", "MONTH", "QUARTER", "YEAR")
FLAVORS = ("Online", "Offline")

FORM = f"{FLAG} <AGR_SET>:<START>:<END>, for example {FLAG} H_QUEUE-HOUR:2014-05-01:2014-05-02"


@dataclass(frozen=True)
class Reaggregation:
    hierarchies: tuple[str, ...]  # empty = every hierarchy (ALLSETS or an empty list)
    level: str | None  # None = every level (ALLSETS)
    flavor: str | None
    start: date
    end: date  # exclusive

    @property
    def agg_set(self) -> str:
        if self.level is None:
            return "ALLSETS"
        flavor = f".{self.flavor}" if self.flavor else ""
        return f"{','.join(self.hierarchies)}-{self.level}{flavor}"

    def as_param(self) -> str:
        return f"{FLAG} {self.agg_set}:{self.start.isoformat()}:{self.end.isoformat()}"


_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$", re.ASCII)


def is_reaggregation(params: str) -> bool:
    return params.strip().startswith(FLAG)


def parse(params: str) -> Reaggregation:
    """Parse the whole parameter string; ValueError says exactly what is wrong."""
    text = params.strip()
    if not text.startswith(FLAG):
        raise ValueError(f"Job Parameters: expected {FORM}")
    rest = text[len(FLAG):]
    if not rest.startswith((" ", "\t")) or not rest.strip():
        raise ValueError(f"Job Parameters: {FLAG} needs a value: {FORM}")
    value = rest.strip()
    if " " in value:
        raise ValueError(f"Job Parameters: unexpected text after the value {value.split()[0]!r}; expected {FORM}")
    parts = value.split(":")
    if len(parts) != 3:
        raise ValueError(f"Job Parameters: expected three parts separated by ':' (set, start, end); {FORM}")
    agg_set, start_s, end_s = parts
    start = _date("START", start_s)
    end = _date("END", end_s)
    if start >= end:
        raise ValueError(f"Job Parameters: START {start} must be before END {end}")
    if agg_set == "ALLSETS":
        return Reaggregation((), None, None, start, end)
    m = re.fullmatch(r"(?P<h>[A-Z_,]*)-(?P<level>[A-Z]+)(?:\.(?P<flavor>\w+))?", agg_set)
    if not m:
        raise ValueError("Job Parameters: the aggregate set must be ALLSETS or "
                         "<HIERARCHY,...>-<LEVEL>[.Online|.Offline], for example H_QUEUE-HOUR")
    names = tuple(h for h in m["h"].split(",") if h) if m["h"] else ()
    if m["h"] and len(names) != len(m["h"].split(",")):
        raise ValueError("Job Parameters: empty hierarchy name in the comma-separated list")
    for h in names:
        if h not in HIERARCHIES:
            raise ValueError(f"Job Parameters: unknown hierarchy {h}; expected one of {', '.join(HIERARCHIES)}")
    if len(set(names)) != len(names):
        raise ValueError("Job Parameters: a hierarchy is listed twice")
    if m["level"] not in LEVELS:
        raise ValueError(f"Job Parameters: unknown level {m['level']}; expected one of {', '.join(LEVELS)}")
    if m["flavor"] is not None and m["flavor"] not in FLAVORS:
        raise ValueError(f"Job Parameters: unknown flavor {m['flavor']}; expected Online or Offline")
    return Reaggregation(names, m["level"], m["flavor"], start, end)


def _date(label: str, s: str) -> date:
    if not _DATE.match(s):
        raise ValueError(f"Job Parameters: {label} must be a date YYYY-MM-DD, not {s!r}")
    try:
        return date.fromisoformat(s)
    except ValueError:
        raise ValueError(f"Job Parameters: {label} {s} is not a real date") from None
