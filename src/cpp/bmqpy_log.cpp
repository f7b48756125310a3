// bmqpy_log.cpp                                                     -*-C++-*-
#include "bmqpy_log.h"

#include <ball_loggermanager.h>
#include <ball_loggermanagerconfiguration.h>
#include <ball_observer.h>
#include <ball_record.h>
#include <ball_recordattributes.h>
#include <ball_severity.h>
#include <bsl_memory.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <mutex>

namespace bmqpy {
namespace {

namespace ball = BloombergLP::ball;

// Enough for a burst of reconnect messages; beyond it the oldest go.
const size_t k_MAX_QUEUED = 10000;

struct LogQueue {
    std::mutex              mutex;
    std::condition_variable condition;
    std::deque<LogRecord>   records;
    unsigned long long      dropped = 0;
};

// Never destroyed: libbmq threads may still log during process exit.
std::atomic<LogQueue*> g_logQueue{new LogQueue()};

LogQueue& logQueue() { return *g_logQueue.load(); }

class QueueingObserver : public ball::Observer {
  public:
    void publish(const bsl::shared_ptr<const ball::Record>& record,
                 const ball::Context&) override
    {
        const ball::RecordAttributes& fields = record->fixedFields();
        LogRecord                     entry;
        entry.category = fields.category();
        entry.severity = fields.severity();
        const BloombergLP::bslstl::StringRef message = fields.messageRef();
        entry.message.assign(message.data(), message.size());
        entry.fileName   = fields.fileName();
        entry.lineNumber = fields.lineNumber();

        LogQueue& queue = logQueue();
        {
            std::lock_guard<std::mutex> guard(queue.mutex);
            if (queue.records.size() >= k_MAX_QUEUED) {
                queue.records.pop_front();
                ++queue.dropped;
            }
            queue.records.push_back(std::move(entry));
        }
        queue.condition.notify_one();
    }

    void releaseRecords() override {}
};

}  // close unnamed namespace

void installLogBridge()
{
    static std::once_flag once;
    std::call_once(once, [] {
        if (ball::LoggerManager::isInitialized()) {
            return;  // the process set up BALL itself; leave it alone
        }
        ball::LoggerManagerConfiguration configuration;
        // Publish INFO and more severe; record nothing for later triggers.
        configuration.setDefaultThresholdLevelsIfValid(
            ball::Severity::e_OFF,    // record
            ball::Severity::e_INFO,   // pass
            ball::Severity::e_OFF,    // trigger
            ball::Severity::e_OFF);   // trigger all
        ball::LoggerManager& manager =
            ball::LoggerManager::initSingleton(configuration);
        manager.registerObserver(bsl::make_shared<QueueingObserver>(),
                                 "blazingmq-python");
    });
}

void takeLogRecords(std::vector<LogRecord>* out,
                    unsigned long long*     dropped,
                    double                  timeout)
{
    LogQueue&                    queue = logQueue();
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

void resetLogBridgeAfterFork()
{
    // The old queue is leaked: destroying a mutex in an unknown state is
    // undefined, and its records belong to the parent.
    g_logQueue.store(new LogQueue());
}


}  // close namespace bmqpy
