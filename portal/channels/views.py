from __future__ import annotations

from typing import Any

from django.contrib.auth.decorators import permission_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django.views.decorators.vary import vary_on_headers

from portal.channels import selectors, services
from portal.channels.filters import ChannelFilter
from portal.channels.forms import (
    ChannelCreateForm,
    ChannelDeleteForm,
    FleetCreateForm,
    TagAddForm,
    TagRemoveForm,
    TtlForm,
)
from portal.channels.models import Channel
from portal.core.delete_many import DeleteMany, delete_many_view
from portal.core.filters import filter_rows
from portal.core.models import Operation
from portal.core.permissions import MANAGE_RESOURCES, VIEW_RESOURCES
from portal.core.polling import poll_response
from portal.core.query import query_id
from portal.core.refresh import refresh_watch
from portal.core.views import operation_redirect

PAGE_SIZE = 50


@require_GET
@vary_on_headers("HX-Request")
@permission_required(VIEW_RESOURCES, raise_exception=True)
def channel_list(request: HttpRequest) -> HttpResponse:
    filters = ChannelFilter(request.GET or None, queryset=selectors.channels_listed())
    page = Paginator(filter_rows(filters), PAGE_SIZE).get_page(request.GET.get("page"))
    in_transition = any(channel.in_transition for channel in page.object_list)
    context = {"filters": filters, "page": page, "filtered": bool(request.GET),
               "poll_interval": "normal" if in_transition else None}  # fmt: skip
    if request.htmx:
        return poll_response(request, "channels/list.html#channel-table", context, done=not in_transition)
    context["fleets"] = selectors.channel_fleets_recent()
    return TemplateResponse(request, "channels/list.html", context)


def _retried_form(request: HttpRequest) -> ChannelCreateForm:
    """The form as a creation AWS refused left it: its values, and AWS's answer next to the name."""
    if "retry" not in request.GET:
        return ChannelCreateForm()
    operation = Operation.objects.filter(
        pk=query_id(request.GET, "retry"), kind="channels.create", status=Operation.Status.FAILED, actor=request.user
    ).first()
    if operation is None:
        return ChannelCreateForm()
    p = operation.parameters
    tags = "\n".join(f"{key}={value}" for key, value in p.get("tags", {}).items())
    form = ChannelCreateForm(
        initial={"name": p["name"], "channel_type": p["channel_type"], "message_ttl": p["ttl"], "tags": tags}
    )
    form.aws_error = f"{operation.error_code}: {operation.error_message}"
    return form


@require_http_methods(["GET", "POST"])
@permission_required(MANAGE_RESOURCES, raise_exception=True)
def channel_create(request: HttpRequest) -> HttpResponse:
    if request.method == "GET":
        return TemplateResponse(request, "channels/create.html", {"form": _retried_form(request)})
    form = ChannelCreateForm(request.POST)
    if form.is_valid():
        spec = form.spec(form.cleaned_data["name"])
        return operation_redirect(services.channel_create(actor=request.user, spec=spec))
    return TemplateResponse(request, "channels/create.html", {"form": form}, status=400)


@require_http_methods(["GET", "POST"])
@permission_required(MANAGE_RESOURCES, raise_exception=True)
def fleet_create(request: HttpRequest) -> HttpResponse:
    form = FleetCreateForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        specs = form.specs
        label = f"Create {len(specs)} signaling channels ({specs[0].name} … {specs[-1].name})"
        batch = services.channels_create_fleet(actor=request.user, specs=specs, label=label)
        return HttpResponseRedirect(reverse("operation_batch", args=[batch.pk]), status=303)
    status = 400 if request.method == "POST" else 200
    return TemplateResponse(request, "channels/fleet.html", {"form": form}, status=status)


# The parts of a channel's page that fetch themselves again (partials of channels/detail.html): they follow the
# channel, so they refresh when an operation on it ends; heading, settings and endpoints also poll while AWS is still
# changing the channel (or its endpoints are not read yet), and stop when it has settled.
PANELS = ("heading", "settings", "tags", "endpoints", "operations")
POLLING_PANELS = ("heading", "settings", "endpoints")


@require_GET
@vary_on_headers("HX-Request")
@permission_required(VIEW_RESOURCES, raise_exception=True)
def channel_detail(request: HttpRequest, channel_id: int) -> HttpResponse:
    channel = get_object_or_404(Channel, pk=channel_id)
    panel = request.GET.get("panel", "") if request.htmx else ""
    if panel and panel not in PANELS:
        return HttpResponseBadRequest(f"No panel {panel!r}; one of {', '.join(PANELS)}.")
    if channel.status in Channel.IN_AWS and channel.arn:
        refresh_watch(refresher="channels", key=channel.pk)  # someone is looking: read it every cycle
    unread = channel.status in Channel.IN_AWS and bool(channel.arn) and channel.refreshed_at is None
    settling = channel.in_transition or unread or (channel.is_active and not channel.endpoints)
    context: dict[str, Any] = {
        "channel": channel,
        "poll_interval": "fast" if settling else None,
        "endpoints": selectors.channel_endpoints(channel=channel),
        "operations": selectors.channel_operations(channel=channel),
        "ttl_form": TtlForm(initial={"message_ttl": channel.message_ttl, "version": channel.version}),
        "tag_form": TagAddForm(),
    }
    if panel in POLLING_PANELS:
        return poll_response(request, f"channels/detail.html#{panel}", context, done=not settling)
    return TemplateResponse(request, f"channels/detail.html#{panel}" if panel else "channels/detail.html", context)


def _form_errors(request: HttpRequest, form: Any) -> TemplateResponse:
    """A change the form refused: what is wrong, where the change's answer goes."""
    return TemplateResponse(request, "channels/detail.html#form-errors", {"form": form}, status=400)


@require_POST
@permission_required(MANAGE_RESOURCES, raise_exception=True)
def channel_ttl_update(request: HttpRequest, channel_id: int) -> HttpResponse:
    channel = get_object_or_404(Channel, pk=channel_id)
    form = TtlForm(request.POST)
    if not form.is_valid():
        return _form_errors(request, form)
    operation = services.channel_update_ttl(
        actor=request.user, channel=channel, ttl=form.cleaned_data["message_ttl"], version=form.cleaned_data["version"]
    )
    return operation_redirect(operation)


@require_POST
@permission_required(MANAGE_RESOURCES, raise_exception=True)
def channel_ttl_reapply(request: HttpRequest, channel_id: int, operation_id: int) -> HttpResponse:
    channel = get_object_or_404(Channel, pk=channel_id)
    failed = get_object_or_404(Operation, pk=operation_id, status=Operation.Status.FAILED)
    return operation_redirect(services.channel_ttl_reapply(actor=request.user, channel=channel, failed=failed))


@require_POST
@permission_required(MANAGE_RESOURCES, raise_exception=True)
def channel_tag_add(request: HttpRequest, channel_id: int) -> HttpResponse:
    channel = get_object_or_404(Channel, pk=channel_id)
    form = TagAddForm(request.POST)
    if not form.is_valid():
        return _form_errors(request, form)
    return operation_redirect(services.channel_tag(actor=request.user, channel=channel, tags=form.cleaned_data["tags"]))


@require_POST
@permission_required(MANAGE_RESOURCES, raise_exception=True)
def channel_tag_remove(request: HttpRequest, channel_id: int) -> HttpResponse:
    channel = get_object_or_404(Channel, pk=channel_id)
    form = TagRemoveForm(request.POST)
    if not form.is_valid():
        return _form_errors(request, form)
    operation = services.channel_untag(actor=request.user, channel=channel, keys=[form.cleaned_data["key"]])
    return operation_redirect(operation)


@require_POST
@permission_required(MANAGE_RESOURCES, raise_exception=True)
def channel_ice_servers(request: HttpRequest, channel_id: int) -> HttpResponse:
    channel = get_object_or_404(Channel, pk=channel_id)
    return operation_redirect(services.channel_ice_servers(actor=request.user, channel=channel))


@require_http_methods(["GET", "POST"])
@permission_required(MANAGE_RESOURCES, raise_exception=True)
def channel_delete(request: HttpRequest, channel_id: int) -> HttpResponse:
    channel = get_object_or_404(Channel, pk=channel_id)
    services.channel_require_active(channel=channel)
    form = ChannelDeleteForm(request.POST if request.method == "POST" else None, channel=channel)
    if request.method == "POST" and form.is_valid():
        return operation_redirect(services.channel_delete(actor=request.user, channel=channel))
    status = 400 if request.method == "POST" else 200
    return TemplateResponse(request, "channels/delete.html", {"channel": channel, "form": form}, status=status)


channels_delete = delete_many_view(
    DeleteMany(
        field="channels",
        noun="channel",
        title="Delete signaling channels",
        list_url_name="channels",
        choices=Channel.objects.filter(status=Channel.Status.ACTIVE, arn__isnull=False),
        deletable=lambda channel: channel.is_active,
        delete=lambda actor, channels: services.channels_delete(actor=actor, channels=channels),
        at_most=1000,
        explanation="Each channel is deleted by its own operation, at the rate KVS allows, with the version the portal "
        "last read; each is DELETING until gone. The next page follows them all.",
        no_longer="A chosen channel can no longer be deleted (it is gone, deleted or changing).",
        nothing_chosen="No chosen channel can be deleted. Tick ACTIVE channels on the list.",
        rows_template="channels/_delete_many_rows.html",
    )
)
