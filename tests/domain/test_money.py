from decimal import Decimal

import pytest
from hypothesis import given, strategies as st

from coursemall.domain.errors import DomainError
from coursemall.domain.money import (
    MAX_PRICE_FEN,
    fen_to_yuan,
    fen_to_yuan_text,
    format_fen,
    parse_yuan,
    yuan_number,
    yuan_text,
    yuan_to_fen,
)


def test_format_fen_examples():
    assert format_fen(12800) == "¥128.00"
    assert format_fen(1280) == "¥12.80"
    assert format_fen(5) == "¥0.05"
    assert format_fen(0) == "¥0.00"
    assert format_fen(-150) == "-¥1.50"


def test_format_fen_refuses_floats():
    with pytest.raises(TypeError):
        format_fen(12.8)


@given(st.integers(min_value=0, max_value=10**12))
def test_format_fen_round_trips(fen):
    text = format_fen(fen)
    assert int(text[1:].replace(".", "")) == fen


# --------------------------------------------------------------- every money helper lives here

def test_yuan_text_and_channel_amounts():
    assert (yuan_text(12800), yuan_text(5), yuan_text(0), yuan_text(-150)) == ("128.00", "0.05", "0.00", "-1.50")
    assert fen_to_yuan(12800) == "128.00"
    for bad in (-1, 1.5, True, "100"):
        with pytest.raises(ValueError):
            fen_to_yuan(bad)
    with pytest.raises(TypeError):
        yuan_text(1.5)


def test_yuan_number_is_exact_decimal():
    value = yuan_number(28001)
    assert isinstance(value, Decimal) and value == Decimal("280.01") and str(value) == "280.01"
    assert yuan_number(0) == 0 and yuan_number(-5) == Decimal("-0.05")
    with pytest.raises(TypeError):
        yuan_number(280.01)


@given(st.integers(min_value=0, max_value=10**11))
def test_yuan_number_sends_the_same_json_number_as_before(fen):
    # Reflex serialises a Decimal as float(value); that is the float the charts got before.
    assert float(yuan_number(fen)) == round(fen / 100, 2)


@pytest.mark.parametrize(("text", "fen"), [("99", 9900), ("99.9", 9990), ("¥99.90", 9990), ("９９", 9900)])
def test_price_input_round_trip(text, fen):
    assert parse_yuan(text) == fen and parse_yuan(fen_to_yuan_text(fen)) == fen
    assert fen_to_yuan_text(12800) == "128" and fen_to_yuan_text(9990) == "99.90"


@pytest.mark.parametrize("bad", ["-1", "1.001", "abc", "", None, 99, str(MAX_PRICE_FEN // 100 + 1)])
def test_price_input_refuses(bad):
    with pytest.raises(DomainError, match="cms.price_invalid"):
        parse_yuan(bad)


@given(st.integers(min_value=0, max_value=10**11 - 1))  # yuan_to_fen reads up to 9 yuan digits
def test_channel_amount_round_trips(fen):
    assert yuan_to_fen(fen_to_yuan(fen)) == fen
