// bmqpy_cursors.cpp                                                 -*-C++-*-
#include "bmqpy_cursors.h"

#include <bmqt_correlationid.h>
#include <bmqt_messageguid.h>
#include <bmqt_propertytype.h>

#include <bdlbb_blob.h>
#include <bdlbb_blobutil.h>

namespace bmqpy {

namespace bmqt  = BloombergLP::bmqt;
namespace bdlbb = BloombergLP::bdlbb;

MessageCursor::MessageCursor(const bmqa::MessageEvent& event)
: d_iterator(event.messageIterator())
, d_message(nullptr)
, d_type(event.type())
{
}

bool MessageCursor::next()
{
    if (!d_iterator.nextMessage()) {
        d_message = nullptr;
        return false;
    }
    d_message = &d_iterator.message();
    return true;
}

int MessageCursor::queueSlot() const
{
    const bmqt::CorrelationId& id = d_message->queueId().correlationId();
    return id.isNumeric() ? static_cast<int>(id.theNumeric()) : -1;
}

long long MessageCursor::correlationId() const
{
    const bmqt::CorrelationId& id = d_message->correlationId();
    return id.isNumeric() ? id.theNumeric() : 0;
}

long long MessageCursor::subscriptionId() const
{
    const bmqt::CorrelationId& id =
        d_message->subscriptionHandle().correlationId();
    return id.isNumeric() ? id.theNumeric() : 0;
}

bool MessageCursor::hasGuid() const
{
    return !d_message->messageGUID().isUnset();
}

void MessageCursor::loadGuid(unsigned char* out16) const
{
    d_message->messageGUID().toBinary(out16);
}

void MessageCursor::copyData(char* out) const
{
    // A blob per thread, reused: `getData` only appends shared buffer
    // handles, so the one real copy is the one into `out`.
    thread_local bdlbb::Blob blob;
    blob.removeAll();
    if (d_message->getData(&blob) == 0) {
        bdlbb::BlobUtil::copy(out, blob, 0, blob.length());
    }
    blob.removeAll();
}

int setProperty(bmqa::MessageProperties* properties,
                const char*              name,
                size_t                   nameLength,
                int                      type,
                long long                integer,
                const char*              bytes,
                size_t                   length)
{
    const bsl::string_view key(name, nameLength);
    switch (type) {
    case bmqt::PropertyType::e_BOOL:
        return properties->setPropertyAsBool(key, integer != 0);
    case bmqt::PropertyType::e_CHAR:
        return properties->setPropertyAsChar(key, static_cast<char>(integer));
    case bmqt::PropertyType::e_SHORT:
        return properties->setPropertyAsShort(key,
                                              static_cast<short>(integer));
    case bmqt::PropertyType::e_INT32:
        return properties->setPropertyAsInt32(
            key,
            static_cast<bsl::int32_t>(integer));
    case bmqt::PropertyType::e_INT64:
        return properties->setPropertyAsInt64(key, integer);
    case bmqt::PropertyType::e_STRING:
        return properties->setPropertyAsString(
            key,
            bsl::string_view(bytes, length));
    case bmqt::PropertyType::e_BINARY:
        return properties->setPropertyAsBinary(
            key,
            bsl::span<const char>(bytes, length));
    default:
        return -1;
    }
}

PropertyCursor::PropertyCursor(const bmqa::MessageProperties& properties)
: d_iterator(&properties)
{
}

long long PropertyCursor::integer() const
{
    switch (d_iterator.type()) {
    case bmqt::PropertyType::e_BOOL: return d_iterator.getAsBool() ? 1 : 0;
    case bmqt::PropertyType::e_CHAR: return d_iterator.getAsChar();
    case bmqt::PropertyType::e_SHORT: return d_iterator.getAsShort();
    case bmqt::PropertyType::e_INT32: return d_iterator.getAsInt32();
    case bmqt::PropertyType::e_INT64: return d_iterator.getAsInt64();
    default: return 0;
    }
}

const char* PropertyCursor::bytes() const
{
    if (d_iterator.type() == bmqt::PropertyType::e_STRING) {
        return d_iterator.getAsString().data();
    }
    return d_iterator.getAsBinary().data();
}

size_t PropertyCursor::length() const
{
    if (d_iterator.type() == bmqt::PropertyType::e_STRING) {
        return d_iterator.getAsString().size();
    }
    return d_iterator.getAsBinary().size();
}

}  // close namespace bmqpy
