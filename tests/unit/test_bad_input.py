"""Nothing a client sends makes the portal answer 500 (issue 9, item 3): every URL pattern, as every role, with
malformed ids, query values and bodies, with and without htmx, with the CSRF check on and off."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterator
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver

from portal.core.models import Operation
from portal.core.roles import Role
from portal.pstn.models import CallInvocation, Lifecycle, PhoneCall, SipMediaApplication, SipRule
from portal.pstn.signature import SIGNATURE_HEADER, TIMESTAMP_HEADER, signature, signed_headers
from tests.conftest import login
from tests.factories import OperationFactory, ParticipantFactory, StageSessionFactory

pytestmark = pytest.mark.django_db

ARGUMENT = re.compile(r"<(?:(?P<converter>\w+):)?(?P<name>\w+)>")
BAD_IDS = ["0", str(2**63), "9" * 40]
# As a client writes them into a query string: NUL, a lone surrogate's and other bytes that are not UTF-8, markup.
BAD_VALUES = ["abc", "-1", "9" * 40, "%00", "%ED%A0%80%FF%FE", "%27%22%3Cx%3E%25ff", "a" * 5000, ""]
QUERY_NAMES = [
    "page", "panel", "participant", "session", "status", "kind", "actor", "target", "event", "date_from",
    "date_to", "history", "name", "tag", "live", "q", "next", "sessions_page", "started_from", "started_to",
]  # fmt: skip
HUGE = b"reason=" + b"x" * 3_000_000  # over DATA_UPLOAD_MAX_MEMORY_SIZE (2.5 MB)
BODIES: list[tuple[str, str, bytes]] = [
    ("utf-16 form", "application/x-www-form-urlencoded; charset=utf-16", "reason=x&name=y".encode("utf-16")),
    ("unknown charset", "application/x-www-form-urlencoded; charset=no-such-charset", b"reason=x"),
    ("latin-1 form", "application/x-www-form-urlencoded; charset=latin-1", "reason=caf\xe9".encode("latin-1")),
    ("not UTF-8", "application/x-www-form-urlencoded", b"reason=\xff\xfe\xc3\x28&name=\xed\xa0\x80"),
    ("huge field", "application/x-www-form-urlencoded", HUGE),
    ("too many fields", "application/x-www-form-urlencoded", "&".join(f"f{i}=1" for i in range(1500)).encode()),
    ("multipart without boundary", "multipart/form-data", b"--x\r\n\r\nreason\r\n--x--"),
    ("broken multipart", "multipart/form-data; boundary=b", b"--b\r\nContent-Disposition: form-data\r\n\r\nx"),
    ("multipart utf-16", "multipart/form-data; boundary=b; charset=utf-16", b'--b\r\nContent-Disposition: '
     b'form-data; name="reason"\r\n\r\nx\r\n--b--\r\n'),
    ("bad JSON", "application/json", b'{"reason": '),
    ("odd values", "application/x-www-form-urlencoded",
     b"reason=" + b"r" * 10_000 + b"&name=%00&role=Superuser&active=maybe&username=" + b"u" * 500
     + b"&ip_address=::zz&participant=abc&stages=abc&tags-TOTAL_FORMS=99999999999&tokens-TOTAL_FORMS=-1"),
]  # fmt: skip


def _routes(patterns: list, prefix: str = "") -> Iterator[str]:
    for pattern in patterns:
        route = prefix + str(pattern.pattern)
        if isinstance(pattern, URLResolver):
            yield from _routes(pattern.url_patterns, route)
        elif isinstance(pattern, URLPattern) and not (route.startswith("^") or "(?P" in route):
            yield "/" + route


ROUTES = [*sorted(set(_routes(get_resolver().url_patterns))), "/admin/auth/user/1/change/", "/no-such-page/"]


def _paths(route: str, ids: dict[str, int]) -> tuple[str, list[str]]:
    """The route with real ids (so views get past their lookups), and with each malformed id."""
    real = ARGUMENT.sub(lambda match: str(ids.get(match["name"], 1)), route)
    bad = [ARGUMENT.sub(lambda match, bad=bad: bad, route) for bad in BAD_IDS] if ARGUMENT.search(route) else []
    return real, bad


def _queries() -> list[str]:
    every_name = ["&".join(f"{name}={value}" for name in QUERY_NAMES) for value in BAD_VALUES]
    rows = [f"panel=row&participant={value}" for value in BAD_VALUES]
    panels = [f"panel={panel}&session=abc" for panel in ("participants", "row", "nope")]
    return every_name + rows + panels


def _walk(
    client: Client, ids: dict[str, int], *, skip: set[str], csrf_checks: bool, under: tuple[str, ...] = ("/",)
) -> tuple[int, list[str]]:
    """Every request to the routes `under` those prefixes (with the CSRF check on: the bodies only, as that is what it
    reads); how many were sent, and what answered 5xx or raised, in words."""
    failures, sent = [], 0
    htmx = {"HX-Request": "true"}

    def send(label: str, method: str, url: str, body: bytes = b"", content_type: str = "", **headers: str) -> None:
        nonlocal sent
        sent += 1
        try:
            status = client.generic(method, url, body, content_type, headers=headers).status_code
        except Exception as error:  # the test client re-raises what the handler turned into a 500
            failures.append(f"{label}: {type(error).__name__}: {str(error)[:120]}")
            return
        if status >= 500:
            failures.append(f"{label}: {status}")

    for route in ROUTES:
        path, bad_paths = _paths(route, ids)
        if path in skip or not path.startswith(under):
            continue
        for name, content_type, body in BODIES:
            send(f"POST {path} {name}", "POST", path, body, content_type)
        if csrf_checks:
            continue
        for query in _queries():
            url = f"{path}?{query}"
            send(f"GET {url[:160]}", "GET", url)
            send(f"GET htmx {url[:160]}", "GET", url, **htmx)
        for bad_path in bad_paths:
            send(f"GET {bad_path}", "GET", bad_path)
            send(f"POST htmx {bad_path}", "POST", bad_path, BODIES[-1][2], BODIES[-1][1], **htmx)
    return sent, failures


@pytest.fixture
def rows(admin, make_user) -> dict[str, int]:
    """A stage with a session and a participant, an operation, and a user to manage: every id resolves."""
    participant = ParticipantFactory(session=StageSessionFactory())
    operation = OperationFactory(actor=admin, status=Operation.Status.SUCCEEDED)
    target = make_user("walk-target", Role.VIEWER)
    return {
        "stage_id": participant.session.stage_id,
        "participant_pk": participant.pk,
        "operation_id": operation.pk,
        "user_id": target.pk,
    }


LOGOUT = {"/logout/", "/admin/logout/"}


@pytest.mark.parametrize("role", [None, Role.VIEWER, Role.SUPPORT, Role.ADMIN, "superuser"])
@pytest.mark.parametrize("csrf_checks", [False, True], ids=["csrf-off", "csrf-on"])
def test_no_request_makes_a_500(role, csrf_checks, rows, make_user):
    if role is None:
        client = Client(enforce_csrf_checks=csrf_checks)
    else:
        user = make_user("walker", Role.ADMIN if role == "superuser" else role)
        if role == "superuser":
            get_user_model().objects.filter(pk=user.pk).update(is_superuser=True)
        client = login(user)
        client.handler.enforce_csrf_checks = csrf_checks
    client.get("/login/")  # a CSRF cookie, so the CSRF check reads the body
    # A superuser is an Admin with Django's admin site on top (and the Users pages, where only a superuser changes a
    # superuser): every other page is the Admin's walk.
    under = ("/admin/", "/users/") if role == "superuser" else ("/",)
    sent, failures = _walk(client, rows, skip=set() if role is None else LOGOUT, csrf_checks=csrf_checks, under=under)
    assert sent > (20 if role == "superuser" else 300 if csrf_checks else 2000)
    assert failures == [], f"{len(failures)} of {sent} requests failed:\n" + "\n".join(failures[:40])


def test_a_non_integer_participant_id_is_400(admin, rows):
    """The probe: /stages/<id>/?panel=row&participant=abc answered 500."""
    response = login(admin).get(
        f"/stages/{rows['stage_id']}/", {"panel": "row", "participant": "abc"}, headers={"HX-Request": "true"}
    )
    assert response.status_code == 400


def test_a_utf16_login_post_is_400():
    """The probe: a POST to /login/ with charset=utf-16 answered 500 (the CSRF failure view read the body again)."""
    client = Client(enforce_csrf_checks=True)
    client.get("/login/")
    body = "username=ada&password=x".encode("utf-16")
    response = client.generic("POST", "/login/", body, "application/x-www-form-urlencoded; charset=utf-16")
    assert response.status_code == 400


def test_an_expired_form_gets_the_portals_page(admin):
    client = Client(enforce_csrf_checks=True)
    client.force_login(admin)
    response = client.post("/operations/check-connection/", {})
    assert response.status_code == 403
    assert "This form has expired" in response.content.decode()


# --- the SMA handler's endpoint: no login, signed invocations -------------------------------------------------------

SMA_SECRET = "walk-secret"
LONE = "\ud800"  # half a surrogate pair: JSON may spell it ("\\ud800"), UTF-8 cannot encode it
CALLER = {"CallId": "c-1", "ParticipantTag": "LEG-A", "From": "+14155550123", "To": "+12065550100",
          "Direction": "Inbound", "Status": "Connected"}  # fmt: skip


def _sma_event(kind: str, transaction_id: str = "tx-walk-1", **parts: Any) -> dict[str, Any]:
    details = {"TransactionId": transaction_id, "SipMediaApplicationId": "sma-1", "Participants": [CALLER]}
    details.update(parts.pop("details", {}))
    return {"SchemaVersion": "1.0", "Sequence": 2, "InvocationEventType": kind, "CallDetails": details, **parts}


def _sma_post(body: bytes, headers: dict[str, str]):
    extra = {f"HTTP_{key.upper().replace('-', '_')}": value for key, value in headers.items()}
    return Client(enforce_csrf_checks=True).post("/pstn/sma/", body, content_type="application/json", **extra)


def _errors(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [f"{record.name}: {record.getMessage()}" for record in caplog.records if record.levelno >= logging.ERROR]


@pytest.fixture
def sma_secret(settings) -> str:
    settings.SMA_HANDLER_SECRET = SMA_SECRET
    settings.SMA_HANDLER_RATE_PER_SECOND = 1000
    cache.clear()  # the signatures earlier tests sent: the same event signed in the same second is a replay
    return SMA_SECRET


@pytest.mark.parametrize(
    "timestamp", ["\u00b2", "1" * 4301, "\u0661\u0667\u0660\u0660", "\uff11\uff17\uff10\uff10", " 1700000000"]
)
def test_a_timestamp_int_cannot_read_is_refused_as_any_bad_signature(sma_secret, caplog, timestamp):
    """The probe: X-Sma-Timestamp "²" (str.isdigit() takes it) or 4,301 digits answered 500 with a traceback."""
    body = json.dumps(_sma_event("NEW_INBOUND_CALL")).encode()
    headers = {TIMESTAMP_HEADER: timestamp, SIGNATURE_HEADER: signature(SMA_SECRET, timestamp, body)}
    response = _sma_post(body, headers)
    assert (response.status_code, response.json()) == (403, _sma_post(body, {}).json())
    assert not PhoneCall.objects.exists()
    assert _errors(caplog) == []


@pytest.mark.parametrize("given", ["v1=\u00e9", "\u00b2", "v1=" + "\u00ff" * 64])
def test_a_signature_of_other_than_ascii_is_refused_as_any_bad_signature(sma_secret, caplog, given):
    """The probe: X-Sma-Signature "v1=é" with a fresh timestamp answered 500 (hmac.compare_digest takes ASCII str
    only; a WSGI header is Latin-1, so any byte past 127 makes one)."""
    body = json.dumps(_sma_event("NEW_INBOUND_CALL")).encode()
    headers = {**signed_headers(SMA_SECRET, body), SIGNATURE_HEADER: given}
    response = _sma_post(body, headers)
    assert (response.status_code, response.json()) == (403, _sma_post(body, {}).json())
    assert not PhoneCall.objects.exists()
    assert _errors(caplog) == []


def _sma_answered(event: dict[str, Any]) -> dict[str, Any]:
    body = json.dumps(event).encode()  # ensure_ascii: a lone surrogate travels as \ud800, as JSON allows
    response = _sma_post(body, signed_headers(SMA_SECRET, body))
    assert response.status_code == 200
    document = response.json()
    assert document["SchemaVersion"] == "1.0"
    assert isinstance(document["Actions"], list)
    return document


@pytest.mark.parametrize(
    "event",
    [
        _sma_event("NEW_INBOUND_CALL", transaction_id=LONE),
        _sma_event("NEW_INBOUND_CALL", transaction_id=f"tx-{LONE}"),
        _sma_event("NEW_INBOUND_CALL", transaction_id="t" * 65),
        _sma_event("ACTION_FAILED", transaction_id=LONE, ActionData={"Type": "JoinChimeMeeting", "ErrorMessage": LONE}),
    ],
    ids=["lone surrogate", "surrogate inside", "65 characters", "failed action"],
)
def test_an_unusable_transaction_id_is_answered_and_records_nothing(sma_secret, caplog, event):
    """The probe: TransactionId "\\ud800" answered 500 (the call's lookup could not encode it)."""
    _sma_answered(event)
    assert (PhoneCall.objects.count(), CallInvocation.objects.count()) == (0, 0)
    assert _errors(caplog) == []


@pytest.mark.parametrize("odd", [LONE, "\x00"], ids=["half a surrogate pair", "NUL"])
def test_event_text_no_column_takes_is_stored_with_replacement_characters(sma_secret, caplog, odd):
    """The probe: ActionData.ErrorMessage "\\ud800" answered 500 (the call's timeline could not store its note), and
    so did every other text of the event the handler keeps: the legs, the event and action types. NUL ("\\u0000")
    left the invocation unrecorded, with a traceback (PostgreSQL's text refuses it)."""
    _sma_answered(_sma_event("NEW_INBOUND_CALL"))
    odd_leg = {**CALLER, "Direction": f"In{odd}", "Status": odd, "From": f"+1415{odd}"}
    failed = {"Type": f"Speak{odd}", "ErrorType": odd, "ErrorMessage": f"no {odd} voice"}
    document = _sma_answered(_sma_event("ACTION_FAILED", ActionData=failed, details={"Participants": [odd_leg]}))
    assert document["Actions"] == []
    odd_attributes = {"stage": odd, "muted": odd}
    _sma_answered(
        _sma_event(f"RINGING{odd}", details={"Participants": [odd_leg], "TransactionAttributes": odd_attributes})
    )
    call = PhoneCall.objects.get(transaction_id="tx-walk-1")
    assert call.legs == [{"tag": "LEG-A", "direction": "In\ufffd", "status": "\ufffd", "from": "unknown",
                          "to": "+1206*****00"}]  # fmt: skip
    assert list(call.invocations.order_by("id").values_list("event_type", "action_type", "note")) == [
        ("NEW_INBOUND_CALL", "", "asked for the PIN"),
        ("ACTION_FAILED", "Speak\ufffd", "Speak\ufffd failed (\ufffd: no \ufffd voice)"),
        ("RINGING\ufffd", "", "RINGING\ufffd ignored"),
    ]
    assert _errors(caplog) == []


@pytest.mark.parametrize(
    "event",
    [
        _sma_event(
            "NEW_OUTBOUND_CALL", ActionData={"Parameters": {"Arguments": {"call": "\u00b2", "meeting": "\u00b2"}}}
        ),
        _sma_event("CALL_ANSWERED", details={"TransactionAttributes": {"stage": "ringing", "meeting": "\u00b2"}}),
    ],
    ids=["dial-out's call", "answered call's meeting"],
)
def test_a_unicode_digit_in_an_events_id_is_no_id(sma_secret, caplog, event):
    """The probe: a dial-out's call "²" (str.isdigit() takes it, int() refuses it) answered 500."""
    _sma_answered(event)
    assert _errors(caplog) == []


@pytest.mark.parametrize("priority", ["26", str(2**31), str(2**63), "9" * 40])
def test_a_sip_rule_priority_past_25_is_refused_beside_the_field(admin, priority):
    """The probe: priority 2**31 or more answered 500 (DataError on PostgreSQL, OverflowError on SQLite). A rule lists
    at most 25 target applications, so 25 priorities order any of them."""
    arn = "arn:aws:lambda:us-east-1:123456789012:function:f"
    sma = SipMediaApplication.objects.create(
        name="dial in", aws_region="us-east-1", sma_id="sma-1", status=Lifecycle.ACTIVE, lambda_arn=arn
    )
    form = {"name": "main", "trigger_type": "ToPhoneNumber", "trigger_value": "+12065550100", "target": sma.pk,
            "priority": priority}  # fmt: skip
    response = login(admin).post("/calls/wiring/rules/new/", form)
    page = response.content.decode()
    assert response.status_code == 400
    assert f'value="{priority}"' in page
    assert 'class="error">Ensure this value is less than or equal to 25.</span>' in page
    assert not SipRule.objects.exists()


NO_ROW_IDS = ["\u00b2", "\u0661", str(2**63), "9" * 40, "1" * 4301]  # str.isdigit() takes "\u00b2" and "\u0661"


@pytest.mark.django_db(databases=["default", "sqlite"])
@pytest.mark.parametrize("alias", ["default", "sqlite"])
@pytest.mark.parametrize(("path", "field"), [("/stages/delete/", "stages"), ("/channels/delete/", "channels")])
def test_ids_no_row_can_have_choose_nothing_to_delete(views_on, alias, path, field):
    """The probe: /stages/delete/?stages=² answered 500 (int() refused what str.isdigit() took), and 2**63 did on
    SQLite (OverflowError), on the page and in the form sent."""
    views_on(alias)
    admin = get_user_model().objects.create_superuser("walker", password="x")
    client = Client()
    client.force_login(admin)
    for value in NO_ROW_IDS:
        page = client.get(path, {field: value})
        assert (page.status_code, page.context["deletable"], page.context["kept"]) == (200, [], []), value[:20]
        sent = client.post(path, {field: value, "confirm": "delete 1 stage"})
        assert sent.status_code == 400, value[:20]
        assert "can no longer be deleted" in sent.content.decode(), value[:20]


def test_a_row_id_of_thousands_of_digits_in_a_query_is_400(admin, rows):
    """The probe: ?participant= with 4,301 digits answered 500 (int() refuses more than 4,300)."""
    for value in NO_ROW_IDS:
        query = {"panel": "row", "participant": value}
        response = login(admin).get(f"/stages/{rows['stage_id']}/", query, headers={"HX-Request": "true"})
        assert response.status_code == 400, value[:20]
