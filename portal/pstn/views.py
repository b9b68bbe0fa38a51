from __future__ import annotations

import json
import logging
import time
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_not_required, permission_required
from django.db import DatabaseError
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse, RawPostDataException
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import reverse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django.views.decorators.vary import vary_on_headers

from portal.core.addresses import client_address
from portal.core.durability import commits_unflushed
from portal.core.models import Operation
from portal.core.permissions import HANGUP_CALLS, MANAGE_RESOURCES, VIEW_RESOURCES
from portal.core.polling import poll_response
from portal.core.query import row_ids
from portal.core.throttle import request_allowed
from portal.core.views import operation_redirect
from portal.meetings.models import Meeting
from portal.pstn import handler, replays, selectors, services
from portal.pstn.forms import (
    DialOutForm,
    HangupForm,
    NumberForm,
    NumberOrderForm,
    NumberSearchForm,
    SipRuleForm,
    SmaForm,
)
from portal.pstn.models import PhoneCall, PhoneNumber, SipMediaApplication, SipRule, WrongPins
from portal.pstn.signature import SIGNATURE_HEADER, TIMESTAMP_HEADER, signature_valid
from portal.pstn.slots import meeting_phone_context

logger = logging.getLogger(__name__)
MAX_EVENT_BYTES = 64 * 1024
EMPTY_ANSWER = {"SchemaVersion": handler.SCHEMA_VERSION, "Actions": []}


# --- the SMA handler's endpoint --------------------------------------------------------------------------------------


@csrf_exempt
@login_not_required
@require_POST
def sma_invocation(request: HttpRequest) -> HttpResponse:
    """The SIP media application's handler, reached through the Lambda forwarder: signed invocations only."""
    started = time.perf_counter()
    address = client_address(request)
    if not request_allowed(scope="sma", key=address, per_second=settings.SMA_HANDLER_RATE_PER_SECOND):
        return JsonResponse({"message": "Too many invocations from this address."}, status=429)
    try:
        body = request.body[: MAX_EVENT_BYTES + 1]
    except RawPostDataException:  # a form body, already parsed by a middleware: no invocation sends one
        body = b""
    timestamp = request.headers.get(TIMESTAMP_HEADER, "")
    given = request.headers.get(SIGNATURE_HEADER, "")
    if len(body) > MAX_EVENT_BYTES or not signature_valid(settings.SMA_HANDLER_SECRET, timestamp, given, body):
        return JsonResponse({"message": "The invocation is not signed with the handler's secret."}, status=403)
    claim = replays.signature_claim(given=given, timestamp=timestamp, body=body, address=address)
    if claim is replays.Claim.REPLAY:
        return JsonResponse({"message": "This signed invocation was received before."}, status=403)
    if claim is replays.Claim.UNAVAILABLE:
        return JsonResponse({"message": "The handler cannot tell a replay now; try again later."}, status=503)
    try:
        event = json.loads(body)
    except (ValueError, RecursionError):
        return JsonResponse(EMPTY_ANSWER)  # signed, yet unreadable: the caller still gets a valid (empty) answer
    with commits_unflushed():  # the answer does not wait for the disk; see README, Phone calls
        answer = _answer_and_record(event, started)
    return JsonResponse(answer.response())


def _answer_and_record(event: Any, started: float) -> handler.Answer:
    invocation = handler.Invocation.parse(event)
    try:
        call = services.phone_call_for(invocation, handler.as_dict(event))
    except DatabaseError:
        logger.exception("The SMA handler could not find its call")
        call = None
    ports = services.PortalCallPorts(call)
    answer = handler.answer(event, ports)
    if call is not None:
        try:
            services.invocation_record(
                call=call,
                invocation=invocation,
                sequence=handler.as_dict(event).get("Sequence"),
                answer=answer,
                server_ms=(time.perf_counter() - started) * 1000,
                changes=ports.call_changes,
            )
        except DatabaseError:
            logger.exception("The SMA handler could not record an invocation of call %s", call.pk)
    return answer


# --- live calls ------------------------------------------------------------------------------------------------------


@require_GET
@vary_on_headers("HX-Request")
@permission_required(VIEW_RESOURCES, raise_exception=True)
def call_list(request: HttpRequest) -> HttpResponse:
    """Live and recent calls. The tables poll every 2 s; while they show no live call, they send the newest call's
    id, and are answered 204 (nothing to swap) until a call starts: an idle page costs one indexed query a poll."""
    newest = row_ids(request.GET.getlist("newest"))
    if request.htmx and newest and not selectors.calls_changed_since(newest=newest[0]):
        return HttpResponse(status=204)
    live, recent = list(selectors.calls_live()), list(selectors.calls_recent())
    context = {"live": live, "recent": recent, "newest": max((call.pk for call in live + recent), default=0)}
    if request.htmx:
        return TemplateResponse(request, "pstn/calls.html#call-tables", context)
    limits = {
        "per_caller": settings.PSTN_WRONG_PINS_PER_CALLER,
        "per_dial_in": settings.PSTN_WRONG_PINS_PER_DIAL_IN,
        "window_minutes": settings.PSTN_WRONG_PIN_WINDOW_MINUTES,
    }
    return TemplateResponse(
        request, "pstn/calls.html", {**context, "lockouts": selectors.pin_lockouts(), "pin_limits": limits}
    )


@require_POST
@permission_required(HANGUP_CALLS, raise_exception=True)
def pin_lockout_lift(request: HttpRequest, lockout_pk: int) -> HttpResponse:
    lockout = get_object_or_404(WrongPins, pk=lockout_pk)
    services.pin_lockout_lift(actor=request.user, lockout=lockout)
    messages.success(request, f"The lockout of {lockout.get_scope_display().lower()} {lockout.number_shown} is lifted.")
    return HttpResponseRedirect(reverse("pstn_calls"), status=303)


@require_GET
@vary_on_headers("HX-Request")
@permission_required(VIEW_RESOURCES, raise_exception=True)
def call_detail(request: HttpRequest, call_pk: int) -> HttpResponse:
    call = get_object_or_404(PhoneCall.objects.select_related("meeting", "sma", "hangup_operation"), pk=call_pk)
    context = {"call": call, "timeline": selectors.call_timeline(call=call)}
    if request.htmx:
        return poll_response(request, "pstn/call_detail.html#call-panel", context, done=not call.is_live)
    return TemplateResponse(request, "pstn/call_detail.html", context)


@require_http_methods(["GET", "POST"])
@permission_required(HANGUP_CALLS, raise_exception=True)
def call_hangup(request: HttpRequest, call_pk: int) -> HttpResponse:
    call = get_object_or_404(PhoneCall.objects.select_related("sma", "meeting"), pk=call_pk)
    form = HangupForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        return operation_redirect(
            services.call_hangup(actor=request.user, call=call, reason=form.cleaned_data["reason"])
        )
    status = 400 if request.method == "POST" else 200
    return TemplateResponse(request, "pstn/hangup.html", {"call": call, "form": form}, status=status)


@require_http_methods(["GET", "POST"])
@permission_required(HANGUP_CALLS, raise_exception=True)
def meeting_dial_out(request: HttpRequest, meeting_pk: int) -> HttpResponse:
    meeting = get_object_or_404(Meeting, pk=meeting_pk)
    form = DialOutForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        operation = services.call_dial_out(
            actor=request.user, meeting=meeting, to_number=form.cleaned_data["to_number"]
        )
        return operation_redirect(operation)
    status = 400 if request.method == "POST" else 200
    return TemplateResponse(request, "pstn/dial_out.html", {"meeting": meeting, "form": form}, status=status)


@require_GET
@permission_required(VIEW_RESOURCES, raise_exception=True)
def meeting_phone_panel(request: HttpRequest, meeting_pk: int) -> HttpResponse:
    """The meeting page's phone panel, fetched again while the meeting is live (its calls come and go)."""
    meeting = get_object_or_404(Meeting, pk=meeting_pk)
    context = meeting_phone_context(request, meeting) or {}
    return poll_response(request, "pstn/meeting_phone.html", context, done=not meeting.is_usable)


# --- wiring: SIP media applications, SIP rules, phone numbers (Admins change them) -----------------------------------


@require_GET
@vary_on_headers("HX-Request")
@permission_required(VIEW_RESOURCES, raise_exception=True)
def wiring(request: HttpRequest) -> HttpResponse:
    """The wiring; with htmx, its tables, polled while anything on them is in transition (then 286)."""
    smas, rules, orders = list(selectors.smas()), list(selectors.rules()), list(selectors.number_orders())
    transition = selectors.wiring_in_transition(smas=smas, rules=rules, orders=orders)
    context = {
        "smas": smas,
        "rules": rules,
        "numbers": selectors.phone_numbers(),
        "orders": orders,
        "dial_in_rule": services.dial_in_rule(),
        "transition": transition,
    }
    if request.htmx:
        return poll_response(request, "pstn/wiring.html#wiring-tables", context, done=not transition)
    return TemplateResponse(request, "pstn/wiring.html", context)


def _form_page(request: HttpRequest, form: Any, context: dict[str, Any]) -> TemplateResponse:
    status = 400 if request.method == "POST" else 200
    return TemplateResponse(request, "pstn/wiring_form.html", {"form": form, **context}, status=status)


@require_http_methods(["GET", "POST"])
@permission_required(MANAGE_RESOURCES, raise_exception=True)
def sma_create(request: HttpRequest) -> HttpResponse:
    form = SmaForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        return operation_redirect(services.sma_create(actor=request.user, **form.cleaned_data))
    return _form_page(request, form, {"title": "Create SIP media application", "button": "Create"})


@require_http_methods(["GET", "POST"])
@permission_required(MANAGE_RESOURCES, raise_exception=True)
def sma_update(request: HttpRequest, sma_pk: int) -> HttpResponse:
    sma = get_object_or_404(SipMediaApplication, pk=sma_pk)
    initial = {"name": sma.name, "aws_region": sma.aws_region, "lambda_arn": sma.lambda_arn}
    form = SmaForm(request.POST if request.method == "POST" else None, initial=initial)
    form.fields["aws_region"].disabled = True  # AWS does not move an SMA to another Region
    if request.method == "POST" and form.is_valid():
        operation = services.sma_update(
            actor=request.user, sma=sma, name=form.cleaned_data["name"], lambda_arn=form.cleaned_data["lambda_arn"]
        )
        return operation_redirect(operation)
    return _form_page(request, form, {"title": f"Update SIP media application {sma}", "button": "Save"})


@require_http_methods(["GET", "POST"])
@permission_required(MANAGE_RESOURCES, raise_exception=True)
def sma_delete(request: HttpRequest, sma_pk: int) -> HttpResponse:
    sma = get_object_or_404(SipMediaApplication, pk=sma_pk)
    if request.method == "POST":
        return operation_redirect(services.sma_delete(actor=request.user, sma=sma))
    context = {
        "title": f"Delete SIP media application {sma}",
        "button": "Delete",
        "danger": True,
        "explain": "AWS deletes the SIP media application; calls can no longer reach its handler.",
    }
    return _form_page(request, None, context)


@require_http_methods(["GET", "POST"])
@permission_required(MANAGE_RESOURCES, raise_exception=True)
def rule_create(request: HttpRequest) -> HttpResponse:
    form = SipRuleForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        operation = services.rule_create(
            actor=request.user,
            name=data["name"],
            trigger_type=data["trigger_type"],
            trigger_value=data["trigger_value"],
            sma=data["target"],
            priority=data["priority"],
            disabled=data["disabled"],
        )
        return operation_redirect(operation)
    return _form_page(request, form, {"title": "Create SIP rule", "button": "Create"})


@require_http_methods(["GET", "POST"])
@permission_required(MANAGE_RESOURCES, raise_exception=True)
def rule_update(request: HttpRequest, rule_pk: int) -> HttpResponse:
    rule = get_object_or_404(SipRule, pk=rule_pk)
    initial = {"name": rule.name, "target": rule.target_id, "priority": rule.priority, "disabled": rule.disabled}
    form = SipRuleForm(request.POST if request.method == "POST" else None, initial=initial, editing=True)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        operation = services.rule_update(
            actor=request.user,
            rule=rule,
            name=data["name"],
            sma=data["target"],
            priority=data["priority"],
            disabled=data["disabled"],
        )
        return operation_redirect(operation)
    return _form_page(request, form, {"title": f"Update SIP rule {rule} ({rule.trigger_value})", "button": "Save"})


@require_http_methods(["GET", "POST"])
@permission_required(MANAGE_RESOURCES, raise_exception=True)
def rule_delete(request: HttpRequest, rule_pk: int) -> HttpResponse:
    rule = get_object_or_404(SipRule, pk=rule_pk)
    if request.method == "POST":
        return operation_redirect(services.rule_delete(actor=request.user, rule=rule))
    context = {
        "title": f"Delete SIP rule {rule}",
        "button": "Delete",
        "danger": True,
        "explain": f"The rule is disabled, then deleted: calls to {rule.trigger_value} stop reaching the "
        "SIP media application.",
    }
    return _form_page(request, None, context)


@require_http_methods(["GET", "POST"])
@permission_required(MANAGE_RESOURCES, raise_exception=True)
def numbers_search(request: HttpRequest) -> HttpResponse:
    """The criteria; the search itself is an operation, whose page lists the numbers found."""
    form = NumberSearchForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        operation = services.numbers_search(
            actor=request.user, criteria=form.criteria(), max_results=form.cleaned_data["max_results"]
        )
        return operation_redirect(operation)
    context = {
        "title": "Order phone numbers: search",
        "button": "Search",
        "explain": "AWS lists US numbers the account may order; the next page lets you choose among them.",
    }
    return _form_page(request, form, context)


@require_http_methods(["GET", "POST"])
@permission_required(MANAGE_RESOURCES, raise_exception=True)
def numbers_order(request: HttpRequest, search_pk: int) -> HttpResponse:
    """Choose among the numbers a search found, and order them."""
    search = get_object_or_404(Operation, pk=search_pk, kind="pstn.search_numbers", status=Operation.Status.SUCCEEDED)
    available = list(search.result.get("numbers", []))
    form = NumberOrderForm(request.POST if request.method == "POST" else None, available=available)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        return operation_redirect(
            services.numbers_order(actor=request.user, numbers=data["numbers"], name=data["name"])
        )
    context = {
        "title": "Order phone numbers",
        "button": "Order",
        "explain": "The numbers are ordered as SIP media application dial-in numbers. AWS processes the order in a "
        "few minutes; the numbers then appear on this page, ready for a SIP rule. Numbers are billed while the "
        "account holds them.",
    }
    if not available:
        context["explain"] = "The search found no numbers: search again with other criteria."
    return _form_page(request, form if available else None, context)


@require_http_methods(["GET", "POST"])
@permission_required(MANAGE_RESOURCES, raise_exception=True)
def number_update(request: HttpRequest, number_pk: int) -> HttpResponse:
    number = get_object_or_404(PhoneNumber, pk=number_pk)
    initial = {"name": number.name, "calling_name": number.calling_name, "product_type": number.product_type}
    form = NumberForm(request.POST if request.method == "POST" else None, initial=initial)
    if request.method == "POST" and form.is_valid():
        operation = services.number_update(actor=request.user, number=number, **form.cleaned_data)
        return operation_redirect(operation)
    return _form_page(request, form, {"title": f"Update phone number {number}", "button": "Save"})


@require_http_methods(["GET", "POST"])
@permission_required(MANAGE_RESOURCES, raise_exception=True)
def number_release(request: HttpRequest, number_pk: int) -> HttpResponse:
    number = get_object_or_404(PhoneNumber, pk=number_pk)
    if request.method == "POST":
        return operation_redirect(services.number_release(actor=request.user, number=number))
    used_by = services.number_rule(number=number)
    context = {
        "title": f"Release phone number {number}",
        "button": "Release",
        "danger": True,
        "explain": f"SIP rule {used_by} uses this number: delete the rule first, then release the number."
        if used_by
        else "AWS moves the number to its deletion queue; after 7 days it leaves the account and may go to "
        "someone else. Calls to it stop reaching the portal.",
        "refused": bool(used_by),
    }
    return _form_page(request, None, context)


@require_POST
@permission_required(MANAGE_RESOURCES, raise_exception=True)
def number_restore(request: HttpRequest, number_pk: int) -> HttpResponse:
    number = get_object_or_404(PhoneNumber, pk=number_pk)
    return operation_redirect(services.number_restore(actor=request.user, number=number))
