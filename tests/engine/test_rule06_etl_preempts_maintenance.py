"""Rule 6: if an ETL cycle is due while Job_MaintainGIM runs, the scheduler stops
Job_MaintainGIM and starts the cycle."""

from __future__ import annotations

from gimmanager.catalog import Job
from scheduler.engine import Action, decide
from scheduler.simulator import simulate
from tests.engine.helpers import at, brief, lines, memory, options, run, state

OPTS = options(etl_start_time="06:30", etl_end_time="00:30", etl_frequency="30", run_maintain="true",
               maintain_start_time="03:00")
SETTLED = memory(last_tick=at("2026-05-01T06:29"), maintenance_day=at("2026-05-01T03:00").date())


def test_rule6_etl_cycle_preempts_running_maintenance():
    maint = run(Job.MAINTAIN, 5, started=at("2026-05-01T05:00"))
    ds = decide(OPTS, at("2026-05-01T06:30"), state(running=[maint], memory=SETTLED))
    assert brief(ds) == [(Action.STOP, Job.MAINTAIN, 6), (Action.START, Job.EXTRACT, 6)]
    assert ds[0].run_id == 5
    assert ds[0].reason == ("an ETL cycle is due (first ETL cycle of the window 06:30-00:30): the scheduler "
                            "stops Job_MaintainGIM (run 5) and starts the cycle")


def test_rule6_in_the_simulator_maintenance_stops_before_the_cycle_starts():
    events = simulate(OPTS, at("2026-05-01T02:00"), at("2026-05-01T06:31"), durations={Job.MAINTAIN: 240})
    assert lines(events) == [
        "05-01 03:00 Job_MaintainGIM started scheduler",
        "05-01 06:30 Job_MaintainGIM stopped scheduler",
        "05-01 06:30 Job_ExtractICON started scheduler",
    ]


def test_rule6_maintenance_already_stopping_is_not_stopped_twice():
    maint = run(Job.MAINTAIN, 5, started=at("2026-05-01T05:00"), stop_requested=True)
    assert brief(decide(OPTS, at("2026-05-01T06:30"), state(running=[maint], memory=SETTLED))) == [
        (Action.START, Job.EXTRACT, 6)]


def test_rule6_maintenance_run_by_hand_is_not_stopped():
    # The seed: maintenance started from the Manager is not protected; the operator
    # is told to suspend the ETL schedule first. The scheduler leaves it alone.
    maint = run(Job.MAINTAIN, 5, by="manual", started=at("2026-05-01T06:00"))
    ds = decide(OPTS, at("2026-05-01T06:30"), state(running=[maint], memory=SETTLED))
    assert brief(ds) == [(Action.START, Job.EXTRACT, 3)]
    assert "started by hand and is not stopped" in ds[0].reason


def test_rule6_maintenance_is_not_preempted_outside_the_etl_window():
    maint = run(Job.MAINTAIN, 5, started=at("2026-05-01T03:00"))
    assert decide(OPTS, at("2026-05-01T05:00"), state(running=[maint], memory=SETTLED)) == []
