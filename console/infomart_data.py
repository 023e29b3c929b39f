"""What the console reads from the Info Mart data (issue 4), when it exists.

The infomart app is written beside the console. Every reader here imports it
lazily, runs its queries in a savepoint (a missing table must not break the
page's transaction), and degrades to an empty answer plus a sentence saying
what is missing, so the pages work, and say so, before the Info Mart tables
are deployed.

Used (read-only):
- infomart.hierarchies.available(): hierarchies offered by the re-aggregation dialog;
- infomart.models.CtlExtractHistory: extraction high-water marks per source table
  (newest row per table: MAX_USEQ and MAX_TS, on the ctl_extract_mark index);
- infomart.models.CtlTransformHistory: transformation marks per staging table;
- infomart.models.CtlPendingAgg: ranges waiting for Job_AggregateGIM.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from django.db import DatabaseError, connection, transaction

from gimmanager import reagg

log = logging.getLogger(__name__)

NOT_AVAILABLE = "The Info Mart data is not available (the infomart app does not provide {what} yet)."
PENDING_SHOWN = 20


def _epoch(ts: int | None) -> datetime | None:
    return datetime.fromtimestamp(ts, tz=UTC) if ts is not None else None


def hierarchies() -> tuple[tuple[str, ...], str]:
    """Hierarchies offered by the re-aggregation dialog: the deployed ones if the
    Info Mart can tell, otherwise every RAA hierarchy of the seed's list."""
    try:
        from infomart import hierarchies as mod

        names = tuple(str(getattr(h, "name", h)) for h in mod.available())
    except (ImportError, AttributeError):
        return reagg.HIERARCHIES, (NOT_AVAILABLE.format(what="the list of deployed hierarchies")
                                   + " All RAA hierarchies are listed.")
    known = tuple(n for n in names if n in reagg.HIERARCHIES)
    if not known:
        return reagg.HIERARCHIES, "The Info Mart reports no deployed hierarchy; all RAA hierarchies are listed."
    return known, ""


def _read(what: str, query: Any) -> tuple[Any, str]:
    try:
        with transaction.atomic():  # a savepoint: a missing table must not poison the request's transaction
            return query(), ""
    except (ImportError, AttributeError):
        return None, NOT_AVAILABLE.format(what=what)
    except DatabaseError as exc:
        log.warning("reading %s from the Info Mart failed: %s", what, exc)
        return None, f"The Info Mart tables cannot be read ({what}): {str(exc).splitlines()[0]}"


def high_water_marks(now: datetime) -> tuple[list[dict[str, Any]], str]:
    """Per source table: how far extraction got (GSYS_USEQ, and the newest source
    timestamp extracted), and how long ago that source time is."""

    def query() -> list[dict[str, Any]]:
        from infomart.models import CtlExtractHistory, CtlTransformHistory

        if connection.vendor == "postgresql":
            ext = CtlExtractHistory.objects.order_by("table_name", "-max_useq").distinct("table_name")
        else:  # pragma: no cover - the console runs on PostgreSQL
            ext = CtlExtractHistory.objects.order_by("table_name", "-max_useq")
        marks = {}
        for row in ext.values("table_name", "max_useq", "max_ts", "extract_end_time"):
            marks.setdefault(row["table_name"], row)
        trans = CtlTransformHistory.objects.order_by("hwm_name", "-hwm_value")
        if connection.vendor == "postgresql":
            trans = trans.distinct("hwm_name")
        transformed: dict[str, int] = {}
        for t in trans.values("hwm_name", "hwm_value"):
            transformed.setdefault(t["hwm_name"], t["hwm_value"])
        out = []
        for name, row in sorted(marks.items()):
            source_time = _epoch(row["max_ts"])
            out.append({"table": name, "mark": row["max_useq"], "source_time": source_time,
                        "lag": (now - source_time) if source_time else None, "at": row["extract_end_time"],
                        "transformed": transformed.get(name)})
        return out

    found, why = _read("extraction high-water marks", query)
    if found == [] and not why:
        why = "No extraction has committed a chunk yet: there is no high-water mark."
    return found or [], why


def pending_aggregation() -> tuple[dict[str, Any] | None, str]:
    """The ranges Job_AggregateGIM still has to (re)compute, oldest first."""

    def query() -> dict[str, Any]:
        from django.db.models import Count, Max, Min

        from infomart.models import CtlPendingAgg

        summary = CtlPendingAgg.objects.aggregate(n=Count("id"), lo=Min("start_key"), hi=Max("end_key"))
        ranges = [{"start": _epoch(r["start_key"]), "end": _epoch(r["end_key"])}
                  for r in CtlPendingAgg.objects.order_by("start_key").values("start_key", "end_key")[:PENDING_SHOWN]]
        return {"count": summary["n"], "start": _epoch(summary["lo"]), "end": _epoch(summary["hi"]),
                "ranges": ranges}

    return _read("pending aggregation ranges", query)
