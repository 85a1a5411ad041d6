// SPDX-License-Identifier: Apache-2.0
#include "traffic/sseparser.h"

namespace dfproxy::gui {

QList<QByteArray> SseParser::feed(const QByteArray &chunk)
{
    QList<QByteArray> events;
    m_buffer += chunk;
    qsizetype nl;
    while ((nl = m_buffer.indexOf('\n')) >= 0) {
        QByteArray line = m_buffer.left(nl);
        m_buffer.remove(0, nl + 1);
        if (line.endsWith('\r'))
            line.chop(1);
        if (line.isEmpty()) {
            if (m_hasData)
                events.append(m_data);
            m_data.clear();
            m_hasData = false;
            continue;
        }
        if (line.startsWith(':'))
            continue;
        if (line.startsWith("data:")) {
            QByteArray value = line.mid(5);
            if (value.startsWith(' '))
                value.remove(0, 1);
            if (m_hasData)
                m_data += '\n';
            m_data += value;
            m_hasData = true;
        }
    }
    return events;
}

} // namespace dfproxy::gui
