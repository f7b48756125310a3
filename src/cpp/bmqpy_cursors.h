// bmqpy_cursors.h                                                   -*-C++-*-
//
// Cursors over what libbmq delivers: the messages of a message event (PUSH
// or ACK) and the properties of a message, read without copying; and
// `setProperty`, which writes one property of a message to post.

#ifndef INCLUDED_BMQPY_CURSORS
#define INCLUDED_BMQPY_CURSORS

#include <bmqa_message.h>
#include <bmqa_messageevent.h>
#include <bmqa_messageiterator.h>
#include <bmqa_messageproperties.h>

#include <cstddef>

namespace bmqpy {

namespace bmqa = BloombergLP::bmqa;

/// Walks the messages of a libbmq message event (PUSH or ACK).
class MessageCursor {
  public:
    explicit MessageCursor(const bmqa::MessageEvent& event);
    bool next();

    int       eventType() const { return d_type; }
    int       queueSlot() const;
    long long correlationId() const;
    /// The correlation id of the subscription a PUSH message matched, or 0
    /// when the queue has no subscriptions of ours.
    long long subscriptionId() const;
    int       ackStatus() const { return d_message->ackStatus(); }
    bool      hasGuid() const;
    void      loadGuid(unsigned char* out16) const;
    int       dataSize() const { return d_message->dataSize(); }
    /// Copy the payload into `out`, which has room for `dataSize()` bytes.
    void      copyData(char* out) const;
    bool      hasProperties() const { return d_message->hasProperties(); }
    int loadProperties(bmqa::MessageProperties* properties) const
    {
        return d_message->loadProperties(properties);
    }

  private:
    bmqa::MessageIterator d_iterator;
    const bmqa::Message*  d_message;
    int                   d_type;
};

/// Set one property; `type` is a `bmqt::PropertyType::Enum`.  Integer-like
/// types (BOOL, CHAR, SHORT, INT32, INT64) take `integer`; STRING and BINARY
/// take `bytes`/`length`.  Return libbmq's result code (0 on success).
int setProperty(bmqa::MessageProperties* properties,
                const char*              name,
                size_t                   nameLength,
                int                      type,
                long long                integer,
                const char*              bytes,
                size_t                   length);

/// Walks the properties of a received message.
class PropertyCursor {
  public:
    explicit PropertyCursor(const bmqa::MessageProperties& properties);
    bool next() { return d_iterator.hasNext(); }

    const char* name() const { return d_iterator.name().data(); }
    size_t      nameLength() const { return d_iterator.name().size(); }
    int         type() const { return d_iterator.type(); }
    /// The value of a BOOL, CHAR, SHORT, INT32 or INT64 property.
    long long   integer() const;
    /// The value of a STRING or BINARY property.
    const char* bytes() const;
    size_t      length() const;

  private:
    bmqa::MessagePropertiesIterator d_iterator;
};

}  // close namespace bmqpy

#endif
