"""The one rule for which HTTP answers are retried (gallery_publisher.http_retry)."""

from __future__ import annotations

import pytest

from gallery_publisher.http_retry import is_retryable_status


@pytest.mark.parametrize("status", [408, 429, 500, 502, 503, 504, 507, 599])
def test_timeouts_throttling_and_passing_server_failures_are_retried(status: int) -> None:
    assert is_retryable_status(status)


@pytest.mark.parametrize("status", [501, 505])
def test_server_answers_that_never_change_are_not_retried(status: int) -> None:
    """Not Implemented and HTTP Version Not Supported say the same on every attempt."""
    assert not is_retryable_status(status)


@pytest.mark.parametrize("status", [200, 206, 301, 400, 401, 403, 404, 409, 412, 416, 499, 600])
def test_success_redirects_and_client_errors_are_not_retried(status: int) -> None:
    """A wrong request, a missing object or a refused signature stays so: retrying only delays the error."""
    assert not is_retryable_status(status)


def test_the_rule_is_the_azure_sdks_so_both_retry_layers_agree() -> None:
    from azure.core.pipeline.policies import RetryPolicy

    sdk = RetryPolicy()._retry_on_status_codes
    assert {s for s in range(100, 600) if is_retryable_status(s)} == {s for s in sdk if 100 <= s < 600}
