// bmqpy_session.cpp                                                 -*-C++-*-
#include "bmqpy_session.h"

#include <bmqa_closequeuestatus.h>
#include <bmqa_configurequeuestatus.h>
#include <bmqa_openqueuestatus.h>
#include <bmqt_authncredential.h>
#include <bmqt_correlationid.h>
#include <bmqt_hosthealthstate.h>
#include <bmqt_messageeventtype.h>
#include <bmqt_messageguid.h>
#include <bmqt_propertytype.h>
#include <bmqt_resultcode.h>
#include <bmqt_sessioneventtype.h>
#include <bmqt_subscription.h>
#include <bmqt_uri.h>

#include <bdlbb_blobutil.h>
#include <bslma_managedptr.h>
#include <bsls_timeinterval.h>
#include <bsls_types.h>

#include <chrono>

namespace bmqpy {

namespace bslma = BloombergLP::bslma;
namespace bsls  = BloombergLP::bsls;

namespace {

// Depth of our callbacks on this thread (callbacks do not nest today; a
// counter costs nothing and stays right if they ever do).
thread_local int t_callbackDepth = 0;

// The session whose events this thread (its pump) is handing over, if any.
thread_local const void* t_pumpingSession = nullptr;

struct CallbackScope {
    CallbackScope() { ++t_callbackDepth; }
    ~CallbackScope() { --t_callbackDepth; }
};

bsls::TimeInterval toInterval(double seconds)
{
    bsls::TimeInterval interval;
    if (seconds >= 0) {
        interval = bsls::TimeInterval(seconds);
    }
    return interval;  // a default interval means "use the session's option"
}

bsl::optional<bmqt::AuthnCredential> makeCredential(const std::string& mechanism,
                                                    const std::string& data)
{
    return bsl::optional<bmqt::AuthnCredential>(
        bsl::in_place,
        bsl::string_view(mechanism.data(), mechanism.size()),
        bsl::vector<char>(data.begin(), data.end()));
}

// Load `spec` into `options`; return false, with libbmq's description of
// the problem in `error`, if libbmq refuses a subscription (its expression
// does not compile).
bool toQueueOptions(bmqt::QueueOptions*     optionsOut,
                    bsl::string*            error,
                    const QueueOptionsSpec& spec)
{
    bmqt::QueueOptions& options = *optionsOut;
    if (spec.hasMaxUnconfirmedMessages) {
        options.setMaxUnconfirmedMessages(spec.maxUnconfirmedMessages);
    }
    if (spec.hasMaxUnconfirmedBytes) {
        options.setMaxUnconfirmedBytes(spec.maxUnconfirmedBytes);
    }
    if (spec.hasConsumerPriority) {
        options.setConsumerPriority(spec.consumerPriority);
    }
    if (spec.hasSuspendsOnBadHostHealth) {
        options.setSuspendsOnBadHostHealth(spec.suspendsOnBadHostHealth);
    }
    if (spec.hasSubscriptions) {
        // Marks the set as given even when it is empty.
        options.removeAllSubscriptions();
        for (const SubscriptionSpec& from : spec.subscriptions) {
            bmqt::Subscription subscription;
            if (from.hasMaxUnconfirmedMessages) {
                subscription.setMaxUnconfirmedMessages(
                    from.maxUnconfirmedMessages);
            }
            if (from.hasMaxUnconfirmedBytes) {
                subscription.setMaxUnconfirmedBytes(from.maxUnconfirmedBytes);
            }
            if (from.hasConsumerPriority) {
                subscription.setConsumerPriority(from.consumerPriority);
            }
            const bsl::string expression(from.expression.data(),
                                         from.expression.size());
            subscription.setExpression(bmqt::SubscriptionExpression(
                expression,
                bmqt::SubscriptionExpression::e_VERSION_1));
            bsl::string description;
            if (!options.addOrUpdateSubscription(
                    &description,
                    bmqt::SubscriptionHandle(bmqt::CorrelationId(
                        static_cast<bsls::Types::Int64>(from.id))),
                    subscription)) {
                *error = description.empty()
                             ? "invalid subscription expression \"" +
                                   expression + "\""
                             : description;
                return false;
            }
        }
    }
    return true;
}

// The name of a session event's status in the enum that matches its type.
const char* statusName(int type, int status)
{
    switch (type) {
    case bmqt::SessionEventType::e_QUEUE_OPEN_RESULT:
    case bmqt::SessionEventType::e_QUEUE_REOPEN_RESULT:
        return bmqt::OpenQueueResult::toAscii(
            static_cast<bmqt::OpenQueueResult::Enum>(status));
    case bmqt::SessionEventType::e_QUEUE_CONFIGURE_RESULT:
    case bmqt::SessionEventType::e_QUEUE_SUSPENDED:
    case bmqt::SessionEventType::e_QUEUE_RESUMED:
        return bmqt::ConfigureQueueResult::toAscii(
            static_cast<bmqt::ConfigureQueueResult::Enum>(status));
    case bmqt::SessionEventType::e_QUEUE_CLOSE_RESULT:
        return bmqt::CloseQueueResult::toAscii(
            static_cast<bmqt::CloseQueueResult::Enum>(status));
    default:
        return bmqt::GenericResult::toAscii(
            static_cast<bmqt::GenericResult::Enum>(status));
    }
}

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

const char* orUnknown(const char* name) { return name ? name : "UNKNOWN"; }

template <class ENUM, class STATUS>
const char* resultName(const STATUS& status)
{
    return orUnknown(
        ENUM::toAscii(static_cast<typename ENUM::Enum>(status.result())));
}

}  // close unnamed namespace

bool inCallbackThread() { return t_callbackDepth > 0; }

const char* eventBuilderResultName(int code)
{
    return orUnknown(bmqt::EventBuilderResult::toAscii(
        static_cast<bmqt::EventBuilderResult::Enum>(code)));
}

const char* postResultName(int code)
{
    return orUnknown(
        bmqt::PostResult::toAscii(static_cast<bmqt::PostResult::Enum>(code)));
}

const char* genericResultName(int code)
{
    return orUnknown(bmqt::GenericResult::toAscii(
        static_cast<bmqt::GenericResult::Enum>(code)));
}

// ---------------------------------------------------------------------------
// HealthMonitor

HealthMonitor::HealthMonitor()
: d_monitor(bsl::make_shared<bmqa::ManualHostHealthMonitor>(
      bmqt::HostHealthState::e_HEALTHY))
{
}

void HealthMonitor::setHealthy()
{
    d_monitor->setState(bmqt::HostHealthState::e_HEALTHY);
}

void HealthMonitor::setUnhealthy()
{
    d_monitor->setState(bmqt::HostHealthState::e_UNHEALTHY);
}

// ---------------------------------------------------------------------------
// Session::Handler: owned by the `bmqa::Session`, forwards to our Session.

class Session::Handler : public bmqa::SessionEventHandler {
  public:
    explicit Handler(Session* session)
    : d_session(session)
    {
    }

    void onSessionEvent(const bmqa::SessionEvent& event) override
    {
        d_session->enqueueSessionEvent(event);
    }

    void onMessageEvent(const bmqa::MessageEvent& event) override
    {
        d_session->enqueueMessageEvent(event);
    }

  private:
    Session* d_session;
};

// ---------------------------------------------------------------------------
// Session

Session::Session(const SessionConfig& config,
                 void*                context,
                 EventBatchFn         onEvents)
: d_context(context)
, d_onEvents(onEvents)
, d_pumpExit(false)
, d_heldMessages(0)
, d_heldBytes(0)
, d_heldAckPosts(0)
, d_heldAckBytes(0)
, d_heldEventBuilt(false)
, d_channelFull(false)
, d_unackedPosts(0)
, d_unackedBytes(0)
, d_maxUnackedPosts(config.maxUnackedPosts > 0 ? config.maxUnackedPosts : 0)
, d_maxUnackedBytes(config.maxUnackedBytes > 0 ? config.maxUnackedBytes : 0)
, d_windowWaiters(0)
, d_started(false)
, d_stopping(false)
{
    bmqt::SessionOptions options;
    options.setBrokerUri(config.brokerUri);
    if (!config.processName.empty()) {
        options.setProcessNameOverride(config.processName);
    }
    if (!config.userAgentPrefix.empty()) {
        options.setUserAgentPrefix(config.userAgentPrefix);
    }
    if (config.numProcessingThreads >= 0) {
        options.setNumProcessingThreads(config.numProcessingThreads);
    }
    if (config.blobBufferSize >= 0) {
        options.setBlobBufferSize(config.blobBufferSize);
    }
    if (config.channelHighWatermark >= 0) {
        options.setChannelHighWatermark(config.channelHighWatermark);
    }
    if (config.eventQueueLowWatermark >= 0) {
        options.configureEventQueue(config.eventQueueLowWatermark,
                                    config.eventQueueHighWatermark);
    }
    if (config.statsDumpInterval >= 0) {
        options.setStatsDumpInterval(toInterval(config.statsDumpInterval));
    }
    if (config.connectTimeout >= 0) {
        options.setConnectTimeout(toInterval(config.connectTimeout));
    }
    if (config.disconnectTimeout >= 0) {
        options.setDisconnectTimeout(toInterval(config.disconnectTimeout));
    }
    if (config.openQueueTimeout >= 0) {
        options.setOpenQueueTimeout(toInterval(config.openQueueTimeout));
    }
    if (config.configureQueueTimeout >= 0) {
        options.setConfigureQueueTimeout(
            toInterval(config.configureQueueTimeout));
    }
    if (config.closeQueueTimeout >= 0) {
        options.setCloseQueueTimeout(toInterval(config.closeQueueTimeout));
    }
    if (config.hostHealthMonitor) {
        options.setHostHealthMonitor(config.hostHealthMonitor);
    }
    if (config.authnCredentialFn) {
        const AuthnCredentialFn fn      = config.authnCredentialFn;
        void* const             context = config.authnCredentialContext;
        options.setAuthnCredentialCb(
            [fn, context]() -> bsl::optional<bmqt::AuthnCredential> {
                std::string mechanism;
                std::string data;
                if (!fn(context, &mechanism, &data)) {
                    return bsl::nullopt;
                }
                return makeCredential(mechanism, data);
            });
    }
    else if (config.hasAuthnCredential) {
        const std::string mechanism = config.authnMechanism;
        const std::string data      = config.authnData;
        options.setAuthnCredentialCb(
            [mechanism, data]() -> bsl::optional<bmqt::AuthnCredential> {
                return makeCredential(mechanism, data);
            });
    }
    if (config.traceContext && config.tracer) {
        options.setTraceOptions(config.traceContext, config.tracer);
    }
    // `post` never blocks inside libbmq: on a full channel it returns
    // BW_LIMIT at once and the binding waits in `waitForChannel` with the
    // GIL released, in slices, so that Ctrl-C and other threads still run.
    options.setChannelWriteTimeout(bsls::TimeInterval(0));

    bslma::ManagedPtr<bmqa::SessionEventHandler> handler(new Handler(this));
    d_session.reset(new bmqa::Session(handler, options));
    // Events may come as soon as `start` begins.
    d_pumpThread = std::thread([this] { pump(); });
}

Session::~Session()
{
    stop();
    // Queue ids and the builder hold objects allocated from the session's
    // pools: release them while the session still exists.
    {
        std::lock_guard<std::mutex> postGuard(d_postMutex);
        d_builder.reset();
    }
    {
        std::lock_guard<std::mutex> confirmGuard(d_confirmMutex);
        d_confirmBuilder.reset();
    }
    {
        std::lock_guard<std::mutex> guard(d_queuesMutex);
        d_queues.clear();
    }
    d_session.reset();
}

int Session::startAsync(double timeout)
{
    std::lock_guard<std::mutex> guard(d_stopMutex);
    if (d_stopping) {
        return bmqt::GenericResult::e_NOT_READY;
    }
    const int rc = d_session->startAsync(toInterval(timeout));
    if (rc == 0) {
        d_started = true;
        std::lock_guard<std::mutex> postGuard(d_postMutex);
        d_builder.reset(new bmqa::MessageEventBuilder());
        d_session->loadMessageEventBuilder(d_builder.get());
        std::lock_guard<std::mutex> confirmGuard(d_confirmMutex);
        d_confirmBuilder.reset(new bmqa::ConfirmEventBuilder());
        d_session->loadConfirmEventBuilder(d_confirmBuilder.get());
    }
    return rc;
}

void Session::stop()
{
    std::lock_guard<std::mutex> guard(d_stopMutex);
    if (d_stopping) {
        return;
    }
    if (d_started) {
        sendHeld();  // posts taken before stop() are sent
    }
    d_stopping = true;
    if (d_started) {
        // libbmq's threads may wait for room in our queue meanwhile: the
        // pump keeps draining it (the caller has released the GIL).
        d_session->stop();
    }
    {
        std::lock_guard<std::mutex> pendingGuard(d_pendingMutex);
        d_pumpExit = true;
    }
    d_pendingCondition.notify_all();
    d_spaceCondition.notify_all();
    if (d_pumpThread.joinable()) {
        d_pumpThread.join();
    }
    {
        // Wake any poster waiting for the channel: it will fail fast now.
        std::lock_guard<std::mutex> channelGuard(d_channelMutex);
        d_channelFull = false;
    }
    d_channelCondition.notify_all();
}

void Session::detach()
{
    // Called with the GIL held; the binding reads the context only with the
    // GIL held, so no lock is needed.
    d_context = nullptr;
}

void* Session::context() const { return d_context; }

bmqa::QueueId* Session::queueAt(int slot)
{
    if (slot < 0 || static_cast<size_t>(slot) >= d_queues.size()) {
        return nullptr;
    }
    return d_queues[slot].get();
}

int Session::reserveQueueSlot()
{
    std::lock_guard<std::mutex> postGuard(d_postMutex);  // `d_unheldSlots`
    std::lock_guard<std::mutex> guard(d_queuesMutex);
    size_t                      index = 0;
    while (index < d_queues.size() && d_queues[index]) {
        ++index;
    }
    if (index == d_queues.size()) {
        d_queues.emplace_back();
    }
    // The slot is the queue's correlation id, so events and messages name
    // their queue without a URI lookup.
    d_queues[index].reset(new bmqa::QueueId(
        bmqt::CorrelationId(static_cast<long long>(index))));
    if (index < d_unheldSlots.size()) {
        d_unheldSlots[index] = false;  // a new queue: its posts may be held
    }
    return static_cast<int>(index);
}

void Session::releaseQueueSlot(int slot)
{
    std::lock_guard<std::mutex> postGuard(d_postMutex);
    std::lock_guard<std::mutex> guard(d_queuesMutex);
    if (queueAt(slot)) {
        d_queues[slot].reset();
    }
}

bmqa::QueueId* Session::lockedQueueAt(int slot)
{
    std::lock_guard<std::mutex> guard(d_queuesMutex);
    return queueAt(slot);
}

bool Session::loadQueueOptions(bmqt::QueueOptions*     queueOptions,
                               const QueueOptionsSpec& spec,
                               long long               requestId,
                               int                     slot)
{
    bsl::string error;
    if (toQueueOptions(queueOptions, &error, spec)) {
        return true;
    }
    // Refused before reaching the broker; reported like its refusals.
    enqueueOperationResult(
        requestId,
        slot,
        bmqt::GenericResult::e_INVALID_ARGUMENT,
        bmqt::GenericResult::toAscii(bmqt::GenericResult::e_INVALID_ARGUMENT),
        error);
    return false;
}

template <class RESULT>
auto Session::outcomeReporter(long long requestId, int slot)
{
    // libbmq runs it on its event thread, in order with the queue's other
    // events; it only queues the outcome for the pump.
    return [this, requestId, slot](const auto& status) {
        enqueueOperationResult(requestId,
                               slot,
                               status.result(),
                               resultName<RESULT>(status),
                               status.errorDescription());
    };
}

int Session::openQueueAsync(int                     slot,
                            const std::string&      uri,
                            unsigned long long      flags,
                            const QueueOptionsSpec& options,
                            double                  timeout,
                            long long               requestId)
{
    bmqa::QueueId* queueId = lockedQueueAt(slot);
    if (!queueId) {
        return k_QUEUE_NOT_OPEN;
    }
    bmqt::QueueOptions queueOptions;
    if (!loadQueueOptions(&queueOptions, options, requestId, slot)) {
        return 0;
    }
    d_session->openQueueAsync(
        queueId,
        bmqt::Uri(bsl::string(uri.data(), uri.size())),
        flags,
        outcomeReporter<bmqt::OpenQueueResult>(requestId, slot),
        queueOptions,
        toInterval(timeout));
    return 0;
}

int Session::configureQueueAsync(int                     slot,
                                 const QueueOptionsSpec& options,
                                 double                  timeout,
                                 long long               requestId)
{
    bmqa::QueueId* queueId = lockedQueueAt(slot);
    if (!queueId) {
        return k_QUEUE_NOT_OPEN;
    }
    bmqt::QueueOptions queueOptions;
    if (!loadQueueOptions(&queueOptions, options, requestId, slot)) {
        return 0;
    }
    d_session->configureQueueAsync(
        queueId,
        queueOptions,
        outcomeReporter<bmqt::ConfigureQueueResult>(requestId, slot),
        toInterval(timeout));
    return 0;
}

int Session::closeQueueAsync(int slot, double timeout, long long requestId)
{
    if (!lockedQueueAt(slot)) {
        return k_QUEUE_NOT_OPEN;
    }
    if (sendHeldBeforeClose(slot, timeout) != 0) {
        // Closing now would leave posts the program made before it behind
        // (libbmq cannot send a held post once its queue is closed): the
        // queue stays open, and the posts go once the channel has room.
        enqueueOperationResult(requestId,
                               slot,
                               bmqt::PostResult::e_BW_LIMIT,
                               "BW_LIMIT",
                               "the channel stayed full: the posts made "
                               "before the close could not be sent");
        return 0;
    }
    bmqa::QueueId* queueId = lockedQueueAt(slot);
    if (!queueId) {
        return k_QUEUE_NOT_OPEN;
    }
    d_session->closeQueueAsync(
        queueId,
        outcomeReporter<bmqt::CloseQueueResult>(requestId, slot),
        toInterval(timeout));
    return 0;
}

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

int Session::getQueueOptions(QueueOptionsSpec* spec, int slot) const
{
    std::lock_guard<std::mutex> guard(d_queuesMutex);
    if (slot < 0 || static_cast<size_t>(slot) >= d_queues.size() ||
        !d_queues[slot]) {
        return k_QUEUE_NOT_OPEN;
    }
    const bmqt::QueueOptions& options = d_queues[slot]->options();
    spec->hasMaxUnconfirmedMessages  = true;
    spec->maxUnconfirmedMessages     = options.maxUnconfirmedMessages();
    spec->hasMaxUnconfirmedBytes     = true;
    spec->maxUnconfirmedBytes        = options.maxUnconfirmedBytes();
    spec->hasConsumerPriority        = true;
    spec->consumerPriority           = options.consumerPriority();
    spec->hasSuspendsOnBadHostHealth = true;
    spec->suspendsOnBadHostHealth    = options.suspendsOnBadHostHealth();
    bmqt::QueueOptions::SubscriptionsSnapshot snapshot;
    options.loadSubscriptions(&snapshot);
    spec->subscriptions.clear();
    // Without subscriptions of ours, libbmq reports one default subscription
    // with an unset correlation id (it receives everything).
    spec->hasSubscriptions = true;
    for (const bmqt::QueueOptions::HandleAndSubscription& entry : snapshot) {
        const bmqt::CorrelationId& id = entry.first.correlationId();
        if (!id.isNumeric()) {
            spec->hasSubscriptions = false;
            continue;
        }
        const bmqt::Subscription& from = entry.second;
        SubscriptionSpec          to;
        to.id         = id.theNumeric();
        to.expression = std::string(from.expression().text().data(),
                                    from.expression().text().size());
        to.hasMaxUnconfirmedMessages = from.hasMaxUnconfirmedMessages();
        to.maxUnconfirmedMessages    = from.maxUnconfirmedMessages();
        to.hasMaxUnconfirmedBytes    = from.hasMaxUnconfirmedBytes();
        to.maxUnconfirmedBytes       = from.maxUnconfirmedBytes();
        to.hasConsumerPriority       = from.hasConsumerPriority();
        to.consumerPriority          = from.consumerPriority();
        spec->subscriptions.push_back(to);
    }
    return 0;
}

int Session::post(int*                           buildResult,
                  int                            slot,
                  const char*                    data,
                  size_t                         length,
                  const bmqa::MessageProperties* properties,
                  long long                      ackId,
                  int                            compression)
{
    size_t posted;
    return postBatch(&posted,
                     buildResult,
                     slot,
                     &data,
                     &length,
                     1,
                     properties,
                     ackId,
                     compression);
}

namespace {
// Posts are held (see `d_heldMessages`) only while at least this many posts
// await their ACK...
const long long k_HOLD_WHILE_UNACKED = 64;
// ...and at most this many messages, or bytes, at a time.
const size_t k_MAX_HELD_MESSAGES = 64;
const size_t k_MAX_HELD_BYTES    = 256 * 1024;
}  // close unnamed namespace

bool Session::holdsLocked(int slot) const
{
    return d_heldMessages < k_MAX_HELD_MESSAGES &&
           d_heldBytes < k_MAX_HELD_BYTES &&
           d_unackedPosts.load() >= k_HOLD_WHILE_UNACKED && !d_stopping &&
           !(static_cast<size_t>(slot) < d_unheldSlots.size() &&
             d_unheldSlots[slot]);
}

int Session::sendHeldLocked()
{
    if (d_heldMessages == 0 || !d_builder) {
        return 0;
    }
    const int rc = d_session->post(d_builder->messageEvent());
    if (rc != 0) {
        // Kept as built: these posts were accepted, and go when the
        // channel has room (or the next post, ACK or close tries again).
        d_heldEventBuilt = true;
        if (rc == bmqt::PostResult::e_BW_LIMIT) {
            std::lock_guard<std::mutex> channelGuard(d_channelMutex);
            d_channelFull = true;
        }
        return rc;
    }
    d_unackedPosts.fetch_add(d_heldAckPosts);
    d_unackedBytes.fetch_add(d_heldAckBytes);
    d_builder->reset();
    d_heldMessages   = 0;
    d_heldBytes      = 0;
    d_heldAckPosts   = 0;
    d_heldAckBytes   = 0;
    d_heldEventBuilt = false;
    return 0;
}

void Session::sendHeld()
{
    std::lock_guard<std::mutex> postGuard(d_postMutex);
    sendHeldLocked();
}

int Session::sendHeldBeforeClose(int slot, double timeout)
{
    std::unique_lock<std::mutex> postLock(d_postMutex);
    // From now on, posts to this queue are sent at once, never held.
    if (d_unheldSlots.size() <= static_cast<size_t>(slot)) {
        d_unheldSlots.resize(slot + 1, false);
    }
    d_unheldSlots[slot] = true;
    int        rc       = sendHeldLocked();
    const auto deadline = std::chrono::steady_clock::now() +
                          std::chrono::duration_cast<std::chrono::nanoseconds>(
                              std::chrono::duration<double>(timeout));
    while (rc == bmqt::PostResult::e_BW_LIMIT && !d_stopping &&
           std::chrono::steady_clock::now() < deadline) {
        // A full channel: wait for room (the low watermark event sends the
        // held posts itself), then try again.
        postLock.unlock();
        {
            std::unique_lock<std::mutex> channelLock(d_channelMutex);
            d_channelCondition.wait_until(
                channelLock,
                std::min(deadline,
                         std::chrono::steady_clock::now() +
                             std::chrono::milliseconds(50)),
                [this] { return !d_channelFull || d_stopping; });
        }
        postLock.lock();
        rc = sendHeldLocked();
    }
    return rc;
}

int Session::postBatch(size_t*                        posted,
                       int*                           buildResult,
                       int                            slot,
                       const char* const*             data,
                       const size_t*                  lengths,
                       size_t                         count,
                       const bmqa::MessageProperties* properties,
                       long long                      firstAckId,
                       int                            compression)
{
    *posted      = 0;
    *buildResult = 0;
    std::lock_guard<std::mutex> postGuard(d_postMutex);
    if (!d_builder) {
        return bmqt::PostResult::e_NOT_CONNECTED;
    }
    bmqa::QueueId* queueId = lockedQueueAt(slot);
    if (!queueId) {
        return k_QUEUE_NOT_OPEN;
    }
    if (d_heldEventBuilt) {
        // Held posts libbmq refused go first (and nothing can be packed
        // into a built event).
        const int rc = sendHeldLocked();
        if (rc != 0) {
            return rc;
        }
    }
    if (firstAckId != 0 && windowFull() && !inCallbackThread()) {
        // Callbacks never wait for ACKs: they are the thread that hands
        // them over.
        return bmqt::PostResult::e_BW_LIMIT;
    }
    bmqa::MessageEventBuilder& builder = *d_builder;
    const auto algorithm =
        static_cast<bmqt::CompressionAlgorithmType::Enum>(compression);
    size_t next = 0;
    while (next < count) {
        bmqa::Message& message = builder.startMessage();
        // The payload is copied into the event by `packMessage`, so a
        // reference to the caller's buffer is enough.
        message.setDataRef(data[next], lengths[next]);
        if (properties) {
            message.setPropertiesRef(properties);
        }
        if (firstAckId != 0) {
            message.setCorrelationId(bmqt::CorrelationId(
                firstAckId + static_cast<long long>(next)));
        }
        message.setCompressionAlgorithmType(algorithm);
        const int packed = builder.packMessage(*queueId);
        if (packed == bmqt::EventBuilderResult::e_EVENT_TOO_BIG &&
            d_heldMessages > 0) {
            // The event is full: send it, then pack this message again.
            const int rc = sendHeldLocked();
            if (rc != 0) {
                // The first `*posted` were taken: they are in the event,
                // which goes as soon as libbmq takes it.
                return rc;
            }
            continue;
        }
        if (packed != 0) {
            // This message cannot be sent (it is message number
            // `*posted`); the ones before it were taken.
            *buildResult = packed;
            if (!holdsLocked(slot)) {
                sendHeldLocked();  // if refused, kept and sent later
            }
            return -1;
        }
        ++d_heldMessages;
        d_heldBytes += lengths[next];
        if (firstAckId != 0) {
            ++d_heldAckPosts;
            d_heldAckBytes += static_cast<long long>(lengths[next]);
        }
        ++*posted;
        ++next;
    }
    if (!holdsLocked(slot)) {
        // If libbmq refuses the event (a full channel), it is kept and sent
        // when the channel has room: these posts were taken all the same,
        // and the next post waits for the channel.
        sendHeldLocked();
    }
    return 0;
}

int Session::confirmBatch(const int*           slots,
                          const unsigned char* guids,
                          size_t               count)
{
    if (t_pumpingSession == this) {
        // In a callback: join the batch sent after the callbacks.
        for (size_t i = 0; i < count; ++i) {
            const int rc = confirm(slots[i], guids + 16 * i);
            if (rc != 0) {
                return rc;
            }
        }
        return 0;
    }
    bmqa::ConfirmEventBuilder builder;
    d_session->loadConfirmEventBuilder(&builder);
    for (size_t i = 0; i < count; ++i) {
        bmqt::MessageGUID messageGuid;
        messageGuid.fromBinary(guids + 16 * i);
        bmqa::MessageConfirmationCookie cookie;
        {
            std::lock_guard<std::mutex> guard(d_queuesMutex);
            bmqa::QueueId*              queueId = queueAt(slots[i]);
            if (!queueId) {
                return k_QUEUE_NOT_OPEN;
            }
            cookie = bmqa::MessageConfirmationCookie(*queueId, messageGuid);
        }
        int rc = builder.addMessageConfirmation(cookie);
        if (rc == bmqt::EventBuilderResult::e_EVENT_TOO_BIG) {
            rc = d_session->confirmMessages(&builder);
            if (rc != 0) {
                return rc;
            }
            rc = builder.addMessageConfirmation(cookie);
        }
        if (rc != 0) {
            return rc;
        }
    }
    return builder.messageCount() > 0 ? d_session->confirmMessages(&builder)
                                      : 0;
}

bool Session::waitForChannel(double timeout)
{
    const bool waitsForAcks =
        (d_maxUnackedPosts > 0 || d_maxUnackedBytes > 0) && !inCallbackThread();
    std::unique_lock<std::mutex> lock(d_channelMutex);
    if (waitsForAcks) {
        d_windowWaiters.fetch_add(1);
    }
    // The low watermark event clears `d_channelFull`; if it came before we
    // set the flag, the wait ends with the timeout and the caller retries.
    const bool ready = d_channelCondition.wait_for(
        lock,
        std::chrono::duration<double>(timeout),
        [this, waitsForAcks] {
            return d_stopping ||
                   (!d_channelFull &&
                    (!waitsForAcks || windowOpen()));
        });
    if (waitsForAcks) {
        d_windowWaiters.fetch_sub(1);
    }
    return ready;
}

bool Session::windowFull() const
{
    // `d_postMutex` held: the held posts count too.
    return (d_maxUnackedPosts > 0 &&
            d_unackedPosts + d_heldAckPosts >= d_maxUnackedPosts) ||
           (d_maxUnackedBytes > 0 &&
            d_unackedBytes + d_heldAckBytes >= d_maxUnackedBytes);
}

bool Session::windowOpen() const
{
    return (d_maxUnackedPosts == 0 ||
            d_unackedPosts <= d_maxUnackedPosts / 2) &&
           (d_maxUnackedBytes == 0 ||
            d_unackedBytes <= d_maxUnackedBytes / 2);
}

void Session::acksDelivered(long long count, long long bytes)
{
    d_unackedPosts.fetch_sub(count);
    d_unackedBytes.fetch_sub(bytes);
    // Held posts wait for ACKs to come: these may have been the last ones
    // (a post that saw them as unacknowledged held its message under
    // `d_postMutex`, so it is in the builder by now).
    sendHeld();
    if (d_windowWaiters > 0 && windowOpen()) {
        // Taken so that a poster between its check and its wait is woken.
        { std::lock_guard<std::mutex> guard(d_channelMutex); }
        d_channelCondition.notify_all();
    }
}

int Session::confirm(int slot, const unsigned char* guid)
{
    bmqt::MessageGUID messageGuid;
    messageGuid.fromBinary(guid);
    bmqa::MessageConfirmationCookie cookie;
    {
        std::lock_guard<std::mutex> guard(d_queuesMutex);
        bmqa::QueueId*              queueId = queueAt(slot);
        if (!queueId) {
            return k_QUEUE_NOT_OPEN;
        }
        cookie = bmqa::MessageConfirmationCookie(*queueId, messageGuid);
    }
    if (t_pumpingSession == this) {
        std::lock_guard<std::mutex> guard(d_confirmMutex);
        if (d_confirmBuilder) {
            int rc = d_confirmBuilder->addMessageConfirmation(cookie);
            if (rc == bmqt::EventBuilderResult::e_EVENT_TOO_BIG) {
                d_session->confirmMessages(d_confirmBuilder.get());
                rc = d_confirmBuilder->addMessageConfirmation(cookie);
            }
            if (rc == 0) {
                return 0;
            }
        }
    }
    return d_session->confirmMessage(cookie);
}

void Session::flushConfirms()
{
    std::lock_guard<std::mutex> guard(d_confirmMutex);
    if (d_confirmBuilder && d_confirmBuilder->messageCount() > 0) {
        if (d_session->confirmMessages(d_confirmBuilder.get()) != 0) {
            // Not sent (the session is stopping or disconnected): the
            // messages stay unconfirmed and the broker delivers them again.
            d_confirmBuilder->reset();
        }
    }
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
    info.statusName        = orUnknown(statusName(type, info.status));
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
    enqueue(std::move(pending));
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
    enqueue(std::move(pending),
            event.type() != bmqt::MessageEventType::e_ACK);
}

void Session::enqueue(PendingEvent&& event, bool waitForRoom)
{
    // Enough to batch a burst of events; beyond it libbmq's own event queue
    // takes the pressure (and reports slow-consumer events).
    const size_t k_MAX_PENDING = 1024;
    {
        std::unique_lock<std::mutex> lock(d_pendingMutex);
        if (waitForRoom) {
            d_spaceCondition.wait(lock, [this, k_MAX_PENDING] {
                return d_pending.size() < k_MAX_PENDING || d_pumpExit;
            });
        }
        d_pending.push_back(std::move(event));
    }
    d_pendingCondition.notify_one();
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

void Session::pump()
{
    std::vector<PendingEvent> batch;
    for (;;) {
        {
            std::unique_lock<std::mutex> lock(d_pendingMutex);
            d_pendingCondition.wait(lock, [this] {
                return !d_pending.empty() || d_pumpExit;
            });
            if (d_pending.empty()) {
                return;  // told to exit, and everything was handed over
            }
        }
        {
            CallbackScope scope;
            // The callback waits for the GIL before it takes the events:
            // while another Python thread holds the GIL (up to the
            // interpreter's switch interval), the events keep coming, and
            // all of them go in this batch.  Confirms made by the callbacks
            // join one CONFIRM event, sent when the batch is done.
            t_pumpingSession = this;
            d_onEvents(this, &batch);
            t_pumpingSession = nullptr;
        }
        flushConfirms();
        batch.clear();  // releases libbmq's events before waiting again
    }
}

// ---------------------------------------------------------------------------
// MessageCursor

MessageCursor::MessageCursor(const bmqa::MessageEvent& event)
: d_iterator(event.messageIterator())
, d_message(nullptr)
, d_type(event.type())
{
}

bool MessageCursor::next()
{
    if (!d_iterator.nextMessage()) {
        d_message = nullptr;
        return false;
    }
    d_message = &d_iterator.message();
    return true;
}

int MessageCursor::queueSlot() const
{
    const bmqt::CorrelationId& id = d_message->queueId().correlationId();
    return id.isNumeric() ? static_cast<int>(id.theNumeric()) : -1;
}

long long MessageCursor::correlationId() const
{
    const bmqt::CorrelationId& id = d_message->correlationId();
    return id.isNumeric() ? id.theNumeric() : 0;
}

long long MessageCursor::subscriptionId() const
{
    const bmqt::CorrelationId& id =
        d_message->subscriptionHandle().correlationId();
    return id.isNumeric() ? id.theNumeric() : 0;
}

bool MessageCursor::hasGuid() const
{
    return !d_message->messageGUID().isUnset();
}

void MessageCursor::loadGuid(unsigned char* out16) const
{
    d_message->messageGUID().toBinary(out16);
}

void MessageCursor::copyData(char* out) const
{
    // A blob per thread, reused: `getData` only appends shared buffer
    // handles, so the one real copy is the one into `out`.
    thread_local bdlbb::Blob blob;
    blob.removeAll();
    if (d_message->getData(&blob) == 0) {
        bdlbb::BlobUtil::copy(out, blob, 0, blob.length());
    }
    blob.removeAll();
}

// ---------------------------------------------------------------------------
// Properties

int setProperty(bmqa::MessageProperties* properties,
                const char*              name,
                size_t                   nameLength,
                int                      type,
                long long                integer,
                const char*              bytes,
                size_t                   length)
{
    const bsl::string_view key(name, nameLength);
    switch (type) {
    case bmqt::PropertyType::e_BOOL:
        return properties->setPropertyAsBool(key, integer != 0);
    case bmqt::PropertyType::e_CHAR:
        return properties->setPropertyAsChar(key, static_cast<char>(integer));
    case bmqt::PropertyType::e_SHORT:
        return properties->setPropertyAsShort(key,
                                              static_cast<short>(integer));
    case bmqt::PropertyType::e_INT32:
        return properties->setPropertyAsInt32(
            key,
            static_cast<bsl::int32_t>(integer));
    case bmqt::PropertyType::e_INT64:
        return properties->setPropertyAsInt64(key, integer);
    case bmqt::PropertyType::e_STRING:
        return properties->setPropertyAsString(
            key,
            bsl::string_view(bytes, length));
    case bmqt::PropertyType::e_BINARY:
        return properties->setPropertyAsBinary(
            key,
            bsl::span<const char>(bytes, length));
    default:
        return -1;
    }
}

PropertyCursor::PropertyCursor(const bmqa::MessageProperties& properties)
: d_iterator(&properties)
{
}

long long PropertyCursor::integer() const
{
    switch (d_iterator.type()) {
    case bmqt::PropertyType::e_BOOL: return d_iterator.getAsBool() ? 1 : 0;
    case bmqt::PropertyType::e_CHAR: return d_iterator.getAsChar();
    case bmqt::PropertyType::e_SHORT: return d_iterator.getAsShort();
    case bmqt::PropertyType::e_INT32: return d_iterator.getAsInt32();
    case bmqt::PropertyType::e_INT64: return d_iterator.getAsInt64();
    default: return 0;
    }
}

const char* PropertyCursor::bytes() const
{
    if (d_iterator.type() == bmqt::PropertyType::e_STRING) {
        return d_iterator.getAsString().data();
    }
    return d_iterator.getAsBinary().data();
}

size_t PropertyCursor::length() const
{
    if (d_iterator.type() == bmqt::PropertyType::e_STRING) {
        return d_iterator.getAsString().size();
    }
    return d_iterator.getAsBinary().size();
}

}  // close namespace bmqpy
