// bmqpy_session.h                                                   -*-C++-*-
//
// The C++ layer of the Python SDK: it owns one `bmqa::Session` and the
// libbmq threads that call back into it, and knows nothing about Python.
// When the session is idle (nothing queued, nothing being delivered, and
// delivering took little of the last few milliseconds), libbmq's event-handler thread hands an event
// to the binding itself, as bmqtool's handler does: waking a second thread
// costs tens of microseconds on an idle machine, most of the difference in
// latency between the two.  Otherwise libbmq's threads queue events here (no
// GIL needed), and one "pump" thread per session hands everything queued so
// far to the binding in one batch.  The binding takes the GIL once per
// batch: while it waits for the GIL, events keep accumulating, so a busy
// interpreter gets bigger batches instead of one GIL hand-off per event
// (most ACK events carry a single ACK).  "Idle" is judged over windows of a
// few milliseconds: once delivering (waiting for the GIL included) takes a
// quarter of the time, the pump takes over, so that libbmq's thread keeps
// reading while the callbacks run, and does not wait for a GIL another
// Python thread holds.
//
// Every method that may block (start, stop, open/configure/close, waiting for
// the channel to drain) is safe to call with the GIL released, and none of
// them calls back into Python on the calling thread.

#ifndef INCLUDED_BMQPY_SESSION
#define INCLUDED_BMQPY_SESSION

#include "bmqpy_callbackthread.h"  // for the binding: inCallbackThread
#include "bmqpy_clock.h"           // for the binding: monotonicNs
#include "bmqpy_cursors.h"
#include "bmqpy_healthmonitor.h"
#include "bmqpy_resultnames.h"

#include <bmqa_confirmeventbuilder.h>
#include <bmqa_messageevent.h>
#include <bmqa_messageeventbuilder.h>
#include <bmqa_queueid.h>
#include <bmqa_session.h>
#include <bmqa_sessionevent.h>
#include <bmqpi_dtcontext.h>
#include <bmqpi_dttracer.h>
#include <bmqt_queueoptions.h>
#include <bmqt_sessionoptions.h>

#include <atomic>
#include <condition_variable>
#include <deque>
#include <thread>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace bmqpy {

namespace bmqa  = BloombergLP::bmqa;
namespace bmqt  = BloombergLP::bmqt;

// Result codes of our own, outside every libbmq enum's range.
enum {
    k_QUEUE_NOT_OPEN = -10000,  // no queue with that slot
    k_TIMED_OUT      = -10001   // a wait of ours ran out
};

/// The type of a `SessionEventInfo` that reports the outcome of a queue
/// operation the binding started (open, configure, close); outside
/// `bmqt::SessionEventType`'s range (which uses -1 to -3).
enum { k_OPERATION_RESULT = -1000 };

/// A session event flattened into plain values.
struct SessionEventInfo {
    int         type;         // bmqt::SessionEventType::Enum
    int         status;       // libbmq status code, 0 on success
    std::string statusName;   // e.g. "TIMEOUT", from the matching enum
    std::string description;  // libbmq's error description, may be empty
    int         queueSlot;    // -1 when the event is not about a queue
    long long   requestId;    // the binding's id of the operation, for
                              // `k_OPERATION_RESULT`; 0 otherwise
};

class Session;

/// A libbmq event waiting to be handed to the binding.
struct PendingEvent {
    bool               isMessageEvent;
    SessionEventInfo   sessionEvent;  // when !isMessageEvent
    bmqa::MessageEvent messageEvent;  // when isMessageEvent
    long long          queuedNs = 0;  // `monotonicNs()` when libbmq's thread
                                      // handed it over
};

/// Supplies an authentication credential when libbmq (re)authenticates,
/// on a libbmq thread: returns true after filling `mechanism` and `data`, or
/// false when there is none (libbmq then fails the connection attempt).
typedef bool (*AuthnCredentialFn)(void*        context,
                                  std::string* mechanism,
                                  std::string* data);

/// Called on the session's pump thread, without the GIL, when events are
/// pending.  The callee takes the GIL first and only then the events, with
/// `session->takePendingEvents(batch)` (so that the events that came while
/// it waited for the GIL join the batch), and handles them in order.  It
/// reads `session->context()` only once it holds the GIL (see `detach`).
/// The pump releases the events (and libbmq's buffers) afterwards, without
/// the GIL.
typedef void (*EventBatchFn)(Session* session, std::vector<PendingEvent>* batch);

/// Session options; a negative number means "libbmq's default".
struct SessionConfig {
    std::string brokerUri;
    std::string processName;
    std::string userAgentPrefix;
    int         numProcessingThreads  = -1;
    int         blobBufferSize        = -1;
    long long   channelHighWatermark  = -1;
    int         eventQueueLowWatermark  = -1;
    int         eventQueueHighWatermark = -1;
    double      statsDumpInterval     = -1;
    double      connectTimeout        = -1;
    double      disconnectTimeout     = -1;
    double      openQueueTimeout      = -1;
    double      configureQueueTimeout = -1;
    double      closeQueueTimeout     = -1;
    // At most this many posts that asked for an ACK (and this many bytes of
    // their payloads) may await it before `post` refuses more (as
    // `e_BW_LIMIT`) outside callbacks; 0: no limit.
    long long   maxUnackedPosts       = 0;
    long long   maxUnackedBytes       = 0;
    // The monitor, when host health monitoring is enabled.
    bsl::shared_ptr<bmqa::ManualHostHealthMonitor> hostHealthMonitor;
    // Authentication: a fixed credential (`hasAuthnCredential`), or a
    // function asked each time libbmq authenticates; with neither, libbmq
    // does not authenticate (the broker treats the client as anonymous).
    // `authnCredentialContext` must outlive the session.
    bool              hasAuthnCredential     = false;
    std::string       authnMechanism;
    std::string       authnData;
    AuthnCredentialFn authnCredentialFn      = nullptr;
    void*             authnCredentialContext = nullptr;
    // Distributed tracing of libbmq's control operations (both, or
    // neither): see `bmqpy_dtcontext.h`.
    bsl::shared_ptr<BloombergLP::bmqpi::DTContext> traceContext;
    bsl::shared_ptr<BloombergLP::bmqpi::DTTracer>  tracer;
};

/// One subscription: an expression over message properties and the
/// consumer limits of the messages it selects; a field whose `has...` flag
/// is false takes the queue's value.  `id` is the numeric correlation id of
/// its handle, which received messages carry back.
struct SubscriptionSpec {
    long long   id                     = 0;
    std::string expression;
    bool        hasMaxUnconfirmedMessages = false;
    int         maxUnconfirmedMessages    = 0;
    bool        hasMaxUnconfirmedBytes    = false;
    int         maxUnconfirmedBytes       = 0;
    bool        hasConsumerPriority       = false;
    int         consumerPriority          = 0;
};

/// Queue options; a field whose `has...` flag is false is left unset.
struct QueueOptionsSpec {
    bool hasMaxUnconfirmedMessages   = false;
    int  maxUnconfirmedMessages      = 0;
    bool hasMaxUnconfirmedBytes      = false;
    int  maxUnconfirmedBytes         = 0;
    bool hasConsumerPriority         = false;
    int  consumerPriority            = 0;
    bool hasSuspendsOnBadHostHealth  = false;
    bool suspendsOnBadHostHealth     = false;
    // When false, the queue keeps its subscriptions (none on open: one
    // that receives everything); when true, `subscriptions` replace them.
    bool hasSubscriptions            = false;
    std::vector<SubscriptionSpec> subscriptions;
};

class Session {
  public:
    Session(const SessionConfig& config,
            void*                context,
            EventBatchFn         onEvents);
    ~Session();

    Session(const Session&)            = delete;
    Session& operator=(const Session&) = delete;

    /// Start connecting without blocking; return 0 or a
    /// `bmqt::GenericResult` code.  The outcome arrives as a session event
    /// (`CONNECTED`, or `CONNECTION_TIMEOUT` after `timeout` seconds).
    int startAsync(double timeout);

    /// Disconnect and wait for every callback to return.  Idempotent.
    /// Blocks; must not be called from a callback thread.
    void stop();

    /// Stop handing messages over (the ones still queued stay unconfirmed,
    /// so the broker delivers them again), before `stop` itself runs: the
    /// binding calls this, with the GIL, at the moment the session starts
    /// to refuse calls, so that no message reaches a callback whose calls
    /// would all fail.  ACKs and session events are still delivered.
    void stopDelivery() { d_deliveryStopped = true; }

    /// Whether `stop` (or `stopDelivery`) has begun.
    bool isStopping() const { return d_stopping || d_deliveryStopped; }

    /// Drop every later event instead of delivering it: the binding calls
    /// this when the Python object behind `context` goes away.
    void detach();

    /// Move every pending event into `batch` (appending, in order); called
    /// by the `EventBatchFn` on the pump thread once it holds the GIL.
    void takePendingEvents(std::vector<PendingEvent>* batch);

    /// `monotonicNs()` when the thread handing the current batch over woke
    /// up for it (the delivery's stage timestamps, see the binding).
    long long batchWokenNs() const { return d_batchWokenNs; }

    /// Have the events delivered by the thread that calls `deliverPending`
    /// (an event loop's): from now on, events are queued and one byte is
    /// written to `fd` (non-blocking, e.g. a pipe the loop watches) when
    /// the queue stops being empty.  Should that thread not take them
    /// within `k_LOOP_GRACE_NS` (its loop stopped running), the pump
    /// delivers them.  -1: back to libbmq's thread and the pump (`stop`
    /// does this first).  The binding closes `fd` only after setting -1.
    void setDeliveryFd(int fd);

    /// On the thread of `setDeliveryFd`, holding the GIL: hand everything
    /// queued to the binding now (callbacks run on this thread); return 1
    /// if anything was delivered.
    int deliverPending();

    /// The binding's context, or null once detached.  Read and written by
    /// the binding only while it holds the GIL.
    void* context() const;

    /// Reserve a slot for a queue about to be opened and return it.  The
    /// binding learns the slot before libbmq can deliver anything for it.
    int reserveQueueSlot();

    /// Free a slot whose queue failed to open.
    void releaseQueueSlot(int slot);

    // Queue operations never block: each returns 0 once libbmq has it (or
    // `k_QUEUE_NOT_OPEN`), and its outcome arrives later, in libbmq's event
    // order, as a `k_OPERATION_RESULT` event carrying `requestId`.  Waiting
    // is the binding's business, so that it can wait in slices (Ctrl-C) or
    // on an event loop.  A close result follows every event libbmq queued
    // for the queue before it (the NACKs of outstanding posts).

    /// Open `uri` in the reserved `slot`.
    int openQueueAsync(int                     slot,
                       const std::string&      uri,
                       unsigned long long      flags,
                       const QueueOptionsSpec& options,
                       double                  timeout,
                       long long               requestId);
    int configureQueueAsync(int                     slot,
                            const QueueOptionsSpec& options,
                            double                  timeout,
                            long long               requestId);
    /// Close the queue in `slot`; the binding frees the slot (see
    /// `releaseQueueSlot`) once the result is handed over.
    int closeQueueAsync(int slot, double timeout, long long requestId);

    /// Load the options libbmq holds for the queue (defaults filled in).
    int getQueueOptions(QueueOptionsSpec* options, int slot) const;

    /// Post one message without blocking.  `ackId` is 0 when no ACK is
    /// wanted.  Return 0 on success, a `bmqt::EventBuilderResult` code in
    /// `*buildResult` (and -1) if the message could not be built, or a
    /// `bmqt::PostResult` code (e.g. `e_BW_LIMIT`) if it could not be sent.
    int post(int*                           buildResult,
             int                            slot,
             const char*                    data,
             size_t                         length,
             const bmqa::MessageProperties* properties,
             long long                      ackId,
             int                            compression);

    /// Post `count` messages to one queue in as few PUT events as fit
    /// (libbmq caps an event's size), without blocking.  Message `i` has
    /// the payload `data[i]`/`lengths[i]`, the shared `properties` (may be
    /// null) and, when `firstAckId` is not 0, the ACK id `firstAckId + i`.
    /// `*posted` tells how many messages libbmq took: on `e_BW_LIMIT` the
    /// binding waits for the channel and posts the rest.  Return codes as
    /// for `post`.
    int postBatch(size_t*                        posted,
                  int*                           buildResult,
                  int                            slot,
                  const char* const*             data,
                  const size_t*                  lengths,
                  size_t                         count,
                  const bmqa::MessageProperties* properties,
                  long long                      firstAckId,
                  int                            compression);

    /// Confirm `count` messages (`slots[i]`, 16-byte `guids + 16 * i`) in
    /// one CONFIRM event (more if they do not fit in one).  Return 0 or
    /// the first failing libbmq result code, or `k_QUEUE_NOT_OPEN`.
    int confirmBatch(const int*           slots,
                     const unsigned char* guids,
                     size_t               count);

    /// Wait up to `timeout` seconds for the channel to accept writes again
    /// after `post` returned `e_BW_LIMIT` (and, outside callbacks, for the
    /// posts awaiting an ACK to fall back below the limit).  Return true if
    /// a post may succeed now.  Blocks.
    bool waitForChannel(double timeout);

    /// The binding handed `count` ACKs (or NACKs) of posts that asked for
    /// one, with `bytes` of payload in all, to the program: they no longer
    /// count against `SessionConfig::maxUnackedPosts`/`maxUnackedBytes`.
    void acksDelivered(long long count, long long bytes);

    /// Confirm the message with the specified 16-byte `guid`.  Called from a
    /// callback (this session's pump thread), the confirmation joins a batch
    /// sent when the callbacks of the current batch of events are done: one
    /// CONFIRM event per batch instead of one per message.
    int confirm(int slot, const unsigned char* guid);

  private:
    class Handler;
    friend class Handler;

    void enqueueSessionEvent(const bmqa::SessionEvent& event);
    void enqueueMessageEvent(const bmqa::MessageEvent& event);
    void enqueue(PendingEvent&& event, bool waitForRoom = true);
    /// From libbmq's event-handler thread: deliver `event` on this thread
    /// if the session is idle (see the top of this file), else queue it.
    void enqueueFromLibbmq(PendingEvent&& event, bool waitForRoom);
    /// Deliver `*event` on this thread and return true, or return false
    /// (leaving `*event` alone) when the pump must deliver it.
    bool deliverInline(PendingEvent* event);
    /// Having claimed delivery (`d_delivering`) at `startNs`: hand `batch`
    /// (and what is pending) to the binding, send the confirms the
    /// callbacks made, clear `batch`, then release delivery and wake
    /// whoever delivers what came meanwhile (the loop or the pump).
    void deliver(std::vector<PendingEvent>* batch, long long startNs);
    /// Whether the pump has events to deliver now (`d_pendingMutex` held).
    bool pumpDeliversLocked() const;
    void pump();
    void enqueueOperationResult(long long          requestId,
                                int                slot,
                                int                status,
                                const char*        statusName,
                                const bsl::string& description);
    void flushConfirms();
    bmqa::QueueId* queueAt(int slot);  // `d_queuesMutex` held
    bmqa::QueueId* lockedQueueAt(int slot);
    /// Load `spec` into `queueOptions`; if libbmq refuses it (a bad
    /// subscription expression), report that as the outcome of operation
    /// `requestId` and return false.
    /// The callback libbmq calls with the outcome of operation
    /// `requestId` (a `bmqa::*QueueStatus` whose result is a `RESULT`).
    template <class RESULT>
    auto outcomeReporter(long long requestId, int slot);
    bool loadQueueOptions(bmqt::QueueOptions*     queueOptions,
                          const QueueOptionsSpec& spec,
                          long long               requestId,
                          int                     slot);

    void*                          d_context;
    EventBatchFn                   d_onEvents;

    // Events queued by libbmq's threads for the pump thread.  Bounded, so
    // that a slow program makes libbmq's own event queue fill up (and
    // report slow-consumer events) instead of this one growing.
    std::mutex                d_pendingMutex;
    std::condition_variable   d_pendingCondition;   // events or exit
    std::condition_variable   d_spaceCondition;     // room in the queue
    std::deque<PendingEvent>  d_pending;
    bool                      d_pumpExit;
    long long                 d_batchWokenNs;  // see `batchWokenNs`
    // A thread (the pump, or libbmq's inline) is handing events over.
    bool                      d_delivering;
    // How busy delivering was (see `idleLocked`): the time spent handing
    // events over since `d_windowStartNs`, and whether the last window was
    // idle enough for libbmq's thread to deliver.
    long long                 d_windowStartNs;
    long long                 d_windowBusyNs;
    bool                      d_inline;
    std::vector<PendingEvent> d_inlineBatch;  // reused: no allocation
    // See `setDeliveryFd`; `d_loopWoken`: a byte was written since the
    // loop last looked (one wake-up per batch, not per event).
    std::atomic<int>          d_deliveryFd;
    bool                      d_loopWoken;
    std::vector<PendingEvent> d_loopBatch;
    static constexpr long long k_LOOP_GRACE_NS = 100 * 1000 * 1000;
    void wakeLoopLocked();  // `d_pendingMutex` held, `d_deliveryFd` set
    static constexpr long long k_WINDOW_NS = 2 * 1000 * 1000;
    /// Whether the session is idle enough for libbmq's thread to deliver
    /// an event at `now` (`d_pendingMutex` held): judged once per window.
    bool idleLocked(long long now);
    std::thread               d_pumpThread;
    std::unique_ptr<bmqa::Session> d_session;

    // Slots index `d_queues`; a closed queue's slot is reused.  Guarded by
    // `d_queuesMutex` so that callback threads can post and confirm while
    // another thread opens or closes a queue.
    mutable std::mutex                          d_queuesMutex;
    std::vector<std::unique_ptr<bmqa::QueueId>> d_queues;

    // One builder reused by every post, so a post allocates no builder.
    // Created once the session has started; like the queue ids, it uses the
    // session's pools and is destroyed before the session.
    std::mutex                                 d_postMutex;
    std::unique_ptr<bmqa::MessageEventBuilder> d_builder;

    // Posts held back in `d_builder` to share a PUT event with the next
    // ones.  libbmq's per-event cost (its thread's bookkeeping and one
    // `sendmsg`, each waking the broker) bounds a producer that posts one
    // message at a time: with `post_many` (200k x 1 KiB, this machine), two
    // per event carried 35% more than one, four twice as many.  A post is
    // held only while many posts await their ACK (each batch of ACKs
    // handed over sends what is held, so nothing waits long, and a quiet or
    // latency-bound producer sends at once), and only up to a few dozen.
    // `close`, `stop` and a channel clearing send them too.  Guarded by
    // `d_postMutex`.  `d_heldEventBuilt`: libbmq refused the held event (a
    // full channel); it is posted again, as it is, before anything else is
    // packed.
    size_t    d_heldMessages;
    size_t    d_heldBytes;
    long long d_heldAckPosts;   // of the held messages, those with an ACK
    long long d_heldAckBytes;   // and their payloads' bytes
    bool      d_heldEventBuilt;
    // Slots whose close has begun: their posts are never held (a held
    // post cannot be sent once its queue is closed).
    std::vector<bool> d_unheldSlots;
    /// Whether the messages just packed (the last of them to `slot`) may
    /// wait in the builder for more.
    bool holdsLocked(int slot) const;
    int  sendHeldLocked();  // post the held messages; libbmq's result
    void sendHeld();        // the same, taking `d_postMutex`
    /// Before closing `slot`: send the held posts, waiting up to `timeout`
    /// seconds for a full channel; return libbmq's last result.
    int sendHeldBeforeClose(int slot, double timeout);

    // Confirmations made by callbacks on the pump thread, sent per batch.
    std::mutex                                 d_confirmMutex;
    std::unique_ptr<bmqa::ConfirmEventBuilder> d_confirmBuilder;

    // Set by the channel watermark events; waited on by `waitForChannel`.
    std::mutex              d_channelMutex;
    std::condition_variable d_channelCondition;
    bool                    d_channelFull;

    // Posts that asked for an ACK and have not had it handed over yet, and
    // the bytes of their payloads.  libbmq takes posts as fast as the
    // program makes them and keeps each (its event, blob buffers,
    // correlation id) until the ACK: a producer that runs ahead of the
    // broker grows by gigabytes and takes CPU from libbmq's own threads.
    // When either count reaches its limit, a post outside callbacks is
    // refused like a full channel; waiting posters resume once both are
    // back to half their limits (a wide gap, so that they post in long
    // runs instead of waking for every ACK).
    std::atomic<long long>  d_unackedPosts;
    std::atomic<long long>  d_unackedBytes;
    const long long         d_maxUnackedPosts;
    const long long         d_maxUnackedBytes;
    std::atomic<int>        d_windowWaiters;  // in `waitForChannel`
    bool windowFull() const;  // `d_postMutex` held
    bool windowOpen() const;

    std::mutex        d_stopMutex;  // serializes `start` and `stop`
    bool              d_started;
    // Set when `stop` begins, never cleared: libbmq then drains its event
    // queue, and the messages still in it are not handed to the program
    // (they were not confirmed, so the broker delivers them again).  ACKs
    // still are.
    std::atomic<bool> d_stopping;
    std::atomic<bool> d_deliveryStopped;  // see `stopDelivery`
};

}  // close namespace bmqpy

#endif
