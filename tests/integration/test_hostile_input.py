"""Hostile input: file names, URLs, redirects, JSON bodies and settings, hand-written and generated.

Every case must end in a 400 from the HTTP starter or a clear PublishError (SettingsError,
ImageNameError, SourceNotAllowedError, RequestError), never a 500 or another exception; the HTTP
cases run against the real app on the local stack, which must afterwards hold no orchestration,
no new blob and no new gallery version."""

from __future__ import annotations

import ipaddress
import json
import os
import socket
import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import quote

import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gallery_publisher.errors import ImageNameError, PublishError, SettingsError
from gallery_publisher.input_guard import InputRefusedError, check_stage_input
from gallery_publisher.jobs.report import JobResult, RegionState, VersionOutcome, render_markdown
from gallery_publisher.jobs.request import RequestError, parse_job_request
from gallery_publisher.planning.image_names import parse_image_name
from gallery_publisher.planning.plan import make_plan
from gallery_publisher.planning.settings import load_settings
from gallery_publisher.source.checksum import ChecksumError, parse_sha256sum
from gallery_publisher.source.policy import (
    SourceGuard,
    SourceNotAllowedError,
    address_problem,
    check_source_url,
)
from gallery_publisher.source.reader import RetryPolicy, SourceError, open_source
from local.stack import LocalStack, StackOptions, local_stack
from tests.support.app_support import key_header, put_vhd_blob, snapshot
from tests.support.scripted_server import Answer, ScriptedServer, scripted_server

VALID = "AlmaLinux-9-Azure-9.6-20250522.0.x86_64.raw"
PRODUCTION = load_settings({})
LOCAL = load_settings({"GALLERY_PUBLISHER_LOCAL_MODE": "true"})
GENERATED: Counter[str] = Counter()  # examples hypothesis tried, per kind

NAME_CASES = [
    "", " ", ".", "..", "/", "\\", "?", "#", "%", "%00", "\x00",
    f"../{VALID}", f"..\\{VALID}", f"a/../{VALID}", f"{VALID}/..", f"..\\..\\{VALID}",
    f"{VALID}\x00", f"{VALID}\x00.txt", f"\x00{VALID}", f"{VALID}\n", f"{VALID}\r\nX-Injected: 1",
    f"{VALID}\t", f" {VALID}", f"{VALID} ", f".{VALID}", f"{VALID}.", f"{VALID}%00",
    f"{VALID}%2F..%2F..%2Fetc%2Fpasswd", f"x%2F..%2F{VALID}", f"{VALID}.vhd", f"{VALID}.qcow2",
    VALID.upper(), VALID.lower(), VALID.replace("A", "\u0410", 1),  # Cyrillic A
    VALID.replace("9", "\uff19"),  # fullwidth 9
    VALID.replace("9", "\u0669"),  # Arabic-Indic 9
    VALID.replace("2025", "\u0662\u0660\u0662\u0665"),
    VALID.replace(".raw", ".r\u200baw"),  # zero-width space
    "\u202e" + VALID,  # right-to-left override
    VALID.replace("x86_64", "x86_64\U0001f600"),
    "AlmaLinux-9-Azure-9.6-20251340.0.x86_64.raw",  # month 13
    "AlmaLinux-9-Azure-9.6-20250230.0.x86_64.raw",  # February 30
    "AlmaLinux-9-Azure-8.10-20250522.0.x86_64.raw",  # major and release disagree
    "AlmaLinux-9-Azure-9.6-20250522.0-64k.x86_64.raw",  # 64k on x86_64
    "AlmaLinux-8-Azure-8.10-20250522.0-64k.aarch64.raw",  # 64k on 8
    "AlmaLinux-9-Azure-9.6-20250522.0.ppc64le.raw",
    "AlmaLinux-9-Azure-9.6-2025052.0.x86_64.raw",
    "AlmaLinux-9-Azure-9.6-19990522.0.x86_64.raw",
    "AlmaLinux-9-Azure-9.6-20250522..x86_64.raw",
    "AlmaLinux-Kitten-Azure-9-20250522.0.x86_64.raw",
    "almalinux-9.6-x86_64.20250522-1.vhd",
    "almalinux-9.6-x86_64.20250522-001.vhd",
    "AlmaLinux-9-Azure-9.6-20250522." + "9" * 5000 + ".x86_64.raw",
    "A" * 100_000,
    "<script>alert(1)</script>.raw",
    "'; DROP TABLE images; --.raw",
    "${jndi:ldap://evil.example/a}.raw",
]  # fmt: skip

# Hosts a request must never reach; (host, refused even in local mode).
HOSTILE_HOSTS: list[tuple[str, bool]] = [
    ("localhost", False), ("127.0.0.1", False), ("[::1]", False), ("127.1", True), ("2130706433", True),
    ("0x7f000001", True), ("0177.0.0.1", True), ("0.0.0.0", True), ("[::]", True),
    ("169.254.169.254", True), ("[::ffff:169.254.169.254]", True), ("[fe80::1]", True), ("10.0.0.1", True),
    ("192.168.0.1", True), ("172.16.0.1", True), ("[fd00::1]", True), ("224.0.0.1", True),
    ("metadata.google.internal", True), ("evil.example", True), ("s3.amazonaws.com.evil.example", True),
    ("b.s3.amazonaws.com.", True), ("b.s3.amazonaws.com%2eevil.example", True), ("b\u0455.s3.amazonaws.com", True),
    ("xn--80ak6aa92e.com", True), ("almalinux.blob.core.windows.net.evil.example", True),
]  # fmt: skip


def _url_cases() -> list[tuple[str, bool]]:
    """(URL, refused even in local mode): hostile hosts under each scheme, and hostile URL shapes."""
    cases = [(f"{scheme}://{host}/{VALID}", strict) for host, strict in HOSTILE_HOSTS
             for scheme in ("https", "http", "ftp", "gopher")]  # fmt: skip
    bucket = "b.s3.amazonaws.com"
    cases += [
        (f"file:///{VALID}", True), (f"file://{bucket}/{VALID}", True), (f"FILE:///etc/{VALID}", True),
        (f"https://user:pass@{bucket}/{VALID}", True), (f"https://user@{bucket}/{VALID}", True),
        (f"https://:@{bucket}/{VALID}", True), (f"https://{bucket}@169.254.169.254/{VALID}", True),
        (f"https://169.254.169.254#@{bucket}/{VALID}", True), (f"https://{bucket}:99999/{VALID}", True),
        (f"https://{bucket}:-1/{VALID}", True), (f"https://{bucket}:port/{VALID}", True),
        (f"https://[{bucket}]/{VALID}", True), (f"https://{bucket}\\@evil.example/{VALID}", True),
        (f"https:/{bucket}/{VALID}", True), (f"https:{bucket}/{VALID}", True), (f"//{bucket}/{VALID}", True),
        (f"{bucket}/{VALID}", True), (VALID, True), (f"https://{bucket}/../{VALID}/..", True),
        (f"https://{bucket}/{VALID}?" + "a=" + "x" * 5000, True), (f"https://{bucket}/" + "d/" * 3000 + VALID, True),
        (f"https://{bucket}/a%2F..%2F{VALID}%00", True), (f"https://{bucket}/{VALID}%0d%0aX: 1", True),
        (f"https://{bucket}/{VALID}\x00", True), (f"https://{bucket}/{VALID}\x7f", True),
        (f"https://{bucket}/\u202e{VALID}", True), (f"https://{bucket}/%E2%80%AE{VALID}", True),
        (f"https://{bucket}/not-an-image.qcow2", True), (f"https://{bucket}/{VALID}/", True),
        (f"javascript://{bucket}/{VALID}", True), (f"data://text/plain,{VALID}", True),
        (f"https://{bucket}\t/{VALID}", True), (f"https://{bucket} /{VALID}", True),
        # One URL, one object: decoded once, no encoded '/', no '.' or '..' segments (issue 11, part 5).
        (f"https://{bucket}/9-default/%2e%2e/kitten-10/{VALID}", True), (f"https://{bucket}/a/%2E/{VALID}", True),
        (f"https://{bucket}/a/./{VALID}", True), (f"https://{bucket}/a%2fb/{VALID}", True),
        (f"https://{bucket}/a%5C..%5C{VALID}", True), (f"https://{bucket}/%ff/{VALID}", True),
        (f"https://{bucket}/%2e%2e/{VALID}", True), (f"https://{bucket}/.%2e/{VALID}", True),
        # Markdown and mentions in a path (part 6).
        *[(f"https://{bucket}/{bad}/{VALID}", True)
          for bad in ("@channel", "[x](https:%2F%2Fevil.example)", "![x](y)", "%40here", "%5Bx%5D", "%3Cimg%3E", "a!b", "(x)")],
        # Ports other than 443 (part 9).
        (f"https://{bucket}:8443/{VALID}", True), (f"https://{bucket}:80/{VALID}", True), (f"https://{bucket}:22/{VALID}", True),
    ]  # fmt: skip
    return cases


URL_CASES = _url_cases()
SETTINGS_CASES: list[tuple[str, str]] = [
    (variable, value)
    for variable, values in {
        "GALLERY_PUBLISHER_VERSION_DEADLINE_MINUTES": ["0", "-1", "1e3", "\u00b2", "2\u00b2", "\u0669", "9" * 400, "10081", "1 0", "0x10"],
        "GALLERY_PUBLISHER_POLL_SECONDS": ["0", "3601", "\u00b9", "NaN", "inf", "1.5", "\x00"],
        "GALLERY_PUBLISHER_TARGET_REGIONS": ["eastus=0", "eastus=101", "eastus=\u00b2", "eastus=1,eastus=2", "east us=1",
                                             "eastus=1;rm -rf /", ",", "eastus=" + "9" * 5000, "../eastus=1"],
        "GALLERY_PUBLISHER_LOCAL_MODE": ["maybe", "tru", "\x00", "1\n0"],
        "GALLERY_PUBLISHER_EXCLUDE_FROM_LATEST": ["2", "yes please"],
        "GALLERY_PUBLISHER_BLOB_TRIGGER_DRY_RUN": ["nope"],
        "GALLERY_PUBLISHER_STORAGE_ACCOUNT": ["UPPER", "a", "x" * 25, "acc-ount", "acc\x00ount", "\u0430ccount"],
        "GALLERY_PUBLISHER_RESOURCE_GROUP": ["rg/../other", "rg?x=1", "x" * 91, "rg."],
        "GALLERY_PUBLISHER_CI_GALLERY": ["a", "gallery/other", "-gallery", "gal lery", "g" * 81],
        "GALLERY_PUBLISHER_STORAGE_ACCOUNT_TYPE": ["Premium_ZRS", "standard_lrs"],
        "GALLERY_PUBLISHER_REPLICATION_MODE": ["full", "Deep"],
        "GALLERY_PUBLISHER_END_OF_LIFE_DATE": ["2030-13-01", "tomorrow", "2030-02-30"],
        "GALLERY_PUBLISHER_BLOB_ENDPOINT": ["ftp://x", "https://h/?sas=1", "https://a b", "javascript:alert(1)"],
        "GALLERY_PUBLISHER_ARM_ENDPOINT": ["https://h/path", "file:///etc", "https://h?x=1"],
        "GALLERY_PUBLISHER_STORAGE_ACCOUNT_ID": ["/etc/passwd", "subscriptions/x"],
        "GALLERY_PUBLISHER_MATTERMOST_WEBHOOK_URL": ["http://chat.example/hooks/x", "ftp://x", "http://127.0.0.1/hooks"],
        "GALLERY_PUBLISHER_ALLOWED_SOURCE_HOSTS": ["*", "*.*", "*.com", "evil.example/path", "host:443", "h\u0455.com", "[::1]"],
        "GALLERY_PUBLISHER_NEVER_PUBLIC": ["9 default", "9/default", "", " ", ",", "kitten", "kitten-11-*"],
        "GALLERY_PUBLISHER_ALLOWED_SOURCE_PORTS": ["0", "65536", "443;80", "http", "4 43", "\u0664\u0664\u0663", "443,", "-443"],
    }.items()
    for value in values
]  # fmt: skip


@pytest.mark.parametrize("name", NAME_CASES, ids=range(len(NAME_CASES)))
def test_hostile_file_names_get_a_clear_refusal(name: str) -> None:
    with pytest.raises(ImageNameError, match="Could not parse filename") as refused:
        parse_image_name(name)
    assert len(str(refused.value)) < 1200 and "\x00" not in str(refused.value)


@pytest.mark.parametrize(("url", "strict"), URL_CASES, ids=range(len(URL_CASES)))
def test_hostile_urls_are_refused_in_production(url: str, strict: bool) -> None:
    with pytest.raises(PublishError) as refused:
        parse_job_request({"image_url": url, "dry_run": False}, PRODUCTION)
    assert isinstance(refused.value, RequestError | SourceNotAllowedError | ImageNameError)
    assert "x" * 100 not in str(refused.value)  # a huge query is never echoed back


@pytest.mark.parametrize(("variable", "value"), SETTINGS_CASES, ids=range(len(SETTINGS_CASES)))
def test_hostile_settings_are_refused_naming_the_variable(variable: str, value: str) -> None:
    with pytest.raises(SettingsError, match=variable):
        load_settings({variable: value})


REDIRECT_TARGETS = [url for url, strict in URL_CASES if strict and "://" in url][:60]


@pytest.fixture(scope="module")
def redirector() -> Iterator[tuple[ScriptedServer, dict[str, str]]]:
    routes: dict[str, str] = {}

    def answer(path: str) -> Answer:
        target = routes.get(path.split("?", 1)[0])
        return Answer(302, {"Location": target}) if target else Answer(404)

    with scripted_server(answer) as server:
        yield server, routes


def test_redirects_to_hostile_urls_are_refused_before_they_are_followed(
    redirector: tuple[ScriptedServer, dict[str, str]],
) -> None:
    server, routes = redirector
    guard = SourceGuard(LOCAL, lambda host, port: ["10.0.0.1"])  # any name that is looked up points inward
    for number, target in enumerate(REDIRECT_TARGETS):
        routes[f"/{number}/{VALID}"] = target
        before = len(server.arrivals)
        with pytest.raises(SourceNotAllowedError, match="redirects to") as refused:
            open_source(
                server.url("127.0.0.1", f"/{number}/{VALID}"), guard=guard, policy=RetryPolicy(attempts=1)
            )
        assert len(server.arrivals) == before + 1, target
        assert "x" * 100 not in str(refused.value)


@given(st.text(max_size=300))
@settings(max_examples=150, deadline=None)
def test_generated_names_parse_or_are_refused_clearly(name: str) -> None:
    GENERATED["file names"] += 1
    try:
        parsed = parse_image_name(name)
    except ImageNameError as error:
        assert str(error).startswith("Could not parse filename")
    else:
        assert parsed.file_name.isascii() and parsed.file_name.endswith((".raw", ".vhd"))


_hosts = st.sampled_from([host for host, _ in HOSTILE_HOSTS])
_schemes = st.sampled_from(["https", "http", "ftp", "file", "HTTPS", "hTtP", ""])
_junk = st.text(alphabet=st.characters(codec="utf-8"), max_size=40)


@given(_schemes, st.sampled_from(["", "u:p@", "@", "b.s3.amazonaws.com@"]), _hosts, _junk, _junk)
@settings(max_examples=150, deadline=None)
def test_generated_urls_to_hostile_hosts_are_refused(
    scheme: str, userinfo: str, host: str, path: str, query: str
) -> None:
    GENERATED["URLs"] += 1
    url = f"{scheme}://{userinfo}{host}/{path}{VALID}?{query}"
    with pytest.raises(PublishError):
        check_source_url(url, PRODUCTION)
        parse_job_request({"image_url": url}, PRODUCTION)


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=30),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=12,
)
_fields = st.sampled_from(["image_url", "url_type", "dry_run", "public_gallery", "notify", "target_regions",
                           "end_of_life_date", "exclude_from_latest", "replication_mode", "force", ""])  # fmt: skip


@given(st.dictionaries(_fields, _json, max_size=5) | _json)
@settings(max_examples=150, deadline=None)
def test_generated_bodies_are_refused_clearly(body: Any) -> None:
    GENERATED["JSON bodies (core)"] += 1
    with pytest.raises((RequestError, ImageNameError, SourceNotAllowedError)):
        parse_job_request(body, PRODUCTION)


# --- issue 11: addresses, lengths, one URL one blob, Markdown, forged activity inputs -----------

CLOUD_ENDPOINTS = ["168.63.129.16", "::ffff:168.63.129.16", "64:ff9b::a83f:8110", "2002:a83f:8110::1",
                   "192.0.0.192", "::ffff:192.0.0.192"]  # fmt: skip


@pytest.mark.parametrize("address", CLOUD_ENDPOINTS)
def test_cloud_platform_endpoints_are_refused(address: str) -> None:
    """Azure's WireServer is a public address, reachable only from inside Azure: never a source."""
    assert address_problem(ipaddress.ip_address(address), local_mode=True)
    guard = SourceGuard(PRODUCTION, lambda host, port: [address])
    with pytest.raises(SourceNotAllowedError, match="refusing to connect"):
        guard.pin(f"https://b.s3.amazonaws.com/{VALID}")


def test_other_https_ports_need_the_setting() -> None:
    url = f"https://b.s3.amazonaws.com:8443/{VALID}"
    with pytest.raises(SourceNotAllowedError, match="GALLERY_PUBLISHER_ALLOWED_SOURCE_PORTS"):
        check_source_url(url, PRODUCTION)
    check_source_url(url, load_settings({"GALLERY_PUBLISHER_ALLOWED_SOURCE_PORTS": "443,8443"}))
    check_source_url(f"https://b.s3.amazonaws.com:443/{VALID}", PRODUCTION)


@contextmanager
def _answering_with_length(length: str) -> Iterator[str]:
    """A server whose one answer carries exactly this Content-Length header (no second one)."""
    listener = socket.create_server(("127.0.0.1", 0))

    def serve() -> None:
        connection, _ = listener.accept()
        with connection:
            connection.recv(65536)
            head = f"HTTP/1.1 200 OK\r\nContent-Length: {length}\r\nConnection: close\r\n\r\n"
            connection.sendall(head.encode() + bytes(4096))

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}/{VALID}"
    finally:
        listener.close()
        thread.join(timeout=5)


@pytest.mark.parametrize("length", ["9" * 5000, "9" * 30, "1e3", "-1", "0x10", "4096, 4096", "\u0664", "0"])
def test_an_unusable_content_length_is_a_clear_source_error(length: str) -> None:
    with (
        _answering_with_length(length) as url,
        pytest.raises(SourceError, match="no usable length") as refused,
    ):
        open_source(url, guard=SourceGuard(LOCAL), policy=RetryPolicy(attempts=1))
    assert len(str(refused.value)) < 600


def test_a_vhd_url_is_decoded_once_and_published_under_one_spelling() -> None:
    """`%61lmalinux` is `almalinux`: the blob validated and the URI the gallery gets are the same one."""
    url = "https://almalinux.blob.core.windows.net/9-default/%61lmalinux-9.6-x86_64.20250522-01.vhd"
    plan = make_plan(parse_job_request({"image_url": url}, PRODUCTION), PRODUCTION)
    assert (
        plan.blob_url
        == "https://almalinux.blob.core.windows.net/9-default/almalinux-9.6-x86_64.20250522-01.vhd"
    )
    twice = url.replace("%61", "%2561")  # decoded once, that is a name no pattern accepts
    with pytest.raises(ImageNameError):
        parse_job_request({"image_url": twice}, PRODUCTION)
    dotted = "https://almalinux.blob.core.windows.net/9-default/%2e%2e/kitten-10/AlmaLinux-Kitten-Azure-10-20250813.0.x86_64.vhd"
    with pytest.raises(RequestError, match=r"'\.\.' segment"):
        parse_job_request({"image_url": dotted}, PRODUCTION)


HOSTILE_TEXTS = [
    "@channel look at [this](https://evil.example) ![x](https://evil.example/t.png) <img src=x onerror=alert(1)>",
    "`` `@all` `` and ```\n@here\n```", "line one\n\n@here [a]: https://evil.example", "\u2028@channel\r\n<!-- -->",
    "[![badge](https://evil.example/b.svg)](https://evil.example)", "<https://evil.example> <@U123> <!channel>",
]  # fmt: skip


def _assert_inert(summary: str) -> None:
    for line in summary.splitlines():
        assert line.count("`") % 2 == 0, line  # every code span closed where it was opened
    assert not set("@[]!<") & set(summary), summary
    assert "\n\n" not in summary and "\u2028" not in summary


@pytest.mark.parametrize("text", HOSTILE_TEXTS)
def test_hostile_checksum_lines_are_inert_in_the_summary(text: str) -> None:
    """A source bucket's .sha256sum line is quoted in the error; the summary shows it inert."""
    with pytest.raises(ChecksumError) as refused:
        parse_sha256sum(text.replace("\n", " ") + "\n", VALID)
    plan = make_plan(
        parse_job_request({"image_url": f"https://b.s3.amazonaws.com/{VALID}"}, PRODUCTION), PRODUCTION
    )
    failed = JobResult(plan=plan.to_json(), outcome="failed", failed_step="stage", error_code="Checksum",
                       error_message=str(refused.value))  # fmt: skip
    _assert_inert(render_markdown(failed))


@pytest.mark.parametrize("text", HOSTILE_TEXTS)
def test_hostile_azure_error_texts_are_inert_in_the_summary(text: str) -> None:
    plan = make_plan(
        parse_job_request({"image_url": f"https://b.s3.amazonaws.com/{VALID}"}, PRODUCTION), PRODUCTION
    )
    version = VersionOutcome("almalinux_ci", "almalinux-9-gen1", "9.6.2025052201", "Failed",
                             (RegionState(text, text, 40),), 1.0, text, text)  # fmt: skip
    failed = JobResult(plan=plan.to_json(), outcome="failed", versions=(version,), failed_step="publish",
                       error_code=text, error_message=text,
                       staged={"md5": text, "size": 512, "source_verified": False, "source_check": text})  # fmt: skip
    _assert_inert(render_markdown(failed))
    # A forged input whose image name was never parsed is shown inert too.
    unplanned = JobResult(plan={"request": {"image_url": f"https://h/{text}"}}, outcome="failed",
                          failed_step="plan", error_message=text)  # fmt: skip
    _assert_inert(render_markdown(unplanned))


def _stage_plan(source: str) -> dict[str, Any]:
    return make_plan(
        parse_job_request({"image_url": source, "dry_run": False}, PRODUCTION), PRODUCTION
    ).to_json()


def test_forged_stage_inputs_are_refused() -> None:
    kitten = "https://b.s3.amazonaws.com/AlmaLinux-Kitten-Azure-10-20250813.0.x86_64.raw"
    plan = _stage_plan(f"https://b.s3.amazonaws.com/{VALID}")
    check_stage_input(plan, f"https://b.s3.amazonaws.com/{VALID}?X-Amz-Signature=s", PRODUCTION)
    forged = {
        "another source than planned": (plan, kitten),
        "another container": (plan | {"container": "kitten-10"}, f"https://b.s3.amazonaws.com/{VALID}"),
        "another blob name": (plan | {"blob_name": "almalinux-9.6-x86_64.20250522-07.vhd"}, f"https://b.s3.amazonaws.com/{VALID}"),
        "kitten to public": (_stage_plan(kitten) | {"gallery": "almalinux"}, kitten),
        "a host not allowed": (plan | {"source_url": f"https://evil.example/{VALID}"}, f"https://evil.example/{VALID}"),
        "an encoded ..": (plan | {"source_url": f"https://b.s3.amazonaws.com/a/%2e%2e/{VALID}"}, f"https://b.s3.amazonaws.com/a/%2e%2e/{VALID}"),
    }  # fmt: skip
    for bad_plan, source in forged.values():
        with pytest.raises(InputRefusedError, match="nothing was written"):
            check_stage_input(bad_plan, source, PRODUCTION)


# --- the HTTP starter of the real app, on the local stack --------------------------------------


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    with local_stack(StackOptions(workdir=tmp_path_factory.mktemp("hostile"), time_scale=0.002)) as running:
        yield running


def _body_cases(raw_url: str) -> list[tuple[bytes, str]]:
    """(request body, a fragment of the 400's error) for the starter."""

    def dumped(body: Any) -> bytes:
        return json.dumps(body).encode()

    valid = {"image_url": raw_url}
    wrong_types: list[tuple[str, Any]] = [
        ("image_url", 1), ("image_url", True), ("image_url", [raw_url]), ("image_url", {"$ne": 1}), ("image_url", 1.5),
        ("url_type", 1), ("url_type", ["raw"]), ("url_type", "qcow2"), ("url_type", "vhd"),
        ("dry_run", "no"), ("dry_run", 0), ("dry_run", 1), ("dry_run", "false"), ("dry_run", [False]),
        ("public_gallery", "yes"), ("public_gallery", {}), ("notify", 1), ("notify", "true"),
        ("target_regions", 1), ("target_regions", []), ("target_regions", [1, 2]), ("target_regions", [["eastus"]]),
        ("target_regions", "eastus=0"), ("target_regions", "eastus=101"), ("target_regions", "eastus=\u00b2"),
        ("target_regions", "x" * 2000), ("target_regions", "eastus=1,eastus=1"), ("target_regions", {"eastus": 1}),
        ("end_of_life_date", "2030-13-01"), ("end_of_life_date", 20300101), ("end_of_life_date", "yesterday"),
        ("exclude_from_latest", "true"), ("exclude_from_latest", 0),
        ("replication_mode", "full"), ("replication_mode", "Deep"), ("replication_mode", True),
    ]  # fmt: skip
    cases = [(dumped(valid | {field: value}), "") for field, value in wrong_types]
    cases += [
        (b"", "not JSON"), (b"not json", "not JSON"), (b"{", "not JSON"), (b"\xff\xfe{}", "not JSON"),
        (b'{"image_url": "\xff\xfe"}', "not JSON"), (json.dumps(valid).encode("utf-16"), "not JSON"),
        (b"null", "JSON object"), (b"[]", "JSON object"), (b"123", "JSON object"), (b'"a string"', "JSON object"),
        (b"true", "JSON object"), (b"[" * 40000 + b"]" * 40000, "over 64 KiB"), (b"[" * 20000 + b"]" * 20000, "not JSON"),
        (b'{"a":' * 10000 + b"1" + b"}" * 10000, "not JSON"), (b" " * (64 * 1024 + 1) + b"{}", "over 64 KiB"),
        (dumped(valid | {"pad": "x" * (1024 * 1024)}), "over 64 KiB"), (b'{"image_url": NaN}', "must be a str"),
        (b'{"dry_run": Infinity}', "must be a bool"), (b'{"image_url": ' + b"1" * 5000 + b"}", "not JSON"),
        (b'{"image_url": "' + raw_url.encode() + b'", "image_url": "file:///etc/passwd"}', "must use https"),
        (dumped({}), "required"), (dumped({"dry_run": False}), "required"), (dumped({"image_url": ""}), "required"),
        (dumped(valid | {"force": True}), "unknown field"), (dumped(valid | {"__proto__": {"admin": True}}), "unknown field"),
        (dumped(valid | {"": 1}), "unknown field"), (dumped(valid | {"Image_URL": raw_url}), "unknown field"),
        (dumped({"image_url": raw_url + "\x00"}), "control characters"), (dumped({"image_url": raw_url.replace("raw", "r\u0430w")}), "parse"),
    ]  # fmt: skip
    return cases


def _post(stack: LocalStack, body: bytes) -> requests.Response:
    return requests.post(f"{stack.runner.origin}/api/publish", data=body, timeout=30,
                         headers={"Content-Type": "application/json", **key_header(stack)})  # fmt: skip


def _assert_clear_400(response: requests.Response, fragment: str, case: object) -> None:
    assert response.status_code == 400, (case, response.status_code, response.text[:300])
    error = response.json()["error"]
    assert isinstance(error, str) and error and "Traceback" not in error, case
    assert fragment in error, (case, error)


def test_the_starter_answers_every_hostile_request_with_400_and_starts_nothing(stack: LocalStack) -> None:
    stack.raw_path(VALID).write_bytes(bytes(4096))
    before = snapshot(stack)
    body_cases = _body_cases(stack.raw_url(VALID))
    for body, fragment in body_cases:
        _assert_clear_400(_post(stack, body), fragment, body[:80])
    url_cases = [url for url, strict in URL_CASES if strict]
    for url in url_cases:
        _assert_clear_400(
            _post(stack, json.dumps({"image_url": url, "dry_run": False}).encode()), "", url[:80]
        )
    for name in NAME_CASES:
        url = stack.raw_url("") + name.replace("?", "%3F").replace("#", "%23")
        _assert_clear_400(_post(stack, json.dumps({"image_url": url}).encode()), "", name[:80])
    GENERATED["HTTP requests (hand-written)"] = len(body_cases) + len(url_cases) + len(NAME_CASES)
    assert stack.runner.statuses() == []
    assert snapshot(stack) == before


@given(st.dictionaries(_fields, _json, max_size=5) | _json | st.binary(max_size=200))
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_generated_bodies_get_a_400_from_the_starter(stack: LocalStack, body: Any) -> None:
    GENERATED["HTTP bodies (generated)"] += 1
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    response = _post(stack, raw)
    assert response.status_code == 400, (raw[:200], response.text[:200])
    assert stack.runner.statuses() == []


BAD_JOB_IDS = ["x", "...", "publish-a-b", "publish-almalinux_ci-" + VALID + "-0123456789ab:almalinux-9-gen1",
               "publish-almalinux_ci-" + VALID + "-0123456789AB", "%2e%2e", "publish-%2F-0123456789ab",
               "publish-" + "a" * 400 + "-0123456789ab", "@publish-a-0123456789ab", "publish-a b-0123456789ab"]  # fmt: skip


def test_the_status_route_refuses_ids_it_never_made(stack: LocalStack) -> None:
    for bad in BAD_JOB_IDS:
        response = requests.get(
            f"{stack.runner.origin}/api/publish/{quote(bad, safe='')}", headers=key_header(stack), timeout=30
        )
        assert response.status_code == 400, (bad, response.status_code, response.text[:200])
        assert "not a job id" in response.json()["error"]
    missing = requests.get(
        f"{stack.runner.origin}/api/publish/publish-almalinux_ci-{VALID}-0123456789ab",
        headers=key_header(stack),
        timeout=30,
    )
    assert missing.status_code == 404


def _forged_version(stack: LocalStack, container: str, name: str, **fields: Any) -> dict[str, Any]:
    """A `gallery_version` input as publish_image would make it, with `fields` forged."""
    return {
        "gallery": "almalinux_ci", "definition": "", "version": "", "hyper_v_generation": "V2",
        "architecture": "x64", "location": "eastus", "resource_group": "rg-alma-images",
        "source_uri": f"{stack.azurite.blob_endpoint}/{container}/{name}", "source_md5": "",
        "storage_account_id": load_settings(os.environ).storage_account_id,
        "target_regions": [{"name": "eastus", "replicas": 1}], "storage_account_type": "Standard_LRS",
        "replication_mode": "Full", "exclude_from_latest": False, "end_of_life_date": None,
        "deadline_minutes": 60, "poll_seconds": 5, **fields,
    }  # fmt: skip


KITTEN_VHD = ("kitten-10", "AlmaLinux-Kitten-Azure-10-20250813.0.x86_64.vhd")
TEN_VHD = ("almalinux-10", "AlmaLinux-10-Azure-10.0-20250529.0.x86_64.vhd")
SIXTY_FOUR_K_VHD = ("9-arm64-64k", "AlmaLinux-Azure-9.6-202505220-64k.aarch64.vhd")
NINE_VHD = ("9-default", "almalinux-9.6-x86_64.20250522-01.vhd")
FORGED_VERSIONS: list[tuple[str, tuple[str, str], dict[str, Any], str]] = [
    ("Kitten to public", KITTEN_VHD, {"gallery": "almalinux", "definition": "almalinux-ci-kitten-10-x64-gen2",
     "version": "10.20250813.0"}, "never published to the public gallery"),
    ("10.x to public", TEN_VHD, {"gallery": "almalinux", "definition": "almalinux-10-gen2", "version": "10.0.202505290"},
     "never published to the public gallery"),
    ("64k to public", SIXTY_FOUR_K_VHD, {"gallery": "almalinux", "definition": "almalinux-9-arm64-64k",
     "version": "9.6.202505220", "architecture": "Arm64"}, "never published to the public gallery"),
    ("wrong version", NINE_VHD, {"definition": "almalinux-9-gen2", "version": "9.6.2025052299"},
     "is version 9.6.2025052201"),
    ("wrong definition", KITTEN_VHD, {"definition": "almalinux-9-gen2", "version": "10.20250813.0"},
     "goes to almalinux-ci-kitten-10-x64-gen1 and almalinux-ci-kitten-10-x64-gen2"),
    ("another gallery", NINE_VHD, {"gallery": "someone_else", "definition": "almalinux-9-gen2",
     "version": "9.6.2025052201"}, "neither the CI gallery"),
    ("foreign account", NINE_VHD, {"definition": "almalinux-9-gen2", "version": "9.6.2025052201",
     "source_uri": "https://evil.blob.core.windows.net/9-default/almalinux-9.6-x86_64.20250522-01.vhd"},
     "not a blob of the configured storage account"),
    ("foreign account id", NINE_VHD, {"definition": "almalinux-9-gen2", "version": "9.6.2025052201",
     "storage_account_id": "/subscriptions/x/resourceGroups/y/providers/Microsoft.Storage/storageAccounts/evil"},
     "is not the configured one"),
    ("a .. in the source", NINE_VHD, {"definition": "almalinux-9-gen2", "version": "9.6.2025052201",
     "source_uri": "{endpoint}/9-default/%2e%2e/kitten-10/AlmaLinux-Kitten-Azure-10-20250813.0.x86_64.vhd"}, "'..' segment"),
]  # fmt: skip


def test_forged_gallery_version_inputs_publish_nothing(stack: LocalStack) -> None:
    """What a holder of the system key could start directly: each is refused, naming why."""
    for container, name in {KITTEN_VHD, TEN_VHD, SIXTY_FOUR_K_VHD, NINE_VHD}:
        put_vhd_blob(stack, container, name)
    before = snapshot(stack)[1]
    for number, (case, (container, name), fields, reason) in enumerate(FORGED_VERSIONS):
        if "source_uri" in fields:
            fields = fields | {
                "source_uri": fields["source_uri"].replace("{endpoint}", stack.azurite.blob_endpoint)
            }
        instance_id = stack.runner.start_new("gallery_version", _forged_version(stack, container, name, **fields),
                                             f"forged-{number}")  # fmt: skip
        outcome = stack.runner.wait_for(instance_id, 60).output
        assert outcome["state"] == "Failed" and outcome["error_code"] == "InputRefused", (case, outcome)
        assert reason in outcome["error_message"], (case, outcome["error_message"])
    assert snapshot(stack)[1] == before


def test_hostile_case_count() -> None:
    """The hand-written cases alone are at least 200; hypothesis adds its examples on top."""
    hand_written = (len(NAME_CASES) + len(URL_CASES) + len(REDIRECT_TARGETS) + len(SETTINGS_CASES)
                    + len(_body_cases("http://127.0.0.1:1/" + VALID)))  # fmt: skip
    print(f"\nhostile inputs: {hand_written} hand-written (names {len(NAME_CASES)}, URLs {len(URL_CASES)}, "
          f"redirect targets {len(REDIRECT_TARGETS)}, settings {len(SETTINGS_CASES)}, bodies "
          f"{hand_written - len(NAME_CASES) - len(URL_CASES) - len(REDIRECT_TARGETS) - len(SETTINGS_CASES)}); "
          f"generated: {dict(GENERATED)}")  # fmt: skip
    assert hand_written >= 200
