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
- Functions are indexed, checked and called by the Python worker's own code (worker.py); HTTP routes
  check function keys and the webhooks system keys (host_keys.py; `runner.keys`).
- Not emulated: durable entities, call_http, continue_as_new, suspend/resume/rewind.
"""

from .client_api import HttpReply
from .clock import ScaledClock, VirtualClock
from .determinism import NonDeterminismError
from .engine import InstanceAlreadyRunning, UnknownOrchestrator
from .functions_host import NoSuchRoute
from .instances import InstanceStatus, InvalidInstanceId, RuntimeStatus
from .runner import DurableRunner
from .sdk_tasks import SdkInternalsChanged, UnsupportedAction

__all__ = [
    "DurableRunner",
    "HttpReply",
    "InstanceAlreadyRunning",
    "InstanceStatus",
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
