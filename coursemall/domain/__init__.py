"""Pure business rules: no database, no reflex."""
