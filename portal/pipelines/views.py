from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.contrib.auth.decorators import permission_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django.views.decorators.vary import vary_on_headers

from portal.core.filters import filter_rows
from portal.core.permissions import MANAGE_RESOURCES, REVOKE_PARTICIPANTS, VIEW_RESOURCES
from portal.core.polling import poll_response
from portal.core.refresh import refresh_watch
from portal.core.views import operation_redirect
from portal.meetings.models import Meeting
from portal.meetings.services import meeting_require_usable
from portal.pipelines import selectors, services
from portal.pipelines.filters import CaptureFilter
from portal.pipelines.forms import CaptureStartForm, ConcatenateForm, PipelineTagFormSet
from portal.pipelines.models import CapturePipeline, Concatenation
from portal.pipelines.sinks import sink_download_urls, sink_refusal

PAGE_SIZE = 50


def _in_transition(capture: CapturePipeline) -> bool:
    return capture.status in (CapturePipeline.Status.REQUESTED, *CapturePipeline.TRANSITION) or capture.is_stopping


@require_GET
@vary_on_headers("HX-Request")
@permission_required(VIEW_RESOURCES, raise_exception=True)
def pipeline_list(request: HttpRequest) -> HttpResponse:
    filters = CaptureFilter(request.GET or None, queryset=CapturePipeline.objects.all())
    captures = selectors.capture_list(captures=filter_rows(filters))
    page = Paginator(captures, PAGE_SIZE).get_page(request.GET.get("page"))
    in_transition = any(_in_transition(capture) for capture in page.object_list)
    region = settings.AWS_REGION
    context = {
        "filters": filters,
        "page": page,
        "filtered": bool(request.GET),
        "poll_interval": "normal" if in_transition else "slow",
        "active_count": selectors.captures_active_count(),
        "active_limit": selectors.active_limit(region),
        "region": region,
    }
    if request.htmx:
        return poll_response(request, "pipelines/list.html#pipeline-table", context, done=False)
    return TemplateResponse(request, "pipelines/list.html", context)


def _allow_media_from(response: HttpResponse, urls: list[str]) -> HttpResponse:
    """The page plays chunks straight from S3: its Content-Security-Policy lets media come from there."""
    origins = sorted({f"{urlsplit(url).scheme}://{urlsplit(url).netloc}" for url in urls})
    if origins:
        response._csp_update = {"media-src": ["'self'", *origins]}  # type: ignore[attr-defined]
    return response


PANELS = ("status", "artifacts", "concatenations")


@require_GET
@vary_on_headers("HX-Request")
@permission_required(VIEW_RESOURCES, raise_exception=True)
def pipeline_detail(request: HttpRequest, capture_pk: int) -> HttpResponse:
    capture = get_object_or_404(
        CapturePipeline.objects.select_related("meeting", "created_by", "stop_operation"), pk=capture_pk
    )
    panel = request.GET.get("panel", "") if request.htmx else ""
    if panel and panel not in PANELS:
        return HttpResponseBadRequest(f"No panel {panel!r}; one of {', '.join(PANELS)}.")
    if capture.media_pipeline_id and capture.status != CapturePipeline.Status.GONE:
        refresh_watch(refresher="pipelines", key=capture.pk)  # someone is looking: refresh it every cycle
    writing = capture.status in (CapturePipeline.Status.IN_PROGRESS, *CapturePipeline.TRANSITION) or (
        capture.status in (CapturePipeline.Status.STOPPED, CapturePipeline.Status.FAILED)
        and capture.artifacts_listed_at is None
    )
    context: dict[str, Any] = {"capture": capture, "transition": _in_transition(capture), "writing": writing}
    urls: dict[str, str] = {}
    if panel in ("", "status"):
        context["operations"] = selectors.capture_operations(capture=capture)
    if panel in ("", "artifacts"):
        context["sink_refusal"] = sink_refusal(capture.sink_bucket)
        folders = selectors.capture_folders(capture=capture)
        urls = sink_download_urls(capture.sink_bucket, [a.key for folder in folders for a in folder.artifacts])
        for folder in folders:
            for artifact in folder.artifacts:
                artifact.url = urls.get(artifact.key, "")  # type: ignore[attr-defined]
        context["folders"] = folders
        context["timeline"] = selectors.capture_meeting_events(capture=capture)
    if panel in ("", "concatenations"):
        concatenations = selectors.capture_concatenations(capture=capture)
        for concatenation in concatenations:
            key = concatenation.output_key
            concatenation.url = sink_download_urls(concatenation.sink_bucket, [key]).get(key, "") if key else ""  # type: ignore[attr-defined]
            concatenation.sink_refusal = sink_refusal(concatenation.sink_bucket) if key else ""  # type: ignore[attr-defined]
        context["concatenations"] = concatenations
        context["concatenating"] = any(c.status in Concatenation.ACTIVE for c in concatenations)
    if panel == "status":
        return poll_response(request, "pipelines/detail.html#status", context, done=not context["transition"])
    if panel == "artifacts":
        return poll_response(request, "pipelines/detail.html#artifacts", context, done=not writing)
    if panel == "concatenations":
        return poll_response(
            request, "pipelines/detail.html#concatenations", context, done=not context["concatenating"]
        )
    response = TemplateResponse(request, "pipelines/detail.html", context)
    sample = sink_download_urls(capture.sink_bucket, ["_"])
    return _allow_media_from(response, [*urls.values(), *sample.values()])


@require_http_methods(["GET", "POST"])
@permission_required(MANAGE_RESOURCES, raise_exception=True)
def capture_start(request: HttpRequest, meeting_pk: int) -> HttpResponse:
    meeting = get_object_or_404(Meeting, pk=meeting_pk)
    meeting_require_usable(meeting=meeting)
    running = services.capture_running_for(meeting=meeting)
    data = request.POST if request.method == "POST" else None
    form = CaptureStartForm(data, meeting=meeting)
    tags = PipelineTagFormSet(data, prefix="tags")
    if data is not None and form.is_valid() and tags.is_valid():
        operation = services.capture_start(actor=request.user, meeting=meeting, spec=form.spec(tags.tags))
        return operation_redirect(operation)
    status = 400 if data is not None else 200
    context = {"meeting": meeting, "form": form, "tags": tags, "running": running}
    return TemplateResponse(request, "pipelines/start.html", context, status=status)


@require_POST
@permission_required(REVOKE_PARTICIPANTS, raise_exception=True)
def capture_stop(request: HttpRequest, capture_pk: int) -> HttpResponse:
    capture = get_object_or_404(CapturePipeline.objects.select_related("meeting"), pk=capture_pk)
    return operation_redirect(services.capture_stop(actor=request.user, capture=capture))


@require_http_methods(["GET", "POST"])
@permission_required(MANAGE_RESOURCES, raise_exception=True)
def capture_concatenate(request: HttpRequest, capture_pk: int) -> HttpResponse:
    capture = get_object_or_404(CapturePipeline, pk=capture_pk)
    data = request.POST if request.method == "POST" else None
    form = ConcatenateForm(data, initial={"bucket": capture.sink_bucket})
    if data is not None and form.is_valid():
        operation = services.capture_concatenate(
            actor=request.user, capture=capture, bucket=form.cleaned_data["bucket"], prefix=form.cleaned_data["prefix"]
        )
        return operation_redirect(operation)
    status = 400 if data is not None else 200
    return TemplateResponse(request, "pipelines/concatenate.html", {"capture": capture, "form": form}, status=status)


def meeting_capture_context(request: HttpRequest, meeting: Meeting) -> dict[str, Any] | None:
    """The meeting page's capture panel: the running (or latest) capture, in two queries. Its card shows when there is
    a capture or the user may start one (`may_start`); otherwise only the empty place where a capture would appear."""
    if not request.user.has_perm(VIEW_RESOURCES):
        return None
    capture = selectors.capture_of_meeting(meeting_pk=meeting.pk)
    transition = capture is not None and _in_transition(capture)
    may_start = meeting.is_usable and request.user.has_perm(MANAGE_RESOURCES)
    return {"meeting": meeting, "capture": capture, "transition": transition, "may_start": may_start}


@require_GET
@permission_required(VIEW_RESOURCES, raise_exception=True)
def meeting_capture_panel(request: HttpRequest, meeting_pk: int) -> HttpResponse:
    meeting = get_object_or_404(Meeting, pk=meeting_pk)
    context = meeting_capture_context(request, meeting)
    if context is None:
        raise PermissionDenied
    if context["capture"] is not None and context["transition"]:
        refresh_watch(refresher="pipelines", key=context["capture"].pk)
    return poll_response(request, "pipelines/_meeting_capture.html", {"object": meeting, **context}, done=False)
