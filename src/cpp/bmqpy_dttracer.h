// bmqpy_dttracer.h                                                  -*-C++-*-
//
// The `bmqpi::DTTracer` given to a traced session's libbmq: each span libbmq
// asks for is a `bmqpy::DTSpan` whose start (operation, parent, baggage,
// time) is queued for a Python thread (`bmqpy_spanrecords.h`).  Called on
// libbmq's threads; never calls Python.

#ifndef INCLUDED_BMQPY_DTTRACER
#define INCLUDED_BMQPY_DTTRACER

#include <bmqpi_dtspan.h>
#include <bmqpi_dttracer.h>

#include <bsl_memory.h>
#include <bsl_string_view.h>

namespace bmqpy {

namespace bmqpi = BloombergLP::bmqpi;

class DTTracer : public bmqpi::DTTracer {
  public:
    /// `tracerId` names the session's OpenTelemetry tracer on the Python
    /// side; every start record carries it.
    explicit DTTracer(long long tracerId);

    bsl::shared_ptr<bmqpi::DTSpan> createChildSpan(
        const bsl::shared_ptr<bmqpi::DTSpan>& parent,
        const bsl::string_view&               operation,
        const bmqpi::DTSpan::Baggage&         baggage) const override;

  private:
    long long d_tracerId;
};

}  // close namespace bmqpy

#endif
