"""Job records: the request, the messages between orchestrators and activities, status, report, notice.

Imports staging, gallery, source, planning and the shared modules; never publishing or the command line.
"""
