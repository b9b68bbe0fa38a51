"""The moto half of the sandbox: S3, SQS, SNS and STS, served by moto's own server application in this process.

The simulated services reach into the same moto backends to check sinks and to write what AWS would write.
"""

from __future__ import annotations

import io
import json
import pickle
import re
import threading
import uuid
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import parse_qs
from xml.parsers.expat import ExpatError
from xml.sax.saxutils import escape

import botocore.session
from moto.backends import get_backend
from moto.s3.exceptions import MissingBucket, MissingKey
from moto.s3.models import s3_backends
from moto.server import create_backend_app
from moto.sns.exceptions import SNSNotFoundError
from moto.sns.models import sns_backends
from moto.sqs.exceptions import QueueDoesNotExist
from moto.sqs.models import sqs_backends
from werkzeug.formparser import parse_form_data

from rtc_sandbox.protocol import request_body

MOTO_SERVICES = frozenset({"s3", "sqs", "sns", "sts"})
MOTO_WRITES = {"s3": ("s3",), "sqs": ("sqs",), "sns": ("sns", "sqs"), "sts": ("sts",)}  # SNS delivers to SQS queues

FORM = "application/x-www-form-urlencoded"
Refusal = tuple[str, str, bytes]  # status line, content type, body


class MotoApplication:
    """moto's server application of each service, chosen by the service the request is signed for.

    moto's own dispatcher guesses the service again from the request, and raises for a request it cannot place; and
    moto raises on an action the service does not have, on S3 methods and POSTs that are no S3 operation, and on
    malformed XML. AWS answers 4xx: `InvalidAction` to a query-protocol `Action`, `UnknownOperationException` to a
    JSON-protocol `X-Amz-Target`, S3's `MethodNotAllowed`, `PreconditionFailed`, `InvalidArgument`, `MalformedXML`;
    so does the sandbox.
    """

    def __init__(self) -> None:
        self._apps = {service: create_backend_app(service) for service in MOTO_SERVICES}
        session = botocore.session.get_session()
        self._actions = {name: frozenset(session.get_service_model(name).operation_names) for name in MOTO_SERVICES}

    def __call__(self, service: str, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        refusal = _s3_refusal(environ) if service == "s3" else self._unknown_action(service, environ)
        if refusal is None:
            try:
                return self._apps[service](environ, start_response)
            except ExpatError:  # moto parses S3's XML bodies without a guard
                message = "The XML you provided was not well-formed or did not validate against our published schema"
                refusal = "400 Bad Request", "application/xml", _s3_error("MalformedXML", message, "")
            except UnicodeDecodeError:  # moto reads every body as UTF-8 without a guard (a UTF-16 JSON body)
                refusal = _unreadable_body(service, "The request body is not valid UTF-8.")
            except RecursionError:  # moto's json.loads of a body nested deeper than Python's recursion limit
                refusal = _unreadable_body(service, "The request body is nested too deeply to be read.")
        status, content_type, body = refusal
        start_response(status, [("Content-Type", content_type), ("Content-Length", str(len(body)))])
        return [body]

    def _unknown_action(self, service: str, environ: dict[str, Any]) -> Refusal | None:
        """AWS's answer when the action (as moto finds it: `Action`, else `X-Amz-Target`) is not the service's."""
        query = environ.get("QUERY_STRING", "")
        if environ.get("CONTENT_TYPE", "").startswith(FORM):
            query += "&" + request_body(environ).decode("utf-8", "replace")
        actions = parse_qs(query, keep_blank_values=True).get("Action")
        if actions is not None:
            if actions[0] in self._actions[service]:
                return None
            message = escape(f"The action {actions[0]} is not valid for this endpoint.")
            document = (
                f"<ErrorResponse><Error><Type>Sender</Type><Code>InvalidAction</Code><Message>{message}</Message>"
                f"</Error><RequestId>{uuid.uuid4()}</RequestId></ErrorResponse>"
            )
            return "400 Bad Request", "text/xml", document.encode("utf-8", "backslashreplace")
        target = environ.get("HTTP_X_AMZ_TARGET")
        if target is None or target.rpartition(".")[2] in self._actions[service]:
            return None
        document = json.dumps({"__type": "UnknownOperationException", "message": f"Unknown operation {target}."})
        return "400 Bad Request", "application/x-amz-json-1.0", document.encode()


def moto_application() -> MotoApplication:
    return MotoApplication()


S3_METHODS = frozenset({"GET", "PUT", "POST", "DELETE", "HEAD", "OPTIONS"})
S3_OBJECT_POSTS = frozenset({"uploads", "uploadId", "restore", "select"})
# General purpose bucket names, as AWS names them: 3-63 lowercase letters, digits, periods and hyphens, beginning
# and ending with a letter or digit, no two adjacent periods, not formatted as an IP address, and none of the
# reserved prefixes and suffixes. https://docs.aws.amazon.com/AmazonS3/latest/userguide/bucketnamingrules.html
BUCKET_NAME = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")
IP_ADDRESS_FORM = re.compile(r"\d+\.\d+\.\d+\.\d+")
RESERVED_BUCKET_PREFIXES = ("xn--", "sthree-", "amzn-s3-demo-")
RESERVED_BUCKET_SUFFIXES = ("-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3")


def _s3_refusal(environ: dict[str, Any]) -> Refusal | None:
    """S3's answer to the requests moto raises on (a method S3 lacks, a POST that is no S3 operation); else None."""
    method = environ.get("REQUEST_METHOD", "GET")
    bucket, _, key = environ.get("PATH_INFO", "").lstrip("/").partition("/")
    query = parse_qs(environ.get("QUERY_STRING", ""), keep_blank_values=True)
    resource = "OBJECT" if key else "BUCKET"
    if method not in S3_METHODS or (method == "POST" and key and not S3_OBJECT_POSTS & set(query)):
        message = "The specified method is not allowed against this resource."
        extra = f"<Method>{escape(method)}</Method><ResourceType>{resource}</ResourceType>"
        return "405 Method Not Allowed", "application/xml", _s3_error("MethodNotAllowed", message, extra)
    if method == "PUT" and bucket and not key and not _subresources(query) and not _bucket_name_valid(bucket):
        # CreateBucket: AWS's error, https://docs.aws.amazon.com/AmazonS3/latest/API/ErrorResponses.html
        extra = f"<BucketName>{escape(bucket)}</BucketName>"
        return (
            "400 Bad Request",
            "application/xml",
            _s3_error("InvalidBucketName", "The specified bucket is not valid.", extra),
        )
    if method != "POST" or not bucket or key or "delete" in query:
        return None
    if not environ.get("CONTENT_TYPE", "").startswith("multipart/form-data"):
        condition = "<Condition>Bucket POST must be of the enclosure-type multipart/form-data</Condition>"
        message = "At least one of the pre-conditions you specified did not hold"
        return "412 Precondition Failed", "application/xml", _s3_error("PreconditionFailed", message, condition)
    form = parse_form_data({**environ, "wsgi.input": io.BytesIO(request_body(environ))})[1]
    if "key" not in form:
        message = (
            "Bucket POST must contain a field named 'key'.  If it is specified, please check the order of the fields."
        )
        return "400 Bad Request", "application/xml", _s3_error("InvalidArgument", message, "")
    return None


def _bucket_name_valid(name: str) -> bool:
    return (
        BUCKET_NAME.fullmatch(name) is not None
        and ".." not in name
        and IP_ADDRESS_FORM.fullmatch(name) is None
        and not name.startswith(RESERVED_BUCKET_PREFIXES)
        and not name.endswith(RESERVED_BUCKET_SUFFIXES)
    )


def _subresources(query: dict[str, list[str]]) -> set[str]:
    """The query's S3 subresources (?acl, ?tagging, ...): what is left once a presigned URL's X-Amz-* are set aside."""
    return {name for name in query if not name.lower().startswith("x-amz-")}


def _unreadable_body(service: str, message: str) -> Refusal:
    """400 for a body moto could not read: S3's XML error, the JSON services' SerializationException."""
    if service == "s3":
        return "400 Bad Request", "application/xml", _s3_error("InvalidRequest", message, "")
    document = {"__type": "SerializationException", "message": message}
    return "400 Bad Request", "application/x-amz-json-1.0", json.dumps(document).encode()


def _s3_error(code: str, message: str, extra: str) -> bytes:
    request_id = f"<RequestId>{uuid.uuid4()}</RequestId>"
    document = f"<Error><Code>{code}</Code><Message>{escape(message)}</Message>{extra}{request_id}</Error>"
    return ('<?xml version="1.0" encoding="UTF-8"?>\n' + document).encode("utf-8", "backslashreplace")


def _arn_parts(arn: str) -> tuple[str, str, str]:
    """(region, account, name) of an SQS queue or SNS topic ARN."""
    parts = arn.split(":")
    if len(parts) != 6:
        raise ValueError(f"Not a queue or topic ARN: {arn}")
    return parts[3], parts[4], parts[5]


LOCK_TYPES = (type(threading.Lock()), type(threading.RLock()))


class _BackendPickler(pickle.Pickler):
    """moto's models pickle (S3's keys by design: `FakeKey.__getstate__`), but for the locks some hold (an SQS
    queue's `Condition`): a lock is pickled as a new one, as nobody holds it in the process that loads it."""

    def reducer_override(self, obj: Any) -> Any:
        if isinstance(obj, threading.Condition):
            return threading.Condition, ()
        if isinstance(obj, LOCK_TYPES):
            return type(obj), ()
        return NotImplemented


def moto_snapshot(account: str, service: str) -> bytes:
    """Everything moto holds for the account in one service, every region: S3 buckets and objects, SQS queues and
    their messages (with receive counts and visibility deadlines, which are wall-clock times), SNS topics and
    subscriptions, STS. The services refer to each other by ARN only, so each is pickled on its own. Moto's requests
    do not take the world's lock, so one that writes while this runs can make it raise RuntimeError (a dictionary
    changed size): the caller tries again later."""
    buffer = io.BytesIO()
    _BackendPickler(buffer, protocol=pickle.HIGHEST_PROTOCOL).dump(dict(get_backend(service)[account]))
    return buffer.getvalue()


def moto_restore(account: str, snapshots: dict[str, bytes]) -> None:
    """Put back what `moto_snapshot` took of every service, in place of what moto holds for the account. The
    snapshots are the sandbox's own file, written by the same (pinned) moto: unpickling them is no more than reading
    them back. Raises (pickle.UnpicklingError, AttributeError, ValueError...) when one cannot be read; then nothing
    has changed."""
    if set(snapshots) != MOTO_SERVICES:
        raise ValueError(f"The moto snapshots are of {sorted(snapshots)}, not {sorted(MOTO_SERVICES)}.")
    backends = {service: pickle.loads(snapshot) for service, snapshot in snapshots.items()}
    for service, regions in backends.items():
        if not isinstance(regions, dict):
            raise ValueError(f"The moto snapshot of {service} holds {type(regions).__name__}, not its regions.")
    for service, regions in backends.items():
        held = get_backend(service)[account]
        dict.clear(held)
        dict.update(held, regions)
    owners = s3_backends.bucket_accounts  # the one S3 namespace: bucket name -> (partition, account)
    for name in [name for name, (_, owner) in owners.items() if owner == account]:
        del owners[name]
    for partition, backend in backends["s3"].items():
        for name in backend.buckets:
            owners[name] = (partition, account)


class MotoSide:
    """What the simulated services do to moto's backends; each write is a change the state file keeps."""

    def __init__(self, account: str, on_change: Callable[..., None]) -> None:
        self.account = account
        self._on_change = on_change

    def bucket_exists(self, bucket: str) -> bool:
        try:
            s3_backends[self.account]["global"].get_bucket(bucket)
        except MissingBucket:
            return False
        return True

    def put_object(self, bucket: str, key: str, body: bytes) -> None:
        s3_backends[self.account]["global"].put_object(bucket, key, body)
        self._on_change("s3")

    def object_exists(self, bucket: str, key: str) -> bool:
        try:
            return s3_backends[self.account]["global"].get_object(bucket, key) is not None
        except MissingBucket:
            return False

    def object_body(self, bucket: str, key: str) -> bytes | None:
        """The object's bytes; None when the bucket or the key does not exist."""
        try:
            found = s3_backends[self.account]["global"].get_object(bucket, key)
        except (MissingBucket, MissingKey):
            return None
        return None if found is None else bytes(found.value)

    def queue_exists(self, arn: str) -> bool:
        """False too for what cannot name a queue: not an SQS ARN, or a region moto does not have (KeyError)."""
        try:
            region, account, name = _arn_parts(arn)
            sqs_backends[account][region].get_queue(name)
        except (ValueError, KeyError, QueueDoesNotExist):
            return False
        return True

    def send_message(self, arn: str, body: str) -> None:
        region, account, name = _arn_parts(arn)
        sqs_backends[account][region].send_message(name, body)
        self._on_change("sqs")

    def topic_exists(self, arn: str) -> bool:
        """False too for what cannot name a topic: not an SNS ARN, or a region moto does not have (KeyError)."""
        try:
            region, account, _ = _arn_parts(arn)
            sns_backends[account][region].get_topic(arn)
        except (ValueError, KeyError, SNSNotFoundError):
            return False
        return True

    def publish(self, arn: str, message: str) -> None:
        region, account, _ = _arn_parts(arn)
        sns_backends[account][region].publish(message, arn=arn)
        self._on_change(*MOTO_WRITES["sns"])
