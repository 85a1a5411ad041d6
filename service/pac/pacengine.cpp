// SPDX-License-Identifier: Apache-2.0
#include "pac/pacengine.h"

#include "base/leakcheck.h"
#include "pac/pacnative_p.h"

#include "platform/socket.h"

#include <QEventLoop>
#include <QFile>
#include <QJSEngine>
#include <QNetworkAccessManager>
#include <QNetworkProxy>
#include <QNetworkReply>
#include <QNetworkRequest>
#include <QTimer>
#include <QUrl>
#include <QJSValue>
#include <QMutex>
#include <QMutexLocker>
#include <QPointer>
#include <QThread>
#include <QWaitCondition>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>

namespace dfproxy::pac {

namespace {
/// A copy of `s` that shares nothing with the caller's string. Strings handed to the QJSEngine are copied on the
/// PAC thread, whose allocations LeakSanitizer does not report (PacThread::run): the engine keeps them in memory
/// LeakSanitizer cannot see, and a string shared with another thread's allocation would be reported as leaked.
QString ownCopy(const QString &s)
{
    return QString(s.constData(), s.size());
}
} // namespace

QHostAddress defaultRouteAddress(const QHostAddress &probe)
{
    const qintptr fd = platform::openConnectedUdpSocket(probe, 53); // connect() on UDP only picks the route
    QHostAddress local;
    quint16 port = 0;
    const bool ok = fd >= 0 && platform::socketLocal(fd, &local, &port);
    if (fd >= 0)
        platform::closeSocket(fd);
    if (!ok || local.isNull() || local.isEqual(QHostAddress::AnyIPv4) || local.isEqual(QHostAddress::AnyIPv6))
        return QHostAddress(QHostAddress::LocalHost);
    return local;
}

extern const char kPacHelpers[];

QList<PacHop> parsePacResult(const QString &result, QStringList *skipped)
{
    QList<PacHop> hops;
    bool anyEntry = false;
    for (const QString &raw : result.split(QLatin1Char(';'), Qt::SkipEmptyParts)) {
        const QStringList words = raw.simplified().split(QLatin1Char(' '), Qt::SkipEmptyParts);
        if (words.isEmpty())
            continue;
        anyEntry = true;
        const QString keyword = words.first().toUpper();
        if (keyword == QLatin1String("DIRECT") && words.size() == 1) {
            hops.append(PacHop{});
            continue;
        }
        if ((keyword == QLatin1String("PROXY") || keyword == QLatin1String("HTTPS")) && words.size() == 2) {
            const QString &hostPort = words.at(1);
            const qsizetype colon = hostPort.lastIndexOf(QLatin1Char(':'));
            bool ok = false;
            const uint port = colon > 0 ? hostPort.mid(colon + 1).toUInt(&ok) : 0;
            QString host = colon > 0 ? hostPort.left(colon) : QString();
            if (host.startsWith(QLatin1Char('[')) && host.endsWith(QLatin1Char(']')))
                host = host.mid(1, host.size() - 2);
            if (ok && port > 0 && port < 65536 && !host.isEmpty()) {
                hops.append(PacHop{keyword == QLatin1String("PROXY") ? PacHop::Kind::Proxy : PacHop::Kind::Https,
                                   host.toLower(), quint16(port)});
                continue;
            }
        }
        if (skipped)
            skipped->append(raw.trimmed());
    }
    // Nothing at all ("", ";") is DIRECT, as browsers take it; entries that are all unusable are not: the caller
    // gets an empty list, and decides (dfproxy does not go direct where the PAC asked for a proxy).
    if (!anyEntry)
        hops.append(PacHop{});
    return hops;
}

struct PacEngine::Impl
{
    Options options;
    // the job queue of the PAC thread (not Qt's event queue: a dnsResolve that waits for the DNS cache may run an
    // event loop, which must not start another script inside the running one)
    std::mutex mutex;
    std::condition_variable wake;
    std::deque<std::function<void()>> jobs;
    bool stopping = false;
    std::atomic<int> waitingCalls{0}; ///< evaluateAsync calls queued, not started yet
    QThread *thread = nullptr;
    // on the PAC thread only
    std::unique_ptr<QJSEngine> engine;
    std::unique_ptr<PacNative> native;
    QJSValue findProxy;
    std::unique_ptr<QNetworkAccessManager> network; ///< made on first use
    // the time limit: a watchdog interrupts the engine when a call outlives its deadline
    std::thread watchdog;
    std::mutex watchMutex;
    std::condition_variable watchWake;
    std::chrono::steady_clock::time_point deadline{};
    bool watching = false;

    void post(std::function<void()> job)
    {
        {
            std::lock_guard lock(mutex);
            jobs.push_back(std::move(job));
        }
        wake.notify_one();
    }

    /// Runs `job` on the PAC thread and waits for it.
    template<typename T>
    T run(std::function<T()> job)
    {
        std::mutex m;
        std::condition_variable cv;
        bool done = false;
        T result{};
        post([&] {
            T r = job();
            std::lock_guard lock(m);
            result = std::move(r);
            done = true;
            cv.notify_one();
        });
        std::unique_lock lock(m);
        cv.wait(lock, [&] { return done; });
        return result;
    }

    void loop()
    {
        engine = std::make_unique<QJSEngine>();
        native = std::make_unique<PacNative>(options);
        // (newQObject would let the engine delete a parentless object: keep ours alive as C++-owned)
        QJSEngine::setObjectOwnership(native.get(), QJSEngine::CppOwnership);
        engine->globalObject().setProperty(QStringLiteral("__dfproxy"), engine->newQObject(native.get()));
        engine->evaluate(QString::fromUtf8(kPacHelpers), QStringLiteral("pachelpers.js"));
        for (;;) {
            std::function<void()> job;
            {
                std::unique_lock lock(mutex);
                wake.wait(lock, [&] { return stopping || !jobs.empty(); });
                if (jobs.empty())
                    break;
                job = std::move(jobs.front());
                jobs.pop_front();
            }
            job();
        }
        findProxy = QJSValue();
        network.reset();
        engine.reset();
        native.reset();
    }

    void watch()
    {
        std::unique_lock lock(watchMutex);
        while (!stopping) {
            if (!watching) {
                watchWake.wait(lock);
                continue;
            }
            if (watchWake.wait_until(lock, deadline) == std::cv_status::timeout && watching
                && std::chrono::steady_clock::now() >= deadline) {
                engine->setInterrupted(true); // thread-safe: stops the script at its next instruction
                watching = false;
            }
        }
    }

    /// Runs `js` on the PAC thread with the watchdog set to interrupt it after `limitMs`; true when it was
    /// interrupted. Everything that may run the script's code belongs inside: not only the call itself but reading
    /// its answer (a returned object's toString, a getter on the global object), or a script could hold the PAC
    /// thread, and with it every request that asks the PAC, for ever.
    bool limited(qint64 limitMs, const std::function<void()> &js)
    {
        {
            std::lock_guard lock(watchMutex);
            deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(limitMs);
            watching = true;
        }
        watchWake.notify_one();
        js();
        bool interrupted = false;
        {
            std::lock_guard lock(watchMutex);
            interrupted = !watching && engine->isInterrupted();
            watching = false;
        }
        engine->setInterrupted(false);
        return interrupted;
    }

    /// On the PAC thread.
    Result call(const QString &url, const QString &host)
    {
        if (findProxy.isUndefined() || !findProxy.isCallable())
            return {QString(), QStringLiteral("no PAC script is loaded")};
        Result r;
        const bool interrupted = limited(options.callTimeoutMs, [&] {
            // Copies made here, on the engine's thread (see PacThread::run): the engine keeps what it is given.
            const QJSValue v = findProxy.call({QJSValue(ownCopy(url)), QJSValue(ownCopy(host))});
            if (v.isError())
                r.error = QStringLiteral("FindProxyForURL failed: %1").arg(v.toString());
            else if (v.isUndefined() || v.isNull())
                r.error = QStringLiteral("FindProxyForURL returned nothing");
            else
                r.value = v.toString();
        });
        if (interrupted)
            return {QString(), QStringLiteral("FindProxyForURL ran longer than %1 ms").arg(options.callTimeoutMs)};
        return r;
    }
};

namespace {

class PacThread final : public QThread
{
public:
    explicit PacThread(PacEngine::Impl *d) : m_d(d) { setObjectName(QStringLiteral("dfproxy-pac")); }

protected:
    void run() override
    {
        // QJSEngine keeps its objects in memory it maps itself, which LeakSanitizer does not scan: everything those
        // objects point to would be reported as leaked while the engine is alive (PAC sources live as long as the
        // process). The thread runs only the engine.
        const LeakCheckDisabled jsHeap;
        m_d->loop();
    }

private:
    PacEngine::Impl *m_d;
};

} // namespace

PacEngine::PacEngine(Options options) : d(std::make_unique<Impl>())
{
    d->options = std::move(options);
    d->thread = new PacThread(d.get());
    d->thread->start();
    d->watchdog = std::thread([this] { d->watch(); });
}

PacEngine::~PacEngine()
{
    {
        std::lock_guard lock(d->mutex);
        d->stopping = true;
    }
    d->wake.notify_one();
    {
        std::lock_guard lock(d->watchMutex);
        d->watching = false;
    }
    d->watchWake.notify_one();
    d->thread->wait();
    delete d->thread;
    d->watchdog.join();
}

QString PacEngine::load(const QString &script)
{
    return d->run<QString>([this, script] { return loadHere(script); });
}

QString PacEngine::loadHere(const QString &script)
{
    QString error;
    QJSValue f;
    // The script's top-level code runs here: under a time limit like a call (a `for (;;) {}` outside any function
    // would otherwise keep the PAC thread, and every request waiting for a PAC answer, for ever).
    const bool interrupted = d->limited(d->options.loadTimeoutMs, [&] {
        QStringList thrown; // not empty when the script threw (an Error, or any value: `throw "x"`)
        const QJSValue result = d->engine->evaluate(ownCopy(script), QStringLiteral("proxy.pac"), 1, &thrown);
        if (result.isError()) {
            error = QStringLiteral("the PAC script does not compile: %1 (line %2)")
                        .arg(result.toString())
                        .arg(result.property(QStringLiteral("lineNumber")).toInt());
            return;
        }
        if (!thrown.isEmpty()) {
            error = QStringLiteral("the PAC script threw %1").arg(result.toString());
            return;
        }
        f = d->engine->globalObject().property(QStringLiteral("FindProxyForURL"));
    });
    if (interrupted)
        return QStringLiteral("the PAC script's top-level code ran longer than %1 ms").arg(d->options.loadTimeoutMs);
    if (!error.isEmpty())
        return error;
    if (!f.isCallable())
        return QStringLiteral("the PAC script defines no function FindProxyForURL(url, host)");
    d->findProxy = f;
    return QString();
}

namespace {

/// The largest PAC file read: real ones are a few KiB; a bigger answer is refused before it is held in memory.
constexpr qint64 kMaxPacBytes = 4 * 1024 * 1024;

QString tooLarge(const QString &text)
{
    return QStringLiteral("the PAC file %1 is larger than %2 bytes").arg(text).arg(kMaxPacBytes);
}

/// The script at `url`, on the PAC thread (the download runs a local event loop: nothing else runs there meanwhile).
QString fetch(PacEngine::Impl *d, const QString &text, int timeoutMs, QString *error)
{
    const QUrl url(text);
    if (url.isLocalFile()) {
        QFile f(url.toLocalFile());
        if (!f.open(QIODevice::ReadOnly)) {
            *error = QStringLiteral("cannot read the PAC file %1: %2").arg(f.fileName(), f.errorString());
            return {};
        }
        const QByteArray content = f.read(kMaxPacBytes + 1);
        if (content.size() > kMaxPacBytes) {
            *error = tooLarge(text);
            return {};
        }
        return QString::fromUtf8(content);
    }
    if (url.scheme() != QLatin1String("http") && url.scheme() != QLatin1String("https")) {
        *error = QStringLiteral("the PAC URL %1 is not http://, https:// or file://").arg(text);
        return {};
    }
    if (!d->network) {
        d->network = std::make_unique<QNetworkAccessManager>();
        // The corporate PAC server is reached directly: never through a system proxy (which the PAC may define).
        d->network->setProxy(QNetworkProxy::NoProxy);
    }
    QNetworkRequest request(url);
    request.setTransferTimeout(timeoutMs);
    // The PAC URL is the administrator's and trusted as configured; where a redirect leads is the server's (or of
    // whoever rewrote its answer on the way) to say: followed on the same host only, and never from https to http.
    request.setAttribute(QNetworkRequest::RedirectPolicyAttribute, QNetworkRequest::UserVerifiedRedirectPolicy);
    QNetworkReply *reply = d->network->get(request);
    QString refusedRedirect;
    QObject::connect(reply, &QNetworkReply::redirected, reply, [&refusedRedirect, reply, url](const QUrl &to) {
        const QUrl target = reply->url().resolved(to);
        const bool sameHost = target.host().compare(url.host(), Qt::CaseInsensitive) == 0;
        const bool lessSafe = url.scheme() == QLatin1String("https") && target.scheme() != QLatin1String("https");
        const bool web = target.scheme() == QLatin1String("http") || target.scheme() == QLatin1String("https");
        if (sameHost && web && !lessSafe) {
            Q_EMIT reply->redirectAllowed();
            return;
        }
        refusedRedirect = target.toString(QUrl::RemoveUserInfo);
        reply->abort();
    });
    // QNetworkReply keeps everything it receives until it is read: it is read as it comes (Qt holding at most
    // 256 KiB meanwhile), so a server that sends without end (for the whole time limit, at loopback speed:
    // gigabytes) is cut off at the limit instead of filling the service's memory.
    reply->setReadBufferSize(256 * 1024);
    QByteArray content;
    bool over = false;
    QEventLoop loop;
    const auto take = [&] {
        if (over)
            return;
        content += reply->readAll();
        if (content.size() > kMaxPacBytes
            || reply->header(QNetworkRequest::ContentLengthHeader).toLongLong() > kMaxPacBytes) {
            over = true;
            content.clear();
            loop.quit();
        }
    };
    QObject::connect(reply, &QNetworkReply::metaDataChanged, &loop, take);
    QObject::connect(reply, &QIODevice::readyRead, &loop, take);
    QObject::connect(reply, &QNetworkReply::finished, &loop, &QEventLoop::quit);
    QTimer::singleShot(timeoutMs, &loop, &QEventLoop::quit);
    if (!reply->isFinished())
        loop.exec();
    take();
    QString body;
    const int status = reply->attribute(QNetworkRequest::HttpStatusCodeAttribute).toInt();
    if (over) {
        *error = tooLarge(text);
    } else if (!refusedRedirect.isEmpty()) {
        *error = QStringLiteral("the PAC server redirected to %1 on another host (or from https to http); name the "
                                "final URL in dfproxy.dev/tunnel-pac-url")
                     .arg(refusedRedirect);
    } else if (!reply->isFinished()) {
        *error = QStringLiteral("fetching the PAC file %1 timed out after %2 ms").arg(text).arg(timeoutMs);
    } else if (reply->error() != QNetworkReply::NoError || status != 200) {
        *error = QStringLiteral("fetching the PAC file %1 failed: %2").arg(text, status ? QString::number(status)
                                                                                        : reply->errorString());
    } else {
        body = QString::fromUtf8(content);
    }
    reply->abort();
    delete reply;
    return body;
}

} // namespace

QString PacEngine::loadUrl(const QString &url, int timeoutMs)
{
    std::mutex m;
    std::condition_variable cv;
    bool done = false;
    QString error;
    loadUrlAsync(url, timeoutMs, [&](const QString &e) {
        std::lock_guard lock(m);
        error = e;
        done = true;
        cv.notify_one();
    });
    std::unique_lock lock(m);
    cv.wait(lock, [&] { return done; });
    return error;
}

void PacEngine::loadUrlAsync(const QString &url, int timeoutMs, std::function<void(const QString &)> done)
{
    d->post([this, url, timeoutMs, done = std::move(done)] {
        QString error;
        const QString script = fetch(d.get(), url, timeoutMs, &error);
        if (error.isEmpty())
            error = loadHere(script);
        if (done)
            done(error);
    });
}

PacEngine::Result PacEngine::evaluate(const QString &url, const QString &host)
{
    return d->run<Result>([this, url, host] { return d->call(url, host); });
}

void PacEngine::evaluateAsync(const QString &url, const QString &host, QObject *context,
                              std::function<void(Result)> done)
{
    QPointer<QObject> target(context);
    // One thread runs every call, each up to callTimeoutMs: requests for ever new names (each waiting, say, for a
    // dnsResolve that times out) would queue calls without bound, and every request behind them would wait for all
    // of them. Beyond maxWaitingCalls a call fails at once (the caller takes its fallback).
    const int waiting = d->waitingCalls.fetch_add(1, std::memory_order_relaxed);
    if (waiting >= d->options.maxWaitingCalls) {
        d->waitingCalls.fetch_sub(1, std::memory_order_relaxed);
        const Result busy{QString(), QStringLiteral("the PAC engine is busy (%1 calls waiting)").arg(waiting)};
        if (target)
            QMetaObject::invokeMethod(target, [done = std::move(done), busy] { done(busy); }, Qt::QueuedConnection);
        return;
    }
    d->post([this, url, host, target, done = std::move(done)] {
        d->waitingCalls.fetch_sub(1, std::memory_order_relaxed);
        if (!target)
            return; // nobody waits for this answer any more (the connection closed)
        Result r = d->call(url, host);
        if (target)
            QMetaObject::invokeMethod(target, [done, r] { done(r); }, Qt::QueuedConnection);
    });
}

} // namespace dfproxy::pac

