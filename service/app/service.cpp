// SPDX-License-Identifier: Apache-2.0
#include "app/service.h"

#include "app/servicemetrics.h"
#include "app/telemetrysink.h"
#include "base/logcategories.h"
#include "dns/dnshostcache.h"
#include "forward/upstreamproxy.h"
#include "policy/policyengine.h"
#include "proxy/proxyserver.h"
#include "platform/servicemanager.h"
#include "platform/socket.h"
#include "routing/routetable.h"
#include "telemetry/accesslogger.h"
#include "telemetry/applicationstats.h"
#include "telemetry/proxymetrics.h"

#include <QDir>
#include <QFile>
#include <QFileInfo>
#include <QHostAddress>
#include <QJsonArray>
#include <QLoggingCategory>



namespace dfproxy::app {
namespace {

QString describe(const QList<config::FieldError> &errors)
{
    QStringList lines;
    for (const auto &e : errors)
        lines << (e.path.isEmpty() ? e.message : e.path + ": " + e.message);
    return lines.join("\n  ");
}

} // namespace

Service::Service(ServiceOptions options, QObject *parent) : QObject(parent), m_options(std::move(options))
{
    QFile def(QStringLiteral(":/dfproxy/default-config.json"));
    if (def.open(QIODevice::ReadOnly))
        m_store.setDefaultConfigText(def.readAll());
    // --dns-server is parsed once here; start() refuses to run when it is bad.
    if (!m_options.dnsServers.isEmpty())
        m_commandLineDns = dns::DnsHostCache::Options::fromJson(
            QJsonObject{{"servers", QJsonArray::fromStringList(m_options.dnsServers)}}, &m_commandLineErrors);
    m_store.setConfigValidator([this](config::Config &c) { return parseGlobalBlocks(c); });
    // Upstream proxies a backend cannot use (docs/upstream-proxy.md), on resource writes too.
    m_store.setCrossResourceCheck(&forward::tunnelErrors);
}

Service::~Service()
{
    stop();
}

QList<config::FieldError> Service::parseGlobalBlocks(config::Config &c) const
{
    QList<config::FieldError> errors;
    GlobalOptions o;
    // paths come as "dns.servers[0]"; --dns-server replaces the file's server list, so "resolver": "udp" may come
    // without one.
    const bool serversOnCommandLine = !m_options.dnsServers.isEmpty();
    o.dns = dns::DnsHostCache::Options::fromJson(c.dns, &errors, QStringLiteral("dns"), serversOnCommandLine);
    if (serversOnCommandLine)
        o.dns.servers = m_commandLineDns.servers;
    o.proxy = proxy::optionsFromJson(c.proxy, &errors); // timeouts, buffers, X-Forwarded-* (docs/proxy.md)
    if (m_options.workers >= 0)
        o.proxy.workerThreads = m_options.workers;
    o.admin = config::AdminOptions::fromJson(c.admin, &errors); // the admin server reads it at listen
    if (c.logging.contains("level")) {
        o.logLevel = logLevelFromString(c.logging.value("level").toString());
        if (!o.logLevel)
            errors.append(config::FieldError{"logging.level", "must be one of " + logLevelNames().join(", ")});
    }
    o.accessLog = telemetry::AccessLogOptions::fromJson(c.logging, &errors); // paths as "logging.accessLog.format"
    // Enabled without any output means access.log next to the config file.
    if (o.accessLog.enabled && o.accessLog.path.isEmpty() && !o.accessLog.toStdout)
        o.accessLog.path = QFileInfo(m_store.path()).absoluteDir().filePath(QStringLiteral("access.log"));
    c.parsed.set(std::move(o));
    return errors;
}

const GlobalOptions &Service::globalOptions() const
{
    // Every config the store holds went through parseGlobalBlocks (ConfigStore::setConfigValidator).
    static const GlobalOptions defaults;
    const GlobalOptions *o = m_store.config().parsed.get<GlobalOptions>();
    return o ? *o : defaults;
}

bool Service::start(QString *error)
{
    // Files named through the admin API stay in dfproxy's own directories (docs/admin-api.md).
    m_store.setFileConfinement(
        config::FileConfinement::forConfigFile(m_options.configPath, platform::systemConfigPath()));
    // A bad file never stops the start: the store falls back to the last good version (config.json.bak) or, when
    // neither loads, to an empty config. Either way dfproxy runs, says so loudly, and /api/v1/server shows it.
    if (!m_store.load(m_options.configPath))
        qCCritical(lcService).noquote() << "cannot load the config" << m_options.configPath << "-"
                                        << m_store.lastError();
    else if (!m_store.lastError().isEmpty())
        qCWarning(lcService).noquote() << m_store.lastError();

    if (!m_commandLineErrors.isEmpty()) {
        *error = QStringLiteral("invalid DNS settings:\n  %1").arg(describe(m_commandLineErrors));
        return false;
    }
    m_startDns = m_store.config().dns;
    const GlobalOptions &options = globalOptions();
    const auto &dnsOptions = options.dns;
    m_accessLog = std::make_unique<telemetry::AccessLogger>(options.accessLog);
    m_accessLog->start();
    m_metrics = std::make_unique<telemetry::MetricsRegistry>();
    m_proxyMetrics = std::make_unique<telemetry::ProxyMetrics>(*m_metrics);
    m_applications = std::make_unique<telemetry::ApplicationStats>();
    m_accessLogSink = std::make_unique<TelemetrySink>(m_accessLog.get(), m_proxyMetrics.get(), m_applications.get());

    m_cache = std::make_unique<dns::DnsHostCache>(dnsOptions);
    m_proxyFamily = dnsOptions.lookupFamily;
    proxy::ProxyOptions proxyOptions = options.proxy;
    proxyOptions.defaultLookupFamily = dnsOptions.lookupFamily;
    m_proxy = std::make_unique<proxy::ProxyServer>(proxyOptions);
    m_proxy->setHostCache(m_cache.get());
    m_proxy->setAccessLogSink(m_accessLogSink.get());
    checkDescriptorLimit();
    addServiceCollectors(*m_metrics, m_cache.get(), m_proxy.get(), m_accessLog.get(),
                         [this] { return policyCounters(); });
    m_proxy->setRouteTable(routing::RouteTable::build(m_store.config()));
    applyPolicies();
    connect(m_proxy.get(), &proxy::ProxyServer::listenerError, this,
            [](const QString &message) { qCWarning(lcService).noquote() << message; });
    if (!m_proxy->start(error))
        return false;
    applyPolicies(); // again, now that the listeners' real ports are known
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
    const proxy::ProxyOptions &limits = globalOptions().proxy;
    m_proxy->setConnectionLimits(limits.maxConnections, limits.maxConnectionsPerClient);
    m_proxy->setApplicationLookup(limits.applicationLookup);
    applyPolicies();
    applyLoggingConfig();
    applyDnsSettings();
}

void Service::checkDescriptorLimit()
{
    // Each proxied connection holds two descriptors (client and upstream); keep headroom for DNS, logs, admin.
    const qint64 limit = platform::raiseDescriptorLimit();
    const int maxConnections = globalOptions().proxy.maxConnections;
    if (limit > 0 && (maxConnections == 0 || 2LL * maxConnections + 256 > limit))
        qCWarning(lcService).noquote()
            << QStringLiteral("the open-file limit (%1) is low for proxy.maxConnections = %2: each connection needs two "
                              "descriptors; raise the limit (LimitNOFILE= in the systemd unit, ulimit -n) or lower "
                              "proxy.maxConnections")
                   .arg(limit)
                   .arg(maxConnections == 0 ? QStringLiteral("0 (no limit)") : QString::number(maxConnections));
}

void Service::applyPolicies()
{
    // denySelf must know what is really bound: listeners that asked for port 0 and the admin API's overrides.
    policy::Options options;
    if (m_proxy) {
        for (const auto &l : m_proxy->boundListeners())
            options.proxyListenAddresses.append({l.address, l.port});
    }
    options.adminAddress = m_adminAddress;
    options.adminPort = m_adminPort;
    // Rate-limit buckets and counters carry over from the previous engine.
    auto engine = policy::buildPolicyEngine(m_store.config(), options, m_policy.get());
    for (const auto &problem : engine->problems())
        qCWarning(lcService).noquote() << problem;
    {
        QMutexLocker lock(&m_policyMutex);
        m_policy = engine;
    }
    if (m_proxy)
        m_proxy->setPolicyEngine(engine);
}

void Service::setAdminEndpoint(const QHostAddress &address, quint16 port)
{
    m_adminAddress = address;
    m_adminPort = port;
    applyPolicies();
}

QJsonObject Service::policyStats() const
{
    QMutexLocker lock(&m_policyMutex);
    return m_policy ? m_policy->stats() : QJsonObject();
}

policy::PolicyCounters Service::policyCounters() const
{
    QMutexLocker lock(&m_policyMutex);
    return m_policy ? m_policy->counters() : policy::PolicyCounters();
}

QStringList Service::policyProblems(const QString &kind, const QString &ns, const QString &name) const
{
    // The engine's problems read "<Kind> <ns>/<name>: <what>" (policy/policyengine.cpp).
    const QString prefix = QStringLiteral("%1 %2/%3: ").arg(kind, ns, name);
    QStringList out;
    QMutexLocker lock(&m_policyMutex);
    if (!m_policy)
        return out;
    for (const QString &problem : m_policy->problems()) {
        if (problem.startsWith(prefix))
            out.append(problem.mid(prefix.size()));
    }
    return out;
}

void Service::applyLoggingConfig()
{
    const telemetry::AccessLogOptions &o = globalOptions().accessLog;
    if (m_accessLog && !(m_accessLog->options() == o))
        m_accessLog->setOptions(o);
}

void Service::applyDnsSettings()
{
    if (m_store.config().dns == m_startDns)
        return;
    m_startDns = m_store.config().dns;
    const auto &options = globalOptions().dns;
    m_cache->reconfigure(options);
    if (options.lookupFamily != m_proxyFamily)
        qCWarning(lcService).noquote() << "DNS settings applied; the new dns.lookupFamily"
                                       << dns::toString(options.lookupFamily)
                                       << "reaches backends without spec.dns only after a restart of dfproxy";
    else
        qCInfo(lcService) << "DNS settings applied";
}

QJsonObject Service::stats() const
{
    QJsonObject out;
    if (m_cache)
        out.insert("dns", m_cache->statsJson());
    if (m_proxy)
        out.insert("proxy", m_proxy->stats());
    if (const QJsonObject policy = policyStats(); !policy.isEmpty())
        out.insert("policy", policy);
    if (m_accessLog)
        out.insert("accessLog", m_accessLog->stats().toJson());
    return out;
}

} // namespace dfproxy::app
