// bmqpy_session_queues.cpp                                          -*-C++-*-
//
// `Session`: queue slots (a queue's slot is its libbmq correlation id) and
// the queue operations, whose outcomes reach the binding as events.
#include "bmqpy_session.h"

#include "bmqpy_resultnames.h"
#include "bmqpy_timeinterval.h"

#include <bmqa_closequeuestatus.h>
#include <bmqa_configurequeuestatus.h>
#include <bmqa_openqueuestatus.h>
#include <bmqt_correlationid.h>
#include <bmqt_resultcode.h>
#include <bmqt_subscription.h>
#include <bmqt_uri.h>

#include <bsls_types.h>

namespace bmqpy {

namespace bsls = BloombergLP::bsls;

namespace {

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

}  // close unnamed namespace

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

}  // close namespace bmqpy
