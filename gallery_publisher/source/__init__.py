"""The source: which URLs a job may read, pinned HTTP, the published checksum, the disk image reader.

Imports planning and the shared modules below it; never staging, gallery, jobs or the command line.
"""
