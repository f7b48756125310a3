// bmqpy_resultnames.h                                               -*-C++-*-
//
// Names of libbmq's result codes, for error messages and session events.

#ifndef INCLUDED_BMQPY_RESULTNAMES
#define INCLUDED_BMQPY_RESULTNAMES

namespace bmqpy {

/// The name of a `bmqt::EventBuilderResult`, `PostResult` or
/// `GenericResult` code ("UNKNOWN" for a code outside the enum).
const char* eventBuilderResultName(int code);
const char* postResultName(int code);
const char* genericResultName(int code);

/// The name of a session event's status in the enum that matches its type
/// (a `bmqt::SessionEventType::Enum`), or "UNKNOWN".
const char* sessionEventStatusName(int type, int status);

/// `name`, or "UNKNOWN" if it is null.
inline const char* orUnknown(const char* name)
{
    return name ? name : "UNKNOWN";
}

/// The name of the result of a queue operation's `STATUS` in `ENUM`.
template <class ENUM, class STATUS>
const char* resultName(const STATUS& status)
{
    return orUnknown(
        ENUM::toAscii(static_cast<typename ENUM::Enum>(status.result())));
}

}  // close namespace bmqpy

#endif
