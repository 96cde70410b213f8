"""States of buying: cart, checkout, orders, payments, refunds, manual (transfer) payments."""
