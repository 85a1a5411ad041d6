// SPDX-License-Identifier: Apache-2.0
#include "proxy/proxyserver.h"

#include "base/logcategories.h"
#include "proxy/proxycontext.h"
#include "proxy/proxyworker.h"

#include <QCoreApplication>
#include <QDeadlineTimer>
#include <QEventLoop>
#include <QFile>
#include <QSslCertificate>
#include <QSslConfiguration>
#include <QSslKey>
#include <QTcpServer>
#include <QTcpSocket>
#include <QThread>
#include <QTimer>

namespace dfproxy::proxy {

/// One bound listener; accepted descriptors go straight to a worker (no QTcpSocket on the main thread).
class Acceptor final : public QTcpServer
{
public:
    Acceptor(ProxyServer *server, std::shared_ptr<const routing::Listener> listener)
        : QTcpServer(server)
        , m_server(server)
        , m_listener(std::move(listener))
    {
    }
    std::shared_ptr<const routing::Listener> listener() const { return m_listener; }
    void setListener(std::shared_ptr<const routing::Listener> l) { m_listener = std::move(l); }
    /// HTTPS listeners: the server-side TLS configuration (certificate chain and key); null for HTTP.
    std::shared_ptr<const QSslConfiguration> tls() const { return m_tls; }
    void setTls(std::shared_ptr<const QSslConfiguration> tls) { m_tls = std::move(tls); }

protected:
    void incomingConnection(qintptr descriptor) override { m_server->dispatch(descriptor, this); }

private:
    ProxyServer *m_server;
    std::shared_ptr<const routing::Listener> m_listener;
    std::shared_ptr<const QSslConfiguration> m_tls;
};

namespace {
bool sameBinding(const routing::Listener &a, const routing::Listener &b)
{
    return a.address == b.address && a.port == b.port && a.protocol == b.protocol
        && a.tlsCertFile == b.tlsCertFile && a.tlsKeyFile == b.tlsKeyFile;
}

bool isHttps(const routing::Listener &l)
{
    return l.protocol.compare(QLatin1String("HTTPS"), Qt::CaseInsensitive) == 0;
}

/// Loads the certificate chain and private key of an HTTPS listener (PEM; RSA, EC or DSA key, unencrypted).
std::shared_ptr<const QSslConfiguration> loadServerTls(const routing::Listener &l, QString *error)
{
    if (!QSslSocket::supportsSsl()) {
        *error = QStringLiteral("TLS is not available (no OpenSSL backend)");
        return nullptr;
    }
    const QList<QSslCertificate> chain = QSslCertificate::fromPath(l.tlsCertFile, QSsl::Pem);
    if (chain.isEmpty()) {
        *error = QStringLiteral("no PEM certificate in \"%1\"").arg(l.tlsCertFile);
        return nullptr;
    }
    QFile keyFile(l.tlsKeyFile);
    if (!keyFile.open(QIODevice::ReadOnly)) {
        *error = QStringLiteral("cannot read the key file \"%1\": %2").arg(l.tlsKeyFile, keyFile.errorString());
        return nullptr;
    }
    const QByteArray pem = keyFile.readAll();
    QSslKey key;
    for (QSsl::KeyAlgorithm alg : {QSsl::Ec, QSsl::Rsa, QSsl::Dsa}) {
        key = QSslKey(pem, alg, QSsl::Pem, QSsl::PrivateKey);
        if (!key.isNull())
            break;
    }
    if (key.isNull()) {
        *error = QStringLiteral("no usable unencrypted PEM private key in \"%1\"").arg(l.tlsKeyFile);
        return nullptr;
    }
    auto conf = std::make_shared<QSslConfiguration>(QSslConfiguration::defaultConfiguration());
    conf->setLocalCertificateChain(chain);
    conf->setPrivateKey(key);
    conf->setPeerVerifyMode(QSslSocket::VerifyNone); // no client certificates
    conf->setProtocol(QSsl::TlsV1_2OrLater);
    // ALPN: HTTP/2 first (proxy/http2connection.h), HTTP/1.1 for clients that do not offer it.
    conf->setAllowedNextProtocols({QSslConfiguration::ALPNProtocolHTTP2, QSslConfiguration::NextProtocolHttp1_1});
    return conf;
}

void closeDescriptor(qintptr fd)
{
    QTcpSocket s;
    if (s.setSocketDescriptor(fd))
        s.abort();
}
} // namespace

ProxyServer::ProxyServer(ProxyOptions options, QObject *parent)
    : QObject(parent)
    , m_ctx(std::make_unique<ProxyContext>())
{
    m_ctx->options = options;
    m_ctx->limiter.setLimits(options.maxConnections, options.maxConnectionsPerClient);
    m_ctx->applications.setEnabled(options.applicationLookup);
}

void ProxyServer::setConnectionLimits(int maxConnections, int maxConnectionsPerClient)
{
    m_ctx->limiter.setLimits(maxConnections, maxConnectionsPerClient);
}

void ProxyServer::setApplicationLookup(bool on)
{
    m_ctx->applications.setEnabled(on);
}

void ProxyServer::setProcessLookup(std::unique_ptr<platform::ProcessLookup> lookup)
{
    m_ctx->applications.setLookup(std::move(lookup));
}

ProxyServer::~ProxyServer()
{
    if (m_running) {
        m_ctx->options.drainTimeoutMs = 0;
        stop();
    }
}

void ProxyServer::setRouter(std::shared_ptr<const Router> router)
{
    m_ctx->router.store(std::move(router));
    if (m_running)
        syncListeners(nullptr);
}

void ProxyServer::setHostCache(dns::HostCache *cache)
{
    m_ctx->hostCache.store(cache);
}

void ProxyServer::setPolicyEngine(std::shared_ptr<const policy::PolicyEngine> engine)
{
    m_ctx->policy.store(std::move(engine));
}

void ProxyServer::setAccessLogSink(AccessLogSink *sink)
{
    m_ctx->accessLog.store(sink);
}

bool ProxyServer::start(QString *error)
{
    if (m_running)
        return true;
    m_ctx->draining = false;
    int n = m_ctx->options.workerThreads;
    if (n <= 0)
        n = std::max(1, QThread::idealThreadCount());
    for (int i = 0; i < n; ++i) {
        auto *thread = new QThread;
        thread->setObjectName(QStringLiteral("dfproxy-worker-%1").arg(i));
        auto *worker = new ProxyWorker(m_ctx.get());
        worker->moveToThread(thread);
        connect(thread, &QThread::finished, worker, [worker] { delete worker; }, Qt::DirectConnection);
        thread->start();
        m_threads.append(thread);
        m_workers.append(worker);
    }
    m_running = true;
    return syncListeners(error);
}

bool ProxyServer::syncListeners(QString *error)
{
    const std::shared_ptr<const Router> router = m_ctx->router.load();
    const QList<routing::Listener> wanted = router ? router->listeners() : QList<routing::Listener>();
    // Close listeners that went away or changed address; refresh the details of the others.
    QList<Acceptor *> keep;
    QList<bool> have(wanted.size(), false);
    for (Acceptor *a : std::as_const(m_acceptors)) {
        qsizetype match = -1;
        for (qsizetype i = 0; i < wanted.size(); ++i) {
            if (!have[i] && sameBinding(*a->listener(), wanted[i])) {
                match = i;
                break;
            }
        }
        if (match < 0) {
            a->close();
            a->deleteLater();
            continue;
        }
        have[match] = true;
        a->setListener(std::make_shared<const routing::Listener>(wanted[match]));
        keep.append(a);
    }
    m_acceptors = keep;
    bool ok = true;
    for (qsizetype i = 0; i < wanted.size(); ++i) {
        if (have[i])
            continue;
        const routing::Listener &l = wanted[i];
        std::shared_ptr<const QSslConfiguration> tls;
        if (isHttps(l)) {
            QString why;
            tls = loadServerTls(l, &why);
            if (!tls) {
                const QString msg = QStringLiteral("listener %1: %2").arg(l.name, why);
                Q_EMIT listenerError(msg);
                if (error)
                    *error = msg;
                ok = false;
                continue;
            }
        }
        auto *a = new Acceptor(this, std::make_shared<const routing::Listener>(l));
        a->setTls(std::move(tls));
        const QHostAddress addr = l.address.isNull() ? QHostAddress(QHostAddress::LocalHost) : l.address;
        if (!a->listen(addr, l.port)) {
            const QString msg = QStringLiteral("listener %1 on %2:%3: %4")
                                    .arg(l.name, addr.toString())
                                    .arg(l.port)
                                    .arg(a->errorString());
            delete a;
            Q_EMIT listenerError(msg);
            if (error)
                *error = msg;
            ok = false;
            continue;
        }
        qCDebug(lcNet).noquote() << "listener" << l.name << "of Gateway" << l.gatewayNamespace + '/' + l.gatewayName
                                 << "listening on" << addr.toString() << "port" << a->serverPort() << l.protocol;
        m_acceptors.append(a);
    }
    return ok;
}

void ProxyServer::dispatch(qintptr descriptor, Acceptor *acceptor)
{
    if (m_workers.isEmpty() || m_ctx->draining) {
        qCDebug(lcNet) << "closed a connection accepted on listener" << acceptor->listener()->name
                       << "- the proxy is stopping";
        closeDescriptor(descriptor);
        return;
    }
    ProxyWorker *w = m_workers[m_next];
    m_next = (m_next + 1) % int(m_workers.size());
    auto listener = acceptor->listener();
    auto tls = acceptor->tls();
    QMetaObject::invokeMethod(
        w, [w, descriptor, listener, tls] { w->adopt(descriptor, listener, tls); }, Qt::QueuedConnection);
}

void ProxyServer::stop()
{
    if (!m_running)
        return;
    for (Acceptor *a : std::as_const(m_acceptors)) {
        a->close();
        delete a;
    }
    m_acceptors.clear();
    m_ctx->draining = true;
    for (ProxyWorker *w : std::as_const(m_workers))
        QMetaObject::invokeMethod(w, [w] { w->drain(); }, Qt::BlockingQueuedConnection);
    // Wait (spinning the main loop, so main-thread objects keep working) until connections finish or time's up.
    QDeadlineTimer deadline(m_ctx->options.drainTimeoutMs);
    while (!deadline.hasExpired() && m_ctx->stats.activeConnections.load() > 0) {
        QEventLoop loop;
        QTimer::singleShot(10, &loop, &QEventLoop::quit);
        loop.exec();
    }
    for (ProxyWorker *w : std::as_const(m_workers))
        QMetaObject::invokeMethod(w, [w] { w->closeAll(); }, Qt::BlockingQueuedConnection);
    for (QThread *t : std::as_const(m_threads)) {
        t->quit();
        t->wait();
        delete t;
    }
    m_threads.clear();
    m_workers.clear();
    m_running = false;
}

QList<ProxyServer::BoundListener> ProxyServer::boundListeners() const
{
    QList<BoundListener> out;
    for (Acceptor *a : m_acceptors) {
        const auto l = a->listener();
        out.append({l->gatewayNamespace, l->gatewayName, l->name, a->serverAddress(), a->serverPort()});
    }
    return out;
}

quint16 ProxyServer::portOf(const QString &listenerName) const
{
    for (Acceptor *a : m_acceptors) {
        if (a->listener()->name == listenerName)
            return a->serverPort();
    }
    return 0;
}

ProxyStats::Snapshot ProxyServer::counters() const
{
    return m_ctx->stats.snapshot();
}

QJsonObject ProxyServer::stats() const
{
    QJsonObject o = counters().toJson();
    o.insert(QStringLiteral("workers"), int(m_workers.size()));
    o.insert(QStringLiteral("listeners"), int(m_acceptors.size()));
    o.insert(QStringLiteral("applicationLookup"), m_ctx->applications.stats());
    return o;
}

} // namespace dfproxy::proxy
