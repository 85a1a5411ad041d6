// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <QByteArray>
#include <QList>

namespace dfproxy::gui {

/// Splits a server-sent-events byte stream into events' data (multi-line `data:` fields joined with '\n').
/// Comments (":keepalive") and other fields are skipped. Feed it chunks as they arrive.
class SseParser
{
public:
    /// Returns the data of every event completed by `chunk`.
    QList<QByteArray> feed(const QByteArray &chunk);

private:
    QByteArray m_buffer;
    QByteArray m_data;
    bool m_hasData = false;
};

} // namespace dfproxy::gui
