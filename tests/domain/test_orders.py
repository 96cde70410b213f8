"""Pure order rules: the transition table, money conversions, refund policy, input parsing."""

from datetime import datetime, timedelta, timezone

import pytest

from coursemall.domain.errors import DomainError
from coursemall.domain.money import fen_to_yuan, yuan_to_fen
from coursemall.domain.orders import (
    TRANSITIONS,
    OrderStatus,
    PolicyOutcome,
    PricedItem,
    RefundPolicyRule,
    can_transition,
    decide_refund_policy,
    parse_order_no,
    price_lines,
    status_after_refund,
)
from coursemall.domain.validation import parse_id


def test_transition_table_is_complete_and_strict():
    assert set(TRANSITIONS) == set(OrderStatus)
    assert can_transition("pending", "paid") and can_transition("closed", "paid")
    assert not can_transition("paid", "pending") and not can_transition("refunded", "paid")
    assert not can_transition("pending", "refunded") and not can_transition("paid", "closed")
    assert not can_transition("bogus", "paid")


@pytest.mark.parametrize(("fen", "yuan"), [(0, "0.00"), (1, "0.01"), (12800, "128.00"), (99999, "999.99")])
def test_money_round_trip(fen, yuan):
    assert fen_to_yuan(fen) == yuan and yuan_to_fen(yuan) == fen


@pytest.mark.parametrize("bad", ["", "-1.00", "1.001", "1e3", "abc", None, 12, "1,00", " 1.00"])
def test_yuan_parser_refuses_odd_amounts(bad):
    assert yuan_to_fen(bad) is None


def test_refund_policy():
    rule = RefundPolicyRule(auto_approve=True, within_days=7, max_progress_pct=20)
    paid = datetime(2026, 1, 1, tzinfo=timezone.utc)
    assert decide_refund_policy(rule, paid_at=paid, now=paid + timedelta(days=6), progress_pct=19) == PolicyOutcome.AUTO_APPROVE
    assert decide_refund_policy(rule, paid_at=paid, now=paid + timedelta(days=8), progress_pct=0) == PolicyOutcome.REVIEW
    assert decide_refund_policy(rule, paid_at=paid, now=paid, progress_pct=20) == PolicyOutcome.REVIEW
    off = RefundPolicyRule(auto_approve=False)
    assert decide_refund_policy(off, paid_at=paid, now=paid, progress_pct=0) == PolicyOutcome.REVIEW


def test_status_after_refund_and_pricing():
    assert status_after_refund(lines_total=2, lines_refunded=0) == OrderStatus.PAID
    assert status_after_refund(lines_total=2, lines_refunded=1) == OrderStatus.PARTIALLY_REFUNDED
    assert status_after_refund(lines_total=2, lines_refunded=2) == OrderStatus.REFUNDED
    quote = price_lines([PricedItem("course", 1, "a", 100, 300, (1,)), PricedItem("bundle", 2, "b", 50, 0, (2, 3))])
    assert (quote.total_fen, quote.original_total_fen) == (150, 350)
    with pytest.raises(DomainError, match="checkout.total_too_large"):
        price_lines([PricedItem("course", 1, "a", 10**10, 0, (1,))])


@pytest.mark.parametrize("bad", [0, -5, 2**31, True, 1.0, "1.0", "", " 1", "１", [1], None, "99999999999"])
def test_parse_id_refuses(bad):
    with pytest.raises(DomainError, match="error.bad_request"):
        parse_id(bad)


def test_parse_id_and_order_no_accept():
    assert parse_id("42") == 42 and parse_id(7) == 7
    assert parse_order_no("CM20261124ABCDEF0123456789") == "CM20261124ABCDEF0123456789"
    for bad in ("", "../etc", "CM' OR 1=1", "x" * 33, None, 5):
        with pytest.raises(DomainError):
            parse_order_no(bad)
