"""Rule 2: an ETL cycle is Job_ExtractICON, then Job_TransformGIM when the
extraction completes; a failed extraction ends the cycle, recorded, and the
next cycle keeps its time."""

from __future__ import annotations

from gimmanager.catalog import Job, Status
from scheduler.engine import Action, Decision, advance, decide
from scheduler.simulator import Simulation, simulate
from scheduler.state import CycleStage
from tests.engine.helpers import at, brief, lines, memory, options, run, starts, state

OPTS = options(etl_start_time="06:30", etl_end_time="00:30", etl_frequency="30")
CYCLE = at("2026-05-01T06:30")


def test_rule2_transform_starts_when_the_cycle_extraction_completes():
    ext = run(Job.EXTRACT, 11, started=CYCLE, ended=at("2026-05-01T06:35"))
    mem = memory(cycle_started_at=CYCLE, cycle_stage=CycleStage.EXTRACT, last_tick=at("2026-05-01T06:34"))
    ds = decide(OPTS, at("2026-05-01T06:35"), state(last=[ext], memory=mem))
    assert ds == [Decision(Action.START, Job.TRANSFORM, 2,
                           "ETL cycle started at 06:30: Job_ExtractICON (run 11) completed", cycle_parent_id=11)]
    after = advance(mem, ds, at("2026-05-01T06:35"))
    assert (after.cycle_stage, after.cycle_extract_id, after.cycle_started_at) == (CycleStage.TRANSFORM, 11, CYCLE)


def test_rule2_transform_waits_while_the_extraction_runs():
    ext = run(Job.EXTRACT, 11, started=CYCLE)
    mem = memory(cycle_started_at=CYCLE, cycle_stage=CycleStage.EXTRACT, last_tick=at("2026-05-01T06:33"))
    assert decide(OPTS, at("2026-05-01T06:34"), state(running=[ext], memory=mem)) == []


def test_rule2_failed_extraction_ends_the_cycle_with_a_recorded_reason():
    ext = run(Job.EXTRACT, 11, started=CYCLE, ended=at("2026-05-01T06:33"), status=Status.FAILED)
    mem = memory(cycle_started_at=CYCLE, cycle_stage=CycleStage.EXTRACT, last_tick=at("2026-05-01T06:32"))
    ds = decide(OPTS, at("2026-05-01T06:33"), state(last=[ext], memory=mem))
    assert brief(ds) == [(Action.SKIP, Job.TRANSFORM, 2)]
    assert ds[0].reason == ("Job_ExtractICON (run 11) failed: the ETL cycle started at 06:30 ends without "
                            "Job_TransformGIM; the next cycle keeps its time")
    after = advance(mem, ds, at("2026-05-01T06:33"))
    assert after.cycle_stage is CycleStage.IDLE and after.cycle_started_at == CYCLE


def test_rule2_stopped_extraction_ends_the_cycle_too():
    ext = run(Job.EXTRACT, 11, started=CYCLE, ended=at("2026-05-01T06:33"), status=Status.STOPPED)
    mem = memory(cycle_started_at=CYCLE, cycle_stage=CycleStage.EXTRACT)
    ds = decide(OPTS, at("2026-05-01T06:33"), state(last=[ext], memory=mem))
    assert brief(ds) == [(Action.SKIP, Job.TRANSFORM, 2)] and "was stopped" in ds[0].reason


def test_rule2_failing_extraction_in_the_simulator_keeps_the_next_cycle_time():
    events = simulate(OPTS, at("2026-05-01T06:00"), at("2026-05-01T07:20"),
                      fails=[(Job.EXTRACT, at("2026-05-01T06:32"))])
    assert lines(events) == [
        "05-01 06:30 Job_ExtractICON started scheduler",
        "05-01 06:32 Job_ExtractICON failed scheduler",
        "05-01 06:32 Job_TransformGIM skipped scheduler",
        "05-01 07:00 Job_ExtractICON started scheduler",
        "05-01 07:05 Job_ExtractICON completed scheduler",
        "05-01 07:05 Job_TransformGIM started scheduler",
        "05-01 07:10 Job_TransformGIM completed scheduler",
    ]


def test_rule2_transform_is_linked_to_the_extraction_of_its_cycle():
    sim = Simulation(OPTS)
    sim.run(at("2026-05-01T06:00"), at("2026-05-01T07:20"))
    transforms = [r for r in sim.runs.values() if r.job is Job.TRANSFORM]
    assert [(sim.runs[t.parent_id].job, sim.runs[t.parent_id].started_at) for t in transforms] == [
        (Job.EXTRACT, CYCLE), (Job.EXTRACT, at("2026-05-01T07:00"))]


def test_rule2_cycle_transform_waits_for_a_manual_transform_and_remembers_its_extraction():
    ext = run(Job.EXTRACT, 11, started=CYCLE, ended=at("2026-05-01T06:35"))
    other = run(Job.TRANSFORM, 12, by="manual", started=at("2026-05-01T06:34"))
    mem = memory(cycle_started_at=CYCLE, cycle_stage=CycleStage.EXTRACT)
    ds = decide(OPTS, at("2026-05-01T06:35"), state(running=[other], last=[ext], memory=mem))
    assert brief(ds) == [(Action.WAIT, Job.TRANSFORM, 1)] and ds[0].cycle_parent_id == 11
    mem = advance(mem, ds, at("2026-05-01T06:35"))
    assert mem.cycle_extract_id == 11
    # A later manual extraction replaces the latest finished run; the cycle still knows its own.
    manual_ext = run(Job.EXTRACT, 13, by="manual", started=at("2026-05-01T06:36"), ended=at("2026-05-01T06:38"))
    ds = decide(OPTS, at("2026-05-01T06:40"), state(last=[manual_ext], memory=mem))
    assert brief(ds) == [(Action.START, Job.TRANSFORM, 2)] and ds[0].cycle_parent_id == 11


def test_rule2_next_cycle_waits_for_the_transform_of_the_previous_one():
    tr = run(Job.TRANSFORM, 12, started=at("2026-05-01T06:50"), parent_id=11)
    mem = memory(cycle_started_at=CYCLE, cycle_stage=CycleStage.TRANSFORM, cycle_extract_id=11)
    assert decide(OPTS, at("2026-05-01T07:00"), state(running=[tr], memory=mem)) == []


def test_rule2_missing_extraction_record_ends_the_cycle():
    # The adapter could not create the run (say the database refused it): do not hang.
    mem = memory(cycle_started_at=CYCLE, cycle_stage=CycleStage.EXTRACT)
    ds = decide(OPTS, at("2026-05-01T06:31"), state(memory=mem))
    assert brief(ds) == [(Action.SKIP, Job.TRANSFORM, 2)] and "was not found" in ds[0].reason
    assert starts(simulate(OPTS, at("2026-05-01T06:00"), at("2026-05-01T06:40")), Job.TRANSFORM) == [
        "05-01 06:35"]
