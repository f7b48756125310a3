// bmqpy_callbackthread.cpp                                          -*-C++-*-
#include "bmqpy_callbackthread.h"

namespace bmqpy {

namespace {

// Depth of our callbacks on this thread (callbacks do not nest today; a
// counter costs nothing and stays right if they ever do).
thread_local int t_callbackDepth = 0;

// The session whose events this thread (its pump) is handing over, if any.
thread_local const void* t_pumpingSession = nullptr;

}  // close unnamed namespace

bool inCallbackThread() { return t_callbackDepth > 0; }

const void* pumpingSession() { return t_pumpingSession; }

CallbackScope::CallbackScope(const void* session)
: d_previous(t_pumpingSession)
{
    ++t_callbackDepth;
    t_pumpingSession = session;
}

CallbackScope::~CallbackScope()
{
    t_pumpingSession = d_previous;
    --t_callbackDepth;
}

}  // close namespace bmqpy
