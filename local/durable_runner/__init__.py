"""In-process Durable Functions runner: the app's orchestrations on the real replay engine, locally.

Azure Functions Core Tools and .NET are not available here, so this package plays the Durable Task
extension's part: it keeps each instance's history, replays it through azure-functions-durable 1.7.0
(`Orchestrator(fn).handle(context)`), turns the actions it returns into history events, runs
activities in-process, fires timers, starts sub-orchestrations and retries, and answers the durable
client's HTTP calls.

Public API::

    runner = DurableRunner(app, clock=VirtualClock(), seed=0)   # app: a df.DFApp with everything registered
    with runner:                                                # starts the loopback HTTP server
        instance_id = runner.start_new("orchestrator_name", {"some": "input"}, instance_id=None)
        runner.run_until_idle()               # virtual clock: hours of timers in milliseconds, deterministic
        status = runner.status(instance_id)   # InstanceStatus | None (runtime_status, output, error,
                                              #  custom_status, custom_status_history, times)
        runner.history(instance_id)           # the history events, as the extension would store them
        runner.invoke_http(request)           # call the app's HTTP function for a func.HttpRequest (/api/...)
        runner.call_function("name", event={...})  # any other trigger, with the data the host sends (JSON);
                                                   # the durable client binding is filled in
        runner.deliver_event_grid("name", [event])  # Event Grid's post to the host's webhook
        runner.client_binding()               # the durableClient binding JSON for DurableOrchestrationClient
        runner.origin                         # http://127.0.0.1:<port>: /api/ routes, durable API, webhooks

    DurableRunner(app, clock=ScaledClock(scale=0.01))  # real time, 1 orchestration s = 0.01 s; runs in
                                                        # the background; runner.wait_for(id, timeout)
    DurableRunner(app, host_json=Path("host.json"))     # hub name and activity limit from host.json
    DurableRunner(app, redeliver_activities=["report_job"])  # each completed run delivered again once

Behaviour:
- History events follow the extension (OrchestratorStarted, ExecutionStarted with `Version`,
  TaskScheduled/Completed/Failed, TimerCreated/Fired, SubOrchestrationInstanceCreated/Completed/Failed,
  EventRaised, OrchestratorCompleted, ExecutionCompleted/Terminated).
- Events ready for an instance are delivered in batches whose order and size come from `seed`.
  Activities run in a thread pool (`activity_workers`); on the virtual clock the runner waits for all
  running activities before delivering any, so thread timing never changes the history.
- Every replay must only append actions; otherwise the instance fails and `run_until_idle` raises
  `NonDeterminismError` naming the first differing action.
- Activity exceptions become TaskFailed ("Activity function 'x' failed: ValueError: message").
  A failed orchestration's status is Failed with output "Orchestrator function 'x' failed: ...".
- Retries follow 1.7.0 (attempt, timer, attempt, ..., constant interval); the sequence ids the SDK
  allocates for them are read from its open tasks (sdk_tasks.py), so the SDK is pinned to 1.7.0.
  After the last failed attempt the SDK waits for one more timer: DurableTask.Core 2.7+ makes it fire
  at once (RetryInterceptor's "dummy timer for back-compat"), and so does the runner.

As strict as the extension (each read in its source, azure-functions-durable-extension and
DurableTask.Core; what the documentation says is marked "documented"):
- Custom status over 16 KB fails the orchestration with the runtime's own message ("The UTF-16 size
  of the JSON-serialized payload must not exceed 16 KB. The current payload size is N KB.") as its
  output, before any action of that episode is scheduled. Documented: custom status is limited to
  16 KB. Read: measured as compact UTF-16 JSON in whole KB rounded down. Our reading: on a later
  episode DurableTask.Core may report this as a non-determinism error instead (it replays the old
  TaskScheduled events against no actions); the runner always reports the size.
- The out-of-process shim (schema V3) replays the yielded actions in order and awaits each one, so
  the orchestrator's output or failure is applied only when every action it yielded has finished
  (a task_all waits for all its branches even after one failed), work of later actions is scheduled
  only when the earlier ones finished, and DurableTask.Core completes an instance only with no open
  task (a timer that lost a task_any must fire unless cancelled). Until then the instance is Running.
  Our approximation: a retry chain still running after the orchestrator ended is taken as finished
  when its current attempt or timer is (the SDK stops reading the history there).
- Activities run at least once: `redeliver_activities` delivers each completed run of the named
  activities a second time, as a host recycle does; the orchestration sees one TaskCompleted.
- A sub-orchestration whose instance id belongs to a finished instance starts afresh under that id;
  one still Pending or Running is refused (the parent sees SubOrchestrationInstanceFailed).
- host.json: `extensions.durableTask.hubName` (documented: letters and digits, starting with a letter,
  3 to 45 characters; anything else is refused) names the hub in the client binding and URLs;
  `maxConcurrentActivityFunctions` bounds the activities running at once (host_config.py).
- Functions are indexed, checked and called by the Python worker's own code (worker.py); HTTP routes
  check function keys and the webhooks system keys (host_keys.py; `runner.keys`).
- Not emulated: durable entities, call_http, continue_as_new, suspend/resume/rewind.
"""

from .client_api import HttpReply
from .clock import ScaledClock, VirtualClock
from .determinism import NonDeterminismError
from .engine import InstanceAlreadyRunning, UnknownOrchestrator
from .functions_host import NoSuchRoute
from .host_config import DurableHostConfig, InvalidHostJson
from .instances import InstanceStatus, InvalidInstanceId, RuntimeStatus
from .runner import DurableRunner
from .sdk_tasks import SdkInternalsChanged, UnsupportedAction

__all__ = [
    "DurableHostConfig",
    "DurableRunner",
    "HttpReply",
    "InstanceAlreadyRunning",
    "InstanceStatus",
    "InvalidHostJson",
    "InvalidInstanceId",
    "NoSuchRoute",
    "NonDeterminismError",
    "RuntimeStatus",
    "ScaledClock",
    "SdkInternalsChanged",
    "UnknownOrchestrator",
    "UnsupportedAction",
    "VirtualClock",
]
