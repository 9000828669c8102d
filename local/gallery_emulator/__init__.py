"""An Azure Compute Gallery emulator (ARM REST on loopback) the real azure-mgmt-compute SDK can use."""

from local.gallery_emulator.config import EmulatorConfig
from local.gallery_emulator.server import Emulator, build_server, running_emulator

__all__ = ["Emulator", "EmulatorConfig", "build_server", "running_emulator"]
