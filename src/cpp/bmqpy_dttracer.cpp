// bmqpy_dttracer.cpp                                                -*-C++-*-
#include "bmqpy_dttracer.h"

#include "bmqpy_dtspan.h"
#include "bmqpy_spanrecords.h"

#include <atomic>

namespace bmqpy {
namespace {

// Ids of libbmq's spans, unique in the process (the program's spans that
// parent them get negative ids from the binding).
std::atomic<long long> g_nextSpanId{1};

}  // close unnamed namespace

DTTracer::DTTracer(long long tracerId)
: d_tracerId(tracerId)
{
}

bsl::shared_ptr<bmqpi::DTSpan> DTTracer::createChildSpan(
    const bsl::shared_ptr<bmqpi::DTSpan>& parent,
    const bsl::string_view&               operation,
    const bmqpi::DTSpan::Baggage&         baggage) const
{
    SpanRecord record;
    record.isStart  = true;
    record.spanId   = g_nextSpanId.fetch_add(1);
    // Every span our context hands libbmq is one of ours.
    const DTSpan* ours = dynamic_cast<const DTSpan*>(parent.get());
    record.parentId = ours ? ours->id() : 0;
    record.tracerId = d_tracerId;
    record.operation.assign(operation.data(), operation.size());
    record.timeNs = nowNs();
    for (bmqpi::DTSpan::Baggage::const_iterator it = baggage.begin();
         it != baggage.end();
         ++it) {
        record.baggage.emplace_back(
            std::string(it->first.data(), it->first.size()),
            std::string(it->second.data(), it->second.size()));
    }
    const long long id = record.spanId;
    // The start is queued before the span exists, so that its end (queued
    // when the span goes) always comes after it.
    pushSpanRecord(std::move(record));
    return bsl::make_shared<DTSpan>(id, operation);
}

}  // close namespace bmqpy
