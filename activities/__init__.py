"""Thin adapters: each takes plain JSON, calls the core library, returns plain JSON."""
