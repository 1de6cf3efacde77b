"""A request's body, read whole and bounded, with or without Content-Length.

Werkzeug enforces `MAX_CONTENT_LENGTH` against a declared Content-Length, but a chunked
body read through its limited stream stops quietly at the limit: the rest would be
dropped and the truncated prefix judged (a 202, or a misleading 400/401). Reading one
byte past the limit from the server's terminated stream tells the two apart."""

from __future__ import annotations

from flask import Request
from werkzeug.exceptions import RequestEntityTooLarge

READ_CHUNK = 64 * 1024


def read_body(req: Request, limit: int) -> bytes:
    """The whole body, or RequestEntityTooLarge (413) when it is longer than `limit`."""
    if req.content_length is not None or not req.environ.get("wsgi.input_terminated"):
        return req.get_data(cache=True)  # declared length (checked), or no body at all
    stream = req.environ["wsgi.input"]
    chunks: list[bytes] = []
    size = 0
    while True:
        chunk = stream.read(min(READ_CHUNK, limit + 1 - size))
        if not chunk:
            break
        size += len(chunk)
        if size > limit:
            raise RequestEntityTooLarge()
        chunks.append(chunk)
    return b"".join(chunks)
