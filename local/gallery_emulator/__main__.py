"""`python -m local.gallery_emulator --port PORT [--storage-connection-string CS] [--storage-account-id ID]
[--seed FILE] [--time-scale X]`

Prints its base URL on one line when ready and serves until killed.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from local.gallery_emulator.config import EmulatorConfig, app_default_storage_account_id
from local.gallery_emulator.faults import FaultSwitch, parse_faults_update
from local.gallery_emulator.regions import is_known, normalize
from local.gallery_emulator.seed import default_seed, load_seed
from local.gallery_emulator.server import build_server


def _region_override(text: str) -> tuple[str, float]:
    region, _, seconds = text.partition("=")
    if not is_known(region) or not seconds.replace(".", "", 1).isdigit():
        raise argparse.ArgumentTypeError(f"{text!r}: write REGION=SECONDS, for example westus2=900")
    return normalize(region), float(seconds)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m local.gallery_emulator", description=__doc__)
    parser.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (0: any free port)")
    parser.add_argument(
        "--storage-connection-string", help="storage (Azurite) holding the VHD sources to check"
    )
    parser.add_argument(
        "--storage-account-id",
        default=app_default_storage_account_id(),
        help="resource id of that storage account: a version's source.storageAccountId must name it "
        "(default: the app's default GALLERY_PUBLISHER_STORAGE_ACCOUNT_ID, %(default)s)",
    )
    parser.add_argument(
        "--seed", type=Path, help="JSON file of resource groups, galleries and image definitions"
    )
    parser.add_argument("--time-scale", type=float, default=1.0, help="multiplies every simulated duration")
    parser.add_argument("--region-seconds", type=float, default=EmulatorConfig.region_seconds)
    parser.add_argument(
        "--region-duration", type=_region_override, action="append", default=[], metavar="REGION=S"
    )
    parser.add_argument("--validation-seconds", type=float, default=EmulatorConfig.validation_seconds)
    parser.add_argument("--page-size", type=int, default=EmulatorConfig.page_size)
    parser.add_argument(
        "--faults", default="{}", help='JSON, e.g. {"fail_regions": ["westus2"], "throttle_every": 5}'
    )
    parser.add_argument("--log-requests", action="store_true")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.time_scale <= 0:
        print("--time-scale must be above 0", file=sys.stderr)
        return 2
    try:
        faults = parse_faults_update(FaultSwitch().current(), json.loads(args.faults))
        seed = load_seed(args.seed) if args.seed else default_seed()
    except ValueError as error:
        print(f"gallery emulator: {error}", file=sys.stderr)
        return 2
    config = EmulatorConfig(
        time_scale=args.time_scale,
        region_seconds=args.region_seconds,
        region_overrides=dict(args.region_duration),
        validation_seconds=args.validation_seconds,
        page_size=args.page_size,
        storage_connection_string=args.storage_connection_string,
        storage_account_id=args.storage_account_id,
    )
    server, emulator = build_server(config, args.port, seed, log_requests=args.log_requests)
    emulator.context.faults.faults = faults
    print(emulator.base_url, flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
