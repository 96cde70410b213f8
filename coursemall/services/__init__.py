"""Use-cases: verb_noun(session, *, actor_id, ...) -> DTO; raise DomainError(code)."""
