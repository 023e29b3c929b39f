"""Keyset paging of the history query (console.history): every sort walks every row
exactly once, forwards and backwards, including ties on the time column."""

from __future__ import annotations

import random
from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest

from console import history as hist
from gimmanager import clock
from gimmanager.catalog import Job, Status
from tests.console.conftest import make_run

pytestmark = pytest.mark.django_db
UTC = ZoneInfo("UTC")
SORTS = ["-requested", "requested", "job", "-job", "status", "-status", "started", "-started", "duration",
         "-duration"]


@pytest.fixture
def runs():
    rnd = random.Random(7)
    base = clock.now() - timedelta(days=2)
    made = []
    for i in range(60):
        status = rnd.choice(list(Status))
        # Every third run shares its time with the previous one: ties must not drop or repeat rows.
        t = base + timedelta(minutes=i - (i % 3 == 0))
        job = rnd.choice(list(Job))
        # At most one RUNNING and one SCHEDULED run per job (the model's constraint).
        if status in (Status.RUNNING, Status.SCHEDULED) and any(
                r.job == job.value and r.status == status.value for r in made):
            status = Status.COMPLETE
        made.append(make_run(job, status, requested=t, ended=t + timedelta(seconds=rnd.randint(1, 900))
                             if status in (Status.COMPLETE, Status.FAILED, Status.STOPPED) else None))
    return made


def walk(sort: str, size: int, filters: hist.Filters | None = None) -> tuple[list[int], list[hist.Page]]:
    filters = filters or hist.Filters()
    seen, pages = [], []
    p = hist.history(filters, sort, UTC, size=size)
    while True:
        pages.append(p)
        seen.extend(r.pk for r in p.rows)
        if not p.next:
            return seen, pages
        p = hist.history(filters, sort, UTC, after=p.next, size=size)


@pytest.mark.parametrize("sort", SORTS)
def test_it_walks_every_row_exactly_once(runs, sort):
    seen, pages = walk(sort, 7)
    assert sorted(seen) == sorted(r.pk for r in runs)
    assert len(pages) == 9  # 60 rows by 7, and no empty last page
    assert pages[0].first and not pages[0].prev and all(p.prev for p in pages[1:])


@pytest.mark.parametrize("sort", SORTS)
def test_it_walks_back_to_the_same_pages(runs, sort):
    _, pages = walk(sort, 7)
    for earlier, later in zip(pages, pages[1:], strict=False):
        back = hist.history(hist.Filters(), sort, UTC, before=later.prev, size=7)
        assert [r.pk for r in back.rows] == [r.pk for r in earlier.rows]


def test_it_orders_newest_first_by_default(runs):
    seen, _ = walk("-requested", 50)
    expected = sorted(runs, key=lambda r: (r.requested_at, r.pk), reverse=True)
    assert seen == [r.pk for r in expected]


def test_it_orders_by_name_then_newest(runs):
    seen, _ = walk("job", 11)
    expected = sorted(runs, key=lambda r: (r.job, -r.requested_at.timestamp(), -r.pk))
    assert seen == [r.pk for r in expected]


def test_it_orders_finished_runs_by_duration(runs):
    seen, _ = walk("duration", 9)
    finished = [r for r in runs if r.started_at and r.ended_at]
    expected = sorted(finished, key=lambda r: (r.ended_at - r.started_at, r.pk))
    order = [pk for pk in seen if pk in {r.pk for r in finished}]
    assert order == [r.pk for r in expected]


def test_it_pages_a_filtered_history(runs):
    f = hist.Filters(job=Job.EXTRACT.value)
    seen, _ = walk("job", 3, f)
    assert sorted(seen) == sorted(r.pk for r in runs if r.job == Job.EXTRACT.value)


def test_it_ignores_a_garbled_cursor(runs):
    p = hist.history(hist.Filters(), "-requested", UTC, after="not-a-cursor", size=5)
    assert p.first and len(p.rows) == 5
