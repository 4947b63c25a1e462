"""The machinery of the generated-input tests (tests/fuzz/test_generated_input*.py).

- `Base`: one valid request to an endpoint, with its fields kept apart (path parameters,
  query, JSON object or form fields) so that each can be mutated.
- `Mutator`: a seeded generator (stdlib `random`, nothing else) that turns a `Base` into
  mutated `Req`s. The same seed always gives the same requests, byte for byte.
- `plan`: the requests of a run: the base requests, the `known` cases, one request per
  (endpoint, kind of mutation), per dictionary value, per (field, mutation), per (path
  parameter, mutation) and per (query item, mutation), then random combinations.
- `IamportRegistry`: a `responses` registry where the newest matching registration answers and
  stays registered (the default one drops the first of two matches after one use, so a
  catch-all would take over from the specific replies). `faults` answer before anything else.
- `make_client`: a test client behind what the production WSGI application refuses.
- `Runner`: sends each `Req` through Django's test client inside a transaction that is rolled
  back afterwards, so every request meets the same world and any one can be replayed alone,
  and records the exceptions raised while answering it.
- `report`: the failures grouped by (method, path template, status, exception type), then by
  the line of production code that raised, each with its smallest reproducing request.

Order pks differ between runs (database sequences), so paths name them by placeholder,
`⟦order:paid⟧`, resolved when the request is sent; everything else is fixed by the test.
"""

from __future__ import annotations

import codecs
import copy
import json
import linecache
import logging
import os
import random
import re
import sys
import time
import traceback
import warnings
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.cookies import SimpleCookie
from pathlib import Path
from typing import Any
from urllib.parse import quote_from_bytes

from django.conf import settings
from django.core.signals import got_request_exception
from django.db import transaction
from django.http import HttpResponseBadRequest
from django.test import Client
from responses import registries

from guard.wsgi import refusal


# --- bytes of a string --------------------------------------------------------------------
def _fuzz_bytes(exc: UnicodeError) -> tuple[bytes, int]:
    """Encode error handler: U+DC80..U+DCFF stand for raw bytes 0x80..0xFF (surrogateescape);
    any other lone surrogate is written as its (invalid) UTF-8 form."""
    if not isinstance(exc, UnicodeEncodeError):
        raise exc
    out = bytearray()
    for char in exc.object[exc.start : exc.end]:
        code = ord(char)
        if 0xDC80 <= code <= 0xDCFF:
            out.append(code - 0xDC00)
        else:
            out += char.encode("utf-8", "surrogatepass")
    return bytes(out), exc.end


codecs.register_error("fuzzbytes", _fuzz_bytes)


def to_bytes(text: str) -> bytes:
    return text.encode("utf-8", "fuzzbytes")


def raw(data: bytes) -> str:
    """A string that `to_bytes` turns back into exactly these (possibly invalid) bytes."""
    return "".join(chr(b) if b < 0x80 else chr(0xDC00 + b) for b in data)


def pct(text: str) -> str:
    """Percent-encode everything but unreserved characters (for a path segment or query)."""
    return quote_from_bytes(to_bytes(text), safe="")


def latin1(text: str) -> str:
    """A header value as a WSGI server hands it to Django: the raw bytes read as latin-1."""
    return to_bytes(text).decode("latin-1")


# gunicorn (the production server, config/serve.py) refuses a header value holding a control
# character other than TAB (RFC 9110 5.5) and a header line over 8190 bytes: such a request
# never reaches Django, so the generated headers stay within that.
GUNICORN_REFUSED = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")
GUNICORN_FIELD_MAX = 8000
GUNICORN_LINE_MAX = 4094  # its default limit_request_line: longer request lines get 414


def header_value(text: str) -> str:
    return GUNICORN_REFUSED.sub("", latin1(text))[:GUNICORN_FIELD_MAX]


PLACEHOLDER = re.compile(r"⟦[a-z_]+:[a-z_]+⟧", re.IGNORECASE)


def encode_segment(value: str) -> str:
    """Percent-encode a path parameter, keeping the placeholders for the runner to fill."""
    out, last = [], 0
    for match in PLACEHOLDER.finditer(value):
        out += [pct(value[last : match.start()]), match.group()]
        last = match.end()
    out.append(pct(value[last:]))
    return "".join(out)


def short(value: Any, limit: int = 60) -> str:
    """A repr that stays on one line; long values show their start and their length."""
    if isinstance(value, str | bytes) and len(value) > limit:
        unit = "chars" if isinstance(value, str) else "bytes"
        return f"{value[: limit // 2]!r}…({len(value)} {unit})"
    text = repr(value)
    return text if len(text) <= limit * 2 else text[:limit] + f"…({len(text)} chars repr)"


# --- what goes into a value ---------------------------------------------------------------
LIMIT = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
# fmt: off
CONTROL = [chr(c) for c in (*range(1, 9), 11, 12, *range(14, 32), 127)]
CONTROL += ["\r\n", "\n", "\r", "\t", "\x85", "\u2028", "\u2029"]
UNICODE = [
    "홍길동", "한글", "ㅎ", "💳", "🧾", "👩‍👩‍👧‍👦", "🇰🇷", "ﬁ", "Ⅻ",
    "ｆｕｌｌ", "１２３４５", "٠١٢٣٤", "𝟗",
    "\u202e", "\u200f", "\u200b", "\u2066", "\ufeff",  # RTL override/mark, zero width, BOM
    "e\u0301", "\U0010ffff", "\ufffd", "\uffff", "İ", "ß",
]
SURROGATES = ["\ud800", "\udbff", "\udc00", "\udfff", "\ud83d"]
BAD_BYTES = [raw(b) for b in (
    b"\xff", b"\xc3\x28", b"\xe2\x82", b"\xf0\x28\x8c\xbc", b"\xc0\xaf", b"\xed\xa0\x80",
    b"\xfe\xff", b"\x80",
)]
SPECIAL = [
    "'", '"', "''", '""', '"a', "\\", "%", "%00", "%%", "%s%s%n", "{{7*7}}", "${7*7}",
    "{% debug %}", "..", ".", "/", "../../../etc/passwd", "//evil.com", "https://evil.com/",
    "javascript:alert(1)", "<script>alert(1)</script>", "' OR '1'='1", "NULL", "null", "None",
    "undefined", "true", "[]", "{}", "*", "?", "#", "&", "=", ";", "\\x00", "\\u0000", "abc",
    "shop:cart",
]
NUMBERS = [
    "0", "-1", "1.5", "1e9", "1e999", "0x10", "99999999999999999999", "9223372036854775808",
    "-9223372036854775809", "+1", " 1 ", "1_000", "1,000", "１", "٣", "²", "NaN", "inf", "-0",
    "00001", "1 2", "9" * 5000,
]
JSON_VALUES: list[Any] = [
    0, -1, 1, 1.5, -0.0, 10**30, -(10**30), 2**63, 1e308, float("nan"), float("inf"),
    float("-inf"), True, False, None, [], {}, [""], ["x", 1], {"": ""}, {"$ne": None}, [[[[[]]]]],
]
# fmt: on


def _insert(rng: random.Random, value: str, piece: str) -> str:
    at = rng.randint(0, len(value))
    return value[:at] + piece + value[at:]


def _long(rng: random.Random, value: str) -> str:
    size = rng.randint(10_000, 20_000)
    return ((value or "x") * (size // max(len(value), 1) + 1))[:size]


STRING_MUTATIONS: dict[str, Callable[[random.Random, str], str]] = {
    "nul": lambda rng, v: _insert(rng, v, "\x00"),
    "nul-only": lambda rng, v: "\x00",
    "control": lambda rng, v: _insert(
        rng, v, "".join(rng.choice(CONTROL) for _ in range(rng.randint(1, 3)))
    ),
    "long": _long,
    "long-odd": lambda rng, v: (
        rng.choice(["한", "💳", "\u0301", "\x00", "%", "/"]) * rng.randint(10_000, 12_000)
    ),
    "non-utf8": lambda rng, v: _insert(rng, v, rng.choice(BAD_BYTES)),
    "unicode": lambda rng, v: _insert(rng, v, rng.choice(UNICODE)),
    "surrogate": lambda rng, v: _insert(rng, v, rng.choice(SURROGATES)),
    "empty": lambda rng, v: "",
    "blank": lambda rng, v: rng.choice([" ", "\t", "\n", "\u3000", "\xa0"]) * rng.randint(1, 3),
    "special": lambda rng, v: rng.choice(SPECIAL),
    "special-suffix": lambda rng, v: v + rng.choice(SPECIAL),
    "number": lambda rng, v: rng.choice(NUMBERS),
    "truncate": lambda rng, v: v[: rng.randrange(len(v))] if v else "",
    "padded": lambda rng, v: f" {v}\t",
}
# Drawn by name; NUL, the one PostgreSQL refuses outright, comes up most often.
STRING_MUTATION_DRAW = [*STRING_MUTATIONS, "nul", "nul", "nul-only", "long", "non-utf8"]


def _json_leaves(value: Any, path: tuple = ()) -> Iterator[tuple]:
    """Paths to every value in a JSON document (objects and lists included)."""
    if path:
        yield path
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _json_leaves(item, (*path, key))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from _json_leaves(item, (*path, i))


def _json_get(doc: Any, path: tuple) -> Any:
    for key in path:
        doc = doc[key]
    return doc


def _json_set(doc: Any, path: tuple, value: Any) -> None:
    _json_get(doc, path[:-1])[path[-1]] = value


def _json_del(doc: Any, path: tuple) -> None:
    del _json_get(doc, path[:-1])[path[-1]]


# --- requests -----------------------------------------------------------------------------
@dataclass
class Base:
    """A valid request to one endpoint, in parts that can be mutated one by one."""

    method: str
    template: str  # the path with its parameters named: "/cart/add/<pk>/"
    params: dict[str, str] = field(default_factory=dict)
    query: list[tuple[str, str]] = field(default_factory=list)
    body: str | None = None  # "json" | "form" | None
    fields: Any = None  # the JSON document, or the form's (name, value) pairs
    client: str = "anon"
    headers: dict[str, str] = field(default_factory=dict)  # WSGI environ names (HTTP_*)
    expect: frozenset[int] = frozenset({200})
    weight: int = 3
    label: str = ""

    @property
    def endpoint(self) -> str:
        return f"{self.method} {self.template}"


@dataclass
class Req:
    index: int
    endpoint: str
    method: str
    path: str  # with the query, may hold ⟦placeholders⟧
    body: bytes
    content_type: str | None
    client: str
    headers: dict[str, str]
    note: str
    kind: str  # "base" (a valid request), "fuzz" or "parsing" (mutated)
    expect: frozenset[int] | None = None
    oversize: bool = False
    tag: str = ""  # names a case the report lists on its own
    stage: str = ""  # which part of the plan made it

    @property
    def size(self) -> int:
        return (
            len(self.path) + len(self.body) + sum(len(k) + len(v) for k, v in self.headers.items())
        )


@dataclass
class Draft:
    """A request being mutated: first its parts, then (phase 2) its encoded bytes."""

    method: str
    template: str
    params: dict[str, str]
    query: list[tuple[str, str]]
    body: str | None
    json: Any
    form: list[tuple[str, str]]
    client: str
    headers: dict[str, str]
    raw_query: str | None = None
    json_ascii: bool = True
    json_dup: tuple[str, Any] | None = None
    files: int = 0
    boundary: str = "fuzzboundary7MA4YWxkTrZu0gW"
    # phase 2
    path: str = ""
    data: bytes = b""
    content_type: str | None = None
    oversize: bool = False
    notes: list[str] = field(default_factory=list)

    @classmethod
    def of(cls, base: Base) -> Draft:
        return cls(
            method=base.method,
            template=base.template,
            params=dict(base.params),
            query=list(base.query),
            body=base.body,
            json=copy.deepcopy(base.fields) if base.body == "json" else None,
            form=list(base.fields) if base.body == "form" else [],
            client=base.client,
            headers=dict(base.headers),
        )

    def field_names(self) -> list[str]:
        if self.body == "json":
            return [".".join(map(str, p)) for p in _json_leaves(self.json)]
        return [name for name, _ in self.form]


def _form_encode(pairs: list[tuple[str, str]]) -> bytes:
    return to_bytes("&".join(f"{encode_segment(k)}={encode_segment(v)}" for k, v in pairs))


def _json_text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)


def multipart(
    pairs: list[tuple[str, str]], boundary: str, *, files: int = 0, final: bool = True
) -> bytes:
    out = bytearray()
    for name, value in pairs:
        out += to_bytes(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n')
        out += to_bytes(value) + b"\r\n"
    for i in range(files):
        out += to_bytes(
            f'--{boundary}\r\nContent-Disposition: form-data; name="file{i}"; '
            f'filename="f{i}.txt"\r\nContent-Type: text/plain\r\n\r\nfuzz\r\n'
        )
    if final:
        out += to_bytes(f"--{boundary}--\r\n")
    return bytes(out)


def _pairs_of(d: Draft) -> list[tuple[str, str]]:
    if d.body == "json":
        doc = d.json
        if isinstance(doc, dict):
            return [(str(k), _json_text(v)) for k, v in doc.items()]
        return [("json", _json_text(doc))]
    return list(d.form)


# Shared big bodies (built once: ~2.7 MB each, over DATA_UPLOAD_MAX_MEMORY_SIZE).
OVER = LIMIT + 100_000
OVERSIZE_BODIES = {
    "json": (b'{"imp_uid": "' + b"x" * OVER + b'", "merchant_uid": "x"}', "application/json"),
    "form": (b"reason=" + b"x" * OVER, "application/x-www-form-urlencoded"),
    "multipart": (
        multipart([("reason", "x" * OVER)], "fuzzboundary7MA4YWxkTrZu0gW"),
        "multipart/form-data; boundary=fuzzboundary7MA4YWxkTrZu0gW",
    ),
}
DEEP_BODIES = {
    "100k '['": b"[" * 100_000,
    "100k nested lists": b"[" * 100_000 + b"]" * 100_000,
    "100k nested objects": b'{"a":' * 100_000 + b"1" + b"}" * 100_000,
    "imp_uid = 100k nested lists": b'{"imp_uid": ' + b"[" * 100_000 + b"]" * 100_000 + b"}",
    "2000 nested lists": b"[" * 2000 + b"]" * 2000,
}
# fmt: off
JSON_GARBAGE = [
    b"{", b"}", b"nul", b"{'imp_uid': 'x'}", b"\x00", b"\xff\xfe", b'{"imp_uid": }', b"[1,]",
    b'{"a":1}{"b":2}', b'"\\ud800"', b'{"imp_uid": "\\ud800", "merchant_uid": "\\udfff"}',
    b'{"imp_uid": NaN, "merchant_uid": Infinity, "status": -Infinity}',
    b'{"imp_uid": "a\x00b", "merchant_uid": "c"}', b'{"\x00": "\x00"}', b"\xef\xbb\xbf{}", b"   ",
    b"1e999999", b"-" * 10,
]
CONTENT_TYPES = [
    "", "text/plain", "application/json", "application/x-www-form-urlencoded",
    "multipart/form-data", "multipart/form-data; boundary=", 'multipart/form-data; boundary=""',
    "application/JSON", "application/json; charset=utf-8", "application/xml", "*/*", "x" * 5000,
    "application/json; boundary=x", "multipart/mixed; boundary=fuzz", "application/octet-stream",
]
CHARSETS = ["rot13", "base64", "hex", "zlib", "utf-16", "latin-1", "bogus", "utf-7", "cp037"]
METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "TRACE", "PROPFIND", "FUZZ"]
QUERY_KEYS = ["q", "imp_uid", "merchant_uid", "error_msg", "next", "page", "p", "o", "status", "x"]
HEADERS = [
    "HTTP_USER_AGENT", "HTTP_REFERER", "HTTP_X_FORWARDED_FOR", "HTTP_X_REQUESTED_WITH",
    "HTTP_ACCEPT", "HTTP_ACCEPT_LANGUAGE", "HTTP_ORIGIN", "HTTP_X_FUZZ", "HTTP_AUTHORIZATION",
    "HTTP_IF_NONE_MATCH", "HTTP_RANGE",
]
HOSTS = [
    "evil.com", "testserver:99999", "testserver:abc", "", "[::1", "x" * 300, "TESTSERVER",
    "testserver.", "test server",
]
# fmt: on
PATH_SHAPES: dict[str, Callable[[str], str]] = {
    "no trailing slash": lambda p: p.rstrip("/") or "/",
    "extra segment": lambda p: p.rstrip("/") + "/fuzz/",
    "NUL segment": lambda p: p.rstrip("/") + "/%00/",
    "double slash": lambda p: p[:1] + p[1:].replace("/", "//", 1),
    "dot segments": lambda p: "/." + p,
    "encoded dots": lambda p: "/%2e%2e" + p,
    "encoded slash": lambda p: p.rstrip("/").replace("/", "%2F") + "/",
    "upper case": lambda p: p.upper(),
    "10k segment": lambda p: p.rstrip("/") + "/" + "a" * 10_000 + "/",
    "semicolon": lambda p: p + ";x=1",
    "bad escape": lambda p: p + "%zz/",
    "non-UTF-8": lambda p: p + "%ff%fe/",
    "unicode": lambda p: p + pct("한글💳") + "/",
}


@dataclass(frozen=True)
class Kind:
    phase: int  # 1: the request's parts; 2: its encoded bytes
    weight: int
    applies: Callable[[Base], bool]


def _has_fields(b: Base) -> bool:
    return b.body is not None and bool(b.fields)


def _writes(b: Base) -> bool:
    return b.body is not None or b.method in ("POST", "PUT", "PATCH")


KINDS: dict[str, Kind] = {
    "method": Kind(1, 2, lambda b: True),
    "path": Kind(1, 6, lambda b: bool(b.params)),
    "query": Kind(1, 3, lambda b: True),
    "query-many": Kind(1, 1, lambda b: True),
    "query-raw": Kind(1, 1, lambda b: True),
    "header": Kind(1, 2, lambda b: True),
    "host": Kind(1, 1, lambda b: True),
    "cookie": Kind(1, 1, lambda b: True),
    "csrf": Kind(1, 2, lambda b: b.client.startswith("csrf")),
    "field": Kind(1, 12, _has_fields),
    "field-type": Kind(1, 6, lambda b: b.body == "json" and _has_fields(b)),
    "drop": Kind(1, 3, _has_fields),
    "extra": Kind(1, 2, lambda b: b.body is not None),
    "dup": Kind(1, 2, _has_fields),
    "many-fields": Kind(1, 1, lambda b: b.body is not None),
    "as-form": Kind(1, 2, lambda b: b.body == "json"),
    "as-json": Kind(1, 2, lambda b: b.body == "form"),
    "multipart": Kind(1, 2, lambda b: b.body is not None),
    "many-files": Kind(1, 1, lambda b: b.body is not None),
    "get-body": Kind(2, 1, lambda b: b.body is None),
    "path-shape": Kind(2, 1, lambda b: True),
    "ctype": Kind(2, 2, _writes),
    "charset": Kind(2, 2, _writes),
    "multipart-bad": Kind(2, 2, _writes),
    "truncate": Kind(2, 2, lambda b: b.body is not None),
    "empty-body": Kind(2, 1, lambda b: b.body is not None),
    "bytes": Kind(2, 2, lambda b: b.body is not None),
    "bom": Kind(2, 1, lambda b: b.body == "json"),
    "utf16": Kind(2, 1, lambda b: b.body == "json"),
    "json-nonobject": Kind(2, 2, lambda b: b.body == "json"),
    "json-deep": Kind(2, 2, _writes),
    "json-garbage": Kind(2, 2, _writes),
    "oversize": Kind(2, 1, _writes),
}


class Mutator:
    """Seeded generator of mutated requests. Every draw goes through `self.rng`."""

    def __init__(self, seed: int) -> None:
        self.seed = seed
        self.rng = random.Random(seed)
        self.count = 0

    # Public ---------------------------------------------------------------------------------
    def base(self, base: Base) -> Req:
        return self._finish(base, Draft.of(base), kind="base")

    def mutate(self, base: Base, kinds: list[str]) -> Req:
        d = Draft.of(base)
        kinds = sorted(kinds, key=lambda name: KINDS[name].phase)
        for name in kinds:
            if KINDS[name].phase == 2 and not d.path:
                self._encode(d)
            getattr(self, "_k_" + name.replace("-", "_"))(d)
        return self._finish(base, d, kind="fuzz")

    def targeted(self, base: Base, kind: str, target: str, mutation: str | None) -> Req:
        """One mutation of one named part: a field, a path parameter or a query item."""
        d = Draft.of(base)
        if kind == "field":
            self._k_field(d, mutation, target)
        elif kind == "field-type":
            self._k_field_type(d, target)
        elif kind == "path":
            self._k_path(d, target, mutation)
        else:
            self._k_query(d, int(target), mutation)
        return self._finish(base, d, kind="fuzz")

    def literal(self, base: Base, where: str, name: str, value: Any, tag: str = "") -> Req:
        """One named part set to exactly `value`: a field, a path parameter or a query item."""
        d = Draft.of(base)
        if where == "path":
            d.params[name] = value
        elif where == "query":
            d.query = [(k, value if k == name else v) for k, v in d.query]
        elif d.body == "json":
            _json_set(d.json, _find_path(list(_json_leaves(d.json)), name), value)
        else:
            d.form = [(k, value if k == name else v) for k, v in d.form]
        d.notes.append(f"{where} {name} = {short(value)}")
        req = self._finish(base, d, kind="fuzz")
        req.tag = tag
        return req

    def with_kinds(self, base: Base, kinds: list[str], tag: str) -> Req:
        req = self.mutate(base, kinds)
        req.tag = tag
        return req

    def kinds_for(self, base: Base) -> list[str]:
        return [name for name, kind in KINDS.items() if kind.applies(base)]

    def random_kinds(self, base: Base) -> list[str]:
        names = self.kinds_for(base)
        weights = [KINDS[name].weight for name in names]
        return self.rng.choices(names, weights, k=self.rng.choice([1, 1, 1, 2, 2, 3]))

    def string(self, value: str, name: str | None = None) -> tuple[str, str]:
        name = name or self.rng.choice(STRING_MUTATION_DRAW)
        return STRING_MUTATIONS[name](self.rng, value), name

    # Encoding -------------------------------------------------------------------------------
    def _encode(self, d: Draft) -> None:
        path = d.template
        for name, value in d.params.items():
            path = path.replace(f"<{name}>", encode_segment(value))
        d.path = path
        if d.body == "json":
            text = json.dumps(d.json, ensure_ascii=d.json_ascii)
            if d.json_dup is not None and text.startswith("{"):
                key, value = d.json_dup
                dup = f"{json.dumps(key)}: {json.dumps(value, ensure_ascii=d.json_ascii)}"
                text = "{" + dup + ("," if text != "{}" else "") + text[1:]
            d.data, d.content_type = to_bytes(text), "application/json"
        elif d.body == "form":
            d.data, d.content_type = _form_encode(d.form), "application/x-www-form-urlencoded"
        elif d.body == "multipart":
            d.data = multipart(d.form, d.boundary, files=d.files)
            d.content_type = f"multipart/form-data; boundary={d.boundary}"

    def _finish(self, base: Base, d: Draft, *, kind: str) -> Req:
        if not d.path:
            self._encode(d)
        if d.raw_query is not None:
            query = d.raw_query
        else:
            query = "&".join(f"{pct(k)}={pct(v)}" for k, v in d.query)
        self.count += 1
        return Req(
            index=self.count - 1,
            endpoint=base.endpoint,
            method=d.method,
            path=d.path + (f"?{query}" if query else ""),
            body=d.data,
            content_type=d.content_type,
            client=d.client,
            headers=d.headers,
            note="; ".join(d.notes)
            or "valid base request" + (f" ({base.label})" if base.label else ""),
            kind=kind,
            expect=base.expect if kind == "base" else None,
            oversize=d.oversize,
        )

    # Phase 1: the parts -------------------------------------------------------------------
    def _k_method(self, d: Draft) -> None:
        d.method = self.rng.choice([m for m in METHODS if m != d.method])
        d.notes.append(f"method {d.method}")

    def _k_path(self, d: Draft, name: str | None = None, mutation: str | None = None) -> None:
        name = name or self.rng.choice(sorted(d.params))
        value = d.params[name]
        if PLACEHOLDER.search(value):
            # An order's pk, known only when sent: add to it, or replace it outright.
            how = self.rng.choice(["suffix", "prefix", "replace", "replace"])
            if how == "replace":
                new, used = self.string("1", mutation)
            else:
                junk, used = self.string("", mutation)
                new = value + junk if how == "suffix" else junk + value
            mutation = f"{how} ({used})"
        else:
            new, mutation = self.string(value, mutation)
        d.params[name] = new
        d.notes.append(f"path <{name}> {mutation}: {short(new)}")

    def _k_query(self, d: Draft, index: int | None = None, mutation: str | None = None) -> None:
        if index is not None or (d.query and self.rng.random() < 0.6):
            i = self.rng.randrange(len(d.query)) if index is None else index
            key, value = d.query[i]
            new, mutation = self.string(value, mutation)
            d.query[i] = (key, new)
        else:
            key = self.rng.choice([*QUERY_KEYS, self.string("q")[0]])
            new, mutation = self.string(self.rng.choice(["x", "1", "imp_1"]))
            d.query.append((key, new))
        d.notes.append(f"query {short(key, 30)} {mutation}: {short(new)}")

    def _k_query_many(self, d: Draft) -> None:
        same = self.rng.random() < 0.5
        d.query += [("q" if same else f"f{i}", "1") for i in range(1500)]
        d.notes.append(f"query: 1500 more {'copies of q' if same else 'parameters'} (> 1000)")

    def _k_query_raw(self, d: Draft) -> None:
        d.raw_query = self.rng.choice(
            ["%", "%zz", "&&&", "=&=", "a=%ff%fe", "a=%00", "%00=%00", "q=" + "%00" * 5000, "=" * 3]
        )
        d.notes.append(f"raw query {short(d.raw_query)}")

    def _k_header(self, d: Draft) -> None:
        if d.headers and self.rng.random() < 0.5:
            name = self.rng.choice(sorted(d.headers))
            value = d.headers[name]
        else:
            name, value = self.rng.choice(HEADERS), "fuzz"
        new, mutation = self.string(value)
        d.headers[name] = header_value(new)
        d.notes.append(f"header {name} {mutation}: {short(new)}")

    def _k_host(self, d: Draft) -> None:
        d.headers["HTTP_HOST"] = self.rng.choice(HOSTS)
        d.notes.append(f"Host {short(d.headers['HTTP_HOST'])}")

    def _k_cookie(self, d: Draft) -> None:
        value, mutation = self.string(self.rng.choice(["abcdefgh12345678", ""]))
        cookie = self.rng.choice(
            [
                f"sessionid={value}",
                f"csrftoken={value}",
                f"messages={value}",
                f"⟦cookies⟧; fuzz={value}",
                "⟦cookies⟧; " + "a=" + "x" * 5000,
                '⟦cookies⟧; sessionid="unterminated',
                "=;=;;",
            ]
        )
        cookie = header_value(cookie)
        d.headers["HTTP_COOKIE"] = cookie
        d.notes.append(f"Cookie header {short(cookie)} ({mutation})")

    def _k_csrf(self, d: Draft) -> None:
        how = self.rng.choice(["drop", "nul", "long", "in-form"])
        token = d.headers.pop("HTTP_X_CSRFTOKEN", "")
        if how == "nul":
            d.headers["HTTP_X_CSRFTOKEN"] = token[:10] + "\x00" + token[11:]
        elif how == "long":
            d.headers["HTTP_X_CSRFTOKEN"] = token * 50
        elif how == "in-form" and d.body == "form":
            d.form.append(("csrfmiddlewaretoken", token))
        elif how == "in-form":
            d.headers["HTTP_X_CSRFTOKEN"] = token
            how = "kept"
        d.notes.append(f"CSRF token {how}")

    def _k_field(self, d: Draft, mutation: str | None = None, target: str | None = None) -> None:
        if d.body == "json":
            paths = list(_json_leaves(d.json))
            if not paths:
                return
            path = self.rng.choice(paths) if target is None else _find_path(paths, target)
            old = _json_get(d.json, path)
            if isinstance(old, str) or mutation is not None:
                new, used = self.string(old if isinstance(old, str) else "", mutation)
                if used == "non-utf8" and self.rng.random() < 0.5:
                    d.json_ascii = False  # raw invalid bytes in the JSON text, not "\udcff"
            else:
                new, used = self._json_value(old)
            _json_set(d.json, path, new)
            d.notes.append(f"JSON {'.'.join(map(str, path))} {used}: {short(new)}")
            return
        if not d.form:
            return
        names = [name for name, _ in d.form]
        i = self.rng.randrange(len(d.form)) if target is None else names.index(target)
        name, old = d.form[i]
        new, used = self.string(old, mutation)
        d.form[i] = (name, new)
        d.notes.append(f"form {name} {used}: {short(new)}")

    def _json_value(self, old: Any) -> tuple[Any, str]:
        how = self.rng.choice(["type", "type", "type", "list", "object", "deep"])
        if how == "type":
            return copy.deepcopy(self.rng.choice(JSON_VALUES)), "type"
        if how == "list":
            return [old], "in a list"
        if how == "object":
            return {"value": old}, "in an object"
        value: Any = old
        for _ in range(50):
            value = [value]
        return value, "50 lists deep"

    def _k_field_type(self, d: Draft, target: str | None = None) -> None:
        paths = list(_json_leaves(d.json))
        if not paths:
            return
        path = self.rng.choice(paths) if target is None else _find_path(paths, target)
        new, used = self._json_value(_json_get(d.json, path))
        _json_set(d.json, path, new)
        d.notes.append(f"JSON {'.'.join(map(str, path))} {used}: {short(new)}")

    def _k_drop(self, d: Draft) -> None:
        if d.body == "json":
            paths = list(_json_leaves(d.json))
            if paths:
                path = self.rng.choice(paths)
                _json_del(d.json, path)
                d.notes.append(f"JSON {'.'.join(map(str, path))} dropped")
        elif d.form:
            name, _ = d.form.pop(self.rng.randrange(len(d.form)))
            d.notes.append(f"form {name} dropped")

    def _k_extra(self, d: Draft) -> None:
        key = self.rng.choice(["", "\x00", "csrfmiddlewaretoken", "a" * 1000, self.string("k")[0]])
        value, mutation = self.string("v")
        if d.body == "json" and isinstance(d.json, dict):
            d.json[key] = value
        elif d.body in ("form", "multipart"):
            d.form.append((key, value))
        else:
            return
        d.notes.append(f"extra field {short(key, 30)}: {short(value)} ({mutation})")

    def _k_dup(self, d: Draft) -> None:
        value, mutation = self.string("dup")
        if d.body == "json" and isinstance(d.json, dict) and d.json:
            key = self.rng.choice(sorted(d.json))
            d.json_dup = (key, value)
        elif d.form:
            key = self.rng.choice([name for name, _ in d.form])
            d.form.append((key, value))
        else:
            return
        d.notes.append(f"duplicate key {key} = {short(value)} ({mutation})")

    def _k_many_fields(self, d: Draft) -> None:
        if d.body == "json" and isinstance(d.json, dict):
            d.json.update({f"f{i}": "1" for i in range(1500)})
        else:
            d.form += [(f"f{i}", "1") for i in range(1500)]
        d.notes.append("1500 more fields (> DATA_UPLOAD_MAX_NUMBER_FIELDS)")

    def _k_as_form(self, d: Draft) -> None:
        d.form, d.body = _pairs_of(d), "form"
        d.notes.append("JSON fields sent form-encoded")

    def _k_as_json(self, d: Draft) -> None:
        d.json, d.body = dict(d.form), "json"
        d.notes.append("form fields sent as JSON")

    def _k_multipart(self, d: Draft) -> None:
        d.form, d.body = _pairs_of(d), "multipart"
        d.notes.append("fields sent as multipart/form-data")

    def _k_many_files(self, d: Draft) -> None:
        d.form, d.body, d.files = _pairs_of(d), "multipart", 101
        d.notes.append("multipart with 101 files (> DATA_UPLOAD_MAX_NUMBER_FILES)")

    # Phase 2: the bytes -------------------------------------------------------------------
    def _k_get_body(self, d: Draft) -> None:
        d.data, d.content_type = self.rng.choice(
            [
                (b'{"imp_uid": "x"}', "application/json"),
                (b"a=1&b=%00", "application/x-www-form-urlencoded"),
            ]
        )
        d.notes.append(f"body on {d.method}: {d.data!r}")

    def _k_path_shape(self, d: Draft) -> None:
        name = self.rng.choice(sorted(PATH_SHAPES))
        d.path = PATH_SHAPES[name](d.path)
        d.notes.append(f"path shape: {name}")

    def _k_ctype(self, d: Draft) -> None:
        d.content_type = self.rng.choice(CONTENT_TYPES)
        d.notes.append(f"Content-Type {short(d.content_type)}")

    def _k_charset(self, d: Draft) -> None:
        charset = self.rng.choice(CHARSETS)
        d.content_type = (
            d.content_type or "application/x-www-form-urlencoded"
        ) + f"; charset={charset}"
        d.notes.append(f"charset {charset!r}")

    def _k_multipart_bad(self, d: Draft) -> None:
        pairs = _pairs_of(d) if d.body != "multipart" else d.form
        how = self.rng.choice(
            [
                "no boundary",
                "other boundary",
                "truncated",
                "no final boundary",
                "no disposition",
                "long boundary",
                "unicode boundary",
            ]
        )
        boundary, content_type = d.boundary, None
        data = multipart(pairs or [("a", "b")], boundary)
        if how == "no boundary":
            content_type = "multipart/form-data"
        elif how == "other boundary":
            content_type = "multipart/form-data; boundary=somethingelse"
        elif how == "truncated":
            data = data[: self.rng.randrange(1, len(data))]
        elif how == "no final boundary":
            data = multipart(pairs or [("a", "b")], boundary, final=False)
        elif how == "no disposition":
            data = to_bytes(f"--{boundary}\r\nX-Fuzz: 1\r\n\r\nvalue\r\n--{boundary}--\r\n")
        elif how == "long boundary":
            boundary = "b" * 200
            data = multipart(pairs or [("a", "b")], boundary)
        else:
            boundary = "한글"
            data = multipart(pairs or [("a", "b")], "x")
        d.data = data
        d.content_type = content_type or f"multipart/form-data; boundary={boundary}"
        d.notes.append(f"bad multipart: {how}")

    def _k_truncate(self, d: Draft) -> None:
        if d.data:
            d.data = d.data[: self.rng.randrange(len(d.data))]
            d.notes.append(f"body truncated to {len(d.data)} bytes")

    def _k_empty_body(self, d: Draft) -> None:
        d.data = b""
        d.notes.append("empty body")

    def _k_bytes(self, d: Draft) -> None:
        piece = self.rng.choice(
            [b"\x00", b"\xff", b"\xc3", b"\r\n", b"\x00" * 100, b"\xed\xa0\x80"]
        )
        at = self.rng.randint(0, len(d.data))
        d.data = d.data[:at] + piece + d.data[at:]
        d.notes.append(f"raw bytes {piece[:4]!r} inserted at {at}")

    def _k_bom(self, d: Draft) -> None:
        d.data = b"\xef\xbb\xbf" + d.data
        d.notes.append("UTF-8 BOM before the JSON")

    def _k_utf16(self, d: Draft) -> None:
        d.data = d.data.decode("utf-8", "replace").encode("utf-16")
        d.notes.append("JSON encoded as UTF-16")

    def _k_json_nonobject(self, d: Draft) -> None:
        value = self.rng.choice([[d.json], "string", 42, None, True, list(_pairs_of(d)), 1e308])
        d.data = json.dumps(value).encode()
        d.notes.append(f"non-object JSON {short(d.data)}")

    def _k_json_deep(self, d: Draft) -> None:
        name = self.rng.choice(sorted(DEEP_BODIES))
        d.data = DEEP_BODIES[name]
        if d.content_type is None or self.rng.random() < 0.8:
            d.content_type = "application/json"
        d.notes.append(f"deeply nested JSON: {name}")

    def _k_json_garbage(self, d: Draft) -> None:
        d.data = self.rng.choice(JSON_GARBAGE)
        d.content_type = "application/json"
        d.notes.append(f"broken JSON {d.data[:40]!r}")

    def _k_oversize(self, d: Draft) -> None:
        how = d.body if d.body in OVERSIZE_BODIES else self.rng.choice(sorted(OVERSIZE_BODIES))
        d.data, d.content_type = OVERSIZE_BODIES[how]
        d.oversize = True
        d.notes.append(f"{how} body of {len(d.data):,} bytes (> DATA_UPLOAD_MAX_MEMORY_SIZE)")


def _find_path(paths: list[tuple], target: str) -> tuple:
    for path in paths:
        if ".".join(map(str, path)) == target:
            return path
    raise KeyError(target)


# --- the plan -----------------------------------------------------------------------------
FIELD_MUTATIONS = ["nul", "long", "non-utf8", "surrogate", "control", "special"]
PATH_MUTATIONS = ["nul", "number", "special", "non-utf8", "long"]


def get(template: str, *, query=(), expect=(200,), **kw) -> Base:
    return Base("GET", template, query=list(query), expect=frozenset(expect), **kw)


def post_json(template: str, fields: Any, *, expect=(200,), method="POST", **kw) -> Base:
    return Base(method, template, body="json", fields=fields, expect=frozenset(expect), **kw)


def post_form(template: str, pairs: list[tuple[str, str]], *, expect=(302,), **kw) -> Base:
    return Base("POST", template, body="form", fields=pairs, expect=frozenset(expect), **kw)


def plan(
    mutator: Mutator,
    all_bases: list[Base],
    random_requests: int,
    *,
    known: Callable[[Mutator, list[Base]], list[Req]],
    dictionary: Mapping[str, list[Any]],
    min_per_endpoint: int,
) -> list[Req]:
    """The base requests; the `known` cases; one request per (endpoint, kind of mutation),
    per `dictionary` value, per (field, mutation), per (path parameter, mutation) and per
    (query item, mutation); then random combinations of mutations."""
    stages: dict[str, list[Req]] = defaultdict(list)
    stages["base"] = [mutator.base(base) for base in all_bases]
    stages["known"] = known(mutator, all_bases)
    seen: set[str] = set()
    done: set[tuple[str, str, str]] = set()
    for base in all_bases:
        if base.endpoint not in seen:
            seen.add(base.endpoint)
            kinds = mutator.kinds_for(base)
            if base.weight == 1:  # the sandbox: a lower share, half of the kinds (seeded)
                keep = max(len(kinds) // 2, min(len(kinds), min_per_endpoint))
                kinds = sorted(mutator.rng.sample(kinds, keep), key=kinds.index)
            stages["kind"] += [mutator.mutate(base, [kind]) for kind in kinds]
        # Each named part of each endpoint once (the first base request that has it).
        stages["dictionary"] += dictionary_cases(mutator, base, dictionary, done)
        for req in field_cases(mutator, base, done):
            stages["field"].append(req)
        for name in base.params:
            if (base.endpoint, "path", name) not in done:
                done.add((base.endpoint, "path", name))
                stages["path"] += [mutator.targeted(base, "path", name, m) for m in PATH_MUTATIONS]
        for i, (key, _) in enumerate(base.query):
            if (base.endpoint, "query", key) not in done:
                done.add((base.endpoint, "query", key))
                for mutation in ("nul", "long", "non-utf8"):
                    stages["query"].append(mutator.targeted(base, "query", str(i), mutation))
    weights = [base.weight for base in all_bases]
    for _ in range(random_requests):
        base = mutator.rng.choices(all_bases, weights)[0]
        stages["random"].append(mutator.mutate(base, mutator.random_kinds(base)))
    reqs = []
    for stage, members in stages.items():
        for req in members:
            req.stage = stage
        reqs += members
    return reqs


def field_cases(mutator: Mutator, base: Base, done: set[tuple[str, str, str]]) -> list[Req]:
    """Every FIELD_MUTATIONS in each field (and a JSON field's type), for fields not `done`."""
    reqs = []
    for name in Draft.of(base).field_names():
        if (base.endpoint, "field", name) in done:
            continue
        done.add((base.endpoint, "field", name))
        for mutation in FIELD_MUTATIONS:
            reqs.append(mutator.targeted(base, "field", name, mutation))
        if base.body == "json":
            reqs.append(mutator.targeted(base, "field-type", name, None))
    return reqs


def dictionary_cases(
    mutator: Mutator,
    base: Base,
    dictionary: Mapping[str, list[Any]],
    done: set[tuple[str, str, str]],
) -> list[Req]:
    """Every `dictionary` value in each part of that name, for parts not yet `done`."""
    reqs = []
    parts = [
        *(("field", name) for name in Draft.of(base).field_names()),
        *(("path", name) for name in base.params),
        *(("query", name) for name, _ in base.query),
    ]
    for where, name in parts:
        if (base.endpoint, where, name) in done:
            continue
        for value in dictionary.get(name.rsplit(".", 1)[-1], []):
            if isinstance(value, str) or (where == "field" and base.body == "json"):
                reqs.append(mutator.literal(base, where, name, value))
    return reqs


# --- Iamport over `responses` -------------------------------------------------------------
class IamportRegistry(registries.FirstMatchRegistry):
    """The newest matching registration answers and stays registered; `faults` go first.

    Register the catch-all first and the specific replies after it: they shadow it. Every
    request reaching the mock is counted in `log`.
    """

    def __init__(self) -> None:
        super().__init__()
        self.faults: list[tuple[Callable[[Any], bool], Any]] = []
        self.log: list[tuple[str, str]] = []

    def find(self, request):
        self.log.append((request.method, request.url))
        for matches, response in self.faults:
            if matches(request):
                return response, []
        reasons = []
        for response in reversed(self.registered):
            found, reason = response.matches(request)
            if found:
                return response, []
            reasons.append(reason)
        return None, reasons


# --- clients ------------------------------------------------------------------------------
class ProductionWSGIGuard:
    """What the production WSGI application (config/wsgi.py) does before Django builds a
    request, applied to the test client's handler, which builds its request itself."""

    def __init__(self, handler) -> None:
        self.handler = handler

    def __call__(self, environ, *args, **kwargs):
        reason = refusal(environ)
        if reason is None:
            return self.handler(environ, *args, **kwargs)
        response = HttpResponseBadRequest(reason)
        response.wsgi_request = None  # no request was ever built; the test client reads this
        return response


def make_client(**kwargs: Any) -> Client:
    """A test client that answers what production would, and never raises the view's error."""
    client = Client(raise_request_exception=False, **kwargs)
    client.handler = ProductionWSGIGuard(client.handler)
    return client


# --- sending and recording ----------------------------------------------------------------
PROJECT_DIRS = {"shop", "payments", "sandbox", "config", "guard"}
BASE_DIR = Path(settings.BASE_DIR).resolve()


def _project_file(filename: str) -> str | None:
    try:
        relative = Path(filename).resolve().relative_to(BASE_DIR)
    except ValueError:
        return None
    return str(relative) if relative.parts and relative.parts[0] in PROJECT_DIRS else None


def _frame_text(frame: traceback.FrameSummary, name: str) -> str:
    line = (frame.line or linecache.getline(frame.filename, frame.lineno or 0)).strip()
    return f"{name}:{frame.lineno} in {frame.name}: {line}"


@dataclass(frozen=True)
class Crash:
    type: str
    module: str
    message: str
    origin: str  # the innermost frame in the project's own code
    raised: str  # the innermost frame of all
    cause: str
    source: str  # "signal" (Django's handler) or the logger that logged it
    trace: str = field(default="", compare=False, repr=False)
    text: str = field(default="", compare=False, repr=False)  # str(exc), for grouping

    @classmethod
    def of(cls, exc: BaseException, source: str) -> Crash:
        after = ""
        context = exc.__cause__ or exc.__context__
        if type(exc).__name__ == "TransactionManagementError" and context is not None:
            # The test runs each request in a transaction: after a failed query, the next one
            # raises this instead. In production (autocommit) the next query runs; the cause
            # is what to report.
            after = " (then TransactionManagementError: the test's per-request transaction)"
            exc = context
        frames = traceback.extract_tb(exc.__traceback__)
        own = [(f, name) for f in frames if (name := _project_file(f.filename))]
        chained = exc.__cause__ or exc.__context__
        while not own and chained is not None:  # raised while handling one of ours
            own = [
                (f, name)
                for f in traceback.extract_tb(chained.__traceback__)
                if (name := _project_file(f.filename))
            ]
            chained = chained.__cause__ or chained.__context__
        origin = _frame_text(*own[-1]) if own else "(no frame of the project's own code)"
        raised = "-"
        if frames:
            last = frames[-1]
            site = _project_file(last.filename) or _site_name(last.filename)
            raised = _frame_text(last, site)
        cause = exc.__cause__ or exc.__context__
        return cls(
            type=type(exc).__qualname__,
            module=type(exc).__module__,
            message=short(str(exc), 150) + after,
            origin=origin,
            raised=raised,
            cause=f"{type(cause).__module__}.{type(cause).__qualname__}: {short(str(cause), 100)}"
            if cause is not None
            else "",
            source=source,
            trace="".join(traceback.format_exception(exc)),
            text=str(exc)[:300],
        )


def _site_name(filename: str) -> str:
    parts = Path(filename).parts
    if "site-packages" in parts:
        return "/".join(parts[parts.index("site-packages") + 1 :])
    return "/".join(parts[-3:])


@dataclass
class Outcome:
    req: Req
    path: str
    status: int | None
    crashes: list[Crash]
    seconds: float
    iamport_calls: list[tuple[str, str]]
    warnings: list[str] = field(default_factory=list)
    body: bytes = b""  # as sent: placeholders filled

    @property
    def crash(self) -> Crash | None:
        """The first exception of the request: the cause; later ones are its consequences."""
        return self.crashes[0] if self.crashes else None


class _Capture(logging.Handler):
    def __init__(self, sink: Callable[[BaseException, str], None]) -> None:
        super().__init__(logging.DEBUG)
        self.sink = sink

    def emit(self, record: logging.LogRecord) -> None:
        if record.exc_info and record.exc_info[1] is not None:
            self.sink(record.exc_info[1], record.name)


class Runner:
    """Sends `Req`s through test clients, each inside a transaction rolled back afterwards."""

    LOGGERS = ("payments", "shop", "sandbox", "django")  # and every logger below them

    def __init__(
        self,
        clients: dict[str, tuple[Client, dict[str, str]]],
        refs: dict[str, str],
        registry: IamportRegistry,
    ) -> None:
        self.clients = clients
        self.refs = {key.lower(): value for key, value in refs.items()}
        self.registry = registry
        self._exceptions: list[tuple[BaseException, str]] = []

    def fill(self, text: str, client: str) -> str:
        text = text.replace("⟦cookies⟧", self._cookie_header(client))
        return PLACEHOLDER.sub(lambda m: self.refs.get(m.group()[1:-1].lower(), m.group()), text)

    def fill_body(self, body: bytes) -> bytes:
        """Placeholders in a body: raw (forms, multipart) or escaped by json.dumps."""
        if b"\xe2\x9f\xa6" not in body and b"\\u27e6" not in body:
            return body
        for key, value in self.refs.items():
            body = body.replace(f"⟦{key}⟧".encode(), value.encode())
            body = body.replace(f"\\u27e6{key}\\u27e7".encode(), value.encode())
        return body

    def _cookie_header(self, client: str) -> str:
        return "; ".join(f"{k}={v}" for k, v in self.clients[client][1].items())

    def _sink(self, exc: BaseException, source: str) -> None:
        if not any(exc is seen for seen, _ in self._exceptions):
            self._exceptions.append((exc, source))

    def _on_signal(self, sender, request=None, **kwargs) -> None:
        exc = sys.exc_info()[1]
        if exc is not None:
            self._sink(exc, "signal")

    @contextmanager
    def recording(self) -> Iterator[None]:
        """Capture exceptions from Django's handler and from logs; keep the log quiet."""
        capture = _Capture(self._sink)
        saved = []
        names = [
            name
            for name in logging.root.manager.loggerDict
            if name.split(".")[0] in self.LOGGERS
            and isinstance(logging.root.manager.loggerDict[name], logging.Logger)
            and (name in self.LOGGERS or logging.getLogger(name).handlers)
        ]
        for name in {*self.LOGGERS, *names}:
            logger = logging.getLogger(name)
            saved.append((logger, logger.handlers[:], logger.propagate, logger.level))
            logger.handlers, logger.propagate = [capture], False
            if name in self.LOGGERS:
                logger.setLevel(logging.INFO)
        got_request_exception.connect(self._on_signal, dispatch_uid="fuzz-runner")
        try:
            yield
        finally:
            got_request_exception.disconnect(dispatch_uid="fuzz-runner")
            for logger, handlers, propagate, level in saved:
                logger.handlers, logger.propagate = handlers, propagate
                logger.setLevel(level)

    def send(self, req: Req, before: Callable[[], None] | None = None) -> Outcome:
        client, cookies = self.clients[req.client]
        client.cookies = SimpleCookie()
        for name, value in cookies.items():
            client.cookies[name] = value
        environ = {key: self.fill(value, req.client) for key, value in req.headers.items()}
        if req.content_type is not None:
            environ["CONTENT_TYPE"] = req.content_type
        path = self.fill(req.path, req.client)
        body = self.fill_body(req.body)
        self._exceptions = []
        calls = len(self.registry.log)
        started = time.perf_counter()
        status: int | None = None
        # Warnings are recorded, not raised: the suite turns RuntimeWarning into an error
        # (pyproject.toml), which would make a 500 here of what production only logs.
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                with transaction.atomic():
                    if before is not None:
                        before()
                    response = client.generic(
                        req.method,
                        path,
                        body,
                        content_type=req.content_type or "",
                        **environ,
                    )
                    status = response.status_code
                    if response.streaming:  # a static file: reading it to the end closes it
                        b"".join(response.streaming_content)
                    transaction.set_rollback(True)
            except Exception as exc:  # the test client itself failed: recorded, never raised
                self._sink(exc, "test client")
        crashes = [Crash.of(exc, source) for exc, source in self._exceptions]
        self._exceptions = []
        return Outcome(
            req=req,
            path=path,
            status=status,
            crashes=crashes,
            seconds=time.perf_counter() - started,
            iamport_calls=self.registry.log[calls:],
            warnings=[f"{w.category.__name__}: {w.message}" for w in caught],
            body=body,
        )


# --- the report ---------------------------------------------------------------------------
def request_line(outcome: Outcome) -> int:
    return len(outcome.req.method) + len(outcome.path) + len(" HTTP/1.1") + 1


def reachability(outcome: Outcome) -> str:
    """What stands between this request and Django in production (gunicorn's limits)."""
    length = request_line(outcome)
    if length > GUNICORN_LINE_MAX:
        return (
            f"request line of {length} bytes: behind gunicorn (limit_request_line "
            f"{GUNICORN_LINE_MAX}) this gets 414 before Django"
        )
    return ""


def _unresolved(outcome: Outcome) -> bool:
    body = outcome.body
    return "⟦" in outcome.path or b"\xe2\x9f\xa6" in body or b"\\u27e6" in body


def smallest(outcomes: list[Outcome]) -> Outcome:
    """The one to reproduce with: reachable in production, placeholders intact, then small."""
    return min(
        outcomes,
        key=lambda o: (
            bool(reachability(o)),
            _unresolved(o),
            o.req.size,
            o.req.note.count(";"),
            o.req.index,
        ),
    )


def describe(outcome: Outcome) -> str:
    req = outcome.req
    parts = [f"#{req.index} [{req.client} client] {req.method} {short(outcome.path, 120)}"]
    if req.content_type is not None:
        parts.append(f"Content-Type: {short(req.content_type)}")
    if outcome.body:
        parts.append(f"body: {short(outcome.body, 160)}")
    extra = {k: v for k, v in req.headers.items() if k != "HTTP_X_CSRFTOKEN"}
    if extra:
        parts.append("headers: " + ", ".join(f"{k}={short(v, 40)}" for k, v in extra.items()))
    return "\n               ".join(parts)


def project_frames(crash: Crash) -> str:
    """The chain of the project's own frames in the traceback, outermost first."""
    frames = [
        f"{name}:{line}"
        for name, line in re.findall(r'File "([^"]+)", line (\d+)', crash.trace)
        if _project_file(name)
    ]
    return " > ".join(f"{_project_file(f.rsplit(':', 1)[0])}:{f.rsplit(':', 1)[1]}" for f in frames)


def group_key(outcome: Outcome) -> tuple[str, str, str, str]:
    crash = outcome.crash
    template = outcome.req.endpoint.split(" ", 1)[1]
    return (
        outcome.req.method,
        template,
        str(outcome.status),
        crash.type if crash else "(no exception)",
    )


ESCAPED = "500 (escaped Django's handler: the WSGI server answers 500)"


def report(
    failures: list[Outcome],
    *,
    seed: int,
    total: int,
    title: str,
    replay: str,
    notes: list[str],
    tagged: list[Outcome] = (),
    traces: bool = False,
) -> str:
    groups: dict[tuple, list[Outcome]] = defaultdict(list)
    for outcome in failures:
        groups[group_key(outcome)].append(outcome)
    lines = [
        f"{title}: {len(failures)} of {total} requests failed, in {len(groups)} groups "
        f"(method, path template, status, exception). Seed {seed}.",
        f"Replay: {replay}",
        "",
    ]
    sites: dict[str, set[str]] = defaultdict(set)
    for n, (key, outcomes) in enumerate(sorted(groups.items()), 1):
        method, template, status, exc_type = key
        shown = ESCAPED if status == "None" else status
        lines.append(
            f"{n:>2}. {method} {template} -> {shown} {exc_type} ({len(outcomes)} requests)"
        )
        # Within a group, one entry per raising line and kind of message ("bigint out of
        # range" and "NUL bytes" are two bugs even when the same line raises both).
        by_origin: dict[tuple[str, str], list[Outcome]] = defaultdict(list)
        for outcome in outcomes:
            crash = outcome.crash
            text = crash.text.rsplit(": ", 1)[-1] if crash else ""  # "surrogates not allowed"
            kind = re.sub(r"'[^']*'|\"[^\"]*\"|\d+", "…", text)
            by_origin[(crash.origin if crash else "-", kind)].append(outcome)
        for (origin, _), members in sorted(by_origin.items(), key=lambda item: -len(item[1])):
            first = smallest(members)
            crash = first.crash
            if crash:
                sites[origin].add(f"{method} {template}")
                lines.append(f"      at {origin}")
                if crash.raised != origin:
                    lines.append(f"      raised in {crash.raised}")
                lines.append(f"      {crash.module}.{crash.type}: {crash.message}")
                if crash.cause:
                    lines.append(f"      caused by {crash.cause}")
                chain = project_frames(crash)
                if chain:
                    lines.append(f"      project frames: {chain}")
                if crash.source != "signal":
                    lines.append(f"      (caught and logged by {crash.source!r})")
            mutations = Counter(o.req.note.split(":")[0] for o in members)
            lines.append(
                f"      {len(members)} requests; mutations: "
                + ", ".join(f"{m} x{c}" for m, c in mutations.most_common(6))
            )
            lines.append(f"      smallest: {describe(first)}")
            lines.append(f"               mutation: {short(first.req.note, 200)}")
            if reachability(first):
                lines.append(f"               NOTE: {reachability(first)}")
            if traces and crash:
                lines += ["      " + line for line in crash.trace.splitlines()]
        lines.append("")
    if sites:
        lines.append("Raising lines of code and the endpoints they break:")
        for origin, endpoints in sorted(sites.items()):
            lines.append(f"  {origin}")
            lines.append(f"      {', '.join(sorted(endpoints))}")
        lines.append("")
    if tagged:
        lines.append("Inputs that once crashed the shop, as answered now:")
        for outcome in tagged:
            crash = outcome.crash
            what = (
                f"{crash.type} at {crash.origin}"
                if crash and (outcome.status or 500) >= 500
                else ""
            )
            status = ESCAPED if outcome.status is None else outcome.status
            lines.append(f"  {outcome.req.tag:<58} -> {status} {what}".rstrip())
        lines.append("")
    lines += notes
    return "\n".join(lines)


def write_report(text: str) -> None:
    """The report to FUZZ_REPORT (appended: every test writes it); with FUZZ_PRINT=1, also to
    stdout (a failure shows it in its message anyway)."""
    if os.environ.get("FUZZ_REPORT"):
        with Path(os.environ["FUZZ_REPORT"]).open("a", encoding="utf-8") as report_file:
            report_file.write(text + "\n\n")
    if os.environ.get("FUZZ_PRINT") == "1":
        print(text)


def statuses(outcomes: list[Outcome]) -> str:
    return ", ".join(
        f"{s}: {n}" for s, n in sorted(Counter(str(o.status) for o in outcomes).items())
    )
