// SPDX-License-Identifier: Apache-2.0
#include "macproxy.h"

#include <QJsonArray>
#include <QJsonDocument>

namespace dfproxy::desktop {

MacProxyBackend::MacProxyBackend(std::unique_ptr<MacProxyStore> store) : m_store(std::move(store)) {}

QStringList MacProxyBackend::serviceKeys()
{
    return {"HTTPEnable",           "HTTPProxy",  "HTTPPort",       "HTTPSEnable",
            "HTTPSProxy",           "HTTPSPort",  "ExceptionsList", "ExcludeSimpleHostnames",
            "ProxyAutoConfigEnable", "ProxyAutoConfigURLString", "ProxyAutoDiscoveryEnable", "SOCKSEnable",
            "FTPEnable"};
}

bool MacProxyBackend::isNumberKey(const QString &key)
{
    return key.endsWith(QLatin1String("Enable")) || key.endsWith(QLatin1String("Port")) ||
           key == QLatin1String("ExcludeSimpleHostnames");
}

Settings MacProxyBackend::flatten(const MacServiceProxies &services)
{
    Settings s;
    for (auto svc = services.begin(); svc != services.end(); ++svc) {
        for (const auto &k : serviceKeys())
            s.insert(svc.key() + '/' + k, svc.value().value(k));
    }
    return s;
}

MacServiceProxies MacProxyBackend::split(const Settings &settings)
{
    MacServiceProxies out;
    for (auto it = settings.begin(); it != settings.end(); ++it) {
        const int slash = it.key().lastIndexOf('/');
        out[it.key().left(slash)].insert(it.key().mid(slash + 1), it.value());
    }
    return out;
}

std::optional<Settings> MacProxyBackend::read(QString *error)
{
    const auto services = m_store->read(error);
    if (!services)
        return std::nullopt;
    return flatten(*services);
}

Settings MacProxyBackend::desired(const ProxyTarget &target, ProxyMode mode, const Settings &current) const
{
    Settings s;
    QStringList exceptions;
    bool simple = false;
    for (const auto &b : target.bypass) {
        if (b == QLatin1String("<local>"))
            simple = true; // macOS spells "plain host names" as a flag of its own
        else
            exceptions.append(b);
    }
    const QString exceptionsText =
        QString::fromUtf8(QJsonDocument(QJsonArray::fromStringList(exceptions)).toJson(QJsonDocument::Compact));
    for (const auto &id : split(current).keys()) {
        const QString p = id + '/';
        s.insert(p + "ProxyAutoDiscoveryEnable", "0");
        if (mode == ProxyMode::Pac) {
            s.insert(p + "ProxyAutoConfigEnable", "1");
            s.insert(p + "ProxyAutoConfigURLString", target.pacUrl);
            s.insert(p + "HTTPEnable", "0");
            s.insert(p + "HTTPSEnable", "0");
            continue;
        }
        s.insert(p + "ProxyAutoConfigEnable", "0");
        // A SOCKS or FTP proxy left on would still carry other traffic past dfproxy.
        s.insert(p + "SOCKSEnable", "0");
        s.insert(p + "FTPEnable", "0");
        s.insert(p + "HTTPEnable", "1");
        s.insert(p + "HTTPProxy", target.host);
        s.insert(p + "HTTPPort", QString::number(target.port));
        s.insert(p + "HTTPSEnable", "1");
        s.insert(p + "HTTPSProxy", target.host);
        s.insert(p + "HTTPSPort", QString::number(target.port));
        s.insert(p + "ExceptionsList", exceptionsText);
        s.insert(p + "ExcludeSimpleHostnames", simple ? "1" : "0");
    }
    return s;
}

bool MacProxyBackend::write(const Settings &changes, QString *error)
{
    return m_store->write(split(changes), error);
}

} // namespace dfproxy::desktop
