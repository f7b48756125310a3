// bmqpy_dtspan.cpp                                                  -*-C++-*-
#include "bmqpy_dtspan.h"

#include "bmqpy_spanrecords.h"

namespace bmqpy {

DTSpan::DTSpan(long long id, bsl::string_view operation)
: d_id(id)
, d_operation(operation)
{
}

DTSpan::~DTSpan()
{
    SpanRecord record;
    record.isStart  = false;
    record.spanId   = d_id;
    record.parentId = 0;
    record.tracerId = 0;
    record.timeNs   = nowNs();
    pushSpanRecord(std::move(record));
}

bsl::string_view DTSpan::operation() const { return d_operation; }

}  // close namespace bmqpy
