// bmqpy_callbackthread.h                                            -*-C++-*-
//
// Which thread runs the program's callbacks: a session's pump thread, while
// it hands a batch of events to the binding.  Blocking session calls made
// there would deadlock (`stop` waits for that very thread), and confirms
// made there join the batch sent after the callbacks.

#ifndef INCLUDED_BMQPY_CALLBACKTHREAD
#define INCLUDED_BMQPY_CALLBACKTHREAD

namespace bmqpy {

/// Whether the calling thread is a session's pump thread, running the
/// program's callbacks.
bool inCallbackThread();

/// The session (the address of a `Session`) whose events the calling
/// thread is handing over, or null.
const void* pumpingSession();

/// Marks the calling thread, for its lifetime, as `session`'s pump running
/// the program's callbacks.
class CallbackScope {
  public:
    explicit CallbackScope(const void* session);
    ~CallbackScope();
    CallbackScope(const CallbackScope&)            = delete;
    CallbackScope& operator=(const CallbackScope&) = delete;

  private:
    const void* d_previous;
};

}  // close namespace bmqpy

#endif
