// SPDX-License-Identifier: Apache-2.0
#include "proxy/pacresponder.h"

#include "pac/pacgenerator.h"
#include "proxy/router.h"

#include <QNetworkInterface>

namespace dfproxy::proxy {

namespace {

constexpr auto kPacType = "application/x-ns-proxy-autoconfig";

bool isWildcard(const QHostAddress &a)
{
    return a == QHostAddress(QHostAddress::AnyIPv4) || a == QHostAddress(QHostAddress::AnyIPv6) ||
           a == QHostAddress(QHostAddress::Any);
}

bool sameAddress(const QHostAddress &a, const QHostAddress &b)
{
    return a.isEqual(b, QHostAddress::ConvertV4MappedToIPv4);
}

// The configuration's copy of `l` (same Gateway, listener, address and port), or `l` itself when it is gone.
routing::Listener current(const routing::Listener &l, const Router *router)
{
    if (router) {
        for (const auto &c : router->listeners()) {
            if (c.gatewayKey == l.gatewayKey && c.name == l.name && c.port == l.port && c.address == l.address)
                return c;
        }
    }
    return l;
}

// "host:port" as a browser reaches the listener, for the PROXY directive.
QString proxyAuthority(const routing::Listener &l, const QByteArray &requestHost)
{
    QHostAddress a = l.address;
    if (isWildcard(a)) {
        // Which of the machine's addresses the client used is in its Host (checked by isListenerSelf).
        QHostAddress asked;
        if (asked.setAddress(QString::fromLatin1(requestHost)))
            a = asked;
        else
            a = a == QHostAddress(QHostAddress::AnyIPv6) ? QHostAddress(QHostAddress::LocalHostIPv6)
                                                         : QHostAddress(QHostAddress::LocalHost);
    }
    const QString host = a.protocol() == QAbstractSocket::IPv6Protocol ? u'[' + a.toString() + u']' : a.toString();
    return host + u':' + QString::number(l.port);
}

// If-None-Match (RFC 9110 13.1.2): weak comparison, "*" matches any current representation.
bool noneMatch(const http::MessageHead &head, const QByteArray &etag)
{
    for (const auto &[name, value] : head.headers) {
        if (name.compare("if-none-match", Qt::CaseInsensitive) != 0)
            continue;
        for (QByteArray tag : value.split(',')) {
            tag = tag.trimmed();
            if (tag.startsWith("W/"))
                tag = tag.mid(2);
            if (tag == "*" || tag == etag)
                return true;
        }
    }
    return false;
}

} // namespace

bool isListenerSelf(const QByteArray &host, const routing::Listener &listener)
{
    if (host == "localhost")
        return true;
    QHostAddress a;
    if (!a.setAddress(QString::fromLatin1(host)))
        return false;
    if (!isWildcard(listener.address))
        return sameAddress(a, listener.address);
    if (a.isLoopback())
        return true;
    const auto mine = QNetworkInterface::allAddresses();
    for (const auto &m : mine) {
        if (sameAddress(a, m))
            return true;
    }
    return false;
}

std::optional<LocalReply> answerPacRequest(const http::MessageHead &head, const CanonicalRequest &canon,
                                           const routing::Listener &listener, const Router *router)
{
    // Cheapest tests first: nearly every request stops at the path.
    if (canon.form != CanonicalRequest::Form::Origin || (canon.path != "/proxy.pac" && canon.path != "/wpad.dat"))
        return std::nullopt;
    if (listener.protocol != QLatin1String("HTTP") || canon.secureScheme)
        return std::nullopt;
    if ((canon.port >= 0 && canon.port != listener.port) || !isListenerSelf(canon.host, listener))
        return std::nullopt;

    LocalReply r;
    r.status = 200;
    if (head.method != "GET" && head.method != "HEAD") {
        r.status = 405;
        r.reason = "method_not_allowed";
        r.headers.append({QByteArray("Allow"), QByteArray("GET, HEAD")});
        r.body = "the PAC file answers GET and HEAD only\n";
        return r;
    }
    const routing::Listener l = current(listener, router);
    pac::PacInput in;
    in.proxy = proxyAuthority(l, canon.host);
    in.hosts = l.pacHosts;
    in.settings = l.pacSettings;
    in.comment = QStringLiteral("Gateway %1, listener %2").arg(l.gatewayKey, l.name);
    const QByteArray text = pac::generatePac(in);
    const QByteArray etag = pac::pacEtag(text);
    r.headers.append({QByteArray("Content-Type"), QByteArray(kPacType)});
    r.headers.append({QByteArray("ETag"), etag});
    r.headers.append({QByteArray("Cache-Control"), "max-age=" + QByteArray::number(l.pacSettings.maxAgeS)});
    if (noneMatch(head, etag)) {
        r.status = 304;
        return r;
    }
    r.body = text;
    return r;
}

} // namespace dfproxy::proxy
