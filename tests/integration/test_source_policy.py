"""SSRF: the URL policy, the address policy after name resolution, pinned connections and redirects.

Names resolve through a resolver the test passes in (never the network); the only connections made
go to loopback servers, reached under made-up names in local mode."""

from __future__ import annotations

import dataclasses
import ipaddress
import ssl
from collections.abc import Iterator
from pathlib import Path

import pytest
import trustme

from gallery_publisher.planning.settings import load_settings
from gallery_publisher.source.pinned_http import GuardedClient
from gallery_publisher.source.policy import (
    SourceGuard,
    SourceNotAllowedError,
    address_problem,
    check_source_url,
)
from gallery_publisher.source.reader import RetryPolicy, open_source
from tests.support.scripted_server import Answer, ScriptedServer, scripted_server

SETTINGS = load_settings({})
LOCAL = load_settings({"GALLERY_PUBLISHER_LOCAL_MODE": "true"})
# Local mode, with made-up names allowed so https to them can be pinned to a loopback server.
LOCAL_NAMED = load_settings(
    {"GALLERY_PUBLISHER_LOCAL_MODE": "true", "GALLERY_PUBLISHER_ALLOWED_SOURCE_HOSTS": "*.images.test"}
)
FAST = RetryPolicy(attempts=2, first_backoff=0.01, stall_timeout=2)
BUCKET = "https://b.s3.amazonaws.com/AlmaLinux-9-Azure-9.6-20250522.0.x86_64.raw"


class FakeDns:
    """Answers from a table, one list per call in turn (the last repeats); records every question."""

    def __init__(self, answers: dict[str, list[list[str]]]) -> None:
        self.answers = answers
        self.questions: list[str] = []

    def __call__(self, host: str, port: int) -> list[str]:
        self.questions.append(host)
        turns = self.answers.get(host)
        if not turns:
            raise OSError(f"[Errno -2] Name or service not known: {host}")
        return turns.pop(0) if len(turns) > 1 else turns[0]


@pytest.mark.parametrize(
    "url",
    [
        "https://10.0.0.5/x.raw",
        "https://8.8.8.8/x.raw",
        "https://[2606:4700::1111]/x.raw",
        "https://[::ffff:169.254.169.254]/x.raw",
        "https://2130706433/x.raw",  # 127.0.0.1 as one decimal number
        "https://0x7f000001/x.raw",
        "https://0177.0.0.1/x.raw",
        "https://127.1/x.raw",
        "https://b.s3.amazonaws.com.0x7f.1/x.raw",
        "https://%62.s3.amazonaws.com/x.raw",
        "https://b.s3.amazonaws.com%00.evil.example/x.raw",
        "https://b\u0455.s3.amazonaws.com/x.raw",  # Cyrillic dze, looks like s
        "https://b.s3.amazonaws.com\\@evil.example/x.raw",
        "https:///x.raw",
    ],
)
def test_ip_literals_and_odd_hosts_are_refused_before_any_lookup(url: str) -> None:
    with pytest.raises(SourceNotAllowedError):
        check_source_url(url, SETTINGS)
    dns = FakeDns({})
    with pytest.raises(SourceNotAllowedError):
        SourceGuard(SETTINGS, dns).pin(url)
    assert dns.questions == []


@pytest.mark.parametrize(
    ("address", "reason"),
    [
        ("127.0.0.1", "a loopback address"),
        ("::1", "a loopback address"),
        ("::ffff:127.0.0.1", "a loopback address"),
        ("0.0.0.0", "the unspecified address"),
        ("::", "the unspecified address"),
        ("169.254.169.254", "a link-local address (cloud metadata lives there)"),
        ("fe80::1", "a link-local address (cloud metadata lives there)"),
        ("::ffff:169.254.169.254", "a link-local address (cloud metadata lives there)"),
        ("224.0.0.251", "a multicast address"),
        ("ff02::1", "a multicast address"),
        ("10.1.2.3", "a private address"),
        ("172.16.0.1", "a private address"),
        ("192.168.1.1", "a private address"),
        ("fc00::1", "a private address"),
        ("2002:a00:1::1", "a private address"),  # 6to4 wrapping 10.0.0.1
        (
            "64:ff9b::a9fe:a9fe",
            "a link-local address (cloud metadata lives there)",
        ),  # NAT64 wrapping 169.254.169.254
        ("240.0.0.1", "a private address"),  # reserved, which Python also counts as private
        ("100.64.0.1", "not a public address"),  # carrier-grade NAT
        ("192.0.2.1", "a private address"),  # documentation
        ("fec0::1", "a site-local address"),  # deprecated site-local, which Python counts as global
    ],
)
def test_internal_addresses_are_refused(address: str, reason: str) -> None:
    problem = address_problem(ipaddress.ip_address(address), local_mode=False)
    assert problem == reason


@pytest.mark.parametrize("address", ["52.216.8.1", "2600:1f18::1", "::ffff:52.216.8.1"])
def test_public_addresses_pass(address: str) -> None:
    assert address_problem(ipaddress.ip_address(address), local_mode=False) is None


def test_local_mode_allows_loopback_and_nothing_else_internal() -> None:
    assert address_problem(ipaddress.ip_address("127.0.0.1"), local_mode=True) is None
    assert address_problem(ipaddress.ip_address("::1"), local_mode=True) is None
    assert address_problem(ipaddress.ip_address("10.0.0.1"), local_mode=True) == "a private address"


def test_pin_resolves_once_and_returns_the_checked_address() -> None:
    dns = FakeDns({"b.s3.amazonaws.com": [["52.216.8.1", "52.216.8.2"]]})
    target = SourceGuard(SETTINGS, dns).pin(BUCKET + "?X-Amz-Signature=s")
    assert (target.scheme, target.host, target.port, target.address) == (
        "https",
        "b.s3.amazonaws.com",
        443,
        "52.216.8.1",
    )
    assert dns.questions == ["b.s3.amazonaws.com"]


@pytest.mark.parametrize(
    "answer",
    [["10.0.0.8"], ["169.254.169.254"], ["52.216.8.1", "127.0.0.1"], ["::ffff:10.0.0.8"], ["fd00::5"], []],
)
def test_an_allowed_name_resolving_inward_is_refused(answer: list[str]) -> None:
    dns = FakeDns({"b.s3.amazonaws.com": [answer]})
    with pytest.raises(SourceNotAllowedError, match="resolves to") as refused:
        SourceGuard(SETTINGS, dns).pin(BUCKET + "?X-Amz-Signature=s3cr3t")
    assert "s3cr3t" not in str(refused.value)


def test_a_name_that_does_not_resolve_is_an_os_error_the_download_retries() -> None:
    with pytest.raises(OSError, match="not known"):
        SourceGuard(SETTINGS, FakeDns({})).pin(BUCKET)


def test_a_guarded_download_reads_no_local_file(tmp_path: Path) -> None:
    secret = tmp_path / "secret.raw"
    secret.write_bytes(b"x" * 4096)
    for location in (str(secret), secret.as_uri()):
        with pytest.raises(SourceNotAllowedError, match="http"):
            open_source(location, guard=SourceGuard(LOCAL))


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> tuple[ssl.SSLContext, str]:
    ca = trustme.CA()
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("disk.images.test").configure_cert(context)
    bundle = tmp_path_factory.mktemp("ca") / "ca.pem"
    ca.cert_pem.write_to_path(str(bundle))
    return context, str(bundle)


def test_pinned_https_keeps_host_sni_and_certificate_of_the_name(tls: tuple[ssl.SSLContext, str]) -> None:
    context, bundle = tls
    with scripted_server(lambda path: Answer(200, body=b"disk bytes"), tls=context) as server:
        # The name exists nowhere but in this resolver: a connection that resolved it again would fail.
        dns = FakeDns({"disk.images.test": [["127.0.0.1"], ["10.9.9.9"]]})
        # https on the test server's port, which a setting must allow (443 only by default).
        settings = dataclasses.replace(LOCAL_NAMED, allowed_source_ports=(server.port,))
        client = GuardedClient(SourceGuard(settings, dns))
        url = server.url("disk.images.test", "/x.raw", scheme="https")
        response = client.get(url, verify=bundle, timeout=5)
        assert response.content == b"disk bytes"
        assert server.arrivals[-1].host == f"disk.images.test:{server.port}"
        assert server.server_names == ["disk.images.test"]
        # The next request resolves again and finds the name now points inward: refused, not sent.
        with pytest.raises(SourceNotAllowedError, match=r"resolves to 10\.9\.9\.9, a private address"):
            client.get(url, verify=bundle, timeout=5)
        assert len(server.arrivals) == 1
        assert dns.questions == ["disk.images.test", "disk.images.test"]
        client.close()


@pytest.fixture
def redirector() -> Iterator[tuple[ScriptedServer, dict[str, str]]]:
    """Redirects `path` to `routes[path]`; any other path answers a one-sector RAW."""
    routes: dict[str, str] = {}

    def answer(path: str) -> Answer:
        if path.split("?", 1)[0] in routes:
            return Answer(302, {"Location": routes[path.split("?", 1)[0]]})
        return Answer(200, {"ETag": '"1"'}, bytes(512))

    with scripted_server(answer) as server:
        yield server, routes


@pytest.mark.parametrize(
    ("location", "reason"),
    [
        ("http://169.254.169.254/latest/meta-data/", "must use https"),
        ("https://169.254.169.254/latest/meta-data/", "names an IP address"),
        ("https://[fd00::1]/x.raw", "names an IP address"),
        ("https://2130706433/x.raw", "not a plain DNS name"),
        ("file:///etc/passwd", "must use https"),
        ("ftp://b.s3.amazonaws.com/x.raw", "must use https"),
        ("https://evil.example/x.raw", "is not allowed"),
        ("https://user:pw@b.s3.amazonaws.com/x.raw", "user name or password"),
        ("https://inward.images.test/x.raw", r"resolves to 10\.0\.0\.9"),
        ("http://10.0.0.1:8080/x.raw", "must use https"),
    ],
)
def test_a_redirect_to_a_refused_url_fails_clearly(
    redirector: tuple[ScriptedServer, dict[str, str]], location: str, reason: str
) -> None:
    server, routes = redirector
    routes["/AlmaLinux-9-Azure-9.6-20250522.0.x86_64.raw"] = location
    dns = FakeDns({"inward.images.test": [["10.0.0.9"]]})
    url = server.url("127.0.0.1", "/AlmaLinux-9-Azure-9.6-20250522.0.x86_64.raw?sig=s3cr3t")
    with pytest.raises(SourceNotAllowedError, match=reason) as refused:
        open_source(url, guard=SourceGuard(LOCAL_NAMED, dns), policy=FAST)
    assert "redirects to" in str(refused.value)
    assert "s3cr3t" not in str(refused.value)
    assert len(server.arrivals) == 1  # the refused hop was never requested


def test_allowed_redirects_are_followed_and_checked_each_time(
    redirector: tuple[ScriptedServer, dict[str, str]],
) -> None:
    server, routes = redirector
    routes["/a"] = "/b"
    routes["/b"] = server.url("localhost", "/c")
    dns = FakeDns({"localhost": [["127.0.0.1"]]})
    with open_source(server.url("127.0.0.1", "/a"), guard=SourceGuard(LOCAL, dns), policy=FAST) as source:
        assert source.size == 512
    assert [arrival.path for arrival in server.arrivals] == ["/a", "/b", "/c"]
    assert dns.questions == ["localhost"]


def test_redirects_are_bounded(redirector: tuple[ScriptedServer, dict[str, str]]) -> None:
    server, routes = redirector
    for hop in range(10):
        routes[f"/{hop}"] = f"/{hop + 1}"
    with pytest.raises(SourceNotAllowedError, match="redirects more than 5 times"):
        open_source(server.url("127.0.0.1", "/0"), guard=SourceGuard(LOCAL), policy=FAST)
    assert len(server.arrivals) == 6
