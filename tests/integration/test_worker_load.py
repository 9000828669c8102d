"""The Python worker's own indexing and load checks (azure-functions-runtime) guard the app and the local host."""

# mypy: disable-error-code="untyped-decorator"

from __future__ import annotations

import json
import sys
import typing
from pathlib import Path
from typing import Any

import azure.durable_functions as df
import pytest
from azure_functions_runtime import loader
from azure_functions_runtime.bindings import meta
from azure_functions_runtime.functions import FunctionLoadError, Registry

from local.durable_runner import DurableRunner, RuntimeStatus
from local.durable_runner.worker import protos

REPO = Path(__file__).resolve().parents[2]


def _app_with_activity(pep_585: bool) -> df.DFApp:
    app = df.DFApp()
    if pep_585:

        @app.activity_trigger(input_name="job")
        def plan_job(job: dict[str, Any]) -> dict[str, Any]:
            return {"ok": True, "got": job}

    else:

        @app.activity_trigger(input_name="job")
        def plan_job(job: typing.Dict[str, Any]) -> typing.Dict[str, Any]:  # noqa: UP006 - the fix
            return {"ok": True, "got": job}

    @app.orchestration_trigger(context_name="context")
    def run_plan(context: df.DurableOrchestrationContext) -> typing.Generator[Any, Any, Any]:
        return (yield context.call_activity("plan_job", context.get_input()))

    return app


def test_a_pep_585_annotation_on_a_bound_parameter_is_the_workers_function_load_error() -> None:
    with pytest.raises(FunctionLoadError) as refused:
        DurableRunner(_app_with_activity(pep_585=True))
    assert str(refused.value) == (
        "cannot load the plan_job function: binding job has invalid non-type annotation dict[str, typing.Any]"
    )


def test_a_typing_generic_loads_and_the_activity_gets_json_through_the_workers_converters() -> None:
    with DurableRunner(_app_with_activity(pep_585=False)) as runner:
        instance_id = runner.start_new("run_plan", {"image": "x.raw", "sizes": [1, 2]})
        status = runner.wait_for(instance_id)
    assert status.runtime_status is RuntimeStatus.COMPLETED
    assert status.output == {"ok": True, "got": {"image": "x.raw", "sizes": [1, 2]}}


def test_an_activity_result_that_is_not_json_fails_as_the_worker_fails_it() -> None:
    app = df.DFApp()

    @app.activity_trigger(input_name="job")
    def returns_a_set(job: str) -> Any:
        return {job}

    @app.orchestration_trigger(context_name="context")
    def calls_it(context: df.DurableOrchestrationContext) -> typing.Generator[Any, Any, Any]:
        return (yield context.call_activity("returns_a_set", "x"))

    with DurableRunner(app) as runner:
        status = runner.wait_for(runner.start_new("calls_it"))
    assert status.runtime_status is RuntimeStatus.FAILED
    assert (
        "Activity function 'returns_a_set' failed: ValueError: activity trigger output must be json"
        in str(status.error)
    )


def test_the_real_function_app_passes_the_workers_indexing_and_load_checks(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The worker's own entry point: import function_app.py by path, find its one app, check every function."""
    monkeypatch.syspath_prepend(str(REPO))
    monkeypatch.delitem(sys.modules, "function_app", raising=False)
    meta.load_binding_registry()
    indexed = loader.index_function_app(str(REPO / "function_app.py"))
    metadata, _ = loader.process_indexed_function(protos, Registry(), indexed, str(REPO))
    triggers = {
        m.name: [b["type"] for b in map(json.loads, m.raw_bindings) if b["type"].endswith("Trigger")]
        for m in metadata
    }
    names = {name: found[0] for name, found in triggers.items() if len(found) == 1}
    assert names == {
        "start_publish": "httpTrigger",
        "publish_status": "httpTrigger",
        "publish_runs": "httpTrigger",
        "job_page": "httpTrigger",
        "list_jobs": "httpTrigger",
        "start_from_blob": "eventGridTrigger",
        "clean_up_leftovers": "timerTrigger",
        "publish_image": "orchestrationTrigger",
        "gallery_version": "orchestrationTrigger",
        **dict.fromkeys(
            ("plan_job", "stage_raw", "forget_source_url", "validate_vhd", "release_vhd"),
            "activityTrigger",
        ),
        **dict.fromkeys(("start_gallery_version", "poll_gallery_version", "report_job"), "activityTrigger"),
    }


def test_make_run_stops_with_the_workers_message_when_it_refuses_the_app(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import function_app
    from local import run_demo

    monkeypatch.setattr(function_app, "create_app", lambda: _app_with_activity(pep_585=True))
    monkeypatch.setattr(run_demo, "_stop_on_signals", lambda: None)  # leave pytest's signal handlers alone
    code = run_demo.main(["--once", "--port", "0", "--workdir", str(tmp_path / "run")])
    assert code == 1
    assert (
        "The Python worker refuses the app, so Azure would load no function: cannot load the plan_job "
        "function: binding job has invalid non-type annotation dict[str, typing.Any]"
    ) in capsys.readouterr().err
