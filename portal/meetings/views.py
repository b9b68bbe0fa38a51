from __future__ import annotations

from typing import Any

from django.contrib.auth.decorators import permission_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods
from django.views.decorators.vary import vary_on_headers
from django_htmx.http import HttpResponseClientRedirect

from portal.core.filters import filter_rows
from portal.core.permissions import MANAGE_RESOURCES, REVOKE_PARTICIPANTS, VIEW_RESOURCES
from portal.core.polling import poll_response
from portal.core.refresh import refresh_watch
from portal.core.views import operation_redirect
from portal.meetings import selectors, services
from portal.meetings.filters import MeetingFilter
from portal.meetings.forms import (
    AttendeesAddForm,
    CapabilitiesExceptForm,
    CapabilitiesForm,
    MeetingCreateForm,
    MeetingEndForm,
    MeetingTagFormSet,
    RevokeForm,
)
from portal.meetings.models import Attendee, Meeting

PAGE_SIZE = 50


def _go(request: HttpRequest, url: str) -> HttpResponse:
    return HttpResponseClientRedirect(url) if request.htmx else redirect(url)


@require_GET
@vary_on_headers("HX-Request")
@permission_required(VIEW_RESOURCES, raise_exception=True)
def meeting_list(request: HttpRequest) -> TemplateResponse:
    filters = MeetingFilter(request.GET or None, queryset=Meeting.objects.all())
    page = Paginator(selectors.meeting_list(meetings=filter_rows(filters)), PAGE_SIZE).get_page(request.GET.get("page"))
    context = {"filters": filters, "page": page, "filtered": bool(request.GET)}
    template = "meetings/list.html#meeting-table" if request.htmx else "meetings/list.html"
    return TemplateResponse(request, template, context)


@require_http_methods(["GET", "POST"])
@permission_required(MANAGE_RESOURCES, raise_exception=True)
def meeting_create(request: HttpRequest) -> HttpResponse:
    data = request.POST if request.method == "POST" else None
    form = MeetingCreateForm(data)
    tags = MeetingTagFormSet(data, prefix="tags")
    if data is not None and form.is_valid() and tags.is_valid():
        operation = services.meeting_create(
            actor=request.user,
            external_meeting_id=form.cleaned_data["external_meeting_id"],
            media_region=form.cleaned_data["media_region"],
            features=form.features,
            tenant_ids=form.cleaned_data["tenant_ids"],
            tags=tags.tags,
            primary=form.cleaned_data["primary_meeting_id"],
            attendees=form.attendee_specs,
        )
        return operation_redirect(operation)
    status = 400 if data is not None else 200
    return TemplateResponse(request, "meetings/create.html", {"form": form, "tags": tags}, status=status)


# The detail page's panels. Each follows the meeting (`{% poll None follows=meeting %}`): it fetches itself again when
# an operation on the meeting ends, which the in-flight operations' progress in the operations panel announces. The
# people (who is connected now, every attendee and the counts: one panel, so they never disagree) and the event
# timeline also poll while the meeting is live, since events arrive without any operation; the people also while a
# revoke is under way (it may end between the page's queries). The people's answer carries the heading (its status and
# actions) out of band: an event may end the meeting.
PANELS = ("people", "timeline", "operations")
LIVE_PANELS = ("people", "timeline")


@require_GET
@vary_on_headers("HX-Request")
@permission_required(VIEW_RESOURCES, raise_exception=True)
def meeting_detail(request: HttpRequest, meeting_pk: int) -> HttpResponse:
    meeting = get_object_or_404(Meeting.objects.select_related("primary", "created_by"), pk=meeting_pk)
    panel = request.GET.get("panel", "") if request.htmx else ""
    if panel and panel not in PANELS:
        return HttpResponseBadRequest(f"No panel {panel!r}; one of {', '.join(PANELS)}.")
    live = meeting.status in (Meeting.Status.CREATING, Meeting.Status.ACTIVE, Meeting.Status.ENDING)
    if meeting.is_usable:
        refresh_watch(refresher="meetings", key=meeting.pk)  # someone is looking: reconcile it every cycle
    context: dict[str, Any] = {"meeting": meeting, "live": live, "panel": panel}
    if panel in ("", "people"):
        context["attendees"] = list(selectors.meeting_attendees(meeting=meeting))
        context["roster"] = selectors.meeting_roster(attendees=context["attendees"])
        context["attendee_seconds"] = sum(a.connected_seconds_now for a in context["attendees"])
        context["attendee_count"] = sum(a.state != Attendee.State.DELETED for a in context["attendees"])
        context["people_polls"] = live or any(attendee.is_revoking for attendee in context["attendees"])
    if panel in ("", "timeline"):
        context["timeline"] = selectors.meeting_timeline(meeting=meeting)
    if panel in ("", "operations"):
        context["operations"] = list(selectors.meeting_operations(meeting=meeting))
    if panel in LIVE_PANELS:
        done = not context.get("people_polls", live)
        return poll_response(request, f"meetings/detail.html#{panel}", context, done=done)
    if panel:
        return TemplateResponse(request, f"meetings/detail.html#{panel}", context)
    context["replicas"] = selectors.meeting_replicas(meeting=meeting)
    return TemplateResponse(request, "meetings/detail.html", context)


@require_http_methods(["GET", "POST"])
@permission_required(MANAGE_RESOURCES, raise_exception=True)
def meeting_end(request: HttpRequest, meeting_pk: int) -> HttpResponse:
    meeting = get_object_or_404(Meeting, pk=meeting_pk)
    services.meeting_require_usable(meeting=meeting)
    form = MeetingEndForm(request.POST if request.method == "POST" else None, meeting=meeting)
    if request.method == "POST" and form.is_valid():
        return operation_redirect(services.meeting_end(actor=request.user, meeting=meeting))
    status = 400 if request.method == "POST" else 200
    return TemplateResponse(request, "meetings/end.html", {"meeting": meeting, "form": form}, status=status)


@require_http_methods(["GET", "POST"])
@permission_required(MANAGE_RESOURCES, raise_exception=True)
def attendees_add(request: HttpRequest, meeting_pk: int) -> HttpResponse:
    meeting = get_object_or_404(Meeting, pk=meeting_pk)
    services.meeting_require_usable(meeting=meeting)
    form = AttendeesAddForm(request.POST if request.method == "POST" else None, meeting=meeting)
    if request.method == "POST" and form.is_valid():
        operation = services.meeting_attendees_add(actor=request.user, meeting=meeting, attendees=form.attendee_specs)
        return operation_redirect(operation)
    status = 400 if request.method == "POST" else 200
    return TemplateResponse(request, "meetings/attendees_add.html", {"meeting": meeting, "form": form}, status=status)


def _attendee(meeting_pk: int, attendee_pk: int) -> Attendee:
    return get_object_or_404(Attendee.objects.select_related("meeting"), pk=attendee_pk, meeting_id=meeting_pk)


@require_http_methods(["GET", "POST"])
@permission_required(REVOKE_PARTICIPANTS, raise_exception=True)
def attendee_revoke(request: HttpRequest, meeting_pk: int, attendee_pk: int) -> HttpResponse:
    attendee = _attendee(meeting_pk, attendee_pk)
    form = RevokeForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        services.attendee_revoke(actor=request.user, attendee=attendee, reason=form.cleaned_data["reason"])
        return _go(request, reverse("meeting_detail", args=[meeting_pk]) + f"#attendee-{attendee.pk}")
    status = 400 if request.method == "POST" else 200
    context = {"meeting": attendee.meeting, "attendee": attendee, "form": form}
    return TemplateResponse(request, "meetings/revoke.html", context, status=status)


@require_http_methods(["GET", "POST"])
@permission_required(MANAGE_RESOURCES, raise_exception=True)
def attendee_capabilities(request: HttpRequest, meeting_pk: int, attendee_pk: int) -> HttpResponse:
    attendee = _attendee(meeting_pk, attendee_pk)
    services.meeting_require_usable(meeting=attendee.meeting)
    data = request.POST if request.method == "POST" else None
    initial = {medium.lower(): value for medium, value in attendee.capabilities.items()}
    form = CapabilitiesForm(data, initial=initial, features=attendee.meeting.features)
    if data is not None and form.is_valid():
        operation = services.attendee_capabilities_update(
            actor=request.user, attendee=attendee, capabilities=form.capabilities
        )
        return operation_redirect(operation)
    status = 400 if data is not None else 200
    context = {"meeting": attendee.meeting, "attendee": attendee, "form": form}
    return TemplateResponse(request, "meetings/capabilities.html", context, status=status)


@require_http_methods(["GET", "POST"])
@permission_required(MANAGE_RESOURCES, raise_exception=True)
def meeting_capabilities_except(request: HttpRequest, meeting_pk: int) -> HttpResponse:
    meeting = get_object_or_404(Meeting, pk=meeting_pk)
    services.meeting_require_usable(meeting=meeting)
    form = CapabilitiesExceptForm(request.POST if request.method == "POST" else None, meeting=meeting)
    if request.method == "POST" and form.is_valid():
        operation = services.meeting_capabilities_update_except(
            actor=request.user,
            meeting=meeting,
            excluded=list(form.cleaned_data["keep"]),
            capabilities=form.capabilities,
        )
        return operation_redirect(operation)
    status = 400 if request.method == "POST" else 200
    context = {"meeting": meeting, "form": form}
    return TemplateResponse(request, "meetings/capabilities_except.html", context, status=status)
