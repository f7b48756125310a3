// bmqpy_timeinterval.h                                              -*-C++-*-
//
// Seconds from the binding (negative: "the session's default") as libbmq's
// time intervals.

#ifndef INCLUDED_BMQPY_TIMEINTERVAL
#define INCLUDED_BMQPY_TIMEINTERVAL

#include <bsls_timeinterval.h>

namespace bmqpy {

inline BloombergLP::bsls::TimeInterval toInterval(double seconds)
{
    BloombergLP::bsls::TimeInterval interval;
    if (seconds >= 0) {
        interval = BloombergLP::bsls::TimeInterval(seconds);
    }
    return interval;  // a default interval means "use the session's option"
}

}  // close namespace bmqpy

#endif
