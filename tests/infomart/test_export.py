"""Job_ExportGIM: CSV rows equal the facts, chunks appear whole or not at all,
retries, retention, encoding, start-date; stop and failure leave nothing partial."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from gimmanager.catalog import Job
from gimmanager.jobs.context import StopRequested
from infomart import sql
from infomart.jobs import export
from tests.infomart import helpers as h
from tests.infomart.expect import fetch

pytestmark = pytest.mark.django_db(transaction=True)  # the pool threads read committed data


def vals(out: Path, **more: str) -> dict[str, dict[str, str]]:
    opts = {"schedule__timezone": h.NY, "gim_etl__days_to_keep_active_facts": "3650",
            "gim_export__output_directory": str(out), "gim_export__chunk_size_seconds": "7200",
            "gim_export__thread_pool_size": "3", "gim_export__retry_delay_seconds": "0", **more}
    return h.values(**opts)


@pytest.fixture
def mart():
    h.generate(days=1)
    h.etl(vals(Path("/unused")))


def folders(out: Path) -> list[Path]:
    return sorted(p for p in out.iterdir() if p.name.startswith("export_"))


def verify(folder: Path) -> dict:
    """The folder is whole: every file its manifest lists, with that many rows and that checksum."""
    manifest = json.loads((folder / "manifest.json").read_text())
    assert sorted(manifest["files"]) == sorted(p.name for p in folder.iterdir() if p.suffix == ".csv")
    for name, meta in manifest["files"].items():
        data = (folder / name).read_bytes()
        assert hashlib.sha1(data).hexdigest() == meta["sha1"] and len(data) == meta["bytes"]
        assert len(list(csv.reader(io.StringIO(data.decode(manifest["encoding"]))))) - 1 == meta["rows"]
    return manifest


def merged(out: Path, table: str, key: str) -> dict[str, dict[str, str]]:
    """The table as the export says it is: folders in order, a later row replacing an earlier one."""
    rows: dict[str, dict[str, str]] = {}
    for folder in folders(out):
        path = folder / f"{table}.csv"
        if path.exists():
            for r in csv.DictReader(io.StringIO(path.read_text(encoding="utf8"))):
                rows[r[key]] = r
    return rows


def as_csv(row: dict) -> dict[str, str]:
    return {k: "" if v is None or v == "" else str(int(v) if isinstance(v, bool) else v) for k, v in row.items()}


def test_it_exports_the_facts_of_each_range_exactly(mart, tmp_path):
    h.run_job(Job.EXPORT, vals(tmp_path))
    names = folders(tmp_path)
    assert names[-1].name.endswith("_dimensions") and len(names) > 10
    for folder in names:
        verify(folder)
    for table, key in export.FACTS.items():
        db = {str(r[key]): as_csv(r) for r in fetch(f"SELECT * FROM {table}")}
        assert merged(tmp_path, table, key) == db, table
    # Each window's file holds exactly the facts that started in it.
    for folder in names[:-1]:
        m = verify(folder)
        w0 = int(datetime.fromisoformat(m["window_start"]).timestamp())
        got = {r["interaction_id"] for r in csv.DictReader((folder / "interaction_fact.csv").open())}
        want = {str(r["interaction_id"]) for r in fetch(
            "SELECT interaction_id FROM interaction_fact WHERE start_ts >= %s AND start_ts < %s",
            [w0, w0 + 7200])}
        assert got == want
    dims = {r["resource_key"] for r in csv.DictReader((names[-1] / "resource_.csv").open())}
    assert dims == {str(r["resource_key"]) for r in fetch("SELECT resource_key FROM resource_")}


def test_it_exports_only_what_changed_since_the_last_export(mart, tmp_path):
    v = vals(tmp_path)
    h.run_job(Job.EXPORT, v)
    first = {p.name for p in folders(tmp_path)}
    h.generate(end=h.END.replace(hour=18), resume=True)  # finishes calls and adds traffic
    h.etl(v)
    ctx = h.run_job(Job.EXPORT, v)
    second = {p.name for p in folders(tmp_path)} - first
    assert second and all(not n.startswith(next(iter(first))[:19]) for n in second)
    for table, key in export.FACTS.items():
        db = {str(r[key]): as_csv(r) for r in fetch(f"SELECT * FROM {table}")}
        assert merged(tmp_path, table, key) == db, table
    ctx = h.run_job(Job.EXPORT, v)
    assert any("nothing new" in m for _, _, m in ctx.drain()[0])


def test_a_stop_leaves_no_partial_folder_and_the_next_run_finishes_the_same_export(mart, tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    h.run_job(Job.EXPORT, vals(a))
    expected = {p.name: {f.name: f.read_bytes() for f in p.iterdir() if f.suffix == ".csv"} for p in folders(a)}
    sql.execute("DELETE FROM ctl_export_history")
    sql.execute("DELETE FROM ctl_export_run")
    ctx = h.disturbed_ctx(Job.EXPORT, vals(b, gim_export__thread_pool_size="2"), n=4)
    with pytest.raises(StopRequested):
        export.run(ctx)
    partial = folders(b)
    assert 0 < len(partial) < len(expected)
    for folder in partial:
        verify(folder)
    assert not [p for p in b.iterdir() if not p.name.startswith("export_")]  # no temporary leftovers
    h.run_job(Job.EXPORT, vals(b))
    got = {p.name: {f.name: f.read_bytes() for f in p.iterdir() if f.suffix == ".csv"} for p in folders(b)}
    assert got == expected


def test_it_retries_a_failing_chunk_then_fails_without_moving_the_mark(mart, tmp_path, monkeypatch):
    failures = {"n": 0}

    def flaky(index: int) -> None:
        if index == 1 and failures["n"] < 2:
            failures["n"] += 1
            raise OSError("disk full (injected)")

    monkeypatch.setattr(export, "fault", flaky)
    ctx = h.run_job(Job.EXPORT, vals(tmp_path, gim_export__max_retries="3"))
    assert failures["n"] == 2
    assert sum("retry" in m for _, _, m in ctx.drain()[0]) == 2
    assert sql.scalar("SELECT COUNT(*) FROM ctl_export_run WHERE complete = %s", [True]) == 1

    out = tmp_path / "again"
    sql.execute("DELETE FROM ctl_export_history")
    sql.execute("DELETE FROM ctl_export_run")
    monkeypatch.setattr(export, "fault", lambda index: (_ for _ in ()).throw(OSError("broken")) if index == 2
                        else None)
    with pytest.raises(RuntimeError, match="failed 2 times"):
        h.run_job(Job.EXPORT, vals(out, gim_export__max_retries="1"))
    assert sql.scalar("SELECT COUNT(*) FROM ctl_export_run WHERE complete = %s", [True]) == 0
    assert sql.scalar("SELECT done_count FROM ctl_export_run") <= 2
    for folder in folders(out):
        verify(folder)
    monkeypatch.setattr(export, "fault", None)
    h.run_job(Job.EXPORT, vals(out))
    assert sql.scalar("SELECT COUNT(*) FROM ctl_export_run WHERE complete = %s", [True]) == 1


def test_it_deletes_files_older_than_days_to_keep_output_files(mart, tmp_path):
    v = vals(tmp_path, gim_export__days_to_keep_output_files="2")
    h.run_job(Job.EXPORT, v)
    old, young = folders(tmp_path)[0], folders(tmp_path)[1]
    three_days_ago = time.time() - 3 * 86400
    os.utime(old / "manifest.json", (three_days_ago, three_days_ago))
    leftover = tmp_path / ".export_000000000001_2026_03_08_00_00_00.tmp-1-2"
    leftover.mkdir()
    (leftover / "interaction_fact.csv").write_text("half a fi")
    h.run_job(Job.EXPORT, v)
    assert not old.exists() and young.exists() and not leftover.exists()


def test_it_writes_the_configured_encoding_and_honours_start_date(mart, tmp_path):
    sql.execute("UPDATE resource_ SET resource_name = %s, update_audit_key = update_audit_key "
                "WHERE resource_key = (SELECT MIN(resource_key) FROM resource_)", ["Zoë Ångström"])
    start = "2026-03-09 00:00:00"
    h.run_job(Job.EXPORT, vals(tmp_path, gim_export__output_files_encoding="latin1", gim_export__start_date=start))
    dims = [p for p in folders(tmp_path) if p.name.endswith("_dimensions")][0]
    assert "Zoë Ångström" in (dims / "resource_.csv").read_bytes().decode("latin1")
    assert verify(dims)["encoding"] == "latin1"
    cutoff = int(datetime(2026, 3, 9, tzinfo=UTC).timestamp())
    rows = merged(tmp_path, "interaction_fact", "interaction_id")
    assert rows and min(int(r["start_ts"]) for r in rows.values()) >= cutoff
    assert len(rows) == sql.scalar("SELECT COUNT(*) FROM interaction_fact WHERE start_ts >= %s", [cutoff])


def test_it_can_read_through_export_views(mart, tmp_path):
    h.run_job(Job.EXPORT, vals(tmp_path, gim_export__use_export_views="true"))
    assert sql.table_exists("export_interaction_fact")
    db = {str(r["interaction_id"]): as_csv(r) for r in fetch("SELECT * FROM interaction_fact")}
    assert merged(tmp_path, "interaction_fact", "interaction_id") == db
