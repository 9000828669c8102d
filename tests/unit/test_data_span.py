"""Only the pages that hold data are written: data_span trims a chunk's zero pages at both ends."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from gallery_publisher.staging.stager import data_span

PAGE = 512
CHUNK = 4 * 1024 * 1024


def expected_span(chunk: bytes) -> tuple[int, int]:
    """The same rule byte by byte: first and last non-zero byte, widened to whole pages."""
    data = chunk.strip(b"\0")
    if not data:
        return (0, 0)
    first = len(chunk) - len(chunk.lstrip(b"\0"))
    last = len(chunk.rstrip(b"\0")) - 1
    return (first // PAGE * PAGE, (last // PAGE + 1) * PAGE)


def chunk_with(size: int, *bytes_at: int) -> bytes:
    chunk = bytearray(size)
    for offset in bytes_at:
        chunk[offset] = 0x5A
    return bytes(chunk)


def test_an_all_zero_chunk_has_no_data() -> None:
    assert data_span(bytes(CHUNK)) == (0, 0)


def test_a_chunk_full_of_data_is_written_whole() -> None:
    assert data_span(b"\x01" * CHUNK) == (0, CHUNK)


def test_data_starting_inside_a_chunk_is_written_from_its_page_on() -> None:
    # A run of data that starts 3 sectors and 7 bytes past a 64 KiB block: the page it starts in on.
    start = 40 * 64 * 1024 + 3 * PAGE + 7
    assert data_span(chunk_with(CHUNK, start, CHUNK - 1)) == (start - 7, CHUNK)


def test_data_stopping_inside_a_chunk_is_written_to_the_end_of_its_page() -> None:
    assert data_span(chunk_with(CHUNK, 0, 5 * PAGE)) == (0, 6 * PAGE)


def test_one_byte_in_the_last_page_alone_is_one_page() -> None:
    assert data_span(chunk_with(CHUNK, CHUNK - 1)) == (CHUNK - PAGE, CHUNK)


def test_one_byte_in_the_first_page_alone_is_one_page() -> None:
    assert data_span(chunk_with(CHUNK, 0)) == (0, PAGE)


def test_zeros_between_two_runs_of_data_are_written() -> None:
    assert data_span(chunk_with(CHUNK, PAGE, CHUNK - PAGE - 1)) == (PAGE, CHUNK - PAGE)


def test_a_short_last_chunk_is_trimmed_the_same_way() -> None:
    assert data_span(chunk_with(3 * PAGE, PAGE + 1)) == (PAGE, 2 * PAGE)


@given(
    pages=st.integers(min_value=1, max_value=300),
    spots=st.lists(st.integers(min_value=0, max_value=300 * PAGE - 1), max_size=4),
)
def test_the_span_is_the_smallest_run_of_whole_pages_holding_every_non_zero_byte(
    pages: int, spots: list[int]
) -> None:
    chunk = chunk_with(pages * PAGE, *(spot for spot in spots if spot < pages * PAGE))
    assert data_span(chunk) == expected_span(chunk)
