"""The Python language worker's own code between the local host and the app: load checks and invocations.

On Azure the Functions host never calls a Python function itself: it sends gRPC messages to the language
worker, which indexes `function_app.py`, checks every function (its `Registry`), and on each invocation
decodes the inputs the host sent (`TypedData`: a JSON string, a string, bytes, an HTTP request) through
the `azure.functions` binding registry, calls the function, and encodes its return value the same way.
`azure-functions-runtime` (requirements-worker.txt) ships that code; this module runs it:

- `LanguageWorker(app)` runs `loader.process_indexed_function` over the app's functions: the worker's
  `Registry.add_indexed_function` checks (annotations, binding directions, parameters). One refusal
  raises the worker's `FunctionLoadError` and, as on Azure, no function of the app loads.
- `invoke` sends an `InvocationRequest` through `handle_event.invocation_request`: the worker's decode,
  its call (synchronous functions on its thread pool, coroutines on the event loop) and its encode.
- The gRPC message classes are stood in by `protos` below: plain records with the fields the worker reads
  and writes, and `WhichOneof` for the two oneofs it asks about. That is the only part not run from the
  worker's package (our reading of FunctionRpc.proto, not its generated code).
"""

from __future__ import annotations

import itertools
import json
import threading
import uuid
from collections.abc import Callable, Coroutine
from pathlib import Path
from types import SimpleNamespace
from typing import Any, ClassVar

from azure.functions import FunctionRegister
from azure_functions_runtime import handle_event, loader
from azure_functions_runtime.bindings import meta
from azure_functions_runtime.functions import FunctionInfo, FunctionLoadError, Registry
from azure_functions_runtime.utils import threadpool

__all__ = ["FunctionFailed", "FunctionLoadError", "LanguageWorker", "TypedData", "protos"]


class _Message:
    """A protobuf message: keyword fields; `WhichOneof(group)` names the one field of the group that is set."""

    ONEOFS: ClassVar[dict[str, tuple[str, ...]]] = {}

    def __init__(self, **fields: Any) -> None:
        self.__dict__.update(fields)

    def WhichOneof(self, group: str) -> str | None:
        return next((name for name in self.ONEOFS[group] if self.__dict__.get(name) is not None), None)

    def get(self, name: str) -> Any:
        """A field's value (None when unset)."""
        return self.__dict__.get(name)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.__dict__!r})"


_TYPED_DATA_FIELDS = (
    *("string", "json", "bytes", "stream", "http", "int", "double"),
    *("collection_bytes", "collection_string", "collection_double", "collection_sint64"),
    *("model_binding_data", "collection_model_binding_data"),
)
_PLAIN_MESSAGES = (
    *("RpcHttp", "RpcHttpCookie", "RpcException", "RpcFunctionMetadata", "RpcRetryOptions"),
    *("InvocationResponse", "NullableString", "NullableBool", "NullableDouble", "NullableTimestamp"),
)


class TypedData(_Message):
    ONEOFS: ClassVar[dict[str, tuple[str, ...]]] = {"data": _TYPED_DATA_FIELDS}


class ParameterBinding(_Message):
    ONEOFS: ClassVar[dict[str, tuple[str, ...]]] = {"rpc_data": ("data", "rpc_shared_memory")}


class BindingInfo(_Message):
    # FunctionRpc.proto enums: Direction (in, out, inout) and DataType (undefined, string, binary, stream).
    in_, out, inout = 0, 1, 2
    undefined, string, binary, stream = 0, 1, 2, 3


class StatusResult(_Message):
    Failure, Success, Cancelled = 0, 1, 2


protos = SimpleNamespace(
    TypedData=TypedData,
    ParameterBinding=ParameterBinding,
    BindingInfo=BindingInfo,
    StatusResult=StatusResult,
    **{name: type(name, (_Message,), {}) for name in _PLAIN_MESSAGES},
)


class FunctionFailed(RuntimeError):
    """The worker answered the invocation with a failure: `message` is "<ExceptionType>: <text>"."""

    def __init__(self, function_name: str, message: str, stack_trace: str) -> None:
        super().__init__(f"function {function_name!r} failed: {message}")
        self.message = message
        self.stack_trace = stack_trace


class _AllApps(Registry):  # type: ignore[misc]
    """The worker keeps one registry per process (one app); tests load many apps in one process, so each
    `LanguageWorker` registers its functions here under ids of its own."""

    def __init__(self) -> None:
        super().__init__()
        self.lock = threading.Lock()

    def add(self, function_id: str, info: FunctionInfo) -> None:
        with self.lock:
            self._functions[function_id] = info

    def remove(self, function_id: str) -> None:
        with self.lock:
            del self._functions[function_id]


_setup_lock = threading.Lock()
_apps: _AllApps | None = None
_worker_ids = itertools.count()


def _worker_process() -> _AllApps:
    """What the worker does once per process: load the binding registry, start its thread pool."""
    global _apps
    with _setup_lock:
        if _apps is None:
            meta.load_binding_registry()
            threadpool.start_threadpool_executor()
            _apps = _AllApps()
            handle_event._functions = _apps
            handle_event.protos = protos
        return _apps


class LanguageWorker:
    """The worker's view of one app: indexed and checked on creation, invoked by function name."""

    def __init__(self, app: FunctionRegister, run: Callable[[Coroutine[Any, Any, Any]], Any]) -> None:
        """`run` runs a coroutine on the host's event loop and returns its result."""
        self._apps = apps = _worker_process()
        self._run = run
        self._prefix = f"app{next(_worker_ids)}:"
        indexed = app.get_functions()
        registry = Registry()
        directory = str(Path(__file__).resolve().parents[2])
        # The worker's own indexing: every check of Registry.add_indexed_function; FunctionLoadError on refusal.
        self.metadata, _ = loader.process_indexed_function(protos, registry, indexed, directory)
        self._ids: dict[str, str] = {}
        for metadata in self.metadata:
            info = registry.get_function(metadata.function_id)
            self._ids[info.name] = self._prefix + metadata.function_id
            apps.add(self._ids[info.name], info)
        self.functions = indexed

    def invoke(self, function_name: str, inputs: dict[str, TypedData]) -> TypedData | None:
        """Invoke as the host does; the worker's encoded return value, or `FunctionFailed`.
        (No trigger metadata is sent: no converter the app uses reads it.)"""
        return self._invoke(self._ids[function_name], function_name, inputs)

    def invoke_with_body(
        self, function_name: str, inputs: dict[str, TypedData], body: Callable[..., Any]
    ) -> TypedData | None:
        """Invoke as `invoke` does (the worker's decode, thread pool and encode), but have the worker call
        `body` in place of the registered function, with the same bound parameters."""
        info = self._apps.get_function(self._ids[function_name])
        function_id = f"{self._ids[function_name]}:{uuid.uuid4()}"
        self._apps.add(function_id, info._replace(func=body, is_async=False))
        try:
            return self._invoke(function_id, function_name, inputs)
        finally:
            self._apps.remove(function_id)

    def _invoke(self, function_id: str, function_name: str, inputs: dict[str, TypedData]) -> TypedData | None:
        request = _Message(
            request=_Message(
                invocation_request=_Message(
                    invocation_id=str(uuid.uuid4()),
                    function_id=function_id,
                    input_data=[ParameterBinding(name=name, data=data) for name, data in inputs.items()],
                    trigger_metadata={},
                    trace_context=_Message(trace_parent="", trace_state="", attributes={}),
                    retry_context=_Message(retry_count=0, max_retry_count=0, exception=None),
                )
            )
        )
        response = self._run(handle_event.invocation_request(request))
        if response.result.status != StatusResult.Success:
            failure = response.result.exception
            raise FunctionFailed(function_name, failure.message, failure.stack_trace)
        value: TypedData | None = response.return_value
        return value


def json_data(value_json: str | None) -> TypedData:
    """JSON text as the host sends it (a null input is the JSON `null`)."""
    return TypedData(json="null" if value_json is None else value_json)


def json_of(data: TypedData | None) -> str:
    """The JSON text of an encoded return value (json, string, or nothing: `null`)."""
    kind = data.WhichOneof("data") if data is not None else None
    if data is None or kind is None:
        return "null"
    if kind in ("json", "string"):
        return str(data.get(kind))
    if kind in ("int", "double"):
        return json.dumps(data.get(kind))
    raise TypeError(f"expected JSON from the worker, got TypedData.{kind}")
