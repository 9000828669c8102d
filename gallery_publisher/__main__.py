"""`python -m gallery_publisher` and the `gallery-publisher` command."""

import sys


def run() -> None:
    # azure-storage-blob imports aiohttp when it is installed (the Durable Functions SDK brings it)
    # only to recognise its async transport, which no command uses: a third of `stage`'s start-up.
    # A None entry makes that import fail at once, as if aiohttp were not installed. Only here, in
    # a process of its own: the Function App and the tests import aiohttp for real.
    sys.modules.setdefault("aiohttp", None)  # type: ignore[arg-type]
    from gallery_publisher.cli.main import main

    raise SystemExit(main())


if __name__ == "__main__":
    run()
