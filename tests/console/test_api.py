"""JSON API: token auth, the same services and the same 403s as the pages."""

from __future__ import annotations

import pytest
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from gimmanager.catalog import Job, Status
from gimmanager.config.models import OptionChange
from gimmanager.config.services import current_values
from gimmanager.jobs.models import JobRun
from tests.console.conftest import make_run

pytestmark = pytest.mark.django_db


def api(user=None) -> APIClient:
    c = APIClient()
    if user is not None:
        c.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.get_or_create(user=user)[0].key}")
    return c


@pytest.fixture
def viewer(personas):
    return api(personas["viewer"])


@pytest.fixture
def operator(personas):
    return api(personas["operator"])


@pytest.fixture
def admin(personas):
    return api(personas["admin"])


def test_it_needs_a_token(db):
    assert api().get("/api/runs/").status_code == 401
    bad = APIClient()
    bad.credentials(HTTP_AUTHORIZATION="Token nope")
    assert bad.get("/api/runs/").status_code == 401


def test_it_hands_out_tokens_for_a_user_name_and_password(personas):
    r = APIClient().post("/api/token/", {"username": "viewer", "password": "pw-viewer"}, format="json")
    assert r.status_code == 200
    assert api().get("/api/runs/", HTTP_AUTHORIZATION=f"Token {r.data['token']}").status_code == 200


def test_it_lists_the_history_with_filters_and_cursor_pages(viewer):
    runs = [make_run(Job.EXTRACT, Status.COMPLETE) for _ in range(5)] + [make_run(Job.MAINTAIN, Status.FAILED)]
    r = viewer.get("/api/runs/", {"job": "Job_ExtractICON", "limit": 2})
    assert r.status_code == 200 and [x["id"] for x in r.data["results"]] == [runs[4].pk, runs[3].pk]
    assert r.data["previous"] is None and "after=" in r.data["next"] and "job=Job_ExtractICON" in r.data["next"]
    nxt = viewer.get(r.data["next"])
    assert [x["id"] for x in nxt.data["results"]] == [runs[2].pk, runs[1].pk]
    assert viewer.get("/api/runs/", {"status": "FAILED"}).data["results"][0]["job"] == "Job_MaintainGIM"


def test_it_validates_list_filters(viewer):
    r = viewer.get("/api/runs/", {"status": "DONE", "date_from": "yesterday"})
    assert r.status_code == 400 and "status" in r.data and "date_from" in r.data


def test_it_shows_a_run_with_its_log(viewer):
    from gimmanager import clock
    from gimmanager.jobs.models import JobLogEntry

    run = make_run(Job.TRANSFORM, Status.RUNNING, progress_done=5, progress_total=10)
    JobLogEntry.objects.create(run=run, at=clock.now(), message="chunk 1")
    r = viewer.get(f"/api/runs/{run.pk}/")
    assert r.status_code == 200 and r.data["log"][0]["message"] == "chunk 1" and r.data["progress_total"] == 10
    assert viewer.get("/api/runs/999999/").status_code == 404


def test_it_runs_a_job_and_answers_like_the_dialog(operator, personas):
    r = operator.post("/api/runs/", {"job": "Job_ExtractICON"}, format="json")
    assert r.status_code == 201 and r.data["kind"] == "started" and r.data["run"]["status"] == "RUNNING"
    assert JobRun.objects.get(pk=r.data["run"]["id"]).user == personas["operator"]
    again = operator.post("/api/runs/", {"job": "Job_ExtractICON"}, format="json")
    assert again.status_code == 201 and again.data["kind"] == "scheduled"
    third = operator.post("/api/runs/", {"job": "Job_ExtractICON"}, format="json")
    assert third.status_code == 409 and "already SCHEDULED" in third.data["message"]


def test_it_refuses_what_the_manager_refuses_in_words(operator):
    r = operator.post("/api/runs/", {"job": "Job_UpdateStats"}, format="json")
    assert r.status_code == 409 and r.data["kind"] == "refused" and r.data["rule"] == 6
    r = operator.post("/api/runs/", {"job": "Job_AggregateGIM", "params": "-insertPendingAgg nope"}, format="json")
    assert r.status_code == 409 and "expected three parts" in r.data["message"]
    assert operator.post("/api/runs/", {"job": "Job_Nope"}, format="json").status_code == 400


def test_it_stops_and_cancels(operator):
    running = make_run(Job.TRANSFORM, Status.RUNNING, attempt="00000000-0000-0000-0000-000000000009")
    r = operator.post(f"/api/runs/{running.pk}/stop/")
    assert r.status_code == 202 and r.data["kind"] == "stopping" and r.data["run"]["stopping"] is True
    waiting = make_run(Job.TRANSFORM, Status.SCHEDULED)
    r = operator.post(f"/api/runs/{waiting.pk}/cancel/")
    assert r.status_code == 200 and r.data["kind"] == "cancelled" and r.data["run"]["status"] == "STOPPED"
    assert operator.post(f"/api/runs/{waiting.pk}/cancel/").status_code == 409
    assert operator.post("/api/runs/999999/stop/").status_code == 404


def test_it_refuses_a_viewer_every_action(viewer):
    run = make_run(Job.TRANSFORM, Status.RUNNING)
    assert viewer.post("/api/runs/", {"job": "Job_ExtractICON"}, format="json").status_code == 403
    assert viewer.post(f"/api/runs/{run.pk}/stop/").status_code == 403
    assert viewer.post(f"/api/runs/{run.pk}/cancel/").status_code == 403
    assert viewer.patch("/api/options/", {"schedule": {"run-scheduler": "true"}}, format="json").status_code == 403
    assert JobRun.objects.count() == 1


def test_it_reads_and_changes_options_with_the_same_validation(admin, operator):
    r = admin.get("/api/options/")
    assert r.data["values"]["schedule"]["etl-frequency"] == "15" and r.data["problems"] == []
    assert operator.patch("/api/options/", {"schedule": {"etl-frequency": "30"}}, format="json").status_code == 403
    bad = admin.patch("/api/options/", {"schedule": {"etl-frequency": "30", "timezone": "Mars/Olympus"},
                                        "gim-etl": {"nope": "1"}}, format="json")
    assert bad.status_code == 400
    assert set(bad.data["errors"]) == {"[schedule] timezone", "[gim-etl] nope"}
    assert current_values()["schedule"]["etl-frequency"] == "15"
    ok = admin.patch("/api/options/", {"schedule": {"etl-frequency": 30, "run-scheduler": True}}, format="json")
    assert ok.status_code == 200 and {c["option"] for c in ok.data["changed"]} == {"etl-frequency", "run-scheduler"}
    assert OptionChange.objects.filter(via="api", changed_by="admin").count() == 2
    assert admin.patch("/api/options/", ["not", "a", "dict"], format="json").status_code == 400


def test_it_serves_an_openapi_schema(viewer):
    r = viewer.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert r.status_code == 200
    paths = r.json()["paths"]
    wanted = {"/api/runs/", "/api/runs/{id}/", "/api/runs/{id}/stop/", "/api/runs/{id}/cancel/", "/api/options/"}
    assert wanted <= set(paths)


def test_its_schema_documents_every_answer_of_run_and_stop(viewer):
    paths = viewer.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()["paths"]

    def codes(path, method):
        return set(paths[path][method]["responses"])

    assert {"201", "202", "400", "401", "403", "409"} <= codes("/api/runs/", "post")
    assert {"200", "400", "401"} <= codes("/api/runs/", "get")
    assert {"200", "401", "404"} <= codes("/api/runs/{id}/", "get")
    assert {"200", "202", "401", "403", "404", "409"} <= codes("/api/runs/{id}/stop/", "post")
    assert {"200", "401", "403", "404", "409"} <= codes("/api/runs/{id}/cancel/", "post")
    assert {"200", "400", "401"} <= codes("/api/token/", "post")
    error = paths["/api/runs/{id}/stop/"]["post"]["responses"]["404"]["content"]["application/json"]["schema"]
    assert error == {"$ref": "#/components/schemas/Error"}  # {"detail": "..."}
    # the options body: JSON only, {section: {option: value}} with each option's own type
    body = paths["/api/options/"]["patch"]["requestBody"]["content"]
    assert set(body) == {"application/json"}


def test_its_options_body_is_spelled_out_from_the_registry(viewer):
    schema = viewer.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    change = schema["components"]["schemas"]["OptionsChange"]
    assert change["additionalProperties"] is False
    frequency = change["properties"]["schedule"]["properties"]["etl-frequency"]
    assert (frequency["type"], frequency["minimum"], frequency["maximum"]) == ("integer", 1, 1440)
    assert "Europe/Berlin" in schema["components"]["schemas"]["TimeZone"]["enum"]


def test_it_answers_a_wrong_password_with_401(personas):
    r = APIClient().post("/api/token/", {"username": "viewer", "password": "wrong"}, format="json")
    assert r.status_code == 401 and r["WWW-Authenticate"] == "Token" and "user name" in r.data["detail"]
    r = APIClient().post("/api/token/", {"username": "viewer"}, format="json")
    assert r.status_code == 400 and "password" in r.data


def test_it_answers_a_reversed_date_range_with_no_runs(viewer):
    make_run(Job.EXTRACT, Status.COMPLETE)
    r = viewer.get("/api/runs/", {"date_from": "2026-05-02", "date_to": "2026-05-01"})
    assert r.status_code == 200 and r.data["results"] == []


def test_it_takes_option_changes_as_json_only(admin):
    assert admin.patch("/api/options/", {"schedule": "x"}, format="multipart").status_code == 415


def test_it_refuses_other_methods(admin):
    assert admin.delete("/api/runs/").status_code == 405
    assert admin.get("/api/runs/1/stop/").status_code == 405
    assert admin.put("/api/options/", {}, format="json").status_code == 405
