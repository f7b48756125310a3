// bmqpy_session_pump.cpp                                            -*-C++-*-
//
// `Session`: the events handed to the binding.  When the session is idle,
// libbmq's event thread hands an event to the binding itself (bmqtool's
// way: no second thread to wake).  Otherwise it only queues it (no GIL),
// and the session's pump thread hands everything queued so far to the
// binding in one batch.  A session with a delivery descriptor (an asyncio
// session) is delivered by its event loop's thread instead: libbmq's thread
// queues and writes one byte to wake it.
#include "bmqpy_session.h"

#include <unistd.h>

#include <chrono>

#include "bmqpy_callbackthread.h"
#include "bmqpy_resultnames.h"

#include <bmqt_correlationid.h>
#include <bmqt_messageeventtype.h>
#include <bmqt_sessioneventtype.h>

namespace bmqpy {

namespace {

bool isQueueEvent(int type)
{
    switch (type) {
    case bmqt::SessionEventType::e_QUEUE_OPEN_RESULT:
    case bmqt::SessionEventType::e_QUEUE_REOPEN_RESULT:
    case bmqt::SessionEventType::e_QUEUE_CLOSE_RESULT:
    case bmqt::SessionEventType::e_QUEUE_CONFIGURE_RESULT:
    case bmqt::SessionEventType::e_QUEUE_SUSPENDED:
    case bmqt::SessionEventType::e_QUEUE_RESUMED:
        return true;
    default:
        return false;
    }
}

}  // close unnamed namespace

void Session::enqueueOperationResult(long long          requestId,
                                     int                slot,
                                     int                status,
                                     const char*        statusName,
                                     const bsl::string& description)
{
    PendingEvent      pending;
    SessionEventInfo& info = pending.sessionEvent;
    pending.isMessageEvent = false;
    info.type              = k_OPERATION_RESULT;
    info.status            = status;
    info.statusName        = statusName;
    info.description.assign(description.data(), description.size());
    info.queueSlot = slot;
    info.requestId = requestId;
    enqueue(std::move(pending));
}

void Session::enqueueSessionEvent(const bmqa::SessionEvent& event)
{
    const int type = event.type();
    if (type == bmqt::SessionEventType::e_CHANNEL_LOW_WATERMARK) {
        {
            std::lock_guard<std::mutex> guard(d_channelMutex);
            d_channelFull = false;
        }
        sendHeld();  // held posts that libbmq refused go first
        d_channelCondition.notify_all();
    }
    else if (type == bmqt::SessionEventType::e_CHANNEL_HIGH_WATERMARK) {
        std::lock_guard<std::mutex> guard(d_channelMutex);
        d_channelFull = true;
    }

    PendingEvent      pending;
    SessionEventInfo& info = pending.sessionEvent;
    pending.isMessageEvent = false;
    info.type              = type;
    info.status            = event.statusCode();
    info.statusName        = sessionEventStatusName(type, info.status);
    info.description.assign(event.errorDescription().data(),
                            event.errorDescription().size());
    info.queueSlot = -1;
    info.requestId = 0;
    const bmqt::CorrelationId& correlationId = event.correlationId();
    if (correlationId.isNumeric()) {
        // Queue events carry the queue's correlation id, which is its slot.
        info.queueSlot = static_cast<int>(correlationId.theNumeric());
    }
    else if (isQueueEvent(type)) {
        // `queueId()` asserts unless the event is about exactly one queue.
        const bmqa::QueueId queueId = event.queueId();
        if (queueId.correlationId().isNumeric()) {
            info.queueSlot =
                static_cast<int>(queueId.correlationId().theNumeric());
        }
    }
    enqueueFromLibbmq(std::move(pending), true);
}

void Session::enqueueMessageEvent(const bmqa::MessageEvent& event)
{
    if (d_stopping && event.type() == bmqt::MessageEventType::e_PUSH) {
        return;  // unconfirmed: the broker delivers it again
    }
    PendingEvent pending;
    pending.isMessageEvent = true;
    pending.messageEvent   = event;  // shares libbmq's event, no copy
    // ACK events never wait for room: what comes after them in libbmq's
    // queue (the CHANNEL_LOW_WATERMARK that releases waiting posts) must not
    // wait for the program's callbacks to catch up.  They are bounded by the
    // posts in flight, and libbmq would hold them anyway.
    enqueueFromLibbmq(std::move(pending),
                      event.type() != bmqt::MessageEventType::e_ACK);
}

bool Session::deliverInline(PendingEvent* event)
{
    // Not while the pump delivers or has events waiting (they go first),
    // nor while a recent delivery found the program busy.
    {
        std::lock_guard<std::mutex> guard(d_pendingMutex);
        if (d_delivering || !d_pending.empty() || d_pumpExit ||
            !idleLocked(event->queuedNs)) {
            return false;
        }
        d_delivering = true;
    }
    d_inlineBatch.push_back(std::move(*event));
    // No hand-over: this thread is awake already.
    deliver(&d_inlineBatch, d_inlineBatch.back().queuedNs);
    return true;
}

bool Session::idleLocked(long long now)
{
    const long long elapsed = now - d_windowStartNs;
    if (elapsed >= k_WINDOW_NS) {
        // Idle: delivering (waiting for the GIL included) took less than a
        // quarter of the last window.  Busier than that, the pump's second
        // thread pays for itself: libbmq's thread keeps reading events
        // while the pump runs the callbacks, and never waits for a GIL
        // that another Python thread holds (one wait per event, where the
        // pump waits once for all the events that came meanwhile).
        d_inline         = d_windowBusyNs * 4 < elapsed;
        d_windowStartNs  = now;
        d_windowBusyNs   = 0;
    }
    return d_inline;
}

void Session::deliver(std::vector<PendingEvent>* batch, long long startNs)
{
    d_batchWokenNs = startNs;
    {
        CallbackScope scope(this);
        // The callback waits for the GIL before it takes the events: while
        // another Python thread holds the GIL (up to the interpreter's
        // switch interval), the events keep coming, and all of them go in
        // this batch.  Confirms made by the callbacks join one CONFIRM
        // event, sent when the batch is done.
        d_onEvents(this, batch);
    }
    flushConfirms();
    batch->clear();  // releases libbmq's events (and their buffers)
    const long long end = monotonicNs();
    bool            wakePump;
    {
        std::lock_guard<std::mutex> guard(d_pendingMutex);
        d_delivering = false;
        d_windowBusyNs += end - startNs;
        const bool more = !d_pending.empty();
        if (more && d_deliveryFd >= 0) {
            wakeLoopLocked();  // queued meanwhile: the loop's, next iteration
        }
        // Queued meanwhile for the pump, or the pump waits to exit (or, in
        // a loop's stead, for this delivery to end).
        wakePump = (more || d_pumpExit) && d_deliveryFd < 0;
    }
    if (wakePump) {
        d_pendingCondition.notify_one();
    }
}

void Session::enqueue(PendingEvent&& event, bool waitForRoom)
{
    // Enough to batch a burst of events; beyond it libbmq's own event queue
    // takes the pressure (and reports slow-consumer events).
    const size_t k_MAX_PENDING = 1024;
    if (event.queuedNs == 0) {
        event.queuedNs = monotonicNs();
    }
    {
        std::unique_lock<std::mutex> lock(d_pendingMutex);
        if (waitForRoom) {
            d_spaceCondition.wait(lock, [this, k_MAX_PENDING] {
                return d_pending.size() < k_MAX_PENDING || d_pumpExit;
            });
        }
        d_pending.push_back(std::move(event));
        if (d_deliveryFd >= 0) {
            wakeLoopLocked();  // the pump looks only now and then
            return;
        }
    }
    d_pendingCondition.notify_one();
}

void Session::wakeLoopLocked()
{
    if (!d_loopWoken) {
        // Non-blocking: a full pipe already has a wake-up in it.
        const char byte = 1;
        (void)!::write(d_deliveryFd, &byte, 1);
        d_loopWoken = true;
    }
}

void Session::setDeliveryFd(int fd)
{
    {
        std::lock_guard<std::mutex> guard(d_pendingMutex);
        d_deliveryFd = fd;
        d_loopWoken  = false;
        if (fd >= 0 && !d_pending.empty()) {
            wakeLoopLocked();
        }
    }
    d_pendingCondition.notify_one();  // back to the pump: it may have work
}

int Session::deliverPending()
{
    {
        std::lock_guard<std::mutex> guard(d_pendingMutex);
        d_loopWoken = false;  // what comes from now on writes again
        if (d_delivering || d_pending.empty()) {
            return 0;
        }
        d_delivering = true;
    }
    deliver(&d_loopBatch, monotonicNs());
    return 1;
}

void Session::enqueueFromLibbmq(PendingEvent&& event, bool waitForRoom)
{
    event.queuedNs = monotonicNs();
    if (d_deliveryFd.load(std::memory_order_relaxed) >= 0 ||
        !deliverInline(&event)) {
        enqueue(std::move(event), waitForRoom);
    }
}

void Session::takePendingEvents(std::vector<PendingEvent>* batch)
{
    {
        std::lock_guard<std::mutex> guard(d_pendingMutex);
        batch->insert(batch->end(),
                      std::make_move_iterator(d_pending.begin()),
                      std::make_move_iterator(d_pending.end()));
        d_pending.clear();
    }
    d_spaceCondition.notify_all();
}

bool Session::pumpDeliversLocked() const
{
    if (d_delivering || d_pending.empty()) {
        return false;
    }
    // Ours, or an event loop's that has not looked for too long (it may
    // have stopped running).
    return d_deliveryFd < 0 || d_pumpExit ||
           monotonicNs() - d_pending.front().queuedNs >= k_LOOP_GRACE_NS;
}

void Session::pump()
{
    std::vector<PendingEvent> batch;
    for (;;) {
        {
            std::unique_lock<std::mutex> lock(d_pendingMutex);
            while (!pumpDeliversLocked()) {
                if (d_pumpExit && d_pending.empty() && !d_delivering) {
                    return;  // told to exit, and everything was handed over
                }
                if (d_deliveryFd >= 0) {
                    // An event loop delivers: look now and then.
                    d_pendingCondition.wait_for(
                        lock,
                        std::chrono::nanoseconds(k_LOOP_GRACE_NS));
                }
                else {
                    d_pendingCondition.wait(lock);
                }
            }
            d_delivering = true;
        }
        deliver(&batch, monotonicNs());
    }
}

}  // close namespace bmqpy
