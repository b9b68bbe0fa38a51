"""Files the portal sends as downloads, streamed piece by piece whichever server runs it (uvicorn over ASGI, or WSGI).

Under ASGI, Django reads a synchronous iterator whole before it sends the first byte (and warns), so there the pieces
are made in the request's thread, with its database connection, and handed to the event loop one at a time. Under
WSGI they are sent as they are made.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Generator

from asgiref.sync import sync_to_async
from django.core.handlers.asgi import ASGIRequest
from django.http import HttpRequest, StreamingHttpResponse


def download_response(
    request: HttpRequest, pieces: Generator[str, None, None], *, filename: str, content_type: str
) -> StreamingHttpResponse:
    content = _handed_over(pieces) if isinstance(request, ASGIRequest) else pieces
    response = StreamingHttpResponse(content, content_type=content_type)
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


async def _handed_over(pieces: Generator[str, None, None]) -> AsyncIterator[str]:
    """Each piece made in the request's thread; a client that goes away closes the generator (and its cursor)."""
    try:
        while (piece := await sync_to_async(next)(pieces, None)) is not None:
            yield piece
    finally:
        await sync_to_async(pieces.close)()
