// bmqpy_session_post.cpp                                            -*-C++-*-
//
// `Session`: posting.  Posts never block in libbmq (a full channel returns
// BW_LIMIT and the binding waits in `waitForChannel`); while many posts
// await their ACK, a post is held to share a PUT event with the next ones;
// the unacked window bounds the posts and bytes awaiting an ACK.
#include "bmqpy_session.h"

#include "bmqpy_callbackthread.h"

#include <bmqt_correlationid.h>
#include <bmqt_resultcode.h>

#include <chrono>

namespace bmqpy {

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

// Posts are held (see `d_heldMessages`) only while at least this many posts
// await their ACK...
const long long k_HOLD_WHILE_UNACKED = 64;
// ...and at most this many messages, or bytes, at a time.
const size_t k_MAX_HELD_MESSAGES = 64;
const size_t k_MAX_HELD_BYTES    = 256 * 1024;

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
    if (!d_builder || d_stopping) {
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

}  // close namespace bmqpy
