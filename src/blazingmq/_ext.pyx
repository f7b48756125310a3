# cython: language_level=3, boundscheck=False, wraparound=False, embedsignature=True
# distutils: language = c++
"""The compiled core of :mod:`blazingmq`: converts between Python objects and
the C++ layer in ``src/cpp`` (which owns libbmq and its threads).

Nothing here validates arguments or decides policy; the pure-Python layer
does that.  What is here is kept small on purpose:

* ``SessionHandle``: one libbmq session; blocking calls release the GIL.
* ``HealthMonitorHandle``: a manual host health monitor.
* the function the C++ layer's pump thread calls with each batch of libbmq
  events: it takes the GIL once per batch and turns messages into
  ``Message``/``Ack`` objects.
"""

import weakref

from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_FromStringAndSize, PyBytes_GET_SIZE
from cpython.unicode cimport PyUnicode_DecodeUTF8
from libc.string cimport memcmp

cdef extern from "Python.h":
    const char* PyUnicode_AsUTF8AndSize(object, Py_ssize_t*) except NULL
from libcpp cimport bool as cbool
from libcpp.string cimport string
from libcpp.utility cimport pair
from libcpp.vector cimport vector

from blazingmq._enums import ACK_STATUS_BY_CODE, PROPERTY_TYPE_BY_CODE, ack_status_from_code
from blazingmq._messages import Ack, Message, MessageHandle

# --------------------------------------------------------------------------
# Declarations of the C++ layer (src/cpp/bmqpy_session.h)

cdef extern from "bmqa_messageevent.h" namespace "BloombergLP::bmqa" nogil:
    cdef cppclass MessageEvent:
        pass

cdef extern from "bmqa_messageproperties.h" namespace "BloombergLP::bmqa" nogil:
    cdef cppclass MessageProperties:
        MessageProperties() except +
        void clear()

cdef extern from "bmqpy_session.h" namespace "bmqpy" nogil:
    enum:
        k_QUEUE_NOT_OPEN
        k_TIMED_OUT
        k_OPERATION_RESULT

    cdef cppclass SessionEventInfo:
        int type
        int status
        string statusName
        string description
        int queueSlot
        long long requestId

    cdef cppclass Session

    cdef cppclass PendingEvent:
        cbool isMessageEvent
        SessionEventInfo sessionEvent
        MessageEvent messageEvent
        long long queuedNs

    ctypedef void (*EventBatchFn)(Session*, vector[PendingEvent]*) noexcept
    ctypedef cbool (*AuthnCredentialFn)(void*, string*, string*) noexcept

    cdef cppclass HealthMonitor:
        HealthMonitor() except +
        void setHealthy()
        void setUnhealthy()

    cdef cppclass SessionConfig:
        string brokerUri
        string processName
        string userAgentPrefix
        int numProcessingThreads
        int blobBufferSize
        long long channelHighWatermark
        int eventQueueLowWatermark
        int eventQueueHighWatermark
        double statsDumpInterval
        double connectTimeout
        double disconnectTimeout
        double openQueueTimeout
        double configureQueueTimeout
        double closeQueueTimeout
        long long maxUnackedPosts
        long long maxUnackedBytes
        cbool hasAuthnCredential
        string authnMechanism
        string authnData
        AuthnCredentialFn authnCredentialFn
        void* authnCredentialContext

    cdef cppclass SubscriptionSpec:
        SubscriptionSpec()
        long long id
        string expression
        cbool hasMaxUnconfirmedMessages
        int maxUnconfirmedMessages
        cbool hasMaxUnconfirmedBytes
        int maxUnconfirmedBytes
        cbool hasConsumerPriority
        int consumerPriority

    cdef cppclass QueueOptionsSpec:
        cbool hasMaxUnconfirmedMessages
        int maxUnconfirmedMessages
        cbool hasMaxUnconfirmedBytes
        int maxUnconfirmedBytes
        cbool hasConsumerPriority
        int consumerPriority
        cbool hasSuspendsOnBadHostHealth
        cbool suspendsOnBadHostHealth
        cbool hasSubscriptions
        vector[SubscriptionSpec] subscriptions

    cdef cppclass Session:
        Session(const SessionConfig&, void*, EventBatchFn) except +
        int startAsync(double)
        void stop()
        void stopDelivery()
        cbool isStopping()
        void detach()
        void* context()
        void takePendingEvents(vector[PendingEvent]*)
        long long batchWokenNs()
        void setDeliveryFd(int)
        int deliverPending()
        int reserveQueueSlot()
        void releaseQueueSlot(int)
        int openQueueAsync(int, const string&, unsigned long long,
                           const QueueOptionsSpec&, double, long long)
        int configureQueueAsync(int, const QueueOptionsSpec&, double, long long)
        int closeQueueAsync(int, double, long long)
        int getQueueOptions(QueueOptionsSpec*, int)
        int post(int*, int, const char*, size_t, const MessageProperties*,
                 long long, int)
        int postBatch(size_t*, int*, int, const char* const*, const size_t*, size_t,
                      const MessageProperties*, long long, int)
        int confirmBatch(const int*, const unsigned char*, size_t)
        cbool waitForChannel(double)
        void acksDelivered(long long, long long)
        int confirm(int, const unsigned char*)

    cdef cppclass MessageCursor:
        MessageCursor(const MessageEvent&)
        cbool next()
        int eventType()
        int queueSlot()
        long long correlationId()
        long long subscriptionId()
        int ackStatus()
        cbool hasGuid()
        void loadGuid(unsigned char*)
        int dataSize()
        void copyData(char*)
        cbool hasProperties()
        int loadProperties(MessageProperties*)

    cdef cppclass PropertyCursor:
        PropertyCursor(const MessageProperties&)
        cbool next()
        const char* name()
        size_t nameLength()
        int type()
        long long integer()
        const char* bytes()
        size_t length()

    cbool inCallbackThread()
    long long monotonicNs()
    int setProperty(MessageProperties*, const char*, size_t, int, long long,
                    const char*, size_t)
    const char* eventBuilderResultName(int)
    const char* postResultName(int)
    const char* genericResultName(int)

cdef extern from "bmqpy_spanrecords.h" namespace "bmqpy" nogil:
    cdef cppclass SpanRecord:
        cbool isStart
        long long spanId
        long long parentId
        long long tracerId
        string operation
        long long timeNs
        vector[pair[string, string]] baggage

    void takeSpanRecords(vector[SpanRecord]*, unsigned long long*, double)
    cbool waitForSpanRecords(double)
    void resetSpanRecordsAfterFork()

cdef extern from "bmqpy_dtcontext.h" namespace "bmqpy" nogil:
    cdef cppclass CallerSpanScope:
        CallerSpanScope(long long)

cdef extern from "bmqpy_log.h" namespace "bmqpy" nogil:
    cdef cppclass LogRecord:
        string category
        int severity
        string message
        string fileName
        int lineNumber

    void installLogBridge() except +
    void takeLogRecords(vector[LogRecord]*, unsigned long long*, double)
    void resetLogBridgeAfterFork()

# bmqt::MessageEventType
cdef enum:
    EVENT_PUSH = 2
    EVENT_ACK = 3

# bmqt::PropertyType
cdef enum:
    PROPERTY_BOOL = 1
    PROPERTY_CHAR = 2
    PROPERTY_STRING = 6
    PROPERTY_BINARY = 7

QUEUE_NOT_OPEN = k_QUEUE_NOT_OPEN
BW_LIMIT = 100  # bmqt::PostResult::e_BW_LIMIT

# Statistics: ACK result codes are counted by index (`_ack_index`), session
# events by `bmqt::SessionEventType` (-3 to 18, offset by 3).
cdef enum:
    _ACK_INDEXES = 15
    _EVENT_TYPE_OFFSET = 3
    _EVENT_TYPES = 24


cdef inline int _ack_index(int code) noexcept nogil:
    """0-8 for the generic codes 0 to -8, 9-13 for -100 to -104, 14 for any
    other code."""
    if -8 <= code <= 0:
        return -code
    if -104 <= code <= -100:
        return 9 + (-100 - code)
    return 14


# The ACK result code each index stands for (14: none in particular).
ACK_CODES_BY_INDEX = (0, -1, -2, -3, -4, -5, -6, -7, -8, -100, -101, -102, -103, -104, None)

# --------------------------------------------------------------------------
# Small conversions

# Up to this many payload bytes, `post_batch` keeps the GIL while libbmq
# packs and sends (tens of microseconds); a bigger batch releases it.
cdef enum:
    _POST_BATCH_KEEPS_GIL_BYTES = 1 << 20

cdef inline double _seconds(object value):
    """A timeout in seconds, or -1 for "libbmq's default"."""
    return -1.0 if value is None else <double>value


def event_builder_result_name(int code):
    """The name of a ``bmqt::EventBuilderResult`` code, e.g. ``PAYLOAD_EMPTY``."""
    return eventBuilderResultName(code).decode()


def post_result_name(int code):
    """The name of a ``bmqt::PostResult`` code, e.g. ``BW_LIMIT``."""
    return postResultName(code).decode()


def generic_result_name(int code):
    """The name of a ``bmqt::GenericResult`` code, e.g. ``TIMEOUT``."""
    return genericResultName(code).decode()


def in_callback_thread():
    """Whether the calling thread is running a libbmq callback."""
    return inCallbackThread()


def install_log_bridge():
    """Route libbmq's log records (INFO and above) to ``take_log_records``."""
    installLogBridge()


def take_log_records(double timeout):
    """Wait up to ``timeout`` seconds, without the GIL, for libbmq log records.

    Return ``(records, dropped)``: each record is ``(category, ball_severity,
    message, file_name, line)``; ``dropped`` counts records lost to a full
    queue.
    """
    cdef vector[LogRecord] records
    cdef unsigned long long dropped = 0
    with nogil:
        takeLogRecords(&records, &dropped, timeout)
    return [
        (
            record.category.decode("utf-8", "replace"),
            record.severity,
            record.message.decode("utf-8", "replace"),
            record.fileName.decode("utf-8", "replace"),
            record.lineNumber,
        )
        for record in records
    ], dropped


def reset_log_bridge_after_fork():
    """In a child after ``fork()``: start the log queue afresh."""
    resetLogBridgeAfterFork()


def take_span_records(double timeout):
    """Wait up to ``timeout`` seconds, without the GIL, for the starts and
    ends of libbmq's spans (see ``src/cpp/bmqpy_spanrecords.h``).

    Return ``(records, dropped)``: each record is ``(is_start, span_id,
    parent_id, tracer_id, operation, time_ns, baggage)`` (``baggage`` a
    dict of str); ``dropped`` counts records lost to a full queue.
    """
    cdef vector[SpanRecord] records
    cdef unsigned long long dropped = 0
    cdef SpanRecord record
    cdef pair[string, string] entry
    with nogil:
        takeSpanRecords(&records, &dropped, timeout)
    result = []
    for record in records:
        baggage = {}
        for entry in record.baggage:
            baggage[entry.first.decode("utf-8", "replace")] = entry.second.decode("utf-8", "replace")
        result.append((
            record.isStart,
            record.spanId,
            record.parentId,
            record.tracerId,
            record.operation.decode("utf-8", "replace"),
            record.timeNs,
            baggage,
        ))
    return result, dropped


def wait_for_span_records(double timeout):
    """Wait up to ``timeout`` seconds, without the GIL, until a span record
    is queued; return whether one is."""
    cdef cbool ready
    with nogil:
        ready = waitForSpanRecords(timeout)
    return ready


def reset_span_records_after_fork():
    """In a child after ``fork()``: start the span record queue afresh."""
    resetSpanRecordsAfterFork()


cdef void _fill_queue_options(QueueOptionsSpec* spec, tuple options) except *:
    """``options`` is (max_unconfirmed_messages, max_unconfirmed_bytes,
    consumer_priority, suspends_on_bad_host_health, subscriptions), each
    possibly None; subscriptions are (id, expression: bytes, max messages,
    max bytes, priority) tuples."""
    cdef SubscriptionSpec sub
    messages, bytes_, priority, suspends, subscriptions = options
    if messages is not None:
        spec.hasMaxUnconfirmedMessages = True
        spec.maxUnconfirmedMessages = messages
    if bytes_ is not None:
        spec.hasMaxUnconfirmedBytes = True
        spec.maxUnconfirmedBytes = bytes_
    if priority is not None:
        spec.hasConsumerPriority = True
        spec.consumerPriority = priority
    if suspends is not None:
        spec.hasSuspendsOnBadHostHealth = True
        spec.suspendsOnBadHostHealth = suspends
    if subscriptions is not None:
        spec.hasSubscriptions = True
        for sub_id, expression, sub_messages, sub_bytes, sub_priority in subscriptions:
            sub = SubscriptionSpec()
            sub.id = sub_id
            sub.expression = expression
            if sub_messages is not None:
                sub.hasMaxUnconfirmedMessages = True
                sub.maxUnconfirmedMessages = sub_messages
            if sub_bytes is not None:
                sub.hasMaxUnconfirmedBytes = True
                sub.maxUnconfirmedBytes = sub_bytes
            if sub_priority is not None:
                sub.hasConsumerPriority = True
                sub.consumerPriority = sub_priority
            spec.subscriptions.push_back(sub)


cdef int _fill_properties(MessageProperties* props, list properties) except -1:
    """Set ``properties`` (checked by the Python layer: (name: bytes, type
    code, int or bytes value)) on ``props``."""
    cdef bytes name
    cdef bytes raw
    cdef int ptype
    cdef long long integer
    cdef int rc
    cdef const char* value_bytes
    cdef size_t value_length
    for name, ptype, value in properties:
        integer = 0
        value_bytes = NULL
        value_length = 0
        if ptype == PROPERTY_STRING or ptype == PROPERTY_BINARY:
            raw = value
            value_bytes = PyBytes_AS_STRING(raw)
            value_length = PyBytes_GET_SIZE(raw)
        elif ptype == PROPERTY_CHAR:
            raw = value
            integer = <unsigned char>PyBytes_AS_STRING(raw)[0]
        else:
            integer = value
        rc = setProperty(props, PyBytes_AS_STRING(name), PyBytes_GET_SIZE(name),
                         ptype, integer, value_bytes, value_length)
        if rc != 0:
            raise ValueError(f"Failed to set key {name.decode(errors='replace')!r} with rc: {rc}")
    return 0


# --------------------------------------------------------------------------
# Host health

cdef class HealthMonitorHandle:
    """A libbmq manual host health monitor (initially healthy)."""

    cdef HealthMonitor* monitor

    def __cinit__(self):
        self.monitor = new HealthMonitor()

    def __dealloc__(self):
        del self.monitor

    def set_healthy(self):
        self.monitor.setHealthy()

    def set_unhealthy(self):
        self.monitor.setUnhealthy()


cdef extern from *:
    """
    #include "bmqpy_session.h"
    // Cython cannot name a shared_ptr member of a class; this copies the
    // monitor into the session configuration.
    static inline void bmqpy_setHealthMonitor(bmqpy::SessionConfig* config,
                                              bmqpy::HealthMonitor* monitor)
    {
        config->hostHealthMonitor = monitor->monitor();
    }
    """
    void bmqpy_setHealthMonitor(SessionConfig*, HealthMonitor*)


cdef extern from *:
    """
    #include "bmqpy_dtcontext.h"
    #include "bmqpy_dttracer.h"
    // libbmq's spans of the session's control operations are queued for
    // the Python tracer `tracerId` (see bmqpy_dttracer.h).
    static inline void bmqpy_enableTracing(bmqpy::SessionConfig* config,
                                           long long tracerId)
    {
        config->traceContext = bmqpy::threadContext();
        config->tracer = bsl::make_shared<bmqpy::DTTracer>(tracerId);
    }
    """
    void bmqpy_enableTracing(SessionConfig*, long long)


# --------------------------------------------------------------------------
# Building the callbacks' objects

# `Message`, `MessageHandle` and `Ack` are plain Python classes with
# `__slots__` (the Python layer owns them), built here once per message or
# ACK.  `Message.__new__(Message)` looks the type and `__new__` up and packs
# an argument tuple, and each `obj.name = value` looks `name` up along the
# type's MRO before reaching its slot; calling the type's allocator and the
# slots' own descriptors does neither (perf on a 200k x 1 KiB consumer:
# about 7% of the callback thread's samples were in those steps).
cdef extern from *:
    """
    static inline PyObject* bmqpy_allocate(PyObject* type)
    {
        PyTypeObject* t = (PyTypeObject*)type;
        return t->tp_alloc(t, 0);
    }
    static inline int bmqpy_set_slot(PyObject* slot, PyObject* obj, PyObject* value)
    {
        return Py_TYPE(slot)->tp_descr_set(slot, obj, value);
    }
    """
    object bmqpy_allocate(object type)
    int bmqpy_set_slot(object slot, object obj, object value) except -1


cdef object _slot(type cls, str name):
    """The descriptor of ``cls``'s slot ``name`` (checked, so that a change
    to the class fails at import rather than on the first message)."""
    descriptor = cls.__dict__[name]
    if type(descriptor).__name__ != "member_descriptor":
        raise TypeError(f"{cls.__name__}.{name} is not a slot")
    return descriptor


cdef object _MESSAGE_DATA = _slot(Message, "data")
cdef object _MESSAGE_GUID = _slot(Message, "guid")
cdef object _MESSAGE_QUEUE_URI = _slot(Message, "queue_uri")
cdef object _MESSAGE_PROPERTIES = _slot(Message, "properties")
cdef object _MESSAGE_PROPERTY_TYPES = _slot(Message, "property_types")
cdef object _MESSAGE_SUBSCRIPTION = _slot(Message, "subscription")
cdef object _MESSAGE_RECEIVER = _slot(Message, "_receiver")
cdef object _HANDLE_MESSAGE = _slot(MessageHandle, "_message")
cdef object _HANDLE_SESSION = _slot(MessageHandle, "_session")
cdef object _ACK_STATUS = _slot(Ack, "status")
cdef object _ACK_GUID = _slot(Ack, "guid")
cdef object _ACK_QUEUE_URI = _slot(Ack, "queue_uri")


# --------------------------------------------------------------------------
# Authentication

cdef cbool _authn_credential(void* provider, string* mechanism, string* data) noexcept with gil:
    """Called on a libbmq thread when it authenticates: ``provider()``
    returns ``(mechanism, data)`` as bytes, or None for "no credential".
    The provider (the Python layer) validates and reports its own errors."""
    try:
        credential = (<object>provider)()
        if credential is None:
            return False
        mechanism[0] = <bytes>credential[0]
        data[0] = <bytes>credential[1]
        return True
    except BaseException:
        return False


# --------------------------------------------------------------------------
# The session

cdef class SessionHandle:
    """One libbmq session.

    ``owner`` is the Python ``Session``, held weakly so that dropping the
    last user reference collects it; each ``MessageHandle`` refers to it.
    For each libbmq event the handle calls ``events.session_event(type,
    status, status_name, description, queue_uri)`` (or
    ``events.interface_error(text)``), ``on_message(message, handle)`` for
    each message, and each post's ``on_ack(ack)``.  ``report_exception()`` is
    called, inside an ``except`` block, when a callback raises.
    """

    cdef Session* session
    cdef object owner_ref
    cdef object events
    cdef readonly object on_message
    cdef object report_exception
    cdef dict queue_uris       # slot -> URI (str), kept until the slot is reused
    cdef dict ack_callbacks    # ACK correlation id -> (on_ack, queue slot, payload size)
    # Subscription correlation id -> the Subscription object, filled in by
    # the Python layer before libbmq can deliver a message that matched it.
    cdef readonly dict subscriptions
    cdef long long last_ack_id
    cdef readonly bint stopped
    cdef object authn_provider   # kept alive for libbmq's credential callback
    # Called with no argument after each batch of events, on the callback
    # thread with the GIL held (``blazingmq.aio`` wakes its event loop there:
    # once per batch, not once per message).  None: nothing is called.
    cdef public object on_batch_end
    # Marks the messages this session received (a token rather than the
    # handle, so that a kept message does not keep a libbmq session alive).
    cdef readonly object receiver_token
    # Statistics (see ``stats``).  Each is counted where the event already
    # holds the GIL (a post or confirm call, the callback thread's loop over
    # a batch), so a count is one C increment: no atomic, no lock, no Python
    # object.  Read under the GIL too.
    cdef long long posted_messages
    cdef long long posted_bytes
    cdef long long received_messages
    cdef long long received_bytes
    cdef long long confirmed_messages
    cdef long long ack_counts[_ACK_INDEXES]
    cdef long long event_counts[_EVENT_TYPES]
    # Posts (or post_many calls) that found the channel full, or the
    # unacknowledged limits reached; counted by the Python layer.
    cdef public long long channel_waits
    # The property names of the last message received, reused for the next
    # one when they are the same (see ``_convert_properties``).
    cdef list property_names
    # Where the event being handed over spent its time (``monotonicNs``,
    # the clock of ``time.perf_counter_ns``): when libbmq's thread handed it
    # over, when the thread delivering it woke up for it, when that thread
    # had the GIL.  Three C stores per event; read by the benchmarks' stage
    # breakdown (``python -m benchmarks.latency_stages``) from a callback.
    cdef readonly long long delivery_queued_ns
    cdef readonly long long delivery_woken_ns
    cdef readonly long long delivery_gil_ns

    def __cinit__(self):
        self.session = NULL
        self.queue_uris = {}
        self.ack_callbacks = {}
        self.subscriptions = {}
        self.property_names = []
        self.last_ack_id = 0
        self.receiver_token = object()

    def __init__(
        self,
        owner,
        events,
        on_message,
        report_exception,
        bytes broker_uri,
        bytes process_name,
        bytes user_agent_prefix,
        HealthMonitorHandle monitor,
        int num_processing_threads,
        int blob_buffer_size,
        long long channel_high_watermark,
        int event_queue_low_watermark,
        int event_queue_high_watermark,
        double stats_dump_interval,
        connect_timeout,
        disconnect_timeout,
        open_queue_timeout,
        configure_queue_timeout,
        close_queue_timeout,
        authn_credential=None,
        long long max_unacked_posts=0,
        long long max_unacked_bytes=0,
        long long control_tracer_id=0,
    ):
        """``authn_credential``: None, a ``(mechanism, data)`` pair of
        bytes, or a callable returning such a pair or None (called on a
        libbmq thread).  ``control_tracer_id``: not 0, libbmq's spans of
        control operations are queued for ``take_span_records`` with that
        tracer id."""
        cdef SessionConfig config
        config.brokerUri = broker_uri
        config.processName = process_name
        config.userAgentPrefix = user_agent_prefix
        config.numProcessingThreads = num_processing_threads
        config.blobBufferSize = blob_buffer_size
        config.channelHighWatermark = channel_high_watermark
        config.eventQueueLowWatermark = event_queue_low_watermark
        config.eventQueueHighWatermark = event_queue_high_watermark
        config.statsDumpInterval = stats_dump_interval
        config.connectTimeout = _seconds(connect_timeout)
        config.disconnectTimeout = _seconds(disconnect_timeout)
        config.openQueueTimeout = _seconds(open_queue_timeout)
        config.configureQueueTimeout = _seconds(configure_queue_timeout)
        config.closeQueueTimeout = _seconds(close_queue_timeout)
        config.maxUnackedPosts = max_unacked_posts
        config.maxUnackedBytes = max_unacked_bytes
        if monitor is not None:
            bmqpy_setHealthMonitor(&config, monitor.monitor)
        if control_tracer_id != 0:
            bmqpy_enableTracing(&config, control_tracer_id)
        if callable(authn_credential):
            self.authn_provider = authn_credential
            config.authnCredentialFn = _authn_credential
            config.authnCredentialContext = <void*>self.authn_provider
        elif authn_credential is not None:
            config.hasAuthnCredential = True
            config.authnMechanism = <bytes>authn_credential[0]
            config.authnData = <bytes>authn_credential[1]
        self.owner_ref = weakref.ref(owner)
        self.events = events
        self.on_message = on_message
        self.report_exception = report_exception
        self.session = new Session(config, <void*>self, _on_events)

    def __dealloc__(self):
        if self.session != NULL:
            # Deleting stops the session and joins its callback thread, so it
            # must not run there: the Python layer stops a session dropped
            # in a callback on another thread, which then owns the handle.
            self.session.detach()
            with nogil:
                del self.session
            self.session = NULL

    def abandon(self):
        """Forget the libbmq session without stopping or destroying it.

        For a child process after ``fork()``: the session's threads exist
        only in the parent, so stopping it here would wait forever, and its
        connection belongs to the parent.  The C++ object is leaked on
        purpose.
        """
        self.session = NULL
        self.stopped = True

    # The control operations take ``caller_span``: 0, or the id of the
    # program's span that libbmq's spans of the operation are children of
    # (see ``src/cpp/bmqpy_dtcontext.h``).

    def start_async(self, timeout, long long caller_span=0):
        """Start connecting; return 0 or a ``bmqt::GenericResult`` code.  The
        outcome comes as a ``Connected`` or ``ConnectionTimeout`` event."""
        cdef double seconds = _seconds(timeout)
        cdef int rc
        cdef CallerSpanScope* scope
        with nogil:
            scope = new CallerSpanScope(caller_span)
            rc = self.session.startAsync(seconds)
            del scope
        return rc

    def set_delivery_fd(self, int fd):
        """Have the events delivered by :meth:`deliver_pending`, called by
        the thread that watches ``fd`` (a non-blocking pipe's write end: one
        byte is written when events are waiting); -1 gives delivery back to
        the session's own threads (``stop`` does that first).  Close ``fd``
        only after setting -1."""
        if self.session != NULL:
            self.session.setDeliveryFd(fd)

    def deliver_pending(self):
        """Run the callbacks of every event waiting, on this thread (see
        :meth:`set_delivery_fd`); return whether there were any."""
        if self.session == NULL:
            return False
        return self.session.deliverPending() != 0

    def stop_delivery(self):
        """Hand over no more messages (``stop`` is about to begin)."""
        self.session.stopDelivery()

    def stop(self, long long caller_span=0):
        """Disconnect and wait for every callback to return.  Blocks without
        the GIL; idempotent."""
        cdef CallerSpanScope* scope
        with nogil:
            scope = new CallerSpanScope(caller_span)
            self.session.stop()
            del scope
        self.stopped = True
        # libbmq delivers nothing more; ACKs still owed will never come.
        self.ack_callbacks.clear()

    def reserve_queue_slot(self, str uri):
        """Reserve the slot of a queue about to be opened and remember its
        URI, so that what libbmq delivers while ``open_queue`` runs already
        names the queue."""
        cdef int slot = self.session.reserveQueueSlot()
        self.queue_uris[slot] = uri
        return slot

    def release_queue_slot(self, int slot):
        """Free the slot of a queue that failed to open."""
        self.session.releaseQueueSlot(slot)

    # The queue operations return at once (0 or QUEUE_NOT_OPEN); their
    # outcome reaches ``events.operation_done(request_id, ...)`` on the
    # callback thread.

    def open_queue_async(self, int slot, str uri, unsigned long long flags, tuple options,
                         timeout, long long request_id, long long caller_span=0):
        """Start opening ``uri`` in its reserved slot."""
        cdef QueueOptionsSpec spec
        cdef string curi = uri.encode()
        cdef double seconds = _seconds(timeout)
        cdef int rc
        cdef CallerSpanScope* scope
        _fill_queue_options(&spec, options)
        with nogil:
            scope = new CallerSpanScope(caller_span)
            rc = self.session.openQueueAsync(slot, curi, flags, spec, seconds, request_id)
            del scope
        return rc

    def configure_queue_async(self, int slot, tuple options, timeout, long long request_id,
                              long long caller_span=0):
        cdef QueueOptionsSpec spec
        cdef double seconds = _seconds(timeout)
        cdef int rc
        cdef CallerSpanScope* scope
        _fill_queue_options(&spec, options)
        with nogil:
            scope = new CallerSpanScope(caller_span)
            rc = self.session.configureQueueAsync(slot, spec, seconds, request_id)
            del scope
        return rc

    def close_queue_async(self, int slot, timeout, long long request_id, long long caller_span=0):
        cdef double seconds = _seconds(timeout)
        cdef int rc
        cdef CallerSpanScope* scope
        with nogil:
            scope = new CallerSpanScope(caller_span)
            rc = self.session.closeQueueAsync(slot, seconds, request_id)
            del scope
        return rc

    def get_queue_options(self, int slot):
        """Return the four queue option fields and the subscriptions (None,
        or a list of (id, expression, max messages, max bytes, priority),
        None for a field the subscription leaves to the queue), or None if
        the queue is not open."""
        cdef QueueOptionsSpec spec
        cdef SubscriptionSpec sub
        if self.session.getQueueOptions(&spec, slot) != 0:
            return None
        subscriptions = None
        if spec.hasSubscriptions:
            subscriptions = [
                (
                    sub.id,
                    sub.expression.decode("utf-8", "replace"),
                    sub.maxUnconfirmedMessages if sub.hasMaxUnconfirmedMessages else None,
                    sub.maxUnconfirmedBytes if sub.hasMaxUnconfirmedBytes else None,
                    sub.consumerPriority if sub.hasConsumerPriority else None,
                )
                for sub in spec.subscriptions
            ]
        return (
            spec.maxUnconfirmedMessages,
            spec.maxUnconfirmedBytes,
            spec.consumerPriority,
            spec.suspendsOnBadHostHealth,
            subscriptions,
        )

    def post(self, int slot, bytes data, list properties, on_ack, int compression):
        """Post without blocking.

        ``properties`` is None or a list of (name: bytes, type code, value)
        with values already checked: int for the integer types and BOOL,
        bytes for CHAR (1 byte), STRING and BINARY.  Return
        ``(post_result, build_result)``: (0, 0) on success, (-1, code) if the
        message could not be built, (code, 0) if it could not be sent.
        """
        # Built only for a post that has properties: the common post
        # allocates nothing here.
        cdef MessageProperties* props = NULL
        cdef long long ack_id = 0
        cdef int build_result = 0
        cdef int rc = 0
        cdef const char* payload
        cdef size_t payload_size
        if properties is not None:
            props = new MessageProperties()
        try:
            if props != NULL:
                _fill_properties(props, properties)
            if on_ack is not None:
                self.last_ack_id += 1
                ack_id = self.last_ack_id
                # Registered before posting: the ACK may arrive on another
                # thread before `post` returns here.  With the queue's slot:
                # asking libbmq which queue an ACK is for costs more.  With
                # the payload's size, which counts against the session's
                # limit of unacknowledged bytes until the ACK is handed over.
                self.ack_callbacks[ack_id] = (on_ack, slot, PyBytes_GET_SIZE(data))
            payload = PyBytes_AS_STRING(data)
            payload_size = PyBytes_GET_SIZE(data)
            # libbmq's post never blocks here (channel write timeout 0), so
            # the GIL is kept: released on every post, it went to the
            # callback thread for a handful of ACKs each time, two thread
            # switches per post; kept, the callback thread gets it at the
            # interpreter's switch interval, or when this thread waits, and
            # hands over everything queued meanwhile.  (Measured, 200k x 1 KiB
            # with ACKs, three runs each: 26-35k msgs/s against 26-30k, and
            # fewer context switches.)  No lock taken here is ever held by a
            # thread waiting for the GIL.
            rc = self.session.post(&build_result, slot, payload, payload_size,
                                   props, ack_id, compression)
        finally:
            del props
        if rc == 0:
            self.posted_messages += 1
            self.posted_bytes += payload_size
        elif ack_id != 0:
            del self.ack_callbacks[ack_id]
        return rc, build_result

    def post_batch(self, int slot, list payloads, list properties, on_ack, int compression):
        """Post every payload of ``payloads`` (a list of non-empty bytes) to
        one queue, packed into as few PUT events as fit.  The same
        ``properties`` and ``on_ack`` serve every message; each message gets
        its own ACK.  Return ``(post_result, build_result, posted)``:
        ``posted`` messages were taken by libbmq (the first ones); on
        BW_LIMIT the caller waits and posts the rest."""
        cdef size_t count = len(payloads)
        cdef vector[const char*] pointers
        cdef vector[size_t] lengths
        cdef MessageProperties* props = NULL
        cdef long long first_ack_id = 0
        cdef int build_result = 0
        cdef int rc = 0
        cdef size_t posted = 0
        cdef size_t total_bytes = 0
        cdef size_t i
        cdef bytes payload
        pointers.reserve(count)
        lengths.reserve(count)
        for payload in payloads:
            pointers.push_back(PyBytes_AS_STRING(payload))
            lengths.push_back(PyBytes_GET_SIZE(payload))
            total_bytes += PyBytes_GET_SIZE(payload)
        if properties is not None:
            props = new MessageProperties()
        try:
            if props != NULL:
                _fill_properties(props, properties)
            if on_ack is not None:
                first_ack_id = self.last_ack_id + 1
                self.last_ack_id += count
                # Registered before posting: ACKs may arrive before
                # `postBatch` returns.
                for i in range(count):
                    self.ack_callbacks[first_ack_id + <long long>i] = (on_ack, slot, lengths[i])
            if total_bytes <= _POST_BATCH_KEEPS_GIL_BYTES:
                # Never blocks (channel write timeout 0); released for a
                # small batch, the GIL went to the callback thread after
                # every call, as it did per post before `post` kept it.
                rc = self.session.postBatch(&posted, &build_result, slot, pointers.data(),
                                            lengths.data(), count, props, first_ack_id,
                                            compression)
            else:
                with nogil:
                    rc = self.session.postBatch(&posted, &build_result, slot, pointers.data(),
                                                lengths.data(), count, props, first_ack_id,
                                                compression)
        finally:
            del props
        self.posted_messages += posted
        if posted == count:
            self.posted_bytes += total_bytes
        else:
            for i in range(posted):
                self.posted_bytes += lengths[i]
        if first_ack_id != 0:
            # No ACK will come for the messages libbmq did not take.
            for i in range(posted, count):
                del self.ack_callbacks[first_ack_id + <long long>i]
        return rc, build_result, posted

    def confirm_batch(self, list slots, list guids):
        """Confirm messages (``slots[i]``, 16-byte ``guids[i]``) in one
        CONFIRM event; return libbmq's result code."""
        cdef size_t count = len(slots)
        cdef vector[int] slot_array
        cdef string guid_array
        cdef bytes guid
        cdef size_t i
        slot_array.reserve(count)
        guid_array.reserve(16 * count)
        for i in range(count):
            slot_array.push_back(slots[i])
            guid = guids[i]
            guid_array.append(PyBytes_AS_STRING(guid), 16)
        cdef int rc
        with nogil:
            rc = self.session.confirmBatch(slot_array.data(),
                                           <const unsigned char*>guid_array.data(), count)
        if rc == 0:
            self.confirmed_messages += count
        return rc

    def wait_for_channel(self, double timeout):
        """Wait up to ``timeout`` seconds, without the GIL, for a full channel
        to drain; return whether it did."""
        cdef cbool drained
        with nogil:
            drained = self.session.waitForChannel(timeout)
        return drained

    def confirm(self, int slot, bytes guid):
        """Confirm the message with the 16-byte ``guid``; return libbmq's
        result code."""
        cdef int rc = self.session.confirm(slot, <const unsigned char*>PyBytes_AS_STRING(guid))
        if rc == 0:
            self.confirmed_messages += 1
        return rc

    def stats(self):
        """The counts behind ``Session.stats()``: ``(posted messages, posted
        bytes, received messages, received bytes, confirmed messages, ACKs
        by index (see ``ACK_CODES_BY_INDEX``), session events by type
        (``{type: count}``, non-zero only), posts awaiting their ACK,
        channel waits)``."""
        cdef int i
        return (
            self.posted_messages,
            self.posted_bytes,
            self.received_messages,
            self.received_bytes,
            self.confirmed_messages,
            [self.ack_counts[i] for i in range(_ACK_INDEXES)],
            {i - _EVENT_TYPE_OFFSET: self.event_counts[i]
             for i in range(_EVENT_TYPES) if self.event_counts[i] != 0},
            len(self.ack_callbacks),
            self.channel_waits,
        )

    @property
    def stopping(self):
        """Whether ``stop`` has begun."""
        return self.session.isStopping()



# --------------------------------------------------------------------------
# The session's pump thread lands here (without the GIL).

cdef void _on_events(Session* session, vector[PendingEvent]* batch) noexcept with gil:
    """The session's pump thread, with events pending: the GIL is taken once,
    then every event pending by then is handled, in order.  The pump
    releases them afterwards."""
    cdef long long gil_ns = monotonicNs()
    session.takePendingEvents(batch)
    cdef void* context = session.context()
    if context == NULL:
        return
    cdef SessionHandle handle = <SessionHandle>context
    handle.delivery_woken_ns = session.batchWokenNs()
    handle.delivery_gil_ns = gil_ns
    cdef size_t i
    for i in range(batch.size()):
        handle.delivery_queued_ns = batch[0][i].queuedNs
        if batch[0][i].isMessageEvent:
            _on_message_event(handle, batch[0][i].messageEvent)
        else:
            _on_session_event(handle, batch[0][i].sessionEvent)
    if handle.on_batch_end is not None:
        try:
            handle.on_batch_end()
        except BaseException:
            handle.report_exception()


cdef void _on_session_event(SessionHandle handle, const SessionEventInfo& info) noexcept:
    cdef int index = info.type + _EVENT_TYPE_OFFSET
    if 0 <= index < _EVENT_TYPES:
        handle.event_counts[index] += 1
    try:
        if info.type == k_OPERATION_RESULT:
            handle.events.operation_done(
                info.requestId,
                info.status,
                info.statusName.decode(),
                info.description.decode("utf-8", "replace"),
            )
            return
        queue_uri = None
        if info.queueSlot >= 0:
            queue_uri = handle.queue_uris.get(info.queueSlot)
        handle.events.session_event(
            info.type,
            info.status,
            info.statusName.decode(),
            info.description.decode("utf-8", "replace"),
            queue_uri,
        )
    except BaseException:
        handle.report_exception()


cdef void _on_message_event(SessionHandle handle, const MessageEvent& event) noexcept:
    cdef MessageCursor* cursor = new MessageCursor(event)
    try:
        if cursor.eventType() == EVENT_PUSH:
            _deliver_messages(handle, cursor)
        elif cursor.eventType() == EVENT_ACK:
            _deliver_acks(handle, cursor)
    except BaseException:
        handle.report_exception()
    finally:
        del cursor


cdef bytes _guid(MessageCursor* cursor):
    cdef bytes guid = PyBytes_FromStringAndSize(NULL, 16)
    cursor.loadGuid(<unsigned char*>PyBytes_AS_STRING(guid))
    return guid


cdef int _deliver_acks(SessionHandle handle, MessageCursor* cursor) except -1:
    cdef dict callbacks = handle.ack_callbacks
    cdef dict uris = handle.queue_uris
    cdef tuple entry
    cdef long long delivered = 0
    cdef long long delivered_bytes = 0
    cdef int code
    try:
        while cursor.next():
            code = cursor.ackStatus()
            handle.ack_counts[_ack_index(code)] += 1
            entry = callbacks.pop(cursor.correlationId(), None)
            if entry is None:
                continue  # a post that asked for no ACK (libbmq NACKs those too)
            delivered += 1
            delivered_bytes += <long long>entry[2]
            _deliver_ack(handle, cursor, code, entry, uris)
    finally:
        # Posts waiting for the session's unacknowledged limits resume.
        handle.session.acksDelivered(delivered, delivered_bytes)
    return 0


cdef inline int _deliver_ack(SessionHandle handle, MessageCursor* cursor, int code,
                             tuple entry, dict uris) except -1:
    on_ack, slot, _ = entry
    ack = bmqpy_allocate(Ack)
    status = ACK_STATUS_BY_CODE.get(code)
    bmqpy_set_slot(_ACK_STATUS, ack, status if status is not None else ack_status_from_code(code))
    bmqpy_set_slot(_ACK_GUID, ack, _guid(cursor) if code == 0 and cursor.hasGuid() else None)
    bmqpy_set_slot(_ACK_QUEUE_URI, ack, uris.get(slot, ""))
    try:
        on_ack(ack)
    except BaseException:
        handle.report_exception()
    return 0


cdef int _deliver_messages(SessionHandle handle, MessageCursor* cursor) except -1:
    cdef dict uris = handle.queue_uris
    cdef dict subscriptions = handle.subscriptions
    cdef object on_message = handle.on_message
    cdef MessageProperties props
    cdef bytes data
    cdef int size
    owner = handle.owner_ref()
    while cursor.next():
        if handle.session.isStopping():
            break  # the rest stays unconfirmed; the broker redelivers it
        if on_message is None or owner is None:
            if on_message is None:
                handle.events.interface_error("Messages received but no callback configured")
            continue
        size = cursor.dataSize()
        data = PyBytes_FromStringAndSize(NULL, size)
        if size > 0:
            cursor.copyData(PyBytes_AS_STRING(data))
        handle.received_messages += 1
        handle.received_bytes += size
        message = bmqpy_allocate(Message)
        bmqpy_set_slot(_MESSAGE_DATA, message, data)
        bmqpy_set_slot(_MESSAGE_GUID, message, _guid(cursor))
        bmqpy_set_slot(_MESSAGE_QUEUE_URI, message, uris.get(cursor.queueSlot(), ""))
        bmqpy_set_slot(_MESSAGE_RECEIVER, message, handle.receiver_token)
        bmqpy_set_slot(_MESSAGE_SUBSCRIPTION, message,
                       subscriptions.get(cursor.subscriptionId()) if subscriptions else None)
        properties = None
        if cursor.hasProperties():
            props.clear()
            if cursor.loadProperties(&props) == 0:
                properties, property_types = _convert_properties(handle, props)
        if properties is None:
            properties, property_types = {}, {}
        bmqpy_set_slot(_MESSAGE_PROPERTIES, message, properties)
        bmqpy_set_slot(_MESSAGE_PROPERTY_TYPES, message, property_types)
        message_handle = bmqpy_allocate(MessageHandle)
        bmqpy_set_slot(_HANDLE_MESSAGE, message_handle, message)
        bmqpy_set_slot(_HANDLE_SESSION, message_handle, owner)
        try:
            on_message(message, message_handle)
        except BaseException:
            handle.report_exception()
    return 0


cdef tuple _convert_properties(SessionHandle handle, MessageProperties& props):
    """The message's properties as ``(values, types)`` dicts.  Names are
    taken from the previous message's when they are the same (messages of a
    queue mostly carry the same names, in the same order): no decoding, no
    new string.  Values are made straight from libbmq's buffers."""
    cdef dict values = {}
    cdef dict types = {}
    cdef PropertyCursor* cursor = new PropertyCursor(props)
    cdef list previous = handle.property_names
    cdef list names = previous  # a new list only once a name differs
    cdef Py_ssize_t index = 0
    cdef Py_ssize_t cached_length
    cdef const char* cached
    cdef const char* raw
    cdef size_t raw_length
    cdef int ptype
    cdef long long integer
    try:
        while cursor.next():
            raw = cursor.name()
            raw_length = cursor.nameLength()
            name = None
            if names is previous and index < len(previous):
                name = previous[index]
                cached = PyUnicode_AsUTF8AndSize(name, &cached_length)
                if <size_t>cached_length != raw_length or memcmp(cached, raw, raw_length) != 0:
                    name = None
            if name is None:
                name = PyUnicode_DecodeUTF8(raw, raw_length, "replace")
                if names is previous:
                    names = previous[:index]
                names.append(name)
            index += 1
            ptype = cursor.type()
            if ptype == PROPERTY_STRING:
                try:
                    value = PyUnicode_DecodeUTF8(cursor.bytes(), cursor.length(), NULL)
                except UnicodeDecodeError:
                    handle.events.interface_error(
                        f"STRING property '{name}' has non-UTF-8 data")
                    continue
            elif ptype == PROPERTY_BINARY:
                value = PyBytes_FromStringAndSize(cursor.bytes(), cursor.length())
            elif ptype == PROPERTY_BOOL:
                value = cursor.integer() != 0
            elif ptype == PROPERTY_CHAR:
                integer = cursor.integer()
                value = bytes(((<unsigned char>integer),))
            else:
                value = cursor.integer()
            values[name] = value
            types[name] = PROPERTY_TYPE_BY_CODE[ptype]
    finally:
        del cursor
    if names is previous and index < len(previous):
        names = previous[:index]  # this message had fewer
    handle.property_names = names
    return values, types
