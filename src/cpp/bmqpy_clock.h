// bmqpy_clock.h                                                     -*-C++-*-
//
// The monotonic clock the delivery timestamps use: CLOCK_MONOTONIC in
// nanoseconds, the clock of Python's `time.perf_counter_ns()` on Linux, so
// that a benchmark can line them up with its own timestamps.

#ifndef INCLUDED_BMQPY_CLOCK
#define INCLUDED_BMQPY_CLOCK

#include <time.h>

namespace bmqpy {

inline long long monotonicNs()
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return static_cast<long long>(now.tv_sec) * 1000000000LL + now.tv_nsec;
}

}  // close namespace bmqpy

#endif
