"""The web gateway's HTTP head parser (chatroom/web/http.py): any bytes, cut into reads of any size.

Invariants: the only exception is BadRequest; a head is never longer than
its bound, nor has more headers; header names are lower case; the result
(a request, a refusal, or still waiting) is the same whether the bytes come
in one read or in many, and so are the bytes left after the head.
"""

from __future__ import annotations

from chatroom.web.http import BadRequest, Request, RequestParser
from fuzz._input import FuzzInput, split


def parse(chunks: list[bytes], max_head: int, max_line: int, max_headers: int) -> tuple[object, bytes]:
    parser = RequestParser(max_head, max_line, max_headers)
    for chunk in chunks:
        try:
            request = parser.feed(chunk)
        except BadRequest:
            return "refused", b""
        if request is not None:
            return request, parser.rest
    return None, b""


def test_one_input(data: bytes) -> None:
    source = FuzzInput(data)
    max_head = source.int_in(16, 512)
    max_line = source.int_in(8, 256)
    max_headers = source.int_in(0, 8)
    cuts = source.cuts()
    stream = source.rest()
    whole, whole_rest = parse([stream], max_head, max_line, max_headers)
    pieces, pieces_rest = parse(list(split(stream, cuts)), max_head, max_line, max_headers)
    if isinstance(whole, Request):
        assert len(whole.head) <= max_head
        assert len(whole.headers) <= max_headers
        assert all(name == name.lower() for name, _ in whole.headers)
        # In pieces, the read that ends the head holds only the first of the bytes behind it.
        assert isinstance(pieces, Request) and pieces.head == whole.head
        assert whole_rest.startswith(pieces_rest)
    elif whole == "refused":
        # A bound may refuse the pieces' tail sooner, never a head the whole stream accepts.
        assert pieces == "refused"
    else:
        assert pieces is None or pieces == "refused"
