// bmqpy_spanrecords.h                                               -*-C++-*-
//
// The starts and ends of libbmq's distributed-trace spans, queued for a
// Python thread.
//
// libbmq creates and drops its spans (`bmqpi::DTSpan`) on its own threads,
// some of them holding libbmq's locks, so those threads never call into
// Python (a Python thread holding the GIL may be waiting for one of those
// locks).  They only queue a record here; a Python thread takes the records
// (`takeSpanRecords`, without the GIL) and makes the OpenTelemetry spans,
// with the times recorded here.  The same reasoning as `bmqpy_log.h`.

#ifndef INCLUDED_BMQPY_SPANRECORDS
#define INCLUDED_BMQPY_SPANRECORDS

#include <string>
#include <utility>
#include <vector>

namespace bmqpy {

struct SpanRecord {
    bool        isStart;   // a start, else an end
    long long   spanId;    // > 0: a libbmq span; < 0: the program's span
                           // that was current when it called libbmq
    long long   parentId;  // of a start: the parent's id, 0 for none
    long long   tracerId;  // of a start: the session's tracer
    std::string operation; // of a start, e.g. "bmq.queue.open"
    long long   timeNs;    // nanoseconds since the epoch (system clock)
    std::vector<std::pair<std::string, std::string> > baggage;  // of a start
};

/// Queue `record`.  Never blocks for long and never calls Python.
void pushSpanRecord(SpanRecord&& record);

/// Wait up to `timeout` seconds for records, then move every queued record
/// into `out` (in the order they were pushed).  Set `*dropped` to how many
/// records were dropped because the queue was full since the last call.
void takeSpanRecords(std::vector<SpanRecord>* out,
                     unsigned long long*      dropped,
                     double                   timeout);

/// Wait up to `timeout` seconds until a record is queued; return whether
/// one is.
bool waitForSpanRecords(double timeout);

/// In a child process after `fork()`: start with a new, empty queue.
void resetSpanRecordsAfterFork();

/// Nanoseconds since the epoch, by the system clock (OpenTelemetry's).
long long nowNs();

}  // close namespace bmqpy

#endif
