"""While the database is unreachable, answer 503 with a short message (and Retry-After),
not a 500 "Server Error" or a stack trace. The API answers JSON {"detail": ...}.

Two hooks, because Django turns an exception into a response at every middleware
boundary: `OutageMiddleware.process_exception` answers for views (DRF views too: DRF
re-raises what its exception handler does not know), and `server_error`, the
project's handler500, answers for the session/auth middleware and anything else
that fails outside a view.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable

from django.db import InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views import defaults

log = logging.getLogger(__name__)

DATABASE_DOWN = (OperationalError, InterfaceError)
MESSAGE = "The Info Mart database is not reachable; this page will work again when it is back."
API_MESSAGE = "The Info Mart database is not reachable; try again when it is back."
RETRY_AFTER = 10  # seconds: about how soon a restarted PostgreSQL answers again


def outage_response(request: HttpRequest, exc: BaseException) -> HttpResponse:
    # The error text names the host and port: it goes to the log, never to the client.
    log.error("database unreachable while answering %s %s: %s", request.method, request.path, exc)
    response: HttpResponse
    if request.path.startswith("/api/"):
        response = JsonResponse({"detail": API_MESSAGE}, status=503)
    else:
        response = HttpResponse(MESSAGE, status=503, content_type="text/plain; charset=utf-8")
    response["Retry-After"] = str(RETRY_AFTER)
    return response


class OutageMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exc: Exception) -> HttpResponse | None:
        return outage_response(request, exc) if isinstance(exc, DATABASE_DOWN) else None


def server_error(request: HttpRequest) -> HttpResponse:
    """handler500: Django calls it inside its `except`, so the exception is still at hand."""
    exc = sys.exc_info()[1]
    if isinstance(exc, DATABASE_DOWN):
        return outage_response(request, exc)
    return defaults.server_error(request)
