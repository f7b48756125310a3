// bmqpy_dtcontext.h                                                 -*-C++-*-
//
// The `bmqpi::DTContext` given to traced sessions' libbmq: the current span
// of each thread.  libbmq makes a span current on its own threads while it
// works for it (`scope`), and asks for the current span (`span`) when it
// makes a new one, whose parent that is.
//
// On the program's thread, while it calls a control operation of libbmq
// (start, stop, open/configure/close a queue) with the GIL released, the
// current span is a stand-in for the OpenTelemetry span that was current in
// Python (`CallerSpanScope`): so libbmq's spans are children of the
// program's, without libbmq's threads ever touching Python.

#ifndef INCLUDED_BMQPY_DTCONTEXT
#define INCLUDED_BMQPY_DTCONTEXT

#include <bmqpi_dtcontext.h>
#include <bmqpi_dtspan.h>

#include <bsl_memory.h>
#include <bslma_managedptr.h>

namespace bmqpy {

namespace bmqpi = BloombergLP::bmqpi;
namespace bslma = BloombergLP::bslma;

class DTContext : public bmqpi::DTContext {
  public:
    bsl::shared_ptr<bmqpi::DTSpan> span() const override;
    bslma::ManagedPtr<void>
    scope(const bsl::shared_ptr<bmqpi::DTSpan>& newSpan) override;
};

/// The one context every traced session uses (its state is per thread).
const bsl::shared_ptr<DTContext>& threadContext();

/// While it lives, the calling thread's current span stands for the
/// program's span `callerId` (a negative id the binding mapped to a Python
/// context); 0: no span (libbmq's spans are then roots).  The stand-in's end
/// record tells the binding when it may forget that context.
class CallerSpanScope {
  public:
    explicit CallerSpanScope(long long callerId);
    ~CallerSpanScope();

    CallerSpanScope(const CallerSpanScope&)            = delete;
    CallerSpanScope& operator=(const CallerSpanScope&) = delete;

  private:
    bslma::ManagedPtr<void> d_scope;
};

}  // close namespace bmqpy

#endif
