"""Blob URLs are split into container and blob name by one function, urls.blob_location: decoded
once, only under the configured endpoint, never with a query or fragment in the name."""

from __future__ import annotations

import pytest

from gallery_publisher.errors import PublishError
from gallery_publisher.planning.settings import Settings
from gallery_publisher.staging.storage import blob_client_for_url
from gallery_publisher.urls import UnsafeUrlPathError, blob_location

AZURE = "https://almalinux.blob.core.windows.net"
AZURITE = "http://127.0.0.1:10000/devstoreaccount1"


@pytest.mark.parametrize(
    ("url", "endpoint", "expected"),
    [
        (f"{AZURE}/9-default/almalinux-9.6-x86_64.20250522-01.vhd", AZURE,
         ("9-default", "almalinux-9.6-x86_64.20250522-01.vhd")),
        (f"{AZURITE}/9-default/a.vhd", AZURITE + "/", ("9-default", "a.vhd")),
        (f"{AZURE}/c/folder/inner/a.vhd", AZURE, ("c", "folder/inner/a.vhd")),
        (f"{AZURE}/c/a%20b%2541.vhd", AZURE, ("c", "a b%41.vhd")),
        (f"{AZURE}/c/a.vhd?sig=SECRET#part", AZURE, ("c", "a.vhd")),
    ],
)  # fmt: skip
def test_a_blob_url_under_the_endpoint_names_its_container_and_blob_decoded_once(
    url: str, endpoint: str, expected: tuple[str, str]
) -> None:
    assert blob_location(url, endpoint) == expected


@pytest.mark.parametrize(
    "url",
    [
        "https://other.blob.core.windows.net/c/a.vhd",
        f"{AZURE}x/c/a.vhd",
        f"{AZURE}/c",
        f"{AZURE}/c/",
        f"{AZURE}//a.vhd",
    ],
)
def test_a_url_outside_the_endpoint_or_without_a_blob_name_has_no_location(url: str) -> None:
    assert blob_location(url, AZURE) is None


@pytest.mark.parametrize("url", [f"{AZURE}/c/../d/a.vhd", f"{AZURE}/c%2Fd/a.vhd", f"{AZURE}/c/%ff.vhd"])
def test_a_path_that_could_name_two_blobs_is_refused(url: str) -> None:
    with pytest.raises(UnsafeUrlPathError):
        blob_location(url, AZURE)


def test_the_storage_client_for_a_url_is_the_blob_the_location_names() -> None:
    settings = Settings(
        storage_connection_string=(
            "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=a2V5;"
            f"BlobEndpoint={AZURITE};"
        )
    )
    client = blob_client_for_url(f"{AZURITE}/9-default/dir/a%20b.vhd", settings)
    assert (client.container_name, client.blob_name) == ("9-default", "dir/a b.vhd")
    with pytest.raises(PublishError, match="is not a blob URL"):
        blob_client_for_url(f"{AZURITE}/9-default", settings)
    with pytest.raises(PublishError, match="is not in the storage account"):
        blob_client_for_url("http://127.0.0.1:10000/otheraccount/c/a.vhd", settings)
