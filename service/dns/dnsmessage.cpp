// SPDX-License-Identifier: Apache-2.0
#include "dns/dnsmessage.h"

#include <QUrl>

#include <algorithm>
#include <cstring>
#include <limits>

namespace dfproxy::dns::wire {

namespace {

constexpr int kHeaderSize = 12;
constexpr int kMaxNameLength = 255; // on the wire, with the length bytes (RFC 1035 2.3.4)
constexpr int kMaxPointerJumps = 64;
constexpr int kMaxCnameChain = 16;

quint16 get16(const uchar *p)
{
    return quint16((p[0] << 8) | p[1]);
}

quint32 get32(const uchar *p)
{
    return (quint32(p[0]) << 24) | (quint32(p[1]) << 16) | (quint32(p[2]) << 8) | quint32(p[3]);
}

char asciiLower(char c)
{
    return (c >= 'A' && c <= 'Z') ? char(c - 'A' + 'a') : c;
}

/// A message being read: every offset is checked against its size.
class Reader
{
public:
    explicit Reader(const QByteArray &m) : m_p(reinterpret_cast<const uchar *>(m.constData())), m_size(int(m.size())) {}

    int size() const { return m_size; }
    const uchar *at(int offset) const { return m_p + offset; }
    bool has(int offset, int n) const { return offset >= 0 && n >= 0 && offset <= m_size - n; }

    /// Reads the (possibly compressed) name at `*offset` as dotted lower-case text into `out` and moves `*offset`
    /// past it. False on anything malformed: a label running past the end, a reserved label type, a name longer
    /// than 255 bytes, a pointer that does not point backwards (which also rules out loops) or too many pointers.
    bool readName(int *offset, QByteArray *out) const
    {
        out->resize(0); // keeps the buffer: one per message, not one per name (this runs for every answer)
        if (out->capacity() < 64)
            out->reserve(64);
        int pos = *offset;
        int end = -1; // where the caller's offset continues: after the first pointer, or after the final 0
        int wireLength = 0;
        int jumps = 0;
        int labelStart = pos;
        for (;;) {
            if (!has(pos, 1))
                return false;
            const uchar len = m_p[pos];
            if ((len & 0xc0) == 0xc0) {
                if (!has(pos, 2) || ++jumps > kMaxPointerJumps)
                    return false;
                const int target = ((len & 0x3f) << 8) | m_p[pos + 1];
                if (target >= labelStart)
                    return false;
                if (end < 0)
                    end = pos + 2;
                pos = labelStart = target;
                continue;
            }
            if (len & 0xc0)
                return false; // 01 and 10: extended and reserved label types
            wireLength += len + 1;
            if (wireLength > kMaxNameLength)
                return false;
            if (len == 0) {
                *offset = end >= 0 ? end : pos + 1;
                return true;
            }
            if (!has(pos + 1, len))
                return false;
            if (!out->isEmpty())
                out->append('.');
            // A label at a time, lowered in place: a byte at a time was a call per character, for every name of
            // every reply.
            const qsizetype at = out->size();
            out->append(reinterpret_cast<const char *>(m_p + pos + 1), len);
            for (char *c = out->data() + at, *end = out->data() + out->size(); c != end; ++c)
                *c = asciiLower(*c);
            pos += 1 + len;
        }
    }

private:
    const uchar *m_p;
    int m_size;
};

QByteArray lowered(const QByteArray &name)
{
    // Names we encode are lower-case already: share the array then, no copy (one per reply).
    if (std::none_of(name.cbegin(), name.cend(), [](char c) { return c >= 'A' && c <= 'Z'; }))
        return name;
    QByteArray l = name;
    for (char &c : l)
        c = asciiLower(c);
    return l;
}

/// `lower` (as readName writes it) equals `name` but for ASCII case.
bool sameName(const QByteArray &lower, const QByteArray &name)
{
    if (lower.size() != name.size())
        return false;
    for (qsizetype i = 0; i < name.size(); ++i) {
        if (lower[i] != asciiLower(name[i]))
            return false;
    }
    return true;
}

/// Calls f(begin, length) for each dot-separated label of `name` (empty ones too), without splitting it into
/// new arrays: this runs for every query.
template <class F>
void forEachLabel(const QByteArray &name, F &&f)
{
    qsizetype start = 0;
    for (;;) {
        const qsizetype dot = name.indexOf('.', start);
        const qsizetype end = dot < 0 ? name.size() : dot;
        f(name.constData() + start, end - start);
        if (dot < 0)
            return;
        start = dot + 1;
    }
}

/// Reads the header and the question; `*offset` ends after the question. False if the datagram is not a reply to
/// this question.
bool readQuestion(const Reader &r, quint16 id, const QByteArray &asciiName, quint16 type, int *offset)
{
    if (!r.has(0, kHeaderSize))
        return false;
    const quint16 flags = get16(r.at(2));
    if (get16(r.at(0)) != id || !(flags & 0x8000) || ((flags >> 11) & 0xf) != 0)
        return false;
    const quint16 qdcount = get16(r.at(4));
    *offset = kHeaderSize;
    if (qdcount == 0)
        return (flags & 0xf) != 0; // some servers drop the question from an error reply (FORMERR, REFUSED ...)
    if (qdcount != 1)
        return false;
    // The thread's buffer: its capacity stays, so reading a question allocates nothing (twice per reply).
    thread_local QByteArray qname;
    if (!r.readName(offset, &qname) || !r.has(*offset, 4))
        return false;
    const quint16 qtype = get16(r.at(*offset));
    const quint16 qclass = get16(r.at(*offset + 2));
    *offset += 4;
    return sameName(qname, asciiName) && qtype == type && qclass == ClassIn;
}

} // namespace

std::optional<QByteArray> encodeName(const QString &name, QString *error)
{
    auto fail = [&](const QString &why) -> std::optional<QByteArray> {
        if (error)
            *error = why;
        return std::nullopt;
    };
    QString text = name;
    if (text.endsWith(QLatin1Char('.')))
        text.chop(1);
    if (text.isEmpty())
        return fail(QStringLiteral("empty host name"));
    QByteArray ascii;
    bool isAscii = true;
    for (const QChar c : text)
        isAscii = isAscii && c.unicode() < 0x80;
    if (isAscii) {
        ascii = text.toLatin1();
    } else {
        ascii = QUrl::toAce(text);
        if (ascii.isEmpty())
            return fail(QStringLiteral("%1 is not a valid internationalised domain name").arg(name));
    }
    if (ascii.size() > 253)
        return fail(QStringLiteral("%1 is longer than 253 characters").arg(name));
    qsizetype firstBad = -1; // the length of the first label that is empty or too long
    forEachLabel(ascii, [&firstBad](const char *, qsizetype length) {
        if (firstBad < 0 && (length == 0 || length > 63))
            firstBad = length;
    });
    if (firstBad == 0)
        return fail(QStringLiteral("%1 has an empty label").arg(name));
    if (firstBad > 0)
        return fail(QStringLiteral("%1 has a label longer than 63 characters").arg(name));
    for (char &c : ascii) // ascii is a fresh array of its own: lowered in place
        c = asciiLower(c);
    return ascii;
}

QByteArray encodeQuery(quint16 id, const QByteArray &asciiName, quint16 type)
{
    // Written into the array's buffer directly: one query per name never seen before, and QByteArray::append of a
    // byte at a time was a call (with its checks) per byte.
    const qsizetype size = kHeaderSize + asciiName.size() + 2 + 4; // the first length byte, the final 0, type, class
    QByteArray q(size, Qt::Uninitialized);
    uchar *p = reinterpret_cast<uchar *>(q.data());
    auto put = [&p](quint16 v) {
        *p++ = uchar(v >> 8);
        *p++ = uchar(v & 0xff);
    };
    put(id);
    put(0x0100); // a standard query, recursion desired
    put(1);      // QDCOUNT
    put(0);
    put(0);
    put(0);
    forEachLabel(asciiName, [&p](const char *label, qsizetype length) {
        *p++ = uchar(length);
        memcpy(p, label, size_t(length));
        p += length;
    });
    *p++ = 0;
    put(type);
    put(ClassIn);
    Q_ASSERT(p == reinterpret_cast<uchar *>(q.data()) + size);
    return q;
}

bool isReplyTo(const QByteArray &datagram, quint16 id, const QByteArray &asciiName, quint16 type)
{
    int offset = 0;
    return readQuestion(Reader(datagram), id, asciiName, type, &offset);
}

std::optional<Reply> parseReply(const QByteArray &datagram, const QByteArray &asciiName, quint16 type,
                                QString *error)
{
    auto fail = [&](const QString &why) -> std::optional<Reply> {
        if (error)
            *error = why;
        return std::nullopt;
    };
    const Reader r(datagram);
    int offset = 0;
    if (!r.has(0, kHeaderSize))
        return fail(QStringLiteral("reply shorter than a DNS header"));
    Reply reply;
    reply.id = get16(r.at(0));
    const quint16 flags = get16(r.at(2));
    reply.truncated = flags & 0x0200;
    reply.rcode = flags & 0xf;
    if (!readQuestion(r, reply.id, asciiName, type, &offset))
        return fail(QStringLiteral("reply to another question"));
    if (reply.truncated || reply.rcode != 0)
        return reply; // the records of such a reply are not used

    struct Cname
    {
        QByteArray owner, target;
        quint32 ttl;
    };
    struct Address
    {
        QByteArray owner;
        QHostAddress address;
        quint32 ttl;
    };
    QList<Cname> cnames;
    QList<Address> found;
    const int ancount = get16(r.at(6));
    // The thread's buffer, as for the question (a record that keeps an owner shares it; the next read detaches).
    thread_local QByteArray owner;
    for (int i = 0; i < ancount; ++i) {
        if (!r.readName(&offset, &owner))
            return fail(QStringLiteral("answer %1: malformed owner name").arg(i + 1));
        if (!r.has(offset, 10))
            return fail(QStringLiteral("answer %1: record header runs past the end").arg(i + 1));
        const quint16 rtype = get16(r.at(offset));
        const quint16 rclass = get16(r.at(offset + 2));
        quint32 ttl = get32(r.at(offset + 4));
        if (ttl > quint32(std::numeric_limits<qint32>::max()))
            ttl = 0; // RFC 2181 8: a TTL with the top bit set is read as zero
        const int rdlength = get16(r.at(offset + 8));
        offset += 10;
        if (!r.has(offset, rdlength))
            return fail(QStringLiteral("answer %1: data runs past the end").arg(i + 1));
        const int rdata = offset;
        offset += rdlength;
        if (rclass != ClassIn)
            continue;
        if (rtype == TypeCname) {
            int at = rdata;
            QByteArray target;
            if (!r.readName(&at, &target) || at != rdata + rdlength)
                return fail(QStringLiteral("answer %1: malformed CNAME").arg(i + 1));
            cnames.append({owner, target, ttl});
        } else if (rtype == type && type == TypeA) {
            if (rdlength != 4)
                return fail(QStringLiteral("answer %1: an A record of %2 bytes").arg(i + 1).arg(rdlength));
            found.append({owner, QHostAddress(get32(r.at(rdata))), ttl});
        } else if (rtype == type && type == TypeAaaa) {
            if (rdlength != 16)
                return fail(QStringLiteral("answer %1: an AAAA record of %2 bytes").arg(i + 1).arg(rdlength));
            found.append({owner, QHostAddress(r.at(rdata)), ttl});
        }
    }

    // The names that stand for the question: itself, and the CNAME chain that starts at it (in any record order).
    QList<QByteArray> names{lowered(asciiName)};
    quint32 ttl = std::numeric_limits<quint32>::max();
    for (int step = 0; step < kMaxCnameChain; ++step) {
        bool grew = false;
        for (const Cname &c : std::as_const(cnames)) {
            if (names.contains(c.owner) && !names.contains(c.target)) {
                names.append(c.target);
                ttl = std::min(ttl, c.ttl);
                grew = true;
            }
        }
        if (!grew)
            break;
    }
    for (const Address &a : std::as_const(found)) {
        if (!names.contains(a.owner) || reply.addresses.contains(a.address))
            continue;
        reply.addresses.append(a.address);
        ttl = std::min(ttl, a.ttl);
    }
    reply.ttlSeconds = reply.addresses.isEmpty() ? 0 : ttl;
    return reply;
}

DnsError errorOfRcode(int rcode)
{
    switch (rcode) {
    case 0:
        return DnsError::None;
    case 2:
        return DnsError::ServFail;
    case 3:
        return DnsError::NxDomain;
    case 5:
        return DnsError::Refused;
    default:
        return DnsError::BadReply; // FORMERR, NOTIMP and the rest: the server could not use our query
    }
}

QString rcodeName(int rcode)
{
    switch (rcode) {
    case 0:
        return QStringLiteral("NOERROR");
    case 1:
        return QStringLiteral("FORMERR");
    case 2:
        return QStringLiteral("SERVFAIL");
    case 3:
        return QStringLiteral("NXDOMAIN");
    case 4:
        return QStringLiteral("NOTIMP");
    case 5:
        return QStringLiteral("REFUSED");
    default:
        return QStringLiteral("RCODE %1").arg(rcode);
    }
}

} // namespace dfproxy::dns::wire
