// SPDX-License-Identifier: Apache-2.0
#include "pac/pacgenerator.h"

#include <QCryptographicHash>

#include <algorithm>

namespace dfproxy::pac {

namespace {

// Helpers the file carries, so it depends on no PAC builtin whose behaviour differs between engines (isInNet
// resolves names and knows no IPv6; isPlainHostName takes "::1" for a plain name). ES3 only: some engines
// (pacparser's SpiderMonkey) are old.
constexpr auto kHelpers = R"(// The address as a number, or -1 when h is not a dotted-quad IPv4 address.
function dfpV4(h) {
    var m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(h);
    if (!m)
        return -1;
    var n = 0;
    for (var i = 1; i <= 4; i++) {
        var b = parseInt(m[i], 10);
        if (b > 255)
            return -1;
        n = n * 256 + b;
    }
    return n;
}

// The eight 16-bit groups, or null when h is not an IPv6 address.
function dfpV6(h) {
    if (h.indexOf(":") < 0)
        return null;
    var m = /^(.*:)(\d+\.\d+\.\d+\.\d+)$/.exec(h);
    if (m) {
        var v4 = dfpV4(m[2]);
        if (v4 < 0)
            return null;
        h = m[1] + Math.floor(v4 / 65536).toString(16) + ":" + (v4 % 65536).toString(16);
    }
    var halves = h.split("::");
    if (halves.length > 2)
        return null;
    var head = halves[0] == "" ? [] : halves[0].split(":");
    var tail = halves.length == 2 && halves[1] != "" ? halves[1].split(":") : [];
    var groups = head;
    if (halves.length == 2) {
        var fill = 8 - head.length - tail.length;
        if (fill < 1)
            return null;
        for (var f = 0; f < fill; f++)
            groups.push("0");
        groups = groups.concat(tail);
    }
    if (groups.length != 8)
        return null;
    var out = [];
    for (var i = 0; i < 8; i++) {
        if (!/^[0-9a-f]{1,4}$/.test(groups[i]))
            return null;
        out.push(parseInt(groups[i], 16));
    }
    return out;
}

// True when the IP literal h lies in net/bits; a host name is never in a block (it is not resolved).
function dfpInNet(h, net, bits) {
    if (net.indexOf(":") < 0) {
        var a = dfpV4(h);
        var size = Math.pow(2, 32 - bits);
        return a >= 0 && Math.floor(a / size) == Math.floor(dfpV4(net) / size);
    }
    var g = dfpV6(h), n = dfpV6(net);
    if (!g)
        return false;
    for (var i = 0; i < 8 && bits > 16 * i; i++) {
        var left = bits - 16 * i;
        var unit = left >= 16 ? 1 : Math.pow(2, 16 - left);
        if (Math.floor(g[i] / unit) != Math.floor(n[i] / unit))
            return false;
    }
    return true;
}

)";

// A JavaScript string literal. The inputs are validated host names and addresses; escaping anyway keeps a bad
// input from ever becoming code.
QByteArray js(const QString &s)
{
    QByteArray out = "\"";
    for (const QChar c : s) {
        const char16_t u = c.unicode();
        const bool plain = (u >= 'a' && u <= 'z') || (u >= 'A' && u <= 'Z') || (u >= '0' && u <= '9') ||
                           QStringView(u".-:[]*;<> ").contains(c);
        if (plain)
            out += char(u);
        else
            out += "\\u" + QByteArray::number(u, 16).rightJustified(4, '0');
    }
    return out + '"';
}

// A comment's text: printable ASCII only, so nothing can end the comment line.
QByteArray commentText(const QString &s)
{
    QByteArray out;
    for (const QChar c : s)
        out += (c.unicode() >= 0x20 && c.unicode() < 0x7f) ? char(c.unicode()) : '?';
    return out;
}

QByteArray bypassClause(const BypassEntry &e)
{
    QByteArray test;
    switch (e.kind) {
    case BypassEntry::Kind::PlainHostNames:
        // Not isPlainHostName(): an IPv6 literal has no dot either.
        test = "h.indexOf(\".\") < 0 && h.indexOf(\":\") < 0";
        break;
    case BypassEntry::Kind::Host:
        test = "h == " + js(e.host);
        break;
    case BypassEntry::Kind::DomainSuffix:
        test = "dnsDomainIs(h, " + js(e.host) + ')';
        break;
    case BypassEntry::Kind::Cidr:
        test = "dfpInNet(h, " + js(e.network.toString()) + ", " + QByteArray::number(e.prefixLength) + ')';
        break;
    }
    return "    if (" + test + ")\n        return \"DIRECT\"; // " + commentText(e.text) + '\n';
}

} // namespace

QByteArray generatePac(const PacInput &in)
{
    const bool open = in.settings.failMode == FailMode::Open;
    QStringList hosts = in.hosts;
    std::sort(hosts.begin(), hosts.end());
    hosts.erase(std::unique(hosts.begin(), hosts.end()), hosts.end());
    const bool everyHost = hosts.contains(QStringLiteral("*"));

    QByteArray out = "// The PAC file of dfproxy";
    if (!in.comment.isEmpty())
        out += ": " + commentText(in.comment);
    out += ". Generated from its routes; do not edit.\n";
    out += open ? "// failMode open: when dfproxy does not answer, the browser goes direct.\n"
                : "// failMode closed: when dfproxy does not answer, the browser does not go direct.\n";
    out += '\n';
    out += kHelpers;
    out += "function FindProxyForURL(url, host) {\n";
    out +=
        "    var proxy = " + js(QStringLiteral("PROXY ") + in.proxy + (open ? QStringLiteral("; DIRECT") : QString())) +
        ";\n";
    out += "    var h = String(host).toLowerCase();\n"
           "    if (h.charAt(0) == \"[\" && h.charAt(h.length - 1) == \"]\")\n"
           "        h = h.substring(1, h.length - 1);\n"
           "    while (h.charAt(h.length - 1) == \".\")\n"
           "        h = h.substring(0, h.length - 1);\n";
    if (!in.settings.bypass.isEmpty()) {
        out += "\n    // Bypass (dfproxy.dev/pac-bypass).\n";
        for (const auto &e : in.settings.bypass)
            out += bypassClause(e);
    }
    out += "\n    // The hosts the routes send to dfproxy.\n";
    if (everyHost) {
        out += "    return proxy; // a route without hostnames: every host\n";
    } else {
        for (const QString &host : hosts) {
            if (host.startsWith(QLatin1String("*.")))
                out += "    if (dnsDomainIs(h, " + js(host.mid(1)) + "))\n        return proxy;\n";
            else
                out += "    if (h == " + js(host) + ")\n        return proxy;\n";
        }
        out += open ? "\n    // Hosts no route names (failMode open).\n    return \"DIRECT\";\n"
                    : "\n    // Hosts no route names go to dfproxy too, which refuses them (failMode closed).\n"
                      "    return proxy;\n";
    }
    out += "}\n";
    return out;
}

QByteArray pacEtag(const QByteArray &text)
{
    return '"' + QCryptographicHash::hash(text, QCryptographicHash::Sha256).toHex().left(32) + '"';
}

} // namespace dfproxy::pac
