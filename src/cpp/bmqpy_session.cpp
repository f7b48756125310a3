// bmqpy_session.cpp                                                 -*-C++-*-
//
// The session's lifetime: the `bmqa::Session` with the options the program
// chose, its event handler, start and stop.  The rest of `Session` is
// implemented by concept: `bmqpy_session_queues.cpp` (queue slots and
// operations), `bmqpy_session_post.cpp` (posts, held posts, the unacked
// window), `bmqpy_session_confirm.cpp` and `bmqpy_session_pump.cpp` (the
// events handed to the binding).
#include "bmqpy_session.h"

#include "bmqpy_timeinterval.h"

#include <bmqt_authncredential.h>

#include <bslma_managedptr.h>
#include <bsls_timeinterval.h>

namespace bmqpy {

namespace bslma = BloombergLP::bslma;
namespace bsls  = BloombergLP::bsls;

namespace {

bsl::optional<bmqt::AuthnCredential> makeCredential(const std::string& mechanism,
                                                    const std::string& data)
{
    return bsl::optional<bmqt::AuthnCredential>(
        bsl::in_place,
        bsl::string_view(mechanism.data(), mechanism.size()),
        bsl::vector<char>(data.begin(), data.end()));
}

}  // close unnamed namespace

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
, d_batchWokenNs(0)
, d_delivering(false)
, d_windowStartNs(0)
, d_windowBusyNs(0)
, d_inline(true)
, d_deliveryFd(-1)
, d_loopWoken(false)
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
, d_deliveryStopped(false)
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
    // What libbmq delivers while stopping goes to the pump: an event loop
    // may not run again.
    setDeliveryFd(-1);
    {
        // Posts taken before stop() are sent; none is taken after it
        // (`postBatch` checks the flag under the same mutex), so a post
        // racing with stop() is either sent or refused, never left held.
        std::lock_guard<std::mutex> postGuard(d_postMutex);
        if (d_started) {
            sendHeldLocked();
        }
        d_stopping = true;
    }
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

}  // close namespace bmqpy
