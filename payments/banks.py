"""Banks under the three names they go by: the standard code, PortOne V2's code, the name.

Iamport (V1) takes and reports banks by the Korea Financial Telecommunications and Clearings
Institute's three-digit codes ("088"); PortOne V2's REST API uses its own `Bank` codes
("SHINHAN"); buyers and staff know them by name (신한은행). The refund form offers the standard
codes, which each API's cancel receives in its own form, and a V2 virtual account's bank code
is shown by name.
"""

from __future__ import annotations

from typing import NamedTuple


class Bank(NamedTuple):
    code: str  # the standard three-digit code, Iamport's `refund_bank` / `vbank_code`
    v2: str  # PortOne V2's REST `Bank` code
    name: str


BANKS = (
    Bank("004", "KOOKMIN", "KB국민은행"),
    Bank("088", "SHINHAN", "신한은행"),
    Bank("020", "WOORI", "우리은행"),
    Bank("081", "HANA", "하나은행"),
    Bank("011", "NONGHYUP", "NH농협은행"),
    Bank("012", "LOCAL_NONGHYUP", "지역농·축협"),
    Bank("003", "IBK", "IBK기업은행"),
    Bank("002", "KDB", "KDB산업은행"),
    Bank("007", "SUHYUP", "수협은행"),
    Bank("023", "STANDARD_CHARTERED", "SC제일은행"),
    Bank("027", "CITI", "한국씨티은행"),
    Bank("031", "DAEGU", "iM뱅크 (대구은행)"),
    Bank("032", "BUSAN", "부산은행"),
    Bank("034", "KWANGJU", "광주은행"),
    Bank("035", "JEJU", "제주은행"),
    Bank("037", "JEONBUK", "전북은행"),
    Bank("039", "KYONGNAM", "경남은행"),
    Bank("045", "KFCC", "새마을금고"),
    Bank("048", "SHINHYUP", "신협"),
    Bank("050", "SAVINGS_BANK", "저축은행"),
    Bank("064", "NFCF", "산림조합"),
    Bank("071", "POST", "우체국"),
    Bank("089", "K_BANK", "케이뱅크"),
    Bank("090", "KAKAO", "카카오뱅크"),
    Bank("092", "TOSS", "토스뱅크"),
)
_BY_CODE = {bank.code: bank for bank in BANKS}
_BY_V2 = {bank.v2: bank for bank in BANKS}


def is_code(code: str) -> bool:
    return code in _BY_CODE


def v2_code(code: str) -> str:
    """ "088" -> "SHINHAN"; KeyError for a code the refund form does not offer."""
    return _BY_CODE[code].v2


def name_of_v2(v2: str) -> str:
    """ "SHINHAN" -> "신한은행"; a code this table lacks is shown as it is."""
    bank = _BY_V2.get(v2)
    return bank.name if bank is not None else v2
