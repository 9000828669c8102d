"""Check a version's VHD source as Azure does: an existing page blob holding a fixed VHD of N MiB + 512."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

from azure.core.exceptions import ResourceNotFoundError
from azure.storage.blob import BlobServiceClient, BlobType

from gallery_publisher.staging.vhd import FOOTER_SIZE, VhdFooterError, check_fixed_vhd
from gallery_publisher.urls import UnsafeUrlPathError, blob_location, redact_url


class SourceChecker:
    """Reads blobs from the one storage account the emulator is configured with (Azurite)."""

    def __init__(self, connection_string: str) -> None:
        self._service = BlobServiceClient.from_connection_string(connection_string)
        self._endpoint = self._service.url.rstrip("/")

    def problem(self, uri: str) -> str | None:
        """Why this source cannot make an image version, or None when it can."""
        shown = redact_url(uri)
        if "snapshot" in parse_qs(urlsplit(uri).query):
            # Our reading: the API documents `uri` as "vhd/blob source" and no example or report shows a
            # blob snapshot (`?snapshot=`) accepted there, so the stand-in refuses one.
            return f"The source URI {shown} names a blob snapshot; give the URI of the VHD blob itself."
        if not shown.startswith(self._endpoint + "/"):
            return (
                f"The source blob {shown} is not in the storage account this gallery can read "
                f"({self._endpoint}): upload the VHD there and use its URI."
            )
        try:
            location = blob_location(shown, self._endpoint)
        except UnsafeUrlPathError:
            location = None
        if location is None:
            return f"The source URI {shown} does not name a container and a blob."
        client = self._service.get_blob_client(*location)
        try:
            properties = client.get_blob_properties()
        except ResourceNotFoundError:
            return f"The source blob {shown} does not exist: upload the VHD before creating the version."
        if properties.blob_type != BlobType.PAGEBLOB:
            return (
                f"The source blob {shown} is a {BlobType(properties.blob_type).value}; an image version needs a page blob "
                "holding a fixed VHD: upload it with blob type PageBlob."
            )
        size = int(properties.size)
        if size < FOOTER_SIZE:
            return f"The source blob {shown} is {size} bytes, too small to hold a VHD footer."
        footer = client.download_blob(offset=size - FOOTER_SIZE, length=FOOTER_SIZE).readall()
        try:
            check_fixed_vhd(size, footer)
        except VhdFooterError as error:
            return f"The source blob {shown} is not a valid fixed VHD: {error}."
        return None
