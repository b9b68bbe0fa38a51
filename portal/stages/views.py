from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from django.contrib.auth.decorators import permission_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django.views.decorators.vary import vary_on_headers
from django_htmx.http import reswap, retarget

from portal.core.delete_many import DeleteMany, delete_many_view
from portal.core.filters import filter_rows
from portal.core.permissions import MANAGE_RESOURCES, REVOKE_PARTICIPANTS, SYNC_RESOURCES, VIEW_RESOURCES
from portal.core.polling import poll_response
from portal.core.query import query_id
from portal.core.refresh import refresh_watch
from portal.core.views import operation_redirect
from portal.stages import selectors, services
from portal.stages.filters import ParticipantFilter, StageFilter, StageSessionFilter
from portal.stages.forms import (
    DisconnectForm,
    IssueTokenFormSet,
    StageDeleteForm,
    StageNameForm,
    TagAddForm,
    TagFormSet,
    TagRemoveForm,
    TokenFormSet,
)
from portal.stages.models import Participant, Stage
from portal.stages.operations import MAX_TAGS
from portal.stages.refresh import participants_scope

PAGE_SIZE = 50


@require_GET
@vary_on_headers("HX-Request")
@permission_required(VIEW_RESOURCES, raise_exception=True)
def stage_list(request: HttpRequest) -> HttpResponse:
    filters = StageFilter(request.GET or None, queryset=Stage.objects.all())
    page = Paginator(filter_rows(filters), PAGE_SIZE).get_page(request.GET.get("page"))
    in_transition = any(stage.status in Stage.IN_TRANSITION for stage in page.object_list)
    context = {"filters": filters, "page": page, "filtered": bool(request.GET),
               "poll_interval": "normal" if in_transition else None}  # fmt: skip
    if request.htmx:
        return poll_response(request, "stages/list.html#stage-table", context, done=not in_transition)
    return TemplateResponse(request, "stages/list.html", context)


@require_POST
@permission_required(SYNC_RESOURCES, raise_exception=True)
def stage_sync(request: HttpRequest) -> HttpResponse:
    return operation_redirect(services.stages_sync(actor=request.user))


@require_http_methods(["GET", "POST"])
@permission_required(MANAGE_RESOURCES, raise_exception=True)
def stage_create(request: HttpRequest) -> HttpResponse:
    data = request.POST if request.method == "POST" else None
    form = StageNameForm(data)
    tags = TagFormSet(data, prefix="tags")
    tokens = TokenFormSet(data, prefix="tokens")
    if data is not None and form.is_valid() and tags.is_valid() and tokens.is_valid():
        operation = services.stage_create(
            actor=request.user, name=form.cleaned_data["name"], tags=tags.tags, tokens=tokens.specs
        )
        return operation_redirect(operation)
    status = 400 if data is not None else 200
    context = {"form": form, "tags": tags, "tokens": tokens}
    return TemplateResponse(request, "stages/create.html", context, status=status)


def _stage_context(request: HttpRequest, stage: Stage) -> dict[str, Any]:
    """The sessions panel: a page of sessions (by start date), the chosen one, and its participants as filtered."""
    session_filter = StageSessionFilter(request.GET or None, queryset=selectors.stage_sessions(stage=stage))
    sessions_page = Paginator(filter_rows(session_filter), PAGE_SIZE).get_page(request.GET.get("sessions_page"))
    sessions = list(sessions_page.object_list)
    browsing = any(request.GET.get(key) for key in ("sessions_page", "started_from", "started_to"))
    first = sessions[0].session_id if sessions else ""
    chosen_id = request.GET.get("session") or (first if browsing else stage.active_session_id or first)
    session = next((s for s in sessions if s.session_id == chosen_id), None) or (
        selectors.stage_session(stage=stage, session_id=chosen_id) if chosen_id else None
    )
    participant_filter = ParticipantFilter(
        request.GET or None, queryset=session.participants.all() if session else Participant.objects.none()
    )
    participants = list(selectors.stage_participants_of(filter_rows(participant_filter))) if session else []
    watching = bool(session and session.ended_at is None and stage.is_usable)
    return {
        "stage": stage,
        "session_filter": session_filter,
        "sessions_page": sessions_page,
        "sessions": sessions,
        "session": session,
        "participant_filter": participant_filter,
        "participants_filtered": bool(participant_filter.aws_filter()),
        "participants": participants,
        "watching": watching,
        # The panel follows a live session, or waits for the first one; a past session or a stage gone is still.
        "poll_interval": ("fast" if any(p.is_disconnecting for p in participants) else "normal")
        if watching or (session is None and stage.is_usable)
        else None,
        # While the participants panel polls, the panels an operation's end refreshes poll slowly too: the panel's
        # own refresh can replace a settling row before the row's answer brings the operation-finished event.
        "follow_interval": "slow" if watching else None,
    }


# The parts of a stage's page that fetch themselves again (each a partial of stages/detail.html): they follow the stage,
# so they refresh when an operation on it ends; the participants panel also polls while a session is live.
PANELS = ("heading", "summary", "tags", "participants", "tokens", "operations")


@require_GET
@vary_on_headers("HX-Request")
@permission_required(VIEW_RESOURCES, raise_exception=True)
def stage_detail(request: HttpRequest, stage_id: int) -> HttpResponse:
    stage = get_object_or_404(Stage, pk=stage_id)
    panel = request.GET.get("panel", "") if request.htmx else ""
    if panel == "row":
        return _participant_row(request, stage)
    if panel and panel not in PANELS:
        return HttpResponseBadRequest(f"No panel {panel!r}; one of {', '.join(PANELS)}, or row.")
    context = _stage_context(request, stage)
    if stage.is_usable:  # someone is looking: refresh this stage every cycle, through their participant filter
        scope = participants_scope(context["participant_filter"].aws_filter())
        refresh_watch(refresher="stages", key=stage.pk, scope=scope)
    if panel == "participants":
        return poll_response(request, "stages/detail.html#participants", context, done=not context["poll_interval"])
    context |= {
        "endpoints": selectors.stage_endpoints(stage=stage),
        "tokens": selectors.stage_tokens(stage=stage),
        "operations": selectors.stage_operations(stage=stage),
        "rename_form": StageNameForm(initial={"name": stage.name}),
        "tag_form": TagAddForm(),
        "max_tags": MAX_TAGS,
    }
    return TemplateResponse(request, f"stages/detail.html#{panel}" if panel else "stages/detail.html", context)


def _participant_row(request: HttpRequest, stage: Stage) -> HttpResponse:
    """One participant's row: a disconnecting row polls it until the disconnect settles, then polling stops and the
    page is told the disconnect ended, so the panels that show its effects (the token's revocation) refresh."""
    participants = selectors.stage_participants_of(Participant.objects.filter(session__stage=stage))
    row = get_object_or_404(participants, pk=query_id(request.GET, "participant"))
    context = {"participant": row, "stage": stage, "close_dialog": bool(request.GET.get("close_dialog"))}
    operation = row.disconnect_operation
    settled = operation is None or operation.is_settled
    return poll_response(
        request, "stages/participant_row.html", context, done=settled, finished=operation if settled else None
    )


@require_GET
@permission_required(VIEW_RESOURCES, raise_exception=True)
def participant_timeline(request: HttpRequest, stage_id: int, participant_pk: int) -> TemplateResponse:
    participant = get_object_or_404(
        Participant.objects.select_related("session"), pk=participant_pk, session__stage_id=stage_id
    )
    events = selectors.participant_events(participant=participant)
    template = "stages/timeline.html#timeline" if request.htmx else "stages/timeline.html"
    return TemplateResponse(request, template, {"participant": participant, "events": events})


@require_http_methods(["GET", "POST"])
@permission_required(REVOKE_PARTICIPANTS, raise_exception=True)
def participant_disconnect(request: HttpRequest, stage_id: int, participant_pk: int) -> HttpResponse:
    participant = get_object_or_404(
        Participant.objects.select_related("session__stage"), pk=participant_pk, session__stage_id=stage_id
    )
    form = DisconnectForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        operation = services.stage_disconnect_participant(
            actor=request.user, participant=participant, reason=form.cleaned_data["reason"], revoke_token=True
        )
        if not request.htmx:
            return operation_redirect(operation)
        # With htmx the answer is the participant's row, which follows the disconnect until it settles.
        row_url = reverse("stage_detail", args=[stage_id])
        query = urlencode({"panel": "row", "participant": participant.pk, "close_dialog": 1})
        return HttpResponseRedirect(f"{row_url}?{query}", status=303)
    row = selectors.stage_participants(session=participant.session).get(pk=participant.pk)
    context = {"participant": row, "stage": participant.session.stage, "form": form}
    if request.method == "GET":
        template = "stages/disconnect.html#disconnect-form" if request.htmx else "stages/disconnect.html"
        return TemplateResponse(request, template, context)
    if not request.htmx:
        return TemplateResponse(request, "stages/disconnect.html", context, status=400)
    response = TemplateResponse(request, "stages/disconnect.html#disconnect-form", context, status=400)
    return reswap(retarget(response, "#dialog"), "innerHTML")


def _form_errors(request: HttpRequest, form: Any) -> TemplateResponse:
    """A change the form refused: what is wrong, where the change's answer goes."""
    return TemplateResponse(request, "stages/detail.html#form-errors", {"form": form}, status=400)


@require_POST
@permission_required(MANAGE_RESOURCES, raise_exception=True)
def stage_rename(request: HttpRequest, stage_id: int) -> HttpResponse:
    stage = get_object_or_404(Stage, pk=stage_id)
    form = StageNameForm(request.POST)
    if not form.is_valid():
        return _form_errors(request, form)
    return operation_redirect(services.stage_rename(actor=request.user, stage=stage, name=form.cleaned_data["name"]))


@require_POST
@permission_required(MANAGE_RESOURCES, raise_exception=True)
def stage_tag_add(request: HttpRequest, stage_id: int) -> HttpResponse:
    stage = get_object_or_404(Stage, pk=stage_id)
    form = TagAddForm(request.POST)
    if not form.is_valid():
        return _form_errors(request, form)
    tags = {form.cleaned_data["key"]: form.cleaned_data["value"]}
    return operation_redirect(services.stage_tag(actor=request.user, stage=stage, tags=tags))


@require_POST
@permission_required(MANAGE_RESOURCES, raise_exception=True)
def stage_tag_remove(request: HttpRequest, stage_id: int) -> HttpResponse:
    stage = get_object_or_404(Stage, pk=stage_id)
    form = TagRemoveForm(request.POST)
    if not form.is_valid():
        return _form_errors(request, form)
    return operation_redirect(services.stage_untag(actor=request.user, stage=stage, keys=[form.cleaned_data["key"]]))


@require_http_methods(["GET", "POST"])
@permission_required(MANAGE_RESOURCES, raise_exception=True)
def stage_tokens_issue(request: HttpRequest, stage_id: int) -> HttpResponse:
    stage = get_object_or_404(Stage, pk=stage_id)
    services.stage_require_changeable(stage=stage)
    tokens = IssueTokenFormSet(request.POST if request.method == "POST" else None, prefix="tokens")
    if request.method == "POST" and tokens.is_valid():
        return operation_redirect(services.stage_tokens_issue(actor=request.user, stage=stage, tokens=tokens.specs))
    status = 400 if request.method == "POST" else 200
    return TemplateResponse(request, "stages/tokens_issue.html", {"stage": stage, "tokens": tokens}, status=status)


@require_http_methods(["GET", "POST"])
@permission_required(MANAGE_RESOURCES, raise_exception=True)
def stage_delete(request: HttpRequest, stage_id: int) -> HttpResponse:
    stage = get_object_or_404(Stage, pk=stage_id)
    services.stage_require_changeable(stage=stage)
    form = StageDeleteForm(request.POST if request.method == "POST" else None, stage=stage)
    if request.method == "POST" and form.is_valid():
        return operation_redirect(services.stage_delete(actor=request.user, stage=stage))
    status = 400 if request.method == "POST" else 200
    return TemplateResponse(request, "stages/delete.html", {"stage": stage, "form": form}, status=status)


stages_delete = delete_many_view(
    DeleteMany(
        field="stages",
        noun="stage",
        title="Delete stages",
        list_url_name="stages",
        choices=Stage.objects.filter(status=Stage.Status.ACTIVE, arn__isnull=False),
        deletable=lambda stage: stage.is_usable,
        delete=lambda actor, stages: services.stages_delete(actor=actor, stages=stages),
        at_most=100,  # IVS's default stages per region
        explanation="IVS shuts each stage down and disconnects everyone in it. The portal keeps their records, marked "
        "deleted. Each stage is deleted by its own operation, at the rate IVS allows; the next page follows them all.",
        no_longer="A chosen stage can no longer be deleted (it is gone, deleted or being deleted).",
        nothing_chosen="No stage chosen can be deleted. Tick the stages to delete on the list.",
        rows_template="stages/_delete_many_rows.html",
    )
)
