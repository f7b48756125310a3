// bmqpy_spanrecords.cpp                                             -*-C++-*-
#include "bmqpy_spanrecords.h"

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <mutex>

namespace bmqpy {
namespace {

// Control operations make a handful of spans each; this many unread ones
// mean nobody reads them (beyond it, new records are dropped and counted,
// so that a start is never kept without the end that follows it).
const size_t k_MAX_QUEUED = 100000;

struct SpanQueue {
    std::mutex              mutex;
    std::condition_variable condition;
    std::deque<SpanRecord>  records;
    unsigned long long      dropped = 0;
};

// Never destroyed: libbmq threads may drop spans during process exit.
std::atomic<SpanQueue*> g_queue{new SpanQueue()};

}  // close unnamed namespace

void pushSpanRecord(SpanRecord&& record)
{
    SpanQueue& queue = *g_queue.load();
    {
        std::lock_guard<std::mutex> guard(queue.mutex);
        if (queue.records.size() >= k_MAX_QUEUED) {
            ++queue.dropped;
            return;
        }
        queue.records.push_back(std::move(record));
    }
    queue.condition.notify_one();
}

void takeSpanRecords(std::vector<SpanRecord>* out,
                     unsigned long long*      dropped,
                     double                   timeout)
{
    SpanQueue&                   queue = *g_queue.load();
    std::unique_lock<std::mutex> lock(queue.mutex);
    queue.condition.wait_for(lock,
                             std::chrono::duration<double>(timeout),
                             [&queue] { return !queue.records.empty(); });
    *dropped      = queue.dropped;
    queue.dropped = 0;
    out->assign(std::make_move_iterator(queue.records.begin()),
                std::make_move_iterator(queue.records.end()));
    queue.records.clear();
}

bool waitForSpanRecords(double timeout)
{
    SpanQueue&                   queue = *g_queue.load();
    std::unique_lock<std::mutex> lock(queue.mutex);
    return queue.condition.wait_for(
        lock,
        std::chrono::duration<double>(timeout),
        [&queue] { return !queue.records.empty(); });
}

void resetSpanRecordsAfterFork()
{
    // The old queue is leaked: its mutex may be in a state only the
    // parent's threads could resolve.
    g_queue.store(new SpanQueue());
}

long long nowNs()
{
    return std::chrono::duration_cast<std::chrono::nanoseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}

}  // close namespace bmqpy
