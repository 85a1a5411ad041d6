// SPDX-License-Identifier: Apache-2.0
#include "app/service.h"

#include "app/telemetrysink.h"
#include "dns/dnshostcache.h"
#include "proxy/proxyserver.h"
#include "routing/routetable.h"
#include "telemetry/accesslogger.h"
#include "telemetry/proxymetrics.h"

#include <QDir>
#include <QFile>
#include <QFileInfo>
#include <QHostAddress>
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

// Checks the global blocks the config area leaves to their owners; used for file loads and PUT /api/v1/config.
QList<config::FieldError> validateGlobalBlocks(const config::Config &c)
{
    QList<config::FieldError> errors;
    dns::DnsHostCache::optionsFromJson(c.dns, &errors); // paths come as "dns.servers[0]"
    if (c.proxy.contains("workers")) {
        const QJsonValue w = c.proxy.value("workers");
        if (!w.isDouble() || w.toDouble() != w.toInt() || w.toInt() < 0 || w.toInt() > 256)
            errors.append(config::FieldError{"proxy.workers", "must be an integer from 0 to 256"});
    }
    if (c.admin.contains("address")) {
        const QString a = c.admin.value("address").toString();
        if (a != "localhost" && QHostAddress(a).isNull())
            errors.append(config::FieldError{"admin.address", "must be an IP address or \"localhost\""});
    }
    if (c.admin.contains("port")) {
        const QJsonValue p = c.admin.value("port");
        if (!p.isDouble() || p.toDouble() != p.toInt() || p.toInt() < 0 || p.toInt() > 65535)
            errors.append(config::FieldError{"admin.port", "must be an integer from 0 to 65535"});
    }
    if (c.logging.contains("level")) {
        static const QStringList levels{"debug", "info", "warning", "error", "critical"};
        if (!levels.contains(c.logging.value("level").toString()))
            errors.append(config::FieldError{"logging.level", "must be one of debug, info, warning, error, critical"});
    }
    telemetry::AccessLogOptions::fromJson(c.logging, &errors); // paths come as "logging.accessLog.format"
    return errors;
}

// logging.accessLog with the defaults that depend on the config's location: enabled without any output means
// access.log next to the config file.
telemetry::AccessLogOptions accessLogOptions(const config::ConfigStore &store, QList<config::FieldError> *errors)
{
    auto o = telemetry::AccessLogOptions::fromJson(store.config().logging, errors);
    if (o.enabled && o.path.isEmpty() && !o.toStdout)
        o.path = QFileInfo(store.path()).absoluteDir().filePath(QStringLiteral("access.log"));
    return o;
}

} // namespace

Service::Service(ServiceOptions options, QObject *parent) : QObject(parent), m_options(std::move(options))
{
    QFile def(QStringLiteral(":/dfproxy/default-config.json"));
    if (def.open(QIODevice::ReadOnly))
        m_store.setDefaultConfigText(def.readAll());
    m_store.setConfigValidator(validateGlobalBlocks);
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
    const auto logOptions = accessLogOptions(m_store, &errors);
    if (!errors.isEmpty()) {
        *error = QStringLiteral("invalid logging settings:\n  %1").arg(describe(errors));
        return false;
    }
    m_accessLog = std::make_unique<telemetry::AccessLogger>(logOptions);
    m_accessLog->start();
    m_metrics = std::make_unique<telemetry::MetricsRegistry>();
    m_proxyMetrics = std::make_unique<telemetry::ProxyMetrics>(*m_metrics);
    m_accessLogSink = std::make_unique<TelemetrySink>(m_accessLog.get(), m_proxyMetrics.get());

    m_cache = std::make_unique<dns::DnsHostCache>(dnsOptions);
    m_proxy = std::make_unique<proxy::ProxyServer>(
        proxyOptions(m_store.config().proxy, m_options.workers, dnsOptions.lookupFamily));
    m_proxy->setHostCache(m_cache.get());
    m_proxy->setAccessLogSink(m_accessLogSink.get());
    addServiceCollectors(*m_metrics, m_cache.get(), m_proxy.get(), m_accessLog.get());
    m_proxy->setRouteTable(routing::RouteTable::build(m_store.config()));
    connect(m_proxy.get(), &proxy::ProxyServer::listenerError, this,
            [](const QString &message) { qCWarning(lcService).noquote() << message; });
    if (!m_proxy->start(error))
        return false;
    connect(&m_store, &config::ConfigStore::changed, this, &Service::applyConfig);
    m_store.setWatching(m_options.watchConfig); // hand edits of the file apply live; bad ones are rejected and reported
    return true;
}

void Service::stop()
{
    if (m_proxy)
        m_proxy->stop();
    if (m_accessLog)
        m_accessLog->stop(); // writes what the drained requests logged
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
    applyLoggingConfig();
}

void Service::applyLoggingConfig()
{
    QList<config::FieldError> errors;
    const auto o = accessLogOptions(m_store, &errors);
    if (!errors.isEmpty()) {
        qCWarning(lcService).noquote() << "invalid logging settings, keeping the running ones:\n " << describe(errors);
        return;
    }
    if (m_accessLog && !(m_accessLog->options() == o))
        m_accessLog->setOptions(o);
}

QJsonObject Service::stats() const
{
    QJsonObject out;
    if (m_cache)
        out.insert("dns", m_cache->statsJson());
    if (m_proxy)
        out.insert("proxy", m_proxy->stats());
    if (m_accessLog)
        out.insert("accessLog", m_accessLog->stats().toJson());
    return out;
}

} // namespace dfproxy::app
