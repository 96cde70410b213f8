import pytest
from hypothesis import given, strategies as st

from coursemall.domain.money import format_fen


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
