"""Bad input answers a 4xx in the sandbox's own shapes and stores nothing, on every endpoint.

One test per class of input, over the endpoints that read it: JSON nested too deep, amounts
too long to convert or too large to store, `vbank_due` beyond any date, and text no database
column can hold (NUL, lone surrogates), in the body, the query string and headers. Each
endpoint's base request (`BASES`) succeeds as it is (`test_base_requests_succeed`), so a refusal
below is the bad field's and nothing else's.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pytest
from django.test import Client

from sandbox.console import CancelForm
from sandbox.http import MAX_JSON_DEPTH, BadRequestBody, read_params
from sandbox.models import (
    SandboxCancellation,
    SandboxPayment,
    SandboxPrepare,
    SandboxToken,
    SandboxWebhookDelivery,
)
from sandbox.params import (
    MAX_AMOUNT,
    VBANK_DUE_END,
    VBANK_DUE_FIRST,
    InvalidParam,
    parse_amount,
    parse_text,
    parse_vbank_due,
)
from tests.sandbox.conftest import API, pay_param

pytestmark = pytest.mark.django_db

NUL = "order\x00x"
SURROGATE = "order\ud800x"  # sent as JSON's "\ud800" escape: Python's json.loads decodes it alone
DEEP = "[" * 100_000 + "]" * 100_000
UTF7_FORM = "application/x-www-form-urlencoded; charset=utf-7"
UTF7_SURROGATE = b"+2AA-"  # U+D800 in UTF-7, which Python decodes to a lone surrogate


@dataclass
class World:
    client: Client
    token: str
    paid: str  # a card payment of 12,000원
    ready: str  # a payment still in its window
    prepared: str  # a merchant_uid registered with 1,000원


@pytest.fixture
def world(api, paid_payment, start_payment) -> World:
    paid = paid_payment(merchant_uid="order_paid")
    ready = start_payment(merchant_uid="order_ready")
    assert (
        api.post("payments/prepare", {"merchant_uid": "order_prep", "amount": 1000}).json()["code"]
        == 0
    )
    # Exceptions are answered as a server would (500), so a failure shows as a status.
    client = Client(raise_request_exception=False)
    return World(client=client, token=api.token, paid=paid, ready=ready, prepared="order_prep")


# --- requests -----------------------------------------------------------------------------
# endpoint -> (method, path, body); {paid}, {ready}, {prepared} are filled from the world.
BASES: dict[str, tuple[str, str, dict[str, Any]]] = {
    "getToken": (
        "post",
        "users/getToken",
        {"imp_key": "imp_apikey", "imp_secret": "test_api_secret"},
    ),
    "prepare": ("post", "payments/prepare", {"merchant_uid": "order_new", "amount": 1000}),
    "prepare PUT": ("put", "payments/prepare", {"merchant_uid": "{prepared}", "amount": 2000}),
    "cancel": ("post", "payments/cancel", {"imp_uid": "{paid}", "amount": 1000, "checksum": 12000}),
    "sdk/start": (
        "post",
        "sdk/start",
        {"merchant_code": "imp00000000", "channel": "pc", "param": pay_param(merchant_uid="o_new")},
    ),
    "approve": ("post", "window/{ready}/approve", {}),
    "decline": ("post", "window/{ready}/decline", {"error_code": "F1003"}),
    "close": ("post", "window/{ready}/close", {}),
}


def _fill(value: Any, world: World) -> Any:
    if isinstance(value, str):
        return value.format(paid=world.paid, ready=world.ready, prepared=world.prepared)
    if isinstance(value, dict):
        return {key: _fill(item, world) for key, item in value.items()}
    return value


def send(world: World, endpoint: str, *, raw: str | bytes | None = None, **fields: Any):
    """The endpoint's base request with `fields` changed (for sdk/start: in `param`, except
    merchant_code), or with the whole body replaced by `raw`."""
    method, path, base = BASES[endpoint]
    body = _fill(base, world)
    if endpoint == "sdk/start":
        code = fields.pop("merchant_code", body["merchant_code"])
        body = {**body, "merchant_code": code, "param": {**body["param"], **fields}}
    else:
        body = {**body, **fields}
    content = json.dumps(body) if raw is None else raw
    return getattr(world.client, method)(
        API + _fill(path, world),
        content,
        content_type="application/json",
        HTTP_AUTHORIZATION=world.token,
    )


def stored() -> dict[str, Any]:
    """Everything the sandbox keeps, to compare before and after a refused request."""
    return {
        "payments": list(
            SandboxPayment.objects.order_by("pk").values_list(
                "imp_uid", "status", "amount", "cancel_amount", "fail_code", "updated_at"
            )
        ),
        "prepares": list(
            SandboxPrepare.objects.order_by("pk").values_list(
                "merchant_uid", "amount", "currency", "updated_at"
            )
        ),
        "cancellations": SandboxCancellation.objects.count(),
        "tokens": list(
            SandboxToken.objects.order_by("pk").values_list("access_token", "expires_at")
        ),
        "deliveries": SandboxWebhookDelivery.objects.count(),
    }


def assert_refused(reply, *, naming: str | None = None) -> dict[str, Any]:
    """A 400 in Iamport's envelope (a non-zero code), its message naming `naming`."""
    assert reply.status_code == 400, reply.content[:300]
    body = reply.json()
    assert set(body) == {"code", "message", "response"}
    assert body["code"] != 0
    assert body["message"]
    if naming is not None:
        assert naming in body["message"]
    return body


@pytest.mark.parametrize("endpoint", list(BASES))
def test_base_requests_succeed(world, endpoint):
    reply = send(world, endpoint)

    assert reply.status_code == 200, reply.content[:300]
    assert reply.json()["code"] == 0


# --- 1. JSON nested too deep ---------------------------------------------------------------
@pytest.mark.parametrize("endpoint", list(BASES))
@pytest.mark.parametrize(
    "raw", [DEEP, '{"param": ' + DEEP + "}"], ids=["bare-array", "inside-an-object"]
)
def test_json_nested_too_deep_is_refused(world, endpoint, raw):
    before = stored()

    assert_refused(send(world, endpoint, raw=raw))
    assert stored() == before


def test_json_nested_beyond_the_bound_inside_a_field_is_refused(world):
    custom_data: Any = "leaf"
    for _ in range(MAX_JSON_DEPTH):
        custom_data = [custom_data]
    before = stored()

    assert_refused(send(world, "sdk/start", custom_data=custom_data))
    assert stored() == before


def test_read_params_bounds_the_depth_of_json(rf):
    def body(depth: int):
        data: Any = {}
        for _ in range(depth - 1):
            data = {"a": data}
        return rf.post("/", json.dumps(data), content_type="application/json")

    assert read_params(body(MAX_JSON_DEPTH))
    with pytest.raises(BadRequestBody):
        read_params(body(MAX_JSON_DEPTH + 1))


# --- 2 and 4. amounts too long to convert or too large to store ----------------------------
HUGE_AMOUNTS = [
    pytest.param("9" * 5000, id="5000-digit-string"),
    pytest.param("1" + "0" * 19, id="20-digit-string"),
    pytest.param(10**19, id="20-digit-number"),
    pytest.param(2**63, id="2**63"),
    pytest.param(10**30, id="10**30"),
    pytest.param(1e308, id="1e308"),
    pytest.param(MAX_AMOUNT, id="MAX_AMOUNT"),
]
AMOUNT_FIELDS = [
    ("prepare", "amount"),
    ("prepare PUT", "amount"),
    ("cancel", "amount"),
    ("cancel", "checksum"),
    ("sdk/start", "amount"),
]


@pytest.mark.parametrize(("endpoint", "field"), AMOUNT_FIELDS)
@pytest.mark.parametrize("amount", HUGE_AMOUNTS)
def test_amounts_too_large_are_refused(world, endpoint, field, amount):
    before = stored()

    assert_refused(send(world, endpoint, **{field: amount}), naming=field)
    assert stored() == before


@pytest.mark.parametrize("endpoint", ["prepare", "prepare PUT"])
def test_prepare_takes_the_largest_amount_and_refuses_zero(world, endpoint):
    assert send(world, endpoint, amount=MAX_AMOUNT - 1).json()["response"]["amount"] == (
        MAX_AMOUNT - 1
    )
    before = stored()

    assert_refused(send(world, endpoint, amount=0), naming="amount")
    assert stored() == before


def test_prepare_refuses_a_huge_amount_in_a_form_body(world):
    before = stored()

    reply = world.client.put(
        API + "payments/prepare",
        f"merchant_uid={world.prepared}&amount={'9' * 5000}",
        content_type="application/x-www-form-urlencoded",
        HTTP_AUTHORIZATION=world.token,
    )

    assert_refused(reply, naming="amount")
    assert stored() == before


@pytest.mark.parametrize(
    ("value", "expected"),
    [(MAX_AMOUNT - 1, MAX_AMOUNT - 1), (str(MAX_AMOUNT - 1), MAX_AMOUNT - 1), ("0" * 40 + "7", 7)],
)
def test_parse_amount_takes_amounts_below_the_bound(value, expected):
    assert parse_amount(value) == expected


@pytest.mark.parametrize(
    "value",
    [MAX_AMOUNT, str(MAX_AMOUNT), "9" * 5000, 10**30, 1e308, float("inf"), float("nan")],
)
def test_parse_amount_refuses_amounts_beyond_the_bound(value):
    with pytest.raises(InvalidParam):
        parse_amount(value)


# --- 3. vbank_due beyond any date -----------------------------------------------------------
@pytest.mark.parametrize(
    "due",
    [
        1e300,
        1e20,
        -1e20,
        float("inf"),
        float("-inf"),
        float("nan"),
        10**30,
        -1,
        VBANK_DUE_END.timestamp(),
        "00010101000000",  # year 1: 9 hours before it, in UTC, is year 0
        "99991231235959",
    ],
)
def test_vbank_due_beyond_any_date_is_refused(world, due):
    before = stored()

    body = assert_refused(send(world, "sdk/start", pay_method="vbank", vbank_due=due))

    assert "vbank_due" in body["message"]
    assert body["response"]["error_code"] == "INVALID_PARAMETER"
    assert stored() == before


def test_vbank_due_bounds_are_those_of_the_range():
    assert parse_vbank_due(VBANK_DUE_FIRST.timestamp()) == VBANK_DUE_FIRST
    last = VBANK_DUE_END.timestamp() - 1
    assert parse_vbank_due(last).timestamp() == last
    assert parse_vbank_due("99981231235959").year == 9998


# --- 5 and 6. text no database can hold -----------------------------------------------------
TEXT_FIELDS = [
    ("getToken", "imp_key"),
    ("getToken", "imp_secret"),
    ("prepare", "merchant_uid"),
    ("prepare", "currency"),
    ("prepare PUT", "merchant_uid"),
    ("prepare PUT", "currency"),
    ("cancel", "imp_uid"),
    ("cancel", "merchant_uid"),
    ("cancel", "reason"),
    ("cancel", "refund_holder"),
    ("cancel", "refund_bank"),
    ("cancel", "refund_account"),
    ("cancel", "refund_tel"),
    ("sdk/start", "merchant_code"),
    ("sdk/start", "merchant_uid"),
    ("sdk/start", "pg"),
    ("sdk/start", "pay_method"),
    ("sdk/start", "name"),
    ("sdk/start", "currency"),
    ("sdk/start", "buyer_name"),
    ("sdk/start", "buyer_email"),
    ("sdk/start", "buyer_tel"),
    ("sdk/start", "buyer_addr"),
    ("sdk/start", "buyer_postcode"),
    ("sdk/start", "custom_data"),
    ("sdk/start", "notice_url"),
    ("sdk/start", "m_redirect_url"),
    ("decline", "error_code"),
]


@pytest.mark.parametrize(("endpoint", "field"), TEXT_FIELDS)
@pytest.mark.parametrize("text", [NUL, SURROGATE], ids=["NUL", "lone-surrogate"])
def test_text_no_database_can_hold_is_refused(world, endpoint, field, text):
    before = stored()

    assert_refused(send(world, endpoint, **{field: text}), naming=field)
    assert stored() == before


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("custom_data", {"note": SURROGATE}),
        ("custom_data", [{"deep": [SURROGATE]}]),
        ("notice_url", [SURROGATE]),
        ("notice_url", [NUL, "http://shop.test/hook"]),
    ],
)
def test_text_inside_structured_sdk_fields_is_refused(world, field, value):
    before = stored()

    assert_refused(send(world, "sdk/start", **{field: value}), naming=field)
    assert stored() == before


def test_a_nul_in_custom_data_objects_is_stored_escaped(world):
    """json.dumps writes a NUL inside an object as \\u0000, which every database holds."""
    reply = send(world, "sdk/start", custom_data={"note": "a\x00b"})

    assert reply.status_code == 200
    imp_uid = reply.json()["response"]["imp_uid"]
    assert SandboxPayment.objects.get(imp_uid=imp_uid).custom_data == '{"note": "a\\u0000b"}'


@pytest.mark.parametrize("text", [NUL, SURROGATE], ids=["NUL", "lone-surrogate"])
def test_prepare_put_form_body_refuses_such_text(world, text):
    """PUT forms are parsed by the sandbox itself, past the project's checks of POST forms."""
    before = stored()
    charset = UTF7_FORM if text == SURROGATE else "application/x-www-form-urlencoded"
    value = b"order" + (UTF7_SURROGATE if text == SURROGATE else b"%00") + b"x"

    reply = world.client.put(
        API + "payments/prepare",
        b"merchant_uid=" + value + b"&amount=2000",
        content_type=charset,
        HTTP_AUTHORIZATION=world.token,
    )

    assert_refused(reply, naming="merchant_uid")
    assert stored() == before


def test_a_lone_surrogate_in_the_query_string_is_refused(world):
    """A charset in Content-Type decodes the query string too: UTF-7 makes a lone surrogate."""
    utf7 = {"CONTENT_TYPE": "text/plain; charset=utf-7", "HTTP_AUTHORIZATION": world.token}

    listing = world.client.get(API + "payments/find/order_paid?sorting=%2B2AA-", **utf7)
    receipt = world.client.get(f"/sandbox/receipt/{world.paid}/?cancellation_id=%2B2AA-", **utf7)

    assert_refused(listing, naming="sorting")
    assert receipt.status_code == 400


def test_a_token_no_database_can_hold_is_unauthorized(world):
    reply = world.client.get(API + f"payments/{world.paid}", HTTP_AUTHORIZATION="token\x00")

    assert reply.status_code == 401
    assert reply.json()["code"] == -1


def test_a_user_agent_no_database_can_hold_is_refused(world):
    before = stored()

    reply = world.client.post(
        API + "sdk/start",
        json.dumps(_fill(BASES["sdk/start"][2], world)),
        content_type="application/json",
        HTTP_USER_AGENT="Mozilla/5.0\x00",
    )

    assert_refused(reply, naming="User-Agent")
    assert stored() == before


def test_a_long_merchant_code_is_refused(world, settings):
    settings.IAMPORT_MERCHANT_CODE = ""  # any code is taken, so it would be stored
    before = stored()

    assert_refused(send(world, "sdk/start", merchant_code="imp" + "0" * 40), naming="merchant_code")
    assert stored() == before


@pytest.mark.parametrize(
    ("value", "expected"),
    [(None, ""), ("주문 😀", "주문 😀"), (1012345678, "1012345678"), (" a ", " a ")],
)
def test_parse_text_takes_strings_and_numbers(value, expected):
    assert parse_text(value, field="f") == expected


@pytest.mark.parametrize("value", ["a\x00", "\ud800", "a\udfffb", True, [], {"a": "b"}])
def test_parse_text_refuses_the_rest_naming_the_field(value):
    with pytest.raises(InvalidParam, match="buyer_name"):
        parse_text(value, field="buyer_name")


# --- the console's forms --------------------------------------------------------------------
@pytest.mark.parametrize(
    "data",
    [
        {"amount": str(MAX_AMOUNT)},
        {"amount": "9" * 5000},
        {"reason": "환불\x00"},
        {"reason": "환불\ud800"},
    ],
)
def test_console_cancel_form_refuses_bad_input(data):
    assert not CancelForm(data).is_valid()


@pytest.mark.parametrize(
    "data",
    [{"amount": str(MAX_AMOUNT)}, {"amount": "9" * 5000}, {"reason": "환불\x00"}],
)
def test_console_cancel_of_bad_input_answers_4xx_and_cancels_nothing(world, data):
    before = stored()

    reply = world.client.post(f"/sandbox/console/payments/{world.paid}/cancel", data)

    assert 400 <= reply.status_code < 500
    assert stored() == before
