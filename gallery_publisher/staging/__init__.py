"""Staging: the fixed-VHD format, the one-pass stager, and the page-blob helpers around it.

Imports source, planning and the shared modules; never gallery, jobs or the command line.
"""
