"""Thin Reflex states. Every public method is a remote endpoint: validate, resolve the actor from
backend vars, call one service, map the DTO to plain vars."""
