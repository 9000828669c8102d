"""Build the ComputeManagementClient the gallery client is given, from the settings.

In Azure: DefaultAzureCredential against settings.arm_endpoint. In local mode: the emulator on
loopback over plain http, with a static token and a policy that sets the Bearer header (the SDK's
own bearer policy refuses http). In both, the SDK never retries on a status code: 429 and 5xx come
back to the caller, who waits with a durable timer instead of sleeping inside an activity.
"""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import urlsplit

from azure.core.credentials import AccessToken, TokenCredential
from azure.core.pipeline import PipelineRequest
from azure.core.pipeline.policies import SansIOHTTPPolicy
from azure.identity import DefaultAzureCredential
from azure.mgmt.compute import ComputeManagementClient

from gallery_publisher.errors import SettingsError
from gallery_publisher.planning.settings import PREFIX, Settings

LOCAL_SUBSCRIPTION_ID = "00000000-0000-0000-0000-000000000000"
LOCAL_TOKEN = "local-gallery-emulator"  # the emulator checks only that a Bearer token is present
# Network errors are retried by the SDK a few times with short backoff; status codes never are,
# because its status retries sleep for the whole Retry-After, uncapped.
RETRY_OPTIONS: dict[str, Any] = {
    "retry_total": 3,
    "retry_connect": 3,
    "retry_read": 3,
    "retry_status": 0,
    "retry_backoff_factor": 0.5,
    "retry_backoff_max": 8,
}


class LocalTokenCredential:
    """A credential for the local emulator: a fixed token that never expires in practice."""

    def get_token(
        self,
        *scopes: str,
        claims: str | None = None,
        tenant_id: str | None = None,
        enable_cae: bool = False,
        **kwargs: Any,
    ) -> AccessToken:
        return AccessToken(LOCAL_TOKEN, int(time.time()) + 3600)


class LocalBearerPolicy(SansIOHTTPPolicy[Any, Any]):
    """Sets `Authorization: Bearer` on every request, over http too (loopback only)."""

    def __init__(self, credential: TokenCredential) -> None:
        self._credential = credential

    def on_request(self, request: PipelineRequest[Any]) -> None:
        token = self._credential.get_token("https://management.azure.com/.default").token
        request.http_request.headers["Authorization"] = f"Bearer {token}"


def _require_loopback(endpoint: str) -> None:
    host = urlsplit(endpoint).hostname or ""
    if host not in ("127.0.0.1", "localhost", "::1"):
        raise SettingsError(
            f"{PREFIX}ARM_ENDPOINT={endpoint!r}: local mode talks to the gallery emulator on loopback; "
            "set it to the emulator's URL, such as http://127.0.0.1:PORT"
        )


def compute_client(settings: Settings) -> ComputeManagementClient:
    if settings.local_mode:
        _require_loopback(settings.arm_endpoint)
        credential = LocalTokenCredential()
        return ComputeManagementClient(
            credential,
            settings.subscription_id or LOCAL_SUBSCRIPTION_ID,
            base_url=settings.arm_endpoint,
            authentication_policy=LocalBearerPolicy(credential),
            **RETRY_OPTIONS,
        )
    if not settings.subscription_id:
        raise SettingsError(
            "AZURE_SUBSCRIPTION_ID is not set: set it to the subscription holding the galleries"
        )
    return ComputeManagementClient(
        DefaultAzureCredential(), settings.subscription_id, base_url=settings.arm_endpoint, **RETRY_OPTIONS
    )
