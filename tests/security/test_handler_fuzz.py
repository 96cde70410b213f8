"""Every public event handler driven with wrong input, as each of the nine actors (hypothesis).

A browser can send any JSON to any handler (ARCHITECTURE.md rules 1 and 2): wrong types, huge
and unicode strings, nested dicts and lists, None, negative and huge numbers, and any route
segment in the URL. For every handler of the app (the authorisation matrix's world and table,
tests/security/test_authorization_matrix.py) two kinds of input are drawn:

- **invalid**: every argument, form field and route segment is wrong for what it should be
  (a non-string or 100 000 characters where text goes, a non-id where an id goes, a non-form
  where a form goes, ...). Then: no exception escapes, nothing is logged as broken, and **no row
  changes** (refusal trails excepted, as the matrix row says). A handler without arguments gets
  only a junk route; it may still do what the matrix allows when it does not read the route;
- **mixed**: the matrix's valid call with some values replaced by junk (or valid-looking text).
  Then: no exception escapes, nothing is logged as broken, and the call writes only what the
  matrix allows that actor.

"Logged as broken" means the app logged an exception (a handler's generic "something went wrong"
path): that is a bug to fix with validation and a clear message, not a pass. So is a message that
is the generic one or shows an unfilled {placeholder}.

Actors: all nine, except where a handler's guard (state/guards.py) refuses an actor before the
handler body runs: the guard reads no argument, and the matrix proves those refusals; there the
admitted actors and anonymous are fuzzed.

Deterministic: derandomized, a fixed number of examples per handler (COURSEMALL_FUZZ_EXAMPLES to
dig deeper locally, COURSEMALL_FUZZ_RANDOM=1 for fresh random inputs).
"""

from __future__ import annotations

import asyncio
import inspect
import os
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from coursemall.state.guards import guard_of
from tests.security.authz import (
    ACTORS,
    all_handlers,
    authz_lab,
    call,
    handler_fn,
    png_upload,
    unclear_messages,
)
from tests.security.test_authorization_matrix import GUARD_REACH, PARAMS, TABLE

EXAMPLES = int(os.environ.get("COURSEMALL_FUZZ_EXAMPLES", "2"))
RANDOM = os.environ.get("COURSEMALL_FUZZ_RANDOM", "") == "1"
ROUTE_KEYS = ("lesson_id", "course_id", "order_no", "user_id", "code", "kind", "slug", "bundle_id")
QUERY_KEYS = ("q", "sort", "page", "t", "wxpay", "next")  # ?...: strings only, but any strings
HUGE = 100_000

# ---------------------------------------------------------------------------------- strategies

huge_text = st.sampled_from(["长", "a", "\u202e", "😀", "0", "\x00"]).map(lambda c: c * HUGE)
weird_text = st.text(alphabet=st.characters(codec="utf-8"), max_size=40)
numbers = st.one_of(st.integers(min_value=-(2**70), max_value=0), st.integers(min_value=2**31, max_value=2**70),
                    st.floats(allow_nan=True, allow_infinity=True))
scalars = st.one_of(st.none(), st.booleans(), numbers, weird_text, huge_text)
nested = st.recursive(scalars, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                       st.dictionaries(weird_text, inner, max_size=4)),
                      max_leaves=8)
containers = st.one_of(st.lists(nested, max_size=4), st.dictionaries(weird_text, nested, max_size=4))

# Wrong for every argument of its kind:
not_text = st.one_of(st.none(), st.booleans(), numbers, containers, huge_text)  # where a string goes
not_id = st.one_of(st.none(), st.booleans(), numbers, containers, huge_text,
                   st.sampled_from(["", "0", "-1", "1e3", "abc", " 1", "1.5", "٣", "99999999999", "0x10"]))
not_form = st.one_of(st.none(), st.booleans(), numbers, weird_text, huge_text, st.lists(nested, max_size=4))
not_field = st.one_of(st.none(), st.floats(allow_nan=True), containers, huge_text)  # no form field takes these
not_files = st.one_of(st.none(), st.booleans(), numbers, weird_text, st.dictionaries(weird_text, nested, max_size=3),
                      st.lists(nested, min_size=1, max_size=4))
not_route = st.one_of(st.sampled_from(["", "0", "-1", "abc", "1e3", "../../etc", "%00", "99999999999"]),
                      weird_text.filter(lambda s: not s.isdigit()), huge_text)
junk_query = st.dictionaries(st.sampled_from(QUERY_KEYS), st.one_of(not_route, st.sampled_from(["1", "2", "-5"])),
                             max_size=4)


def _kind(param: inspect.Parameter) -> str:
    ann = param.annotation if isinstance(param.annotation, str) else getattr(param.annotation, "__name__", "")
    ann = str(ann).lower()
    if "upload" in ann:
        return "files"
    if "dict" in ann:
        return "form"
    if ann in ("int", "bool"):
        return "id" if "id" in param.name or ann == "int" else "flag"
    return "id" if param.name.endswith("_id") else "text"


def _params(key: str) -> list[inspect.Parameter]:
    cls, name = all_handlers()[key]
    return list(inspect.signature(handler_fn(cls, name)).parameters.values())[1:]


INVALID = {"files": not_files, "form": not_form, "id": not_id, "text": not_text, "flag": not_id}


def invalid_form(valid: Any) -> st.SearchStrategy:
    """A dict with the handler's own field names (and others), every value of a wrong type."""
    names = list(valid) if isinstance(valid, dict) else []
    return st.one_of(not_form, st.fixed_dictionaries({n: not_field for n in names},
                                                     optional={"extra": not_field}) if names else not_form)


@st.composite
def invalid_call(draw, key: str, valid_args: tuple) -> tuple[tuple, dict]:
    args = []
    for i, param in enumerate(_params(key)):
        kind = _kind(param)
        valid = valid_args[i] if i < len(valid_args) else None
        args.append(draw(invalid_form(valid) if kind == "form" else INVALID[kind]))
    route = {k: draw(not_route) for k in ROUTE_KEYS}
    return tuple(args), route, draw(junk_query)


@st.composite
def mixed_call(draw, key: str, valid_args: tuple, valid_route: dict) -> tuple[tuple, dict]:
    args = list(valid_args)
    for i, param in enumerate(_params(key)):
        if i >= len(args):
            args.append(None)
        value = args[i]
        if isinstance(value, dict) and value and draw(st.booleans()):
            field = draw(st.sampled_from(sorted(value)))
            args[i] = {**value, field: draw(st.one_of(nested, weird_text))}
        elif draw(st.booleans()):
            args[i] = draw(nested)
    route = dict(valid_route)
    if draw(st.booleans()):
        route[draw(st.sampled_from(ROUTE_KEYS))] = draw(not_route)
    return tuple(args), route, draw(st.one_of(st.just({}), junk_query))


# ---------------------------------------------------------------------------------- the runs

@pytest.fixture(scope="module")
def fuzz_lab(tmp_path_factory):
    loop = asyncio.new_event_loop()
    with authz_lab(tmp_path_factory.mktemp("fuzz")) as (lab, world):
        yield lab, world, loop
    loop.close()


def _fresh_args(key: str, world) -> tuple:
    """The matrix's valid arguments (upload lists are made anew: a file is read once)."""
    return tuple([png_upload()] if isinstance(a, list) and a and hasattr(a[0], "file") else a
                 for a in TABLE[key].args(world))


def _problems(key: str, actor: str, outcome, allowed_writes: frozenset[str]) -> list[str]:
    problems = []
    if outcome.raised is not None:
        problems.append(f"raised {type(outcome.raised).__name__}: {str(outcome.raised)[:200]}")
    if outcome.logged:
        problems.append(f"logged an exception: {outcome.logged[0][:200]}")
    extra = set(outcome.writes) - allowed_writes
    if extra:
        problems.append(f"wrote {sorted(extra)}")
    if unclear := unclear_messages(outcome.state):
        problems.append(f"no clear message: {unclear}")
    return problems


def fuzzed_actors(key: str) -> tuple[str, ...]:
    """Every actor, except those a handler's guard refuses before the handler sees its input (the
    guard reads no argument; the matrix proves those refusals): then the admitted ones and
    `anon` as a check."""
    cls, name = all_handlers()[key]
    guard = guard_of(handler_fn(cls, name))
    if guard is None:
        return ACTORS
    admitted = GUARD_REACH[guard]
    return tuple(a for a in ACTORS if a in admitted or a == "anon")


def _run(fuzz_lab, key: str, args: tuple, route: dict, query: dict, allowed_for) -> None:
    lab, world, loop = fuzz_lab
    cls, name = all_handlers()[key]
    row = TABLE[key]
    failures = []
    for actor in fuzzed_actors(key):
        pre = row.pre(world) if row.pre else None
        outcome = loop.run_until_complete(call(lab, world, cls, name, actor, args, route, pre, query))
        if problems := _problems(key, actor, outcome, allowed_for(actor)):
            failures.append(f"as {actor}: " + "; ".join(problems))
    shown = ", ".join(repr(a)[:80] for a in args)
    where = {k: str(v)[:20] for k, v in {**route, **query}.items()}
    assert not failures, f"{key}({shown}) route/query={where}:\n" + "\n".join(failures)


HANDLERS = sorted(TABLE)
FUZZ = settings(max_examples=EXAMPLES, derandomize=not RANDOM, deadline=None, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                       HealthCheck.function_scoped_fixture])


@pytest.mark.parametrize("key", HANDLERS)
@FUZZ
@given(data=st.data())
def test_invalid_input_changes_nothing(fuzz_lab, key, data):
    _, world, _ = fuzz_lab
    row = TABLE[key]
    args, route, query = data.draw(invalid_call(key, row.args(world)))
    if _params(key):
        _run(fuzz_lab, key, args, route, query, lambda actor: row.logs)
    else:  # only the route is input: a handler that does not read it may still do its job
        _run(fuzz_lab, key, args, route, query,
             lambda actor: (row.writes if row.expected(actor) == "allow" else frozenset()) | row.logs)


@pytest.mark.parametrize("key", HANDLERS)
@FUZZ
@given(data=st.data())
def test_mixed_input_writes_only_what_the_matrix_allows(fuzz_lab, key, data):
    _, world, _ = fuzz_lab
    row = TABLE[key]
    args, route, query = data.draw(mixed_call(key, _fresh_args(key, world), (row.params or PARAMS)(world)))
    _run(fuzz_lab, key, args, route, query,
         lambda actor: (row.writes if row.expected(actor) == "allow" else frozenset()) | row.logs)


def test_fuzz_covers_every_handler():
    assert set(HANDLERS) == set(all_handlers())

