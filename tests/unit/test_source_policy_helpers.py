"""The source policy's helpers on their own near-misses, and the request's dry-run default.

Every host the URL tests try is refused by an earlier rule, so these helpers were never exercised
alone: a mutant that made every host count as loopback passed the whole suite. Each case here sits
one character from the other answer.
"""

from __future__ import annotations

import pytest

from gallery_publisher.planning.plan import PublishRequest
from gallery_publisher.planning.settings import load_settings
from gallery_publisher.source.policy import (
    _DNS_NAME,
    SourceNotAllowedError,
    _is_loopback_name,
    _looks_numeric,
    check_source_url,
)


@pytest.mark.parametrize(
    "host", ["a", "a1", "1a", "a-b", "a--b", "bucket.s3.amazonaws.com", "x.y-z.c0m", "0a.1b"]
)
def test_plain_dns_names_pass_the_name_rule(host: str) -> None:
    assert _DNS_NAME.fullmatch(host)


@pytest.mark.parametrize(
    "host",
    ["-a", "a-", "a.-b", "a.b-", "a..b", ".a", "a.", "a_b", "A.b", "a b", "a/b", "ä.com", "a.b.", ""],
)
def test_near_miss_names_fail_the_name_rule(host: str) -> None:
    assert not _DNS_NAME.fullmatch(host)


@pytest.mark.parametrize("host", ["2130706433", "a.1", "a.0x7f", "a.0x", "0177.0.0.1", "a.b.017", "a.9."])
def test_a_last_label_that_is_a_number_counts_as_numeric(host: str) -> None:
    assert _looks_numeric(host)


@pytest.mark.parametrize("host", ["a.1b", "a.b1", "1.a", "a.0xg", "a.x7f", "a.b", "0x7f.a", "a.1-2"])
def test_a_last_label_with_a_letter_is_not_numeric(host: str) -> None:
    assert not _looks_numeric(host)


@pytest.mark.parametrize("host", ["localhost", "127.0.0.1", "127.255.255.254", "::1"])
def test_loopback_names_and_addresses_count_as_loopback(host: str) -> None:
    assert _is_loopback_name(host)


@pytest.mark.parametrize(
    "host",
    ["localhost.", "localhost.example", "mylocalhost", "128.0.0.1", "126.255.255.255", "::2", "0.0.0.0",
     "example.com", "any-host", ""],
)  # fmt: skip
def test_near_misses_do_not_count_as_loopback(host: str) -> None:
    assert not _is_loopback_name(host)


def test_local_mode_lets_plain_http_reach_loopback_and_no_other_host() -> None:
    local = load_settings({"GALLERY_PUBLISHER_LOCAL_MODE": "true"})
    check_source_url("http://127.0.0.1:8080/AlmaLinux-9-Azure-9.6-20250522.0.x86_64.raw", local)
    with pytest.raises(SourceNotAllowedError, match="must use https"):
        check_source_url("http://any-host/AlmaLinux-9-Azure-9.6-20250522.0.x86_64.raw", local)


def test_a_request_is_a_dry_run_unless_it_says_otherwise() -> None:
    assert PublishRequest("AlmaLinux-9-Azure-9.6-20250522.0.x86_64.raw").dry_run is True
