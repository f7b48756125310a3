// bmqpy_resultnames.cpp                                             -*-C++-*-
#include "bmqpy_resultnames.h"

#include <bmqt_resultcode.h>
#include <bmqt_sessioneventtype.h>

namespace bmqpy {

namespace bmqt = BloombergLP::bmqt;

const char* eventBuilderResultName(int code)
{
    return orUnknown(bmqt::EventBuilderResult::toAscii(
        static_cast<bmqt::EventBuilderResult::Enum>(code)));
}

const char* postResultName(int code)
{
    return orUnknown(
        bmqt::PostResult::toAscii(static_cast<bmqt::PostResult::Enum>(code)));
}

const char* genericResultName(int code)
{
    return orUnknown(bmqt::GenericResult::toAscii(
        static_cast<bmqt::GenericResult::Enum>(code)));
}

const char* sessionEventStatusName(int type, int status)
{
    switch (type) {
    case bmqt::SessionEventType::e_QUEUE_OPEN_RESULT:
    case bmqt::SessionEventType::e_QUEUE_REOPEN_RESULT:
        return orUnknown(bmqt::OpenQueueResult::toAscii(
            static_cast<bmqt::OpenQueueResult::Enum>(status)));
    case bmqt::SessionEventType::e_QUEUE_CONFIGURE_RESULT:
    case bmqt::SessionEventType::e_QUEUE_SUSPENDED:
    case bmqt::SessionEventType::e_QUEUE_RESUMED:
        return orUnknown(bmqt::ConfigureQueueResult::toAscii(
            static_cast<bmqt::ConfigureQueueResult::Enum>(status)));
    case bmqt::SessionEventType::e_QUEUE_CLOSE_RESULT:
        return orUnknown(bmqt::CloseQueueResult::toAscii(
            static_cast<bmqt::CloseQueueResult::Enum>(status)));
    default:
        return orUnknown(bmqt::GenericResult::toAscii(
            static_cast<bmqt::GenericResult::Enum>(status)));
    }
}

}  // close namespace bmqpy
