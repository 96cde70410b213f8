"""Pages of buying: cart, checkout, orders, payments, refunds, manual (transfer) payments."""

from coursemall.pages.commerce import cart, cashier, order, orders  # noqa: F401
