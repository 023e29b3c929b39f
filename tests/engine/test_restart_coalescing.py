"""Restart safety: memory persists, so a restart continues; ticks missed while the
scheduler was down coalesce into one run; a cycle or maintenance whose time
passed runs only if the rules still allow it now."""

from __future__ import annotations

import json

from gimmanager.catalog import Job, Status
from scheduler.engine import Action, Decision, advance, bootstrap_memory, decide
from scheduler.simulator import Simulation, simulate
from scheduler.state import CycleStage, JobsState, SchedulerMemory
from tests.engine.helpers import at, brief, lines, memory, options, run, sample, starts, state


def test_it_coalesces_missed_update_stats_ticks_into_one_run():
    opts = options(etl_start_time="06:30", etl_end_time="06:31", run_update_stats="true")
    ds = decide(opts, at("2026-05-01T10:25"), state(memory=memory(last_tick=at("2026-05-01T09:58"))))
    assert ds == [Decision(Action.START, Job.UPDATE_STATS, 9,
                           "update-stats-schedule '0/10 *' fire time 10:20 (2 earlier missed fire times "
                           "coalesced into this one)", fire_time=at("2026-05-01T10:20"))]


def test_it_coalesces_days_of_missed_export_ticks_into_one_run():
    opts = options(etl_start_time="06:30", etl_end_time="06:31", run_export="true")
    ds = decide(opts, at("2026-05-01T09:00"), state(memory=memory(last_tick=at("2026-04-20T12:00"))))
    assert ds == [Decision(Action.START, Job.EXPORT, 10,
                           "export-schedule '20 0/8' fire time 08:20 (fire times missed since 2026-04-20 12:00 "
                           "coalesced into this one)", fire_time=at("2026-05-01T08:20"))]


def test_it_coalesces_after_a_simulated_restart_with_memory_kept_and_clock_jumped():
    opts = sample(run_update_stats="true")
    events = simulate(opts, at("2026-05-01T09:00"), at("2026-05-01T11:00"),
                      outages=[(at("2026-05-01T09:55"), at("2026-05-01T10:25"))])
    assert starts(events, Job.UPDATE_STATS) == [
        "05-01 09:00", "05-01 09:10", "05-01 09:20", "05-01 09:30", "05-01 09:40", "05-01 09:50",
        "05-01 10:25",  # 10:00, 10:10 and 10:20 were missed: one run
        "05-01 10:30", "05-01 10:40", "05-01 10:50"]
    # The 10:00 cycle was due while down; it runs once at the restart, and the
    # next one keeps the frequency from there.
    assert starts(events, Job.EXTRACT) == ["05-01 09:00", "05-01 09:30", "05-01 10:25", "05-01 10:55"]


def test_a_restart_repeats_neither_the_maintenance_nor_the_cycle():
    opts = sample()
    first = Simulation(opts)
    first.run(at("2026-05-01T02:00"), at("2026-05-01T07:20"))
    assert starts(first.events, Job.MAINTAIN) == ["05-01 03:00"]
    # Persist the memory as the beat does (JSON in one row), restart 5 minutes later
    # with no job running (the 07:00 cycle ended at 07:10).
    row = json.loads(json.dumps(first.memory.to_dict()))
    second = Simulation(opts, memory=SchedulerMemory.from_dict(row))
    events = second.run(at("2026-05-01T07:25"), at("2026-05-01T08:01"))
    assert starts(events, Job.EXTRACT) == ["05-01 07:30", "05-01 08:00"]
    assert starts(events, Job.MAINTAIN) == []
    assert starts(events, Job.AGGREGATE) == ["05-01 07:25"]  # rule 8: it was not running, it is inside its window


def test_memory_round_trips_through_json():
    mem = SchedulerMemory(last_tick=at("2026-05-01T10:00"), cycle_started_at=at("2026-05-01T09:30"),
                          cycle_stage=CycleStage.TRANSFORM, cycle_extract_id=41,
                          maintenance_day=at("2026-05-01T03:00").date())
    mem = advance(mem, [Decision(Action.SKIP, Job.EXPORT, 10, "x", fire_time=at("2026-05-01T08:20"))],
                  at("2026-05-01T10:00"))
    back = SchedulerMemory.from_dict(json.loads(json.dumps(mem.to_dict())))
    assert back == mem
    assert SchedulerMemory.from_dict({}) == SchedulerMemory()


def test_advance_never_moves_the_last_tick_back():
    mem = advance(memory(last_tick=at("2026-05-01T10:00")), [], at("2026-05-01T09:59"))
    assert mem.last_tick == at("2026-05-01T10:00")


def test_bootstrap_memory_rebuilds_cycle_and_maintenance_from_job_runs():
    opts = sample()
    jobs = JobsState(
        running={},
        last_finished={
            Job.EXTRACT: run(Job.EXTRACT, 9, started=at("2026-05-01T07:00"), ended=at("2026-05-01T07:05")),
            Job.MAINTAIN: run(Job.MAINTAIN, 5, started=at("2026-05-01T03:00"), ended=at("2026-05-01T03:30")),
            Job.EXPORT: run(Job.EXPORT, 6, started=at("2026-05-01T00:20"), ended=at("2026-05-01T00:30"),
                            status=Status.FAILED),
        })
    mem = bootstrap_memory(opts, jobs, at("2026-05-01T07:20"))
    assert mem.cycle_started_at == at("2026-05-01T07:00") and mem.cycle_stage is CycleStage.IDLE
    assert mem.maintenance_day == at("2026-05-01T03:00").date()
    assert mem.last_tick == at("2026-05-01T07:20")
    assert decide(opts, at("2026-05-01T07:20"), state(memory=mem)) == [
        Decision(Action.START, Job.AGGREGATE, 8, "aggregation window 04:00-03:00")]


def test_bootstrap_memory_ignores_runs_started_by_hand():
    jobs = JobsState(running={Job.EXTRACT: run(Job.EXTRACT, 9, by="manual", started=at("2026-05-01T07:00"))})
    mem = bootstrap_memory(sample(), jobs, at("2026-05-01T07:20"))
    assert (mem.cycle_started_at, mem.cycle_stage, mem.maintenance_day) == (None, CycleStage.IDLE, None)


def test_a_scheduler_started_maintenance_survives_a_restart_while_it_runs():
    opts = sample()
    events = simulate(opts, at("2026-05-01T02:00"), at("2026-05-01T04:10"),
                      outages=[(at("2026-05-01T03:10"), at("2026-05-01T03:20"))])
    assert lines(events) == [
        "05-01 02:00 Job_AggregateGIM started scheduler",
        "05-01 03:00 Job_AggregateGIM stopped scheduler",
        "05-01 03:00 Job_MaintainGIM started scheduler",
        "05-01 03:30 Job_MaintainGIM completed scheduler",
        "05-01 04:00 Job_AggregateGIM started scheduler",
    ]
    assert brief(decide(opts, at("2026-05-01T03:20"), state(
        running=[run(Job.MAINTAIN, 3, started=at("2026-05-01T03:00"))],
        memory=memory(last_tick=at("2026-05-01T03:10"), maintenance_day=at("2026-05-01T03:00").date())))) == []
