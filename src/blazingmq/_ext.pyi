"""Type stub of the compiled module ``blazingmq._ext``."""

from typing import Any, Callable, Dict, List, Optional, Tuple, Union

QUEUE_NOT_OPEN: int
BW_LIMIT: int
ACK_CODES_BY_INDEX: Tuple[Optional[int], ...]

def event_builder_result_name(code: int) -> str: ...
def post_result_name(code: int) -> str: ...
def generic_result_name(code: int) -> str: ...
def in_callback_thread() -> bool: ...
def install_log_bridge() -> None: ...
def take_log_records(timeout: float) -> Tuple[List[Tuple[str, int, str, str, int]], int]: ...
def reset_log_bridge_after_fork() -> None: ...
def take_span_records(
    timeout: float,
) -> Tuple[List[Tuple[bool, int, int, int, str, int, Dict[str, str]]], int]: ...
def wait_for_span_records(timeout: float) -> bool: ...
def reset_span_records_after_fork() -> None: ...

class HealthMonitorHandle:
    def __init__(self) -> None: ...
    def set_healthy(self) -> None: ...
    def set_unhealthy(self) -> None: ...

_SubscriptionTuple = Tuple[int, Any, Optional[int], Optional[int], Optional[int]]
_QueueOptionsTuple = Tuple[
    Optional[int], Optional[int], Optional[int], Optional[bool], Optional[List[_SubscriptionTuple]]
]

class SessionHandle:
    on_message: Optional[Callable[..., Any]]
    channel_waits: int
    delivery_queued_ns: int
    delivery_woken_ns: int
    delivery_gil_ns: int
    on_batch_end: Optional[Callable[[], Any]]
    stopped: bool
    receiver_token: object
    subscriptions: Dict[int, Any]
    def __init__(
        self,
        owner: Any,
        events: Any,
        on_message: Optional[Callable[..., Any]],
        report_exception: Callable[[], None],
        broker_uri: bytes,
        process_name: bytes,
        user_agent_prefix: bytes,
        monitor: Optional[HealthMonitorHandle],
        num_processing_threads: int,
        blob_buffer_size: int,
        channel_high_watermark: int,
        event_queue_low_watermark: int,
        event_queue_high_watermark: int,
        stats_dump_interval: float,
        connect_timeout: Optional[float],
        disconnect_timeout: Optional[float],
        open_queue_timeout: Optional[float],
        configure_queue_timeout: Optional[float],
        close_queue_timeout: Optional[float],
        authn_credential: Union[None, Tuple[bytes, bytes], Callable[[], Optional[Tuple[bytes, bytes]]]] = ...,
        max_unacked_posts: int = ...,
        max_unacked_bytes: int = ...,
        control_tracer_id: int = ...,
    ) -> None: ...
    def abandon(self) -> None: ...
    def start_async(self, timeout: Optional[float], caller_span: int = ...) -> int: ...
    def stop_delivery(self) -> None: ...
    def stop(self, caller_span: int = ...) -> None: ...
    def reserve_queue_slot(self, uri: str) -> int: ...
    def release_queue_slot(self, slot: int) -> None: ...
    def open_queue_async(
        self,
        slot: int,
        uri: str,
        flags: int,
        options: _QueueOptionsTuple,
        timeout: Optional[float],
        request_id: int,
        caller_span: int = ...,
    ) -> int: ...
    def configure_queue_async(
        self, slot: int, options: _QueueOptionsTuple, timeout: Optional[float], request_id: int, caller_span: int = ...
    ) -> int: ...
    def close_queue_async(
        self, slot: int, timeout: Optional[float], request_id: int, caller_span: int = ...
    ) -> int: ...
    def get_queue_options(
        self, slot: int
    ) -> Optional[Tuple[int, int, int, bool, Optional[List[Tuple[int, str, Optional[int], Optional[int], Optional[int]]]]]]: ...
    def post(
        self,
        slot: int,
        data: bytes,
        properties: Optional[List[Tuple[bytes, int, Any]]],
        on_ack: Optional[Callable[..., Any]],
        compression: int,
    ) -> Tuple[int, int]: ...
    def post_batch(
        self,
        slot: int,
        payloads: List[bytes],
        properties: Optional[List[Tuple[bytes, int, Any]]],
        on_ack: Optional[Callable[..., Any]],
        compression: int,
    ) -> Tuple[int, int, int]: ...
    def confirm_batch(self, slots: List[int], guids: List[bytes]) -> int: ...
    def wait_for_channel(self, timeout: float) -> bool: ...
    def confirm(self, slot: int, guid: bytes) -> int: ...
    def stats(self) -> Tuple[int, int, int, int, int, List[int], Dict[int, int], int, int]: ...
    @property
    def stopping(self) -> bool: ...
