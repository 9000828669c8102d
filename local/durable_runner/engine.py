"""The scheduler that stands in for the Durable Task extension: instances, inboxes, activities, timers.

Orchestrator episodes run one at a time under the engine lock (orchestrator code is fast and must be
single-threaded); activities run in a thread pool. Events that are ready for an instance wait in its
inbox; each episode delivers a batch chosen and ordered by the seeded random generator, so different
seeds give different (but reproducible) completion orders.

Virtual clock: `run_until_idle` delivers everything ready, waits for *all* running activities before
delivering their results (so thread timing never leaks into the history), and when nothing else is
left jumps the clock to the next timer. Scaled clock: `run_realtime` delivers results as activities
finish and fires timers when the clock reaches them.
"""

from __future__ import annotations

import heapq
import itertools
import json
import logging
import random
import threading
import uuid
from concurrent import futures
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from . import history as events
from .activities import ActivityOutcome, ActivitySucceeded, missing_activity, run_activity
from .app_functions import AppFunctions, RegisteredActivity
from .clock import Clock, VirtualClock
from .determinism import NonDeterminismError, check_append_only, flatten_actions
from .instances import Instance, InstanceStatus, RuntimeStatus, check_instance_id
from .replay import Episode, context_json, custom_status_size_error, run_episode
from .sdk_tasks import (
    ActivityWork,
    SubOrchestrationWork,
    TimerWork,
    Work,
    cancelled_timers,
    replay_actions,
)

log = logging.getLogger(__name__)

# Longest real-time wait between checks: keeps `stop` responsive.
MAX_IDLE_WAIT = 0.5


class UnknownOrchestrator(LookupError):
    pass


class InstanceAlreadyRunning(RuntimeError):
    pass


@dataclass(frozen=True)
class _ActivityCall:
    order: int
    instance: Instance
    task_id: int
    activity: RegisteredActivity
    input_json: str | None
    redelivered: bool = False


@dataclass(order=True, frozen=True)
class _Timer:
    fire_at: datetime
    order: int
    instance: Instance
    task_id: int


class Engine:
    def __init__(
        self,
        functions: AppFunctions,
        clock: Clock,
        seed: int,
        activity_workers: int,
        redeliver: frozenset[str] = frozenset(),
    ) -> None:
        self._functions = functions
        self._clock = clock
        self._rng = random.Random(seed)
        self._changed = threading.Condition(threading.RLock())
        self._instances: dict[str, Instance] = {}
        self._timers: list[_Timer] = []
        self._running: dict[futures.Future[ActivityOutcome], _ActivityCall] = {}
        self._order = itertools.count()
        self._pool = futures.ThreadPoolExecutor(max_workers=activity_workers, thread_name_prefix="activity")
        self._nondeterminism: list[NonDeterminismError] = []
        # Activities run at least once: after a host recycle a completed run can be delivered again.
        self._redeliver = redeliver

    @property
    def is_virtual(self) -> bool:
        return isinstance(self._clock, VirtualClock)

    # ----- what the durable client can ask (any thread)

    def start_new(self, name: str, input_json: str | None, instance_id: str | None = None) -> str:
        instance_id = instance_id or uuid.uuid4().hex
        check_instance_id(instance_id)
        if name not in self._functions.orchestrators:
            known = ", ".join(sorted(self._functions.orchestrators)) or "none"
            raise UnknownOrchestrator(f"no orchestrator function named {name!r} (registered: {known})")
        with self._changed:
            existing = self._instances.get(instance_id)
            if existing is not None and not existing.status.is_terminal:
                raise InstanceAlreadyRunning(
                    f"An Orchestration instance with the status {existing.status.value} already exists "
                    f"(instance id {instance_id!r})."
                )
            self._create(name, input_json, instance_id, parent=None)
            self._changed.notify_all()
        return instance_id

    def status(self, instance_id: str) -> InstanceStatus | None:
        with self._changed:
            instance = self._instances.get(instance_id)
            return None if instance is None else instance.snapshot()

    def statuses(self) -> list[InstanceStatus]:
        with self._changed:
            return [instance.snapshot() for instance in self._instances.values()]

    def history(self, instance_id: str) -> list[dict[str, Any]]:
        with self._changed:
            instance = self._instances.get(instance_id)
            if instance is None:
                raise KeyError(f"no orchestration instance {instance_id!r}")
            return json.loads(json.dumps(instance.history))  # type: ignore[no-any-return]

    def raise_event(self, instance_id: str, name: str, input_json: str | None) -> RuntimeStatus | None:
        """Queue an EventRaised; returns the instance's status (None: unknown id, terminal: not delivered)."""
        with self._changed:
            instance = self._instances.get(instance_id)
            if instance is None or instance.status.is_terminal:
                return None if instance is None else instance.status
            instance.inbox.append(events.event_raised(self._clock.now(), name, input_json))
            self._changed.notify_all()
            return instance.status

    def terminate(self, instance_id: str, reason: str) -> RuntimeStatus | None:
        """Terminate a pending or running instance; returns its status before (None: unknown id)."""
        with self._changed:
            instance = self._instances.get(instance_id)
            if instance is None or instance.status.is_terminal:
                return None if instance is None else instance.status
            before = instance.status
            now = self._clock.now()
            instance.history.append(events.execution_terminated(now, reason))
            self._settle(
                instance, now, RuntimeStatus.TERMINATED, output=reason, error=f"terminated: {reason}"
            )
            return before

    # ----- driving

    def run_until_idle(self) -> None:
        if not self.is_virtual:
            raise RuntimeError(
                "run_until_idle drives the virtual clock; a ScaledClock runner works in the background"
            )
        while True:
            with self._changed:
                if self._deliver_inboxes():
                    continue
                running = list(self._running)
            if running:
                futures.wait(running)
                with self._changed:
                    self._collect_activities()
                continue
            with self._changed:
                if self._timers:
                    assert isinstance(self._clock, VirtualClock)
                    self._clock.advance_to(self._timers[0].fire_at)
                    self._fire_due_timers()
                    continue
                failures, self._nondeterminism = self._nondeterminism, []
            break
        if failures:
            raise failures[0]

    def run_realtime(self, stop: threading.Event) -> None:
        with self._changed:
            while not stop.is_set():
                progressed = self._collect_activities()
                progressed = self._fire_due_timers() or progressed
                progressed = self._deliver_inboxes() or progressed
                if not progressed:
                    self._changed.wait(timeout=self._seconds_to_next_timer())

    def wake(self) -> None:
        with self._changed:
            self._changed.notify_all()

    def wait_for(self, instance_id: str, timeout: float) -> InstanceStatus:
        if self.is_virtual:
            self.run_until_idle()
        with self._changed:
            done = self._changed.wait_for(lambda: self._is_settled(instance_id), timeout=timeout)
            status = self.status(instance_id)
        if status is None:
            raise KeyError(f"no orchestration instance {instance_id!r}")
        if not done:
            raise TimeoutError(
                f"instance {instance_id!r} still {status.runtime_status.value} after {timeout} s"
            )
        return status

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)

    # ----- internals (called with the lock held)

    def _is_settled(self, instance_id: str) -> bool:
        instance = self._instances.get(instance_id)
        return instance is not None and instance.status.is_terminal

    def _seconds_to_next_timer(self) -> float:
        if not self._timers or isinstance(self._clock, VirtualClock):
            return MAX_IDLE_WAIT
        return min(MAX_IDLE_WAIT, self._clock.real_seconds_until(self._timers[0].fire_at))

    def _create(
        self, name: str, input_json: str | None, instance_id: str, parent: tuple[Instance, int] | None
    ) -> None:
        now = self._clock.now()
        instance = Instance(
            instance_id=instance_id, name=name, input_json=input_json, created_time=now, parent=parent
        )
        parent_id = instance.parent_instance_id
        instance.inbox.append(events.execution_started(now, name, input_json, instance_id, parent_id))
        # A finished instance with the same id is replaced, as the extension does.
        self._instances.pop(instance_id, None)
        self._instances[instance_id] = instance

    def _deliver_inboxes(self) -> bool:
        delivered = False
        for instance in list(self._instances.values()):
            if not instance.inbox:
                continue
            if instance.status.is_terminal:
                instance.inbox.clear()
                continue
            self._run_episode(instance, self._take_batch(instance))
            delivered = True
        return delivered

    def _take_batch(self, instance: Instance) -> list[events.Event]:
        if events.is_execution_started(instance.inbox[0]):
            return [instance.inbox.pop(0)]
        ready = list(instance.inbox)
        self._rng.shuffle(ready)
        size = self._rng.randint(1, len(ready))
        instance.inbox = ready[size:]
        return ready[:size]

    def _run_episode(self, instance: Instance, delivered: list[events.Event]) -> None:
        now = self._clock.now()
        history = [*instance.history, events.orchestrator_started(now), *delivered]
        instance.history = history
        try:
            episode = run_episode(
                self._functions.orchestrators[instance.name],
                context_json(history, instance.input_json, instance.instance_id, instance.parent_instance_id),
            )
            check_append_only(
                instance.name, instance.instance_id, instance.actions, flatten_actions(episode.state)
            )
            decision = replay_actions(
                episode.context, instance.scheduled_ids, events.completed_task_ids(history), now
            )
        except NonDeterminismError as error:
            if self.is_virtual:
                self._nondeterminism.append(error)
            self._finish(instance, now, failure=str(error))
            return
        except Exception as error:
            log.exception("local durable runner could not run instance %s", instance.instance_id)
            self._finish(
                instance, now, failure=f"local durable runner error: {type(error).__name__}: {error}"
            )
            return
        instance.actions = flatten_actions(episode.state)
        oversized = custom_status_size_error(episode.state.get("customStatus"))
        if oversized is not None:
            # The extension refuses the status before it replays any action; the instance fails with
            # the runtime's own message, without the "Orchestrator function ... failed" prefix.
            self._finish(instance, now, failure=oversized, as_reported=oversized)
            return
        self._record_custom_status(instance, episode)
        instance.history.extend(self._schedule(instance, item, now) for item in decision.work)
        self._drop_timers(instance, cancelled_timers(episode.context))
        if decision.settled and episode.error is not None:
            self._finish(instance, now, failure=episode.error)
        elif decision.settled and episode.is_done:
            self._finish(instance, now, output=episode.state.get("output"))
        else:
            # Still running, also when the orchestrator already returned or raised: the extension
            # applies that only once every action it yielded has finished.
            instance.history.append(events.orchestrator_completed(now))
            instance.status = RuntimeStatus.RUNNING
            instance.last_updated_time = now
            self._mark_played(instance)
            self._changed.notify_all()

    @staticmethod
    def _record_custom_status(instance: Instance, episode: Episode) -> None:
        # Replays repeat the earlier calls first, so the values beyond the known ones are new.
        values = episode.context.custom_status_values
        instance.custom_status_history.extend(values[len(instance.custom_status_history) :])
        instance.custom_status = episode.context.custom_status

    def _finish(
        self,
        instance: Instance,
        now: datetime,
        output: Any = None,
        failure: str | None = None,
        as_reported: str | None = None,
    ) -> None:
        instance.history.append(events.orchestrator_completed(now))
        if failure is None:
            instance.history.append(events.execution_completed(now, "Completed", json.dumps(output)))
            self._settle(instance, now, RuntimeStatus.COMPLETED, output=output, error=None)
        else:
            # The extension reports a failed orchestration's output this way (unless the runtime
            # itself failed it: then its message as is).
            message = as_reported or f"Orchestrator function '{instance.name}' failed: {failure}"
            instance.history.append(events.execution_completed(now, "Failed", json.dumps(message)))
            self._settle(instance, now, RuntimeStatus.FAILED, output=message, error=failure)

    def _settle(
        self, instance: Instance, now: datetime, status: RuntimeStatus, output: Any, error: str | None
    ) -> None:
        instance.status = status
        instance.output = output
        instance.error = error
        instance.last_updated_time = now
        instance.inbox.clear()
        self._drop_timers(instance, None)
        self._mark_played(instance)
        if instance.parent is not None:
            parent, task_id = instance.parent
            if not parent.status.is_terminal:
                if status is RuntimeStatus.COMPLETED:
                    parent.inbox.append(events.sub_orchestration_completed(now, task_id, json.dumps(output)))
                else:
                    parent.inbox.append(events.sub_orchestration_failed(now, task_id, str(output), ""))
        self._changed.notify_all()

    @staticmethod
    def _mark_played(instance: Instance) -> None:
        for event in instance.history:
            event["IsPlayed"] = True

    def _schedule(self, instance: Instance, work: Work, now: datetime) -> events.Event:
        instance.scheduled_ids.add(work.task_id)
        if isinstance(work, ActivityWork):
            self._start_activity(instance, work, now)
            return events.task_scheduled(now, work.task_id, work.name, work.input_json)
        if isinstance(work, TimerWork):
            heapq.heappush(self._timers, _Timer(work.fire_at, next(self._order), instance, work.task_id))
            return events.timer_created(now, work.task_id, work.fire_at)
        return self._start_sub_orchestration(instance, work, now)

    def _start_activity(self, instance: Instance, work: ActivityWork, now: datetime) -> None:
        activity = self._functions.activities.get(work.name)
        if activity is None:
            failed = missing_activity(work.name)
            instance.inbox.append(events.task_failed(now, work.task_id, failed.reason, failed.details))
            return
        self._submit(_ActivityCall(next(self._order), instance, work.task_id, activity, work.input_json))

    def _submit(self, call: _ActivityCall) -> None:
        future = self._pool.submit(run_activity, call.activity, call.input_json)
        self._running[future] = call
        future.add_done_callback(lambda _: self.wake())

    def _start_sub_orchestration(
        self, instance: Instance, work: SubOrchestrationWork, now: datetime
    ) -> events.Event:
        # Without an explicit id the extension derives one from the parent's id and the task's sequence id.
        child_id = work.instance_id or f"{instance.instance_id}:{work.task_id:04X}"
        created = events.sub_orchestration_created(now, work.task_id, work.name, child_id, work.input_json)
        existing = self._instances.get(child_id)
        problem = None
        if work.name not in self._functions.orchestrators:
            problem = (
                f"The function '{work.name}' doesn't exist, is disabled, or is not an orchestrator function."
            )
        elif existing is not None and not existing.status.is_terminal:
            problem = f"An instance with the status {existing.status.value} already exists: {child_id}"
        if problem is not None:
            instance.inbox.append(events.sub_orchestration_failed(now, work.task_id, problem, ""))
        else:
            self._create(work.name, work.input_json, child_id, parent=(instance, work.task_id))
        return created

    def _collect_activities(self) -> bool:
        """Move finished activities' results to their instances' inboxes, in the order they were scheduled."""
        done = sorted(
            ((future, call) for future, call in self._running.items() if future.done()),
            key=lambda item: item[1].order,
        )
        now = self._clock.now()
        for future, call in done:
            del self._running[future]
            if call.activity.name in self._redeliver and not call.redelivered:
                # The run finished but its completion was lost with the host: the message comes back.
                log.info("redelivering activity %s (task %d) once", call.activity.name, call.task_id)
                self._submit(replace(call, redelivered=True))
                continue
            instance = call.instance
            if self._instances.get(instance.instance_id) is not instance or instance.status.is_terminal:
                continue
            outcome = future.result()
            if isinstance(outcome, ActivitySucceeded):
                instance.inbox.append(events.task_completed(now, call.task_id, outcome.result_json))
            else:
                instance.inbox.append(events.task_failed(now, call.task_id, outcome.reason, outcome.details))
        return bool(done)

    def _fire_due_timers(self) -> bool:
        now = self._clock.now()
        fired = False
        while self._timers and self._timers[0].fire_at <= now:
            timer = heapq.heappop(self._timers)
            instance = timer.instance
            if self._instances.get(instance.instance_id) is instance and not instance.status.is_terminal:
                instance.inbox.append(events.timer_fired(now, timer.task_id, timer.fire_at))
                fired = True
        return fired

    def _drop_timers(self, instance: Instance, task_ids: set[int] | None) -> None:
        """Forget an instance's timers (all of them, or the cancelled ones) so they never move the clock."""
        kept = [
            t
            for t in self._timers
            if not (t.instance is instance and (task_ids is None or t.task_id in task_ids))
        ]
        if len(kept) != len(self._timers):
            self._timers = kept
            heapq.heapify(self._timers)
