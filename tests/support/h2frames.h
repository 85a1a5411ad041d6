// SPDX-License-Identifier: Apache-2.0
#pragma once
// Raw HTTP/2 frames (RFC 9113 4.1) and HPACK literals (RFC 7541) for tests that must send what a client library
// would refuse to: the hostile-client and conformance tests of tests/integration/. Header-only.

#include <QByteArray>
#include <QList>
#include <QPair>

namespace dfproxy::test::h2 {

enum FrameType : quint8 {
    Data = 0,
    Headers = 1,
    Priority = 2,
    RstStream = 3,
    Settings = 4,
    PushPromise = 5,
    Ping = 6,
    Goaway = 7,
    WindowUpdate = 8,
    Continuation = 9
};
enum Flag : quint8 { EndStream = 0x1, Ack = 0x1, EndHeaders = 0x4, Padded = 0x8, PriorityFlag = 0x20 };
/// RFC 9113 7.
enum ErrorCode : quint32 {
    NoError = 0,
    ProtocolError = 1,
    InternalError = 2,
    FlowControlError = 3,
    SettingsTimeout = 4,
    StreamClosed = 5,
    FrameSizeError = 6,
    RefusedStream = 7,
    Cancel = 8,
    CompressionError = 9,
    ConnectError = 0xa,
    EnhanceYourCalm = 0xb,
    InadequateSecurity = 0xc,
    Http11Required = 0xd
};

inline const QByteArray kPreface = QByteArrayLiteral("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n");

inline QByteArray u32(quint32 v)
{
    QByteArray b;
    b.append(char(v >> 24)).append(char(v >> 16)).append(char(v >> 8)).append(char(v));
    return b;
}

inline QByteArray frame(quint8 type, quint8 flags, quint32 stream, const QByteArray &payload = {})
{
    QByteArray f;
    const quint32 len = quint32(payload.size());
    f.append(char(len >> 16)).append(char(len >> 8)).append(char(len));
    f.append(char(type)).append(char(flags));
    return f + u32(stream) + payload;
}

/// One SETTINGS entry (RFC 9113 6.5.1).
inline QByteArray setting(quint16 id, quint32 value)
{
    return QByteArray(1, char(id >> 8)) + char(id) + u32(value);
}

/// An HPACK integer with an N-bit prefix whose high bits are `first`.
inline QByteArray hpackInt(quint8 first, int prefixBits, quint64 v)
{
    const quint64 max = (1u << prefixBits) - 1;
    QByteArray b;
    if (v < max)
        return b.append(char(first | v));
    b.append(char(first | max));
    v -= max;
    while (v >= 128) {
        b.append(char(0x80 | (v & 0x7f)));
        v >>= 7;
    }
    return b.append(char(v));
}

inline QByteArray hpackString(const QByteArray &s)
{
    return hpackInt(0, 7, quint64(s.size())) + s;
}

using Fields = QList<QPair<QByteArray, QByteArray>>;

/// A header block of literal fields without indexing (no Huffman): the bytes say exactly what the test sends.
inline QByteArray literalBlock(const Fields &fields)
{
    QByteArray b;
    for (const auto &f : fields)
        b += char(0x00) + hpackString(f.first) + hpackString(f.second);
    return b;
}

/// A frame as a client reads it.
struct Frame
{
    quint8 type;
    quint8 flags;
    quint32 stream;
    QByteArray payload;
};

/// The complete frames at the start of `in`.
inline QList<Frame> parseFrames(const QByteArray &in)
{
    QList<Frame> out;
    qsizetype p = 0;
    while (in.size() - p >= 9) {
        const auto *d = reinterpret_cast<const uchar *>(in.constData() + p);
        const quint32 len = (quint32(d[0]) << 16) | (quint32(d[1]) << 8) | d[2];
        if (in.size() - p - 9 < qsizetype(len))
            break;
        out.append({d[3], d[4], ((quint32(d[5]) & 0x7f) << 24) | (quint32(d[6]) << 16) | (quint32(d[7]) << 8) | d[8],
                    in.mid(p + 9, len)});
        p += 9 + len;
    }
    return out;
}

/// The first four bytes of a payload as a 32-bit number (RST_STREAM's code, WINDOW_UPDATE's increment).
inline quint32 be32(const QByteArray &b, qsizetype at = 0)
{
    if (b.size() < at + 4)
        return 0xffffffff;
    const auto *d = reinterpret_cast<const uchar *>(b.constData() + at);
    return (quint32(d[0]) << 24) | (quint32(d[1]) << 16) | (quint32(d[2]) << 8) | d[3];
}

/// The first GOAWAY's error code, or -1 when none came.
inline qint64 goawayCode(const QList<Frame> &frames)
{
    for (const Frame &f : frames) {
        if (f.type == Goaway && f.payload.size() >= 8)
            return be32(f.payload, 4);
    }
    return -1;
}

} // namespace dfproxy::test::h2
