// SPDX-License-Identifier: Apache-2.0
#include "app/service.h"

#include "dns/dnshostcache.h"
#include "policy/policyengine.h"
#include "proxy/proxyserver.h"
#include "routing/routetable.h"

#include <QFile>
#include <QJsonArray>
#include <QLoggingCategory>

Q_LOGGING_CATEGORY(lcService, "dfproxy.service")

namespace dfproxy::app {
namespace {

QString describe(const QList<config::FieldError> &errors)
{
    QStringList lines;
    for (const auto &e : errors)
        lines << (e.path.isEmpty() ? e.message : e.path + ": " + e.message);
    return lines.join("\n  ");
}

proxy::ProxyOptions proxyOptions(const QJsonObject &block, int workersOverride, dns::LookupFamily family)
{
    proxy::ProxyOptions o;
    o.workerThreads = workersOverride >= 0 ? workersOverride : block.value("workers").toInt(0);
    o.defaultLookupFamily = family;
    return o;
}

} // namespace

Service::Service(ServiceOptions options, QObject *parent) : QObject(parent), m_options(std::move(options))
{
    QFile def(QStringLiteral(":/dfproxy/default-config.json"));
    if (def.open(QIODevice::ReadOnly))
        m_store.setDefaultConfigText(def.readAll());
}

Service::~Service()
{
    stop();
}

bool Service::start(QString *error)
{
    if (!m_store.load(m_options.configPath)) {
        *error = QStringLiteral("cannot load the config %1: %2").arg(m_options.configPath, m_store.lastError());
        return false;
    }
    if (!m_store.lastError().isEmpty())
        qCWarning(lcService).noquote() << m_store.lastError();

    QJsonObject dnsBlock = m_store.config().dns;
    if (!m_options.dnsServers.isEmpty())
        dnsBlock.insert("servers", QJsonArray::fromStringList(m_options.dnsServers));
    QList<config::FieldError> errors;
    const auto dnsOptions = dns::DnsHostCache::optionsFromJson(dnsBlock, &errors);
    if (!errors.isEmpty()) {
        *error = QStringLiteral("invalid DNS settings:\n  %1").arg(describe(errors));
        return false;
    }
    m_cache = std::make_unique<dns::DnsHostCache>(dnsOptions);
    m_proxy = std::make_unique<proxy::ProxyServer>(
        proxyOptions(m_store.config().proxy, m_options.workers, dnsOptions.lookupFamily));
    m_proxy->setHostCache(m_cache.get());
    m_proxy->setRouteTable(routing::RouteTable::build(m_store.config()));
    applyPolicies();
    connect(m_proxy.get(), &proxy::ProxyServer::listenerError, this,
            [](const QString &message) { qCWarning(lcService).noquote() << message; });
    if (!m_proxy->start(error))
        return false;
    connect(&m_store, &config::ConfigStore::changed, this, &Service::applyConfig);
    return true;
}

void Service::stop()
{
    if (m_proxy)
        m_proxy->stop();
}

void Service::reload()
{
    if (!m_store.reload())
        qCWarning(lcService).noquote() << "config reload rejected, keeping the running config:" << m_store.lastError();
    else
        qCInfo(lcService) << "config reloaded from" << m_store.path();
}

void Service::applyConfig()
{
    // Routes and listeners change live; open connections keep the snapshot they started with.
    m_proxy->setRouteTable(routing::RouteTable::build(m_store.config()));
    applyPolicies();
}

void Service::applyPolicies()
{
    // Rate-limit buckets and counters carry over from the previous engine.
    m_policy = policy::buildPolicyEngine(m_store.config(), policy::Options{}, m_policy.get());
    for (const auto &problem : m_policy->problems())
        qCWarning(lcService).noquote() << problem;
    // Generic lambda so this builds with and without ProxyServer::setPolicyEngine (landing from the proxy branch);
    // becomes a direct call once both are on main.
    [](auto *proxy, const auto &engine) {
        if constexpr (requires { proxy->setPolicyEngine(engine); })
            proxy->setPolicyEngine(engine);
    }(m_proxy.get(), m_policy);
}

QJsonObject Service::stats() const
{
    QJsonObject out;
    if (m_cache)
        out.insert("dns", m_cache->statsJson());
    if (m_proxy)
        out.insert("proxy", m_proxy->stats());
    if (m_policy)
        out.insert("policy", m_policy->stats());
    return out;
}

} // namespace dfproxy::app
