"""The gallery: the ARM client, the records it takes and returns, and the gallery client itself.

Imports planning and the shared modules; never source, staging, jobs or the command line.
"""
