"""JSON API for scripts and monitoring: the console's actions over token auth.

Same service layer as the pages (request_run, stop_run, cancel_run,
update_options) and the same permissions: every signed-in role reads; a
Viewer gets 403 on run/stop/cancel; only an Administrator changes options.

Status codes: 201 a run was created (started or SCHEDULED), 202 the request
was taken (handed over, stopping), 200 cancelled, 409 the service refused
(message says why), 400 bad input, 401 no or bad token (or, at /api/token/, a
wrong user name or password), 403 not allowed, 404 no such run, 503 the
database is not reachable (gimmanager/outage.py). The schema documents them.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from django.shortcuts import get_object_or_404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.authtoken.models import Token
from rest_framework.authtoken.views import ObtainAuthToken
from rest_framework.decorators import api_view, parser_classes
from rest_framework.exceptions import AuthenticationFailed, PermissionDenied, ValidationError
from rest_framework.parsers import JSONParser
from rest_framework.request import Request
from rest_framework.response import Response

from console import history as hist
from console.api_schema import FIELD_ERRORS, FORBIDDEN, NOT_FOUND, RUN_ID, UNAUTHORIZED
from console.forms import ApiHistoryFilterForm
from console.serializers import (
    ErrorSerializer,
    OptionsChangedSerializer,
    OptionsChangeSerializer,
    OptionsErrorSerializer,
    OptionsSerializer,
    OutcomeSerializer,
    RunDetailSerializer,
    RunPageSerializer,
    RunRequestSerializer,
    RunSerializer,
    TokenRequestSerializer,
)
from console.views.common import local_zone
from gimmanager.catalog import Job
from gimmanager.config.services import (
    Changer,
    OptionsError,
    configuration_problems,
    current_values,
    update_options,
)
from gimmanager.jobs import services
from gimmanager.jobs.models import JobRun
from gimmanager.jobs.services import Outcome, Requester

OUTCOME_STATUS = {"started": 201, "scheduled": 201, "handed_over": 202, "stopping": 202, "cancelled": 200,
                  "refused": 409}


def _require(request: Request, perm: str) -> None:
    if not request.user.has_perm(perm):
        raise PermissionDenied(f"Your role does not allow this (needs {perm}).")


def _outcome(outcome: Outcome) -> Response:
    data = {"kind": outcome.kind, "message": outcome.message, "warnings": list(outcome.warnings),
            "rule": outcome.rule, "run": RunSerializer(outcome.run).data if outcome.run else None}
    return Response(data, status=OUTCOME_STATUS.get(outcome.kind, 200))


_LIST_PARAMS = [
    OpenApiParameter("job", str, enum=[j.value for j in Job]),
    OpenApiParameter("status", str, enum=["SCHEDULED", "RUNNING", "COMPLETE", "FAILED", "STOPPED"]),
    OpenApiParameter("q", {"type": "string", "maxLength": 200},
                     description="text: run number, user, parameters, note or reason"),
    OpenApiParameter("date_from", OpenApiTypes.DATE, description="local date of the [schedule] timezone"),
    OpenApiParameter("date_to", OpenApiTypes.DATE, description="local date, inclusive (before date_from: no runs)"),
    OpenApiParameter("sort", str, enum=["-requested", "requested", "job", "-job", "status", "-status", "started",
                                        "-started", "duration", "-duration"]),
    OpenApiParameter("after", str, description="cursor from `next`"),
    OpenApiParameter("before", str, description="cursor from `previous`"),
    OpenApiParameter("limit", int, description="rows per page (1-500, default 50)"),
]


@extend_schema(methods=["GET"], operation_id="runs_list", parameters=_LIST_PARAMS,
               responses={200: RunPageSerializer, 400: FIELD_ERRORS, 401: UNAUTHORIZED},
               summary="Job history, newest first (keyset pages)")
@extend_schema(methods=["POST"], operation_id="runs_run", request=RunRequestSerializer,
               responses={201: OutcomeSerializer, 202: OutcomeSerializer, 409: OutcomeSerializer, 400: FIELD_ERRORS,
                          401: UNAUTHORIZED, 403: FORBIDDEN},
               summary="Run Job (needs the Operator role)",
               examples=[OpenApiExample("extract", value={"job": "Job_ExtractICON"}),
                         OpenApiExample("re-aggregate", value={
                             "job": "Job_AggregateGIM", "params": "-insertPendingAgg ALLSETS:2014-05-01:2014-05-31"})])
@api_view(["GET", "POST"])
def runs(request: Request) -> Response:
    if request.method == "POST":
        _require(request, "jobs.run_job")
        body = RunRequestSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        outcome = services.request_run(Job(body.validated_data["job"]), by=Requester.of_user(request.user, "api"),
                                       params=body.validated_data.get("params", ""))
        return _outcome(outcome)
    form = ApiHistoryFilterForm(request.query_params)
    if not form.is_valid():
        raise ValidationError({k: [str(e) for e in v] for k, v in form.errors.items()})
    limit = request.query_params.get("limit", "")
    size = int(limit) if limit.isascii() and limit.isdigit() else hist.PAGE_SIZE
    page = hist.history(hist.filters_from(form.cleaned_data), request.query_params.get("sort", hist.DEFAULT_SORT),
                        local_zone(), after=request.query_params.get("after", ""),
                        before=request.query_params.get("before", ""), size=size)

    def link(**cursor: str) -> str:
        params = {k: v for k, v in request.query_params.items() if k not in ("after", "before")}
        return request.build_absolute_uri(request.path + "?" + urlencode({**params, **cursor}))

    return Response({"results": RunSerializer(page.rows, many=True).data,
                     "next": link(after=page.next) if page.next else None,
                     "previous": link(before=page.prev) if page.prev else None})


@extend_schema(parameters=[RUN_ID, OpenApiParameter("log", int,
                                                    description="log lines to include (0-5000, default 200)")],
               responses={200: RunDetailSerializer, 401: UNAUTHORIZED, 404: NOT_FOUND},
               summary="One run, with its log tail")
@api_view(["GET"])
def run_detail(request: Request, pk: int) -> Response:
    run = get_object_or_404(JobRun, pk=pk)
    n = request.query_params.get("log", "200")
    lines = min(int(n), 5000) if n.isascii() and n.isdigit() else 200
    return Response(RunDetailSerializer(run, context={"log_lines": lines}).data)


@extend_schema(request=None, parameters=[RUN_ID],
               responses={200: OutcomeSerializer, 202: OutcomeSerializer, 409: OutcomeSerializer,
                          401: UNAUTHORIZED, 403: FORBIDDEN, 404: NOT_FOUND},
               summary="Stop Job: stop a RUNNING run, cancel a SCHEDULED one (Operator)")
@api_view(["POST"])
def run_stop(request: Request, pk: int) -> Response:
    _require(request, "jobs.run_job")
    get_object_or_404(JobRun, pk=pk)
    return _outcome(services.stop_run(pk, by=Requester.of_user(request.user, "api")))


@extend_schema(request=None, parameters=[RUN_ID],
               responses={200: OutcomeSerializer, 409: OutcomeSerializer, 401: UNAUTHORIZED, 403: FORBIDDEN,
                          404: NOT_FOUND},
               summary="Cancel a SCHEDULED run (Operator)")
@api_view(["POST"])
def run_cancel(request: Request, pk: int) -> Response:
    _require(request, "jobs.run_job")
    get_object_or_404(JobRun, pk=pk)
    return _outcome(services.cancel_run(pk, by=Requester.of_user(request.user, "api")))


def _options_payload() -> dict[str, Any]:
    values = current_values()
    return {"values": values, "problems": [{"level": p.level, "option": p.option, "message": p.message}
                                           for p in configuration_problems(values)]}


@extend_schema(methods=["GET"], operation_id="options_read", responses={200: OptionsSerializer, 401: UNAUTHORIZED},
               summary="Every option, and the configuration check")
@extend_schema(methods=["PATCH"], operation_id="options_change",
               request={"application/json": {"$ref": "#/components/schemas/OptionsChange"}},
               responses={200: OptionsChangedSerializer, 400: OptionsErrorSerializer, 401: UNAUTHORIZED,
                          403: FORBIDDEN},
               summary="Change options (Administrator): all validated first, nothing saved if one is bad",
               examples=[OpenApiExample("resume", value={"schedule": {"run-scheduler": "true"}})])
@api_view(["GET", "PATCH"])
@parser_classes([JSONParser])  # {section: {option: value}} has no form-data spelling
def options(request: Request) -> Response:
    if request.method == "GET":
        return Response(_options_payload())
    _require(request, "config.change_options")
    changes = OptionsChangeSerializer().to_internal_value(request.data)
    try:
        changed = update_options(changes, by=Changer.of_user(request.user, "api"))
    except OptionsError as exc:
        return Response({"errors": exc.errors}, status=status.HTTP_400_BAD_REQUEST)
    return Response({"changed": [{"section": c.section, "option": c.option, "old": c.old_value, "new": c.new_value}
                                 for c in changed], "values": current_values()})


class TokenView(ObtainAuthToken):
    """A token for a user name and password. A wrong pair is 401, not DRF's 400: the request
    is well formed, the credentials are not (and a client can tell the two apart)."""

    @extend_schema(auth=[], request=TokenRequestSerializer,
                   summary="Exchange a user name and password for an API token",
                   description="Send `username` and `password`; use the answer as `Authorization: Token <token>`.",
                   responses={200: {"type": "object", "properties": {"token": {"type": "string"}},
                                    "required": ["token"]},
                              400: FIELD_ERRORS, 401: OpenApiResponse(ErrorSerializer, "Wrong user name or password.")})
    def post(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        serializer = self.get_serializer(data=request.data)
        if not serializer.is_valid():
            if any(getattr(e, "code", "") == "authorization" for e in serializer.errors.get("non_field_errors", ())):
                raise AuthenticationFailed("Unable to sign in with this user name and password.")
            raise ValidationError(serializer.errors)
        token, _ = Token.objects.get_or_create(user=serializer.validated_data["user"])
        return Response({"token": token.key})
