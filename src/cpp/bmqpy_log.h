// bmqpy_log.h                                                       -*-C++-*-
//
// Routes libbmq's log records (BALL) to the binding instead of stderr.
//
// libbmq logs from its own threads, sometimes while holding its own locks, so
// the observer never calls into Python: it queues the records, and a Python
// thread drains the queue (`take`) and hands them to `logging`.  Taking the
// GIL inside the observer could deadlock against a Python thread that holds
// the GIL while it waits for one of those libbmq locks.

#ifndef INCLUDED_BMQPY_LOG
#define INCLUDED_BMQPY_LOG

#include <string>
#include <vector>

namespace bmqpy {

struct LogRecord {
    std::string category;
    int         severity;  // BALL severity: FATAL 32, ERROR 64, WARN 96,
                           // INFO 128 (nothing less severe is queued)
    std::string message;
    std::string fileName;
    int         lineNumber;
};

/// Install the BALL logger manager with the queueing observer.  Idempotent.
void installLogBridge();

/// Wait up to `timeout` seconds for records, then move every queued record
/// into `out`.  Set `*dropped` to how many records were dropped because the
/// queue was full since the last call.
void takeLogRecords(std::vector<LogRecord>* out, unsigned long long* dropped,
                    double timeout);

/// In a child process after `fork()`: replace the queue, whose mutex and
/// condition variable may be in a state that only the parent's threads
/// (which do not exist in the child) could resolve.
void resetLogBridgeAfterFork();

}  // close namespace bmqpy

#endif
