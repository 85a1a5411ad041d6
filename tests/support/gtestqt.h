// SPDX-License-Identifier: Apache-2.0
#pragma once
// Lets GoogleTest print Qt strings in assertion messages and failure output.

#include <QByteArray>
#include <QString>

#include <ostream>

inline std::ostream &operator<<(std::ostream &os, const QString &s)
{
    return os << s.toStdString();
}

inline void PrintTo(const QString &s, std::ostream *os)
{
    *os << '"' << s.toStdString() << '"';
}

inline void PrintTo(const QByteArray &s, std::ostream *os)
{
    *os << '"' << s.toStdString() << '"';
}
