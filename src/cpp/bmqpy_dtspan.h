// bmqpy_dtspan.h                                                    -*-C++-*-
//
// A libbmq distributed-trace span (`bmqpi::DTSpan`) that stands for an
// OpenTelemetry span made later by a Python thread: it has an id, and when
// its last reference goes (libbmq's way of ending a span) it queues an end
// record (`bmqpy_spanrecords.h`).

#ifndef INCLUDED_BMQPY_DTSPAN
#define INCLUDED_BMQPY_DTSPAN

#include <bmqpi_dtspan.h>

#include <bsl_string.h>
#include <bsl_string_view.h>

namespace bmqpy {

namespace bmqpi = BloombergLP::bmqpi;

class DTSpan : public bmqpi::DTSpan {
  public:
    /// A span with the specified `id`, whose start was recorded by whoever
    /// made it (see `DTTracer`), or, for a negative id, the program's span
    /// current when it called libbmq (see `CallerSpanScope`).
    DTSpan(long long id, bsl::string_view operation);

    /// Record the end of the span, now.
    ~DTSpan() override;

    bsl::string_view operation() const override;

    long long id() const { return d_id; }

  private:
    long long   d_id;
    bsl::string d_operation;
};

}  // close namespace bmqpy

#endif
