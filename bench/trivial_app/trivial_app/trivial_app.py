"""One page: a heading and a button that counts clicks (so the page has state and an event)."""

import reflex as rx


class CounterState(rx.State):
    count: int = 0

    @rx.event
    def increment(self):
        self.count += 1


def index() -> rx.Component:
    return rx.container(
        rx.heading("Hello, Reflex"),
        rx.button("Clicked ", CounterState.count, on_click=CounterState.increment, id="trivial-button"),
    )


app = rx.App()
app.add_page(index, route="/", title="Trivial")
