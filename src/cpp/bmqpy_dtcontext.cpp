// bmqpy_dtcontext.cpp                                               -*-C++-*-
#include "bmqpy_dtcontext.h"

#include "bmqpy_dtspan.h"

#include <bslma_default.h>

namespace bmqpy {
namespace {

thread_local bsl::shared_ptr<bmqpi::DTSpan> t_currentSpan;

// Restores the previous span of its thread when destroyed.
class ScopeToken {
  public:
    explicit ScopeToken(const bsl::shared_ptr<bmqpi::DTSpan>& newSpan)
    : d_previous(t_currentSpan)
    {
        t_currentSpan = newSpan;
    }

    ~ScopeToken() { t_currentSpan = d_previous; }

  private:
    bsl::shared_ptr<bmqpi::DTSpan> d_previous;
};

}  // close unnamed namespace

bsl::shared_ptr<bmqpi::DTSpan> DTContext::span() const
{
    return t_currentSpan;
}

bslma::ManagedPtr<void>
DTContext::scope(const bsl::shared_ptr<bmqpi::DTSpan>& newSpan)
{
    bslma::Allocator* allocator = bslma::Default::allocator();
    return bslma::ManagedPtr<void>(new (*allocator) ScopeToken(newSpan),
                                   allocator);
}

const bsl::shared_ptr<DTContext>& threadContext()
{
    // Never destroyed: sessions may outlive static destruction.
    static const bsl::shared_ptr<DTContext>* context =
        new bsl::shared_ptr<DTContext>(bsl::make_shared<DTContext>());
    return *context;
}

CallerSpanScope::CallerSpanScope(long long callerId)
{
    if (callerId != 0) {
        d_scope = threadContext()->scope(
            bsl::make_shared<DTSpan>(callerId, bsl::string_view("caller")));
    }
}

CallerSpanScope::~CallerSpanScope()
{
    // `d_scope` restores the previous span; the stand-in ends when libbmq
    // holds no reference to it any more.
}

}  // close namespace bmqpy
