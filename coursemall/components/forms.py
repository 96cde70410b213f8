"""Form pieces shared by every page.

`submit_button` is the only way a form is submitted: it stays disabled until the page is hydrated.
Before that the form has no event handler yet, and a click (or Enter in a field) would make the
browser submit it natively, as a GET request carrying every field in the URL (passwords
included) and reaching no handler.
"""

from __future__ import annotations

from typing import Any

import reflex as rx


def submit_button(*children: Any, disabled: Any = None, **props: Any) -> rx.Component:
    not_ready = ~rx.State.is_hydrated
    return rx.button(*children, type="submit", disabled=not_ready if disabled is None else not_ready | disabled,
                     **props)
