"""An Azure Compute Gallery emulator (ARM REST on loopback) the real azure-mgmt-compute SDK can use.

It refuses what Azure refuses; where Azure's exact answer is unknown it is stricter, never kinder.

Documented by Azure (REST reference, "Troubleshoot shared image galleries", the Compute Gallery FAQ,
`az account list-locations`):
- A version's targetRegions must contain its location: 400, "Gallery image version publishing
  profile regions … must contain the location of image version …" (the message is Azure's).
- Duplicate target regions: 400, "Duplicate regions are not allowed in target publishing regions."
- Version names Major.Minor.Patch, each part 0…2,147,483,647; ParentResourceNotFound for a missing
  gallery or definition; PropertyChangeNotAllowed for a changed source, storage account type or
  replication mode; a Failed version must be deleted before it is created again.
- A VHD source is `osDiskImage.source` {uri, storageAccountId}, storageAccountId being the account
  that holds the blob (under `storageProfile.source` the service cannot deserialize `uri`).
- Regions: every physical region of the public cloud, in either form ("westus2", "West US 2");
  answers use the display name. An unknown location is LocationNotAvailableForResourceType.
- Long-running operations (Azure-AsyncOperation, Retry-After, capsOperations status), 429 with
  Retry-After, replication status with $expand=ReplicationStatus.

Our reading (Azure's behaviour is known, its exact code or message is not):
- Shallow replication is allowed only to the version's own region with one replica (Azure's
  overview and Packer's azure plugin say so); anything else is a 400 InvalidParameter.
- storageAccountId missing, not a storage account resource id, naming another account than the
  blob's, or not the account this emulator holds (`EmulatorConfig.storage_account_id`, by default
  the app's default GALLERY_PUBLISHER_STORAGE_ACCOUNT_ID): 400 InvalidParameter. `source.id` sent
  with a VHD uri: 400 InvalidParameter.
- A PUT on a version still being created or updated: 409 Conflict (after the 400 and
  PropertyChangeNotAllowed checks); a version accepts a new PUT once its operation has ended.
- No targetRegions at all: one replica in the home region.
- Durations, failure messages of replication and validation, and the InvalidParameter failure of
  a bad VHD source (found when the source is read, so the operation fails, not the PUT).
"""

from local.gallery_emulator.config import EmulatorConfig
from local.gallery_emulator.server import Emulator, build_server, running_emulator

__all__ = ["Emulator", "EmulatorConfig", "build_server", "running_emulator"]
