"""The command line: the parser, one module per command group, and the client the release workflow runs.

The top of the core: it may import any part of it, and no part of the core imports it.
"""
