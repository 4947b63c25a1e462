"""Requests Django cannot build a request object for are refused by the WSGI application."""

from __future__ import annotations

import pytest
from django.test import RequestFactory

from config.wsgi import application
from guard.wsgi import refusal


def call(environ_extra: dict, path: str = "/static/css/shop.css") -> tuple[str, bytes]:
    environ = RequestFactory().get(path).environ
    environ.update(environ_extra)
    answer: list[str] = []

    def start_response(status, headers):
        answer.append(status)

    body = b"".join(application(environ, start_response))
    return answer[0], body


@pytest.mark.parametrize("charset", ["base64", "hex", "rot13", "zlib"])
def test_a_charset_that_is_not_a_text_encoding_is_400(charset):
    status, body = call({"CONTENT_TYPE": f"text/plain; charset={charset}", "QUERY_STRING": "x=1"})

    assert status == "400 Bad Request"
    assert b"unsupported charset" in body


def test_more_query_fields_than_allowed_is_400():
    query = "&".join(f"q{number}=1" for number in range(1001))

    status, _ = call({"QUERY_STRING": query, "CONTENT_TYPE": "text/plain; charset=utf-8"})

    assert status == "400 Bad Request"


@pytest.mark.parametrize(
    "content_type", ["", "application/json", "text/plain; charset=utf-8", "x; charset=nosuch"]
)
def test_ordinary_requests_reach_django(content_type):
    assert refusal({"CONTENT_TYPE": content_type, "QUERY_STRING": "page=2&q=x"}) is None


def test_the_production_application_passes_ordinary_requests_on():
    status, body = call({"QUERY_STRING": "", "CONTENT_TYPE": ""})  # a static file, no database

    assert status == "200 OK"
    assert b"body" in body
