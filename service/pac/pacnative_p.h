// SPDX-License-Identifier: Apache-2.0
#pragma once
// The native side of the PAC helpers (dnsResolve, myIpAddress), as the script sees it: __dfproxy.

#include "pac/pacengine.h"

#include <QObject>

namespace dfproxy::pac {

/// What the PAC helpers call into; lives on the PAC thread.
class PacNative final : public QObject
{
    Q_OBJECT
public:
    explicit PacNative(const PacEngine::Options &options) : m_options(options) {}
    Q_INVOKABLE QString dnsResolve(const QString &host) const
    {
        QHostAddress literal;
        if (literal.setAddress(host))
            return literal.protocol() == QAbstractSocket::IPv4Protocol ? literal.toString() : QString();
        if (!m_options.resolve)
            return {};
        // PAC scripts compare dotted quads (isInNet): the first IPv4 address.
        for (const QHostAddress &a : m_options.resolve(host)) {
            if (a.protocol() == QAbstractSocket::IPv4Protocol)
                return a.toString();
        }
        return {};
    }
    Q_INVOKABLE QString myIpAddress() const
    {
        return (m_options.myIpAddress.isNull() ? defaultRouteAddress() : m_options.myIpAddress).toString();
    }

private:
    const PacEngine::Options &m_options;
};

} // namespace dfproxy::pac
