// bmqpy_session_confirm.cpp                                         -*-C++-*-
//
// `Session`: confirming.  Confirms made inside callbacks join one CONFIRM
// event, sent once the batch of callbacks is done.
#include "bmqpy_session.h"

#include "bmqpy_callbackthread.h"

#include <bmqt_messageguid.h>
#include <bmqt_resultcode.h>

namespace bmqpy {

int Session::confirmBatch(const int*           slots,
                          const unsigned char* guids,
                          size_t               count)
{
    if (pumpingSession() == this) {
        // In a callback: join the batch sent after the callbacks.
        for (size_t i = 0; i < count; ++i) {
            const int rc = confirm(slots[i], guids + 16 * i);
            if (rc != 0) {
                return rc;
            }
        }
        return 0;
    }
    bmqa::ConfirmEventBuilder builder;
    d_session->loadConfirmEventBuilder(&builder);
    for (size_t i = 0; i < count; ++i) {
        bmqt::MessageGUID messageGuid;
        messageGuid.fromBinary(guids + 16 * i);
        bmqa::MessageConfirmationCookie cookie;
        {
            std::lock_guard<std::mutex> guard(d_queuesMutex);
            bmqa::QueueId*              queueId = queueAt(slots[i]);
            if (!queueId) {
                return k_QUEUE_NOT_OPEN;
            }
            cookie = bmqa::MessageConfirmationCookie(*queueId, messageGuid);
        }
        int rc = builder.addMessageConfirmation(cookie);
        if (rc == bmqt::EventBuilderResult::e_EVENT_TOO_BIG) {
            rc = d_session->confirmMessages(&builder);
            if (rc != 0) {
                return rc;
            }
            rc = builder.addMessageConfirmation(cookie);
        }
        if (rc != 0) {
            return rc;
        }
    }
    return builder.messageCount() > 0 ? d_session->confirmMessages(&builder)
                                      : 0;
}

int Session::confirm(int slot, const unsigned char* guid)
{
    bmqt::MessageGUID messageGuid;
    messageGuid.fromBinary(guid);
    bmqa::MessageConfirmationCookie cookie;
    {
        std::lock_guard<std::mutex> guard(d_queuesMutex);
        bmqa::QueueId*              queueId = queueAt(slot);
        if (!queueId) {
            return k_QUEUE_NOT_OPEN;
        }
        cookie = bmqa::MessageConfirmationCookie(*queueId, messageGuid);
    }
    if (pumpingSession() == this) {
        std::lock_guard<std::mutex> guard(d_confirmMutex);
        if (d_confirmBuilder) {
            int rc = d_confirmBuilder->addMessageConfirmation(cookie);
            if (rc == bmqt::EventBuilderResult::e_EVENT_TOO_BIG) {
                d_session->confirmMessages(d_confirmBuilder.get());
                rc = d_confirmBuilder->addMessageConfirmation(cookie);
            }
            if (rc == 0) {
                return 0;
            }
        }
    }
    return d_session->confirmMessage(cookie);
}

void Session::flushConfirms()
{
    std::lock_guard<std::mutex> guard(d_confirmMutex);
    if (d_confirmBuilder && d_confirmBuilder->messageCount() > 0) {
        if (d_session->confirmMessages(d_confirmBuilder.get()) != 0) {
            // Not sent (the session is stopping or disconnected): the
            // messages stay unconfirmed and the broker delivers them again.
            d_confirmBuilder->reset();
        }
    }
}

}  // close namespace bmqpy
