"""The one SSE encoder: the bytes of a message, the keep-alive, the response headers."""

from collections.abc import AsyncIterator

import pytest

from runplane.api.sse import KEEPALIVE, KeepAlive, sse_message, sse_response

pytestmark = pytest.mark.database_independent  # runs in the SQLite pass only


def test_a_message_is_id_then_event_then_data_then_a_blank_line() -> None:
    assert sse_message("status", '{"a":1}', 3) == b'id: 3\nevent: status\ndata: {"a":1}\n\n'


def test_the_agent_protocol_order_puts_the_id_after_the_event() -> None:
    message = sse_message("values", "{}", 7, id_first=False)
    assert message == b"event: values\nid: 7\ndata: {}\n\n"


def test_a_message_without_an_id_has_no_id_line() -> None:
    assert sse_message("done", "{}") == b"event: done\ndata: {}\n\n"


def test_each_line_of_the_data_gets_its_own_data_field() -> None:
    assert sse_message("note", "one\ntwo") == b"event: note\ndata: one\ndata: two\n\n"


def test_text_is_sent_as_utf8() -> None:
    assert sse_message("x", '"ünï ✓"') == 'event: x\ndata: "ünï ✓"\n\n'.encode()


def test_the_keep_alive_is_a_comment_due_only_after_silence() -> None:
    assert KEEPALIVE == b": keep-alive\n\n"
    assert KeepAlive(every=60).due() is False
    quiet = KeepAlive(every=0)
    assert quiet.due() is True


def test_a_stream_response_is_not_cached_nor_buffered_and_takes_extra_headers() -> None:
    async def nothing() -> AsyncIterator[bytes]:
        yield b""

    plain = sse_response(nothing())
    assert plain.media_type == "text/event-stream"
    assert plain.headers["cache-control"] == "no-cache"
    assert plain.headers["x-accel-buffering"] == "no"
    told = sse_response(nothing(), {"Cache-Control": "no-store", "Content-Location": "/x"})
    assert told.headers["cache-control"] == "no-store"
    assert told.headers["content-location"] == "/x"
