"""`gallery-publisher versions` lists a definition's versions with their state, from the emulator."""

from __future__ import annotations

import argparse

import pytest

from gallery_publisher.cli.versions import add_versions_arguments, run_versions
from local.gallery_emulator import running_emulator
from tests.support.gallery_support import CI, FAST, RG, sdk, version_body


def _args(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_versions_arguments(parser)
    return parser.parse_args(argv)


def test_versions_lists_names_in_version_order_with_state(capsys: pytest.CaptureFixture[str]) -> None:
    with running_emulator(FAST) as emulator:
        client = sdk(emulator.base_url)
        for name in ("9.6.2025052210", "9.6.2025052209"):
            client.gallery_image_versions.begin_create_or_update(
                RG, CI, "almalinux-9-gen2", name, version_body(), polling=False
            )
        env = {"GALLERY_PUBLISHER_LOCAL_MODE": "true", "GALLERY_PUBLISHER_ARM_ENDPOINT": emulator.base_url}
        assert run_versions(_args("almalinux-9-gen2"), env) == 0
        assert capsys.readouterr().out.splitlines() == [
            "9.6.2025052209  Creating",
            "9.6.2025052210  Creating",
        ]
        assert run_versions(_args("almalinux-9-gen1", "--gallery", "almalinux"), env) == 0
        assert "almalinux/almalinux-9-gen1 has no versions" in capsys.readouterr().out
        assert run_versions(_args("almalinux-99-gen2"), env) == 2  # refused: no such definition
        assert "almalinux-99-gen2" in capsys.readouterr().err
