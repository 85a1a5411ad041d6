// SPDX-License-Identifier: Apache-2.0
#pragma once
// Writing DNS messages by hand (RFC 1035 4.1), for the test DNS server and the wire-codec tests.

#include <QByteArray>
#include <QString>

namespace dfproxy::test::dnsbytes {

inline void put16(QByteArray &b, quint16 v)
{
    b.append(char(v >> 8));
    b.append(char(v & 0xff));
}

inline void put32(QByteArray &b, quint32 v)
{
    put16(b, quint16(v >> 16));
    put16(b, quint16(v & 0xffff));
}

/// `dotted` as uncompressed labels with the final zero byte ("a.test" -> "\1a\4test\0").
inline QByteArray name(const QString &dotted)
{
    QByteArray b;
    for (const QString &label : dotted.split(QLatin1Char('.'), Qt::SkipEmptyParts)) {
        const QByteArray l = label.toLatin1();
        b.append(char(l.size()));
        b.append(l);
    }
    b.append('\0');
    return b;
}

} // namespace dfproxy::test::dnsbytes
