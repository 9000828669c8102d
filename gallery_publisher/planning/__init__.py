"""Naming and planning: image file names, the family table, the settings, and the plan they make.

Pure rules, no I/O: imports only errors and urls from the rest of the core (pyproject's import contracts).
"""
