"""The source policy's refusals, each with the reason it gives: user info, hosts, ports, and every
kind of address a job may not connect to."""

from __future__ import annotations

import ipaddress

import pytest

from gallery_publisher.planning.settings import Settings, load_settings
from gallery_publisher.source.policy import (
    SourceGuard,
    SourceNotAllowedError,
    address_problem,
    check_source_url,
    system_resolver,
)

SETTINGS = load_settings({})
LOCAL = load_settings({"GALLERY_PUBLISHER_LOCAL_MODE": "true"})
NAME = "AlmaLinux-9-Azure-9.6-20250522.0.x86_64.raw"


def _refusal(url: str, settings: Settings = SETTINGS) -> str:
    with pytest.raises(SourceNotAllowedError) as refused:
        check_source_url(url, settings)
    return str(refused.value)


def _pin_refusal(addresses: list[str]) -> str:
    guard = SourceGuard(SETTINGS, resolver=lambda host, port: addresses)
    with pytest.raises(SourceNotAllowedError) as refused:
        guard.pin(f"https://b.s3.amazonaws.com/{NAME}")
    return str(refused.value)


@pytest.mark.parametrize("user_info", ["user@", "user:pw@", ":pw@"])
def test_a_url_with_a_user_name_or_a_password_is_refused(user_info: str) -> None:
    message = _refusal(f"https://{user_info}b.s3.amazonaws.com/{NAME}")
    assert (
        message
        == f"source URL https://b.s3.amazonaws.com/{NAME} carries a user name or password: put none in the URL"
    )


def test_a_url_without_a_host_is_refused() -> None:
    assert _refusal(f"https:///{NAME}") == f"source URL 'https:///{NAME}' names no host"


def test_the_refusal_of_a_port_lists_every_allowed_port() -> None:
    settings = load_settings({"GALLERY_PUBLISHER_ALLOWED_SOURCE_PORTS": "443,8443"})
    assert _refusal(f"https://b.s3.amazonaws.com:444/{NAME}", settings) == (
        f"source URL https://b.s3.amazonaws.com:444/{NAME} uses port 444; allowed: 443, 8443 "
        "(set GALLERY_PUBLISHER_ALLOWED_SOURCE_PORTS to add one)"
    )


def test_without_a_blob_endpoint_only_the_configured_hosts_are_allowed() -> None:
    settings = Settings(allowed_source_hosts=("*.s3.amazonaws.com",), blob_endpoint="")
    check_source_url(f"https://b.s3.amazonaws.com/{NAME}", settings)
    for host in ("xxxx", "example.com"):
        assert _refusal(f"https://{host}/{NAME}", settings).startswith(f"source host '{host}' is not allowed")


def test_plain_http_to_loopback_in_local_mode_connects_to_port_80() -> None:
    target = SourceGuard(LOCAL).pin(f"http://127.0.0.1/{NAME}")
    assert (target.scheme, target.host, target.port, target.address) == ("http", "127.0.0.1", 80, "127.0.0.1")


def test_the_system_resolver_answers_each_address_once_as_text() -> None:
    assert system_resolver("127.0.0.1", 443) == ["127.0.0.1"]


@pytest.mark.parametrize(
    ("address", "reason"),
    [
        ("168.63.129.16", "Azure's platform endpoint (WireServer)"),
        ("::ffff:168.63.129.16", "Azure's platform endpoint (WireServer)"),  # where packets end up
        ("192.0.0.192", "a cloud metadata endpoint"),
        ("127.0.0.1", "a loopback address"),
        ("0.0.0.0", "the unspecified address"),
        ("169.254.169.254", "a link-local address (cloud metadata lives there)"),
        ("224.0.0.1", "a multicast address"),
        ("10.0.0.1", "a private address"),
        ("64:ff9b::a00:1", "a private address"),  # NAT64 of 10.0.0.1
        ("4000::1", "a reserved address"),
        ("100.64.0.1", "not a public address"),  # carrier-grade NAT: neither private nor global
    ],
)
def test_every_kind_of_address_a_job_may_not_reach_is_named(address: str, reason: str) -> None:
    assert address_problem(ipaddress.ip_address(address), local_mode=False) == reason
    assert _pin_refusal([address]) == (
        f"source host 'b.s3.amazonaws.com' resolves to {ipaddress.ip_address(address)}, {reason}: refusing to connect"
    )


def test_loopback_is_allowed_in_local_mode_only() -> None:
    assert address_problem(ipaddress.ip_address("127.0.0.1"), local_mode=True) is None
    assert address_problem(ipaddress.ip_address("8.8.8.8"), local_mode=False) is None


def test_an_ipv6_zone_is_left_out_of_the_address_checked_and_named() -> None:
    assert _pin_refusal(["fe80::1%eth0"]) == (
        "source host 'b.s3.amazonaws.com' resolves to fe80::1, a link-local address (cloud metadata lives "
        "there): refusing to connect"
    )
