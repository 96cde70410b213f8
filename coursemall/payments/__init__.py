"""Payment channel adapters behind one interface (`base.PaymentChannel`); see `registry`."""
