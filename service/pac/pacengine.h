// SPDX-License-Identifier: Apache-2.0
#pragma once
// Proxy auto-config (PAC, #22 item 3): FindProxyForURL(url, host) of a corporate PAC file, run by a real JavaScript
// engine (QJSEngine) on one thread of its own, with the standard helpers and a time limit per call.

#include <QHostAddress>
#include <QList>
#include <QObject>
#include <QString>

#include <functional>
#include <memory>

namespace dfproxy::pac {

/// One entry of a FindProxyForURL result ("PROXY host:port", "HTTPS host:port", "DIRECT").
struct PacHop
{
    enum class Kind { Direct, Proxy, Https };
    Kind kind = Kind::Direct;
    QString host;
    quint16 port = 0;
    bool operator==(const PacHop &o) const { return kind == o.kind && host == o.host && port == o.port; }
};

/// Splits a FindProxyForURL result ("PROXY a:3128; PROXY b:8080; DIRECT") into hops, in order. Entries dfproxy
/// cannot use (SOCKS, unknown keywords, a PROXY without a port) are skipped; `skipped` (may be null) lists them.
/// An empty result ("", ";") is DIRECT, as browsers take it; one whose entries are all skipped gives an empty list
/// (it asked for a proxy: the caller must not take that for DIRECT).
QList<PacHop> parsePacResult(const QString &result, QStringList *skipped = nullptr);

/// The address of the interface the route to `probe` leaves by (by default a public address, so: the default
/// route's), as browsers answer PAC's myIpAddress(): a UDP socket connected to `probe`, which sends nothing, and its
/// local address. 127.0.0.1 when there is no such route (a host or network namespace with only loopback).
QHostAddress defaultRouteAddress(const QHostAddress &probe = QHostAddress(QStringLiteral("8.8.8.8")));

/// The JavaScript engine with one PAC script. Every call runs on the engine's own thread, one at a time; callers
/// never run JavaScript. Thread-safe.
class PacEngine
{
public:
    struct Options
    {
        qint64 callTimeoutMs = 2000; ///< a FindProxyForURL call running longer is interrupted (an error)
        /// Loading a script runs its top-level code: interrupted after this long (the previous script stays).
        qint64 loadTimeoutMs = 5000;
        /// evaluateAsync calls that may wait for the PAC thread; one more fails at once ("busy").
        int maxWaitingCalls = 64;
        /// dnsResolve / isResolvable / isInNet of a name: dfproxy's DNS cache in the service, a table in tests.
        /// Runs on the PAC thread and may block it (never a worker). Empty list = does not resolve.
        std::function<QList<QHostAddress>(const QString &host)> resolve;
        /// What myIpAddress() answers; null: defaultRouteAddress(), asked at each call (the desktop moves between
        /// networks).
        QHostAddress myIpAddress;
    };
    struct Result
    {
        QString value; ///< FindProxyForURL's return value
        QString error; ///< not empty: the call failed (exception, time limit, no script)
    };

    explicit PacEngine(Options options);
    ~PacEngine();
    PacEngine(const PacEngine &) = delete;
    PacEngine &operator=(const PacEngine &) = delete;

    /// Replaces the script; waits for it. Returns an error when it does not compile, its top-level code runs longer
    /// than loadTimeoutMs or it defines no FindProxyForURL (the previous script then stays).
    QString load(const QString &script);
    /// Fetches the script from `url` (http, https or file) on the PAC thread, then load()s it. Waits at most
    /// `timeoutMs` for the download; returns an error (the previous script stays) on any failure.
    QString loadUrl(const QString &url, int timeoutMs = 10000);
    /// Runs loadUrl() later, on the PAC thread; `done` (may be empty) runs there with its error. Calls queued
    /// behind it (evaluate, evaluateAsync) see the new script.
    void loadUrlAsync(const QString &url, int timeoutMs, std::function<void(const QString &error)> done);
    /// Runs FindProxyForURL(url, host) and waits for the result (for the PAC selector's thread and for tests).
    Result evaluate(const QString &url, const QString &host);
    /// Runs it later; `done` runs on `context`'s thread (not at all when `context` is gone; nor is the call made
    /// when `context` is gone before it starts). With maxWaitingCalls calls waiting already, `done` gets an error
    /// ("the PAC engine is busy") instead, soon.
    void evaluateAsync(const QString &url, const QString &host, QObject *context, std::function<void(Result)> done);

    struct Impl;

private:
    QString loadHere(const QString &script); ///< on the PAC thread
    std::unique_ptr<Impl> d;
};

} // namespace dfproxy::pac
