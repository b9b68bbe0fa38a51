from __future__ import annotations

import sys
import time
from collections.abc import Callable

from django.conf import settings
from django.core.exceptions import BadRequest, SuspiciousOperation
from django.db import InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest, UnreadablePostError
from django.http.multipartparser import MultiPartParserError
from django.template.response import TemplateResponse
from django.utils.http import url_has_allowed_host_and_scheme

from portal.core.errors import DomainError

REFUSED = 409
DATABASE_RETRY_AFTER_SECONDS = 5
_DATABASE_FAILED = "_portal_database_failed"


class DomainErrorMiddleware:
    """The one place a refused request becomes a message next to the action.

    With htmx, the refusal is swapped into the action's own target (the place its answer would go); without htmx,
    it is a page of its own with a way back. Both answer 409 Conflict.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if not isinstance(exception, DomainError):
            return None
        if getattr(request, "htmx", False):
            return TemplateResponse(request, "core/refusal.html#refusal", {"error": exception}, status=REFUSED)
        back = request.headers.get("Referer", "")
        if not url_has_allowed_host_and_scheme(back, allowed_hosts={request.get_host()}):
            back = ""
        context = {"error": exception, "back": back}
        return TemplateResponse(request, "core/refusal.html", context, status=REFUSED)


class MalformedRequestMiddleware:
    """A request the portal cannot use is a 400 here, before anything else reads it.

    - A POST body that cannot be read: Django refuses a form body in another charset than UTF-8, one too large or
      with too many fields, or a broken multipart body by raising on `request.POST`, but it does not remember the
      failure, and the CSRF check and every error page read the body again (Django's error views run the CSRF check):
      the client got a 500 instead of the 400. Reading it once, first, answers the 400.
    - A NUL character in a query or form value (or name): PostgreSQL text cannot hold one, so any lookup with it is
      a 500 from the database.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        forms = [request.GET]
        if request.method == "POST":
            try:
                forms.append(request.POST)
            except (BadRequest, SuspiciousOperation, MultiPartParserError, UnreadablePostError) as error:
                return HttpResponseBadRequest(f"The request body cannot be read: {error}", content_type="text/plain")
        if any("\x00" in text for form in forms for name, values in form.lists() for text in (name, *values)):
            return HttpResponseBadRequest("A NUL character is not a valid value.", content_type="text/plain")
        return self.get_response(request)


class SessionRenewalMiddleware:
    """Sessions end after SESSION_COOKIE_AGE idle. Renewing the expiry on every request would make every htmx poll a
    database write; this renews it at most once every SESSION_RENEW_SECONDS, so the idle timeout holds to within
    that, and a page that only polls costs reads."""

    KEY = "_renewed_at"

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        session = request.session
        if not session.is_empty():
            now = int(time.time())
            if now - int(session.get(self.KEY, 0)) >= settings.SESSION_RENEW_SECONDS:
                session[self.KEY] = now  # modified: SessionMiddleware saves it with a new expiry
        return self.get_response(request)


def session_renewed_at_login(sender: object, request: HttpRequest, **kwargs: object) -> None:
    """A login saves the session: it counts as its first renewal (connected to `user_logged_in` in core's ready)."""
    request.session[SessionRenewalMiddleware.KEY] = int(time.time())


class DatabaseUnavailableMiddleware:
    """While the database cannot be reached (down, restarting, a connection it cut), a request answers 503 Service
    Unavailable with Retry-After instead of 500: the client may try again, and a load balancer knows why.

    Django turns an exception into a 500 inside whichever layer it escapes (loading the session, the view, saving
    the session), so no middleware sees it raised. `database_failure_noted`, connected to `got_request_exception`,
    marks the request when the exception is a database OperationalError or InterfaceError, and this middleware, near
    the outside of the stack, answers 503 in place of that request's 500.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if response.status_code != 500 or not getattr(request, _DATABASE_FAILED, False):
            return response
        unavailable = HttpResponse(
            "The portal's database is unavailable; try again in a few seconds.",
            status=503,
            content_type="text/plain; charset=utf-8",
        )
        unavailable["Retry-After"] = str(DATABASE_RETRY_AFTER_SECONDS)
        return unavailable


def database_failure_noted(sender: object, request: HttpRequest | None = None, **kwargs: object) -> None:
    """Connected to `got_request_exception` in core's ready; Django sends it while handling the exception."""
    if request is not None and isinstance(sys.exc_info()[1], OperationalError | InterfaceError):
        setattr(request, _DATABASE_FAILED, True)
