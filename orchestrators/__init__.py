"""Deterministic flow only: no I/O, no clock but the orchestration's, no settings reads."""
