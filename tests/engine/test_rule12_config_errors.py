"""Rule 12: option changes take effect at the next tick; configuration-check
errors stop every launch and say why."""

from __future__ import annotations

from gimmanager.catalog import Job
from scheduler.engine import Action, advance, decide
from scheduler.simulator import OptionChange, simulate
from tests.engine.helpers import at, brief, lines, memory, options, run, starts, state

OPTS = options(etl_start_time="06:30", etl_end_time="00:30", etl_frequency="30", run_maintain="true",
               maintain_start_time="03:00", run_update_stats="true")
ERRORS = ("[schedule] maintain-start-time: 07:00 lies inside the ETL window 06:30-00:30; it must be outside it",)


def test_rule12_config_errors_refuse_every_launch_with_the_reason():
    ds = decide(OPTS, at("2026-05-01T06:30"), state(memory=memory(last_tick=at("2026-05-01T06:29"),
                                                                  maintenance_day=at("2026-05-01T03:00").date())),
                ERRORS)
    assert brief(ds) == [(Action.REFUSE, Job.EXTRACT, 12), (Action.REFUSE, Job.UPDATE_STATS, 12)]
    assert ds[0].reason == (
        "not started: the configuration check found 1 error ([schedule] maintain-start-time: 07:00 lies inside "
        "the ETL window 06:30-00:30; it must be outside it); due: first ETL cycle of the window 06:30-00:30")


def test_rule12_no_start_and_no_stop_with_errors():
    maint = run(Job.MAINTAIN, 5, started=at("2026-05-01T05:00"))
    mem = memory(last_tick=at("2026-05-01T06:29"), maintenance_day=at("2026-05-01T03:00").date())
    ds = decide(OPTS, at("2026-05-01T06:30"), state(running=[maint], memory=mem), ERRORS)
    # Rule 6 would stop the maintenance for the cycle; the cycle is refused, so
    # the maintenance goes on (and still suspends Job_UpdateStats, rule 7).
    assert brief(ds) == [(Action.SKIP, Job.UPDATE_STATS, 7), (Action.REFUSE, Job.EXTRACT, 12)]


def test_rule12_a_refused_tick_is_consumed():
    mem = memory(last_tick=at("2026-05-01T01:09"), maintenance_day=at("2026-05-01T03:00").date())
    ds = decide(OPTS, at("2026-05-01T01:10"), state(memory=mem), ERRORS)
    assert brief(ds) == [(Action.REFUSE, Job.UPDATE_STATS, 12)] and ds[0].fire_time == at("2026-05-01T01:10")
    mem = advance(mem, ds, at("2026-05-01T01:10"))
    assert decide(OPTS, at("2026-05-01T01:11"), state(memory=mem)) == []


def test_rule12_a_refused_maintenance_does_not_settle_the_day():
    mem = memory(last_tick=at("2026-05-01T02:59"))
    ds = decide(OPTS, at("2026-05-01T03:00"), state(memory=mem), ERRORS)
    assert brief(ds) == [(Action.REFUSE, Job.MAINTAIN, 12), (Action.REFUSE, Job.UPDATE_STATS, 12)]
    mem = advance(mem, ds, at("2026-05-01T03:00"))
    assert mem.maintenance_day is None
    # Fixed at 03:05: the day's maintenance still runs.
    assert brief(decide(OPTS, at("2026-05-01T03:05"), state(memory=mem))) == [(Action.START, Job.MAINTAIN, 5)]


def test_rule12_in_the_simulator_refusals_are_reported_once_and_launches_resume_when_fixed():
    opts = options(etl_start_time="06:30", etl_end_time="00:30", etl_frequency="30")
    events = simulate(opts, at("2026-05-01T06:00"), at("2026-05-01T07:50"), config_errors=ERRORS,
                      changes=[OptionChange(at("2026-05-01T07:12"), opts, ())])
    assert lines(events, job=Job.EXTRACT, kinds=["refused", "started"]) == [
        "05-01 06:30 Job_ExtractICON refused scheduler",
        "05-01 07:12 Job_ExtractICON started scheduler",
        "05-01 07:42 Job_ExtractICON started scheduler",
    ]


def test_rule12_option_changes_take_effect_at_the_next_tick():
    slow = options(etl_start_time="06:30", etl_end_time="00:30", etl_frequency="60")
    events = simulate(options(etl_start_time="06:30", etl_end_time="00:30", etl_frequency="30"),
                      at("2026-05-01T06:00"), at("2026-05-01T09:10"),
                      changes=[OptionChange(at("2026-05-01T07:10"), slow)])
    assert starts(events, Job.EXTRACT) == ["05-01 06:30", "05-01 07:00", "05-01 08:00", "05-01 09:00"]


def test_rule12_an_option_edit_on_the_second_a_job_is_due_neither_loses_nor_doubles_it():
    before = options(etl_start_time="06:30", etl_end_time="06:31", run_export="true")
    after = options(etl_start_time="06:30", etl_end_time="06:31", run_export="true", export_schedule="20 8,12")
    due = at("2026-05-01T08:20")
    # The edit lands just after the tick at 08:20 decided: no second run at 08:20.
    mem = memory(last_tick=at("2026-05-01T08:19:59"))
    first = decide(before, due, state(memory=mem))
    assert brief(first) == [(Action.START, Job.EXPORT, 10)]
    mem = advance(mem, first, due)
    assert decide(after, due, state(memory=mem)) == []
    # The edit lands just before the tick: the new options decide, once.
    mem = memory(last_tick=at("2026-05-01T08:19:59"))
    assert brief(decide(after, due, state(memory=mem))) == [(Action.START, Job.EXPORT, 10)]
    # Through the simulator, a change at exactly 08:20.
    events = simulate(before, at("2026-05-01T08:00"), at("2026-05-01T12:30"),
                      changes=[OptionChange(due, after)])
    assert starts(events, Job.EXPORT) == ["05-01 08:20", "05-01 12:20"]


def test_rule12_an_error_of_one_job_refuses_only_that_job():
    opts = options(etl_start_time="06:30", etl_end_time="00:30", etl_frequency="30", run_export="true",
                   export_schedule="30 6")
    unwritable = "[gim-export] output-directory: /x/out cannot be created or written, so Job_ExportGIM cannot run"
    ds = decide(opts, at("2026-05-01T06:30"), state(memory=memory(last_tick=at("2026-05-01T06:29"))),
                (), {Job.EXPORT: (unwritable,)})
    assert brief(ds) == [(Action.REFUSE, Job.EXPORT, 12), (Action.START, Job.EXTRACT, 3)]
    assert ds[0].reason == (f"not started: the configuration check found 1 error ({unwritable}); "
                            "due: export-schedule '30 6' fire times")
