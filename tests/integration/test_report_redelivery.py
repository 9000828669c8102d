"""Activities run at least once: a report delivered twice (as after a host recycle) posts once.

The local stack's runner re-delivers every completed `report_job` once, so each job's report
activity really runs twice, against Azurite and a fake Mattermost webhook.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from azure.durable_functions.models.history.HistoryEventType import HistoryEventType as E

from gallery_publisher.jobs.notified import CONTAINER
from local.stack import LocalStack, StackOptions, local_stack
from orchestrators import names
from tests.support.app_support import put_raw, run_job
from tests.support.webhook_server import FakeWebhook

TIME_SCALE = 0.002


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory, mattermost: FakeWebhook) -> Iterator[LocalStack]:
    options = StackOptions(
        workdir=tmp_path_factory.mktemp("stack"),
        time_scale=TIME_SCALE,
        settings={"GALLERY_PUBLISHER_MATTERMOST_WEBHOOK_URL": mattermost.url},
        redeliver_activities=(names.REPORT_JOB,),
    )
    with local_stack(options) as running:
        yield running


def test_a_redelivered_report_posts_one_notification_per_run(
    stack: LocalStack, mattermost: FakeWebhook
) -> None:
    url = put_raw(stack, "AlmaLinux-9-Azure-9.6-20250620.0.x86_64.raw")
    request = {"image_url": url, "notify": True}  # a dry run: plan and report

    first = run_job(stack, request)

    assert first["runtime_status"] == "Completed", first["summary"]
    assert [post["text"] for post in mattermost.posts] == [first["summary"]]
    history = stack.runner.history(first["instance_id"])
    reports = [e for e in history if e["EventType"] == E.TASK_SCHEDULED and e["Name"] == names.REPORT_JOB]
    assert len(reports) == 1  # one activity call, run twice by the redelivery
    markers = list(stack.blobs.get_container_client(CONTAINER).list_blobs())
    assert len(markers) == 1

    # The same request again is a new run of the job (its own record): announced again, once.
    again = run_job(stack, request)

    assert again["instance_id"] == f"{first['instance_id']}-run2"
    assert again["runtime_status"] == "Completed", again["summary"]
    assert len(mattermost.posts) == 2
    assert len(list(stack.blobs.get_container_client(CONTAINER).list_blobs())) == 2
