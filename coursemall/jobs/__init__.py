"""Periodic background work. Every sweep is idempotent and safe to run in several workers at once
(compare-and-set updates, UNIQUE keys on side effects): `app.register_lifespan_task` starts one
loop per worker, so N workers run N sweeps."""
