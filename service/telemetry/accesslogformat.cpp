// SPDX-License-Identifier: Apache-2.0
#include "telemetry/accesslogformat.h"

#include "base/bytes.h"

#include <QJsonDocument>

#include <charconv>
#include <cstring>
#include <limits>

namespace dfproxy::telemetry {
namespace {

QByteArray orDash(const QByteArray &v)
{
    return v.isEmpty() ? QByteArrayLiteral("-") : v;
}

QByteArray orDash(const QString &v)
{
    return v.isEmpty() ? QByteArrayLiteral("-") : v.toUtf8();
}

// Quoted fields of the text formats must stay on one line and keep their quotes balanced.
QByteArray sanitize(const QByteArray &v)
{
    QByteArray out;
    out.reserve(v.size());
    for (char c : v) {
        const auto u = static_cast<unsigned char>(c);
        if (c == '"' || c == '\\') {
            out += '\\';
            out += c;
        } else if (u < 0x20 || u == 0x7f) {
            out += "\\x" + QByteArray::number(u, 16).rightJustified(2, '0');
        } else {
            out += c;
        }
    }
    return out;
}

QByteArray hostPort(const QByteArray &host, quint16 port)
{
    if (host.isEmpty())
        return {};
    const QByteArray h = host.contains(':') ? "[" + host + "]" : host;
    return port ? h + ':' + QByteArray::number(port) : h;
}

QByteArray hostPort(const QString &host, quint16 port)
{
    return hostPort(host.toUtf8(), port);
}

/// Addresses become text here, on the writer thread (or the admin API's), not on the worker's request path. It is
/// nearly always the address of the record before (one client, one origin), and QHostAddress::toString costs an
/// allocation and a formatting pass: each thread remembers the last one per field.
struct AddressText
{
    QHostAddress address;
    QString text;
    const QString &of(const QHostAddress &a)
    {
        static const QString none;
        if (a.isNull())
            return none;
        if (a != address || text.isEmpty()) {
            address = a;
            text = a.toString();
        }
        return text;
    }
};

const QString &clientAddressText(const AccessLogEntry &e)
{
    thread_local AddressText memo;
    return memo.of(e.clientAddress);
}

const QString &resolvedAddressText(const AccessLogEntry &e)
{
    thread_local AddressText memo;
    return memo.of(e.resolvedAddress);
}

/// The program behind the client, or one with empty fields when unknown.
const platform::ProcessInfo &processOf(const AccessLogEntry &e)
{
    static const platform::ProcessInfo none;
    return e.application ? *e.application : none;
}

// The log shows whole milliseconds.
qint64 ms(qint64 us)
{
    return us / 1000;
}

QDateTime utc(const QDateTime &t)
{
    return t.isValid() ? t.toUTC() : QDateTime::fromMSecsSinceEpoch(0, Qt::UTC);
}

// Apache's %t: [10/Oct/2000:13:55:36 +0000]. English month names whatever the locale.
QByteArray apacheTime(const QDateTime &t)
{
    static const char *const months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                         "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    const QDateTime u = utc(t);
    const QDate d = u.date();
    return QByteArray::number(d.day()).rightJustified(2, '0') + '/' + months[d.month() - 1] + '/'
           + QByteArray::number(d.year()) + ':' + u.time().toString(QStringLiteral("HH:mm:ss")).toLatin1()
           + " +0000";
}

// Days since 1970-01-01 to a civil date (Howard Hinnant's days_from_civil inverse; proleptic Gregorian).
void civilFromDays(qint64 z, int *year, int *month, int *day)
{
    z += 719468;
    const qint64 era = (z >= 0 ? z : z - 146096) / 146097;
    const qint64 doe = z - era * 146097;
    const qint64 yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    const qint64 doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    const qint64 mp = (5 * doy + 2) / 153;
    *day = int(doy - (153 * mp + 2) / 5 + 1);
    *month = int(mp < 10 ? mp + 3 : mp - 9);
    *year = int(yoe + era * 400 + (*month <= 2 ? 1 : 0));
}

void appendDigits(ByteWriter &out, int value, int width)
{
    char buf[8];
    for (int i = width - 1; i >= 0; --i) {
        buf[i] = char('0' + value % 10);
        value /= 10;
    }
    out.put(buf, width);
}

// "2026-11-26T15:22:38.580Z", as QDateTime::toString(Qt::ISODateWithMs) writes a UTC time, without its
// formatting machinery (it showed in profiles: one record per request). Records come in time order, many in the
// same second: each thread keeps the text up to the second of the last one. Years outside 0..9999 take Qt's path.
void appendIsoTime(ByteWriter &out, const QDateTime &t)
{
    struct SecondText
    {
        qint64 second = std::numeric_limits<qint64>::min();
        char text[19]; ///< "2026-11-26T15:22:38"
    };
    thread_local SecondText memo;
    const qint64 ms = t.isValid() ? t.toMSecsSinceEpoch() : 0;
    const qint64 second = ms >= 0 ? ms / 1000 : -((-ms + 999) / 1000);
    const int milli = int(ms - second * 1000);
    if (second != memo.second) {
        constexpr qint64 kDaySeconds = 86400;
        const qint64 days = second >= 0 ? second / kDaySeconds : -((-second + kDaySeconds - 1) / kDaySeconds);
        const qint64 inDay = second - days * kDaySeconds;
        int year, month, day;
        civilFromDays(days, &year, &month, &day);
        if (year < 0 || year > 9999) {
            const QByteArray qt = utc(t).toString(Qt::ISODateWithMs).toLatin1();
            out.put(qt.constData(), qt.size());
            return;
        }
        QByteArray text;
        {
            ByteWriter w(text, 19);
            appendDigits(w, year, 4);
            w.put('-');
            appendDigits(w, month, 2);
            w.put('-');
            appendDigits(w, day, 2);
            w.put('T');
            appendDigits(w, int(inDay / 3600), 2);
            w.put(':');
            appendDigits(w, int(inDay / 60 % 60), 2);
            w.put(':');
            appendDigits(w, int(inDay % 60), 2);
        }
        std::memcpy(memo.text, text.constData(), sizeof memo.text);
        memo.second = second;
    }
    char *d = out.claim(24);
    std::memcpy(d, memo.text, sizeof memo.text);
    d[19] = '.';
    d[20] = char('0' + milli / 100);
    d[21] = char('0' + milli / 10 % 10);
    d[22] = char('0' + milli % 10);
    d[23] = 'Z';
    out.commit(24);
}

QByteArray isoTime(const QDateTime &t)
{
    QByteArray out;
    ByteWriter w(out, 24);
    appendIsoTime(w, t);
    w.finish();
    return out;
}

// JSON string escaping as QJsonDocument's compact writer does it: '"', '\\' and the C0 controls are escaped
// (\b \f \n \r \t, else \u00XX), everything else is copied as UTF-8.
void appendJsonEscapedUtf8(ByteWriter &out, const char *p, qsizetype n)
{
    static const char hex[] = "0123456789abcdef";
    out.put('"');
    qsizetype run = 0; // bytes copied verbatim, appended in one go
    for (qsizetype i = 0; i < n; ++i) {
        // Skip eight plain bytes at a time.
        while (n - i >= 8) {
            const quint64 w = loadWord(p + i);
            if (anyByteBelow(w, 0x20) || anyByteEquals(w, '"') || anyByteEquals(w, '\\'))
                break;
            i += 8;
        }
        if (i >= n)
            break;
        const auto u = static_cast<unsigned char>(p[i]);
        if (u >= 0x20 && u != '"' && u != '\\')
            continue;
        out.put(p + run, i - run);
        run = i + 1;
        out.put('\\');
        switch (u) {
        case '"': out.put('"'); break;
        case '\\': out.put('\\'); break;
        case '\b': out.put('b'); break;
        case '\f': out.put('f'); break;
        case '\n': out.put('n'); break;
        case '\r': out.put('r'); break;
        case '\t': out.put('t'); break;
        default: {
            const char esc[5] = {'u', '0', '0', hex[u >> 4], hex[u & 0xf]};
            out.put(esc, 5);
        }
        }
    }
    out.put(p + run, n - run);
    out.put('"');
}

bool isAscii(const char *p, qsizetype n)
{
    for (qsizetype i = 0; i < n; ++i) {
        if (static_cast<unsigned char>(p[i]) >= 0x80)
            return false;
    }
    return true;
}

// The usual value (a method, a host, a path, "HTTP/1.1", an empty field): printable ASCII without quotes or
// backslashes, which every reading (Latin-1, UTF-8) and the escaper leave as it is. Written between quotes with one
// copy after a check eight bytes at a time; false, with nothing written, for anything else.
bool appendPlainAscii(ByteWriter &out, const char *p, qsizetype n)
{
    const auto plain = [](quint64 w) {
        return !((w & (kEveryByte * 0x80)) || anyByteBelow(w, 0x20) || anyByteEquals(w, '"') || anyByteEquals(w, '\\'));
    };
    if (n >= 8) {
        qsizetype i = 0;
        for (; i + 8 <= n; i += 8) {
            if (!plain(loadWord(p + i)))
                return false;
        }
        if (i < n && !plain(loadWord(p + n - 8))) // the last bytes, as one word overlapping the one before
            return false;
    } else {
        for (qsizetype i = 0; i < n; ++i) {
            const auto u = static_cast<unsigned char>(p[i]);
            if (u < 0x20 || u >= 0x80 || u == '"' || u == '\\')
                return false;
        }
    }
    char *d = out.claim(n + 2);
    d[0] = '"';
    std::memcpy(d + 1, p, size_t(n));
    d[n + 1] = '"';
    out.commit(n + 2);
    return true;
}

// Bytes from the wire: what QString::fromUtf8 makes of them (invalid sequences become U+FFFD), as UTF-8.
void appendJsonBytes(ByteWriter &out, const QByteArray &v)
{
    if (appendPlainAscii(out, v.constData(), v.size()))
        return;
    if (isAscii(v.constData(), v.size())) {
        appendJsonEscapedUtf8(out, v.constData(), v.size());
    } else {
        const QByteArray valid = QString::fromUtf8(v).toUtf8();
        appendJsonEscapedUtf8(out, valid.constData(), valid.size());
    }
}

// False when the text holds a lone surrogate, which QJsonDocument writes as a \u escape: the caller then takes
// the QJsonDocument path for the whole line (never happens for text that came from UTF-8).
bool appendJsonString(ByteWriter &out, const QString &v)
{
    const char16_t *s = reinterpret_cast<const char16_t *>(v.constData());
    const qsizetype n = v.size();
    {
        // The usual value (a name, an address, "allow"): printable ASCII without quotes or backslashes, narrowed
        // straight into the output in one pass. Anything else is written over by the general path below.
        char *d = out.claim(n + 2);
        d[0] = '"';
        qsizetype i = 0;
        for (; i < n; ++i) {
            const char16_t c = s[i];
            if (c < 0x20 || c >= 0x80 || c == u'"' || c == u'\\')
                break;
            d[i + 1] = char(c);
        }
        if (i == n) {
            d[n + 1] = '"';
            out.commit(n + 2);
            return true;
        }
    }
    bool ascii = true;
    for (qsizetype i = 0; i < n; ++i) {
        if (s[i] >= 0x80) {
            ascii = false;
            break;
        }
    }
    if (ascii) {
        // Latin-1 narrowing of pure ASCII, on the stack for the usual short values.
        char stack[256];
        if (n <= qsizetype(sizeof stack)) {
            for (qsizetype i = 0; i < n; ++i)
                stack[i] = char(s[i]);
            appendJsonEscapedUtf8(out, stack, n);
        } else {
            const QByteArray l1 = v.toLatin1();
            appendJsonEscapedUtf8(out, l1.constData(), l1.size());
        }
        return true;
    }
    for (qsizetype i = 0; i < n; ++i) {
        if (QChar::isHighSurrogate(s[i]) && i + 1 < n && QChar::isLowSurrogate(s[i + 1])) {
            ++i;
        } else if (QChar::isSurrogate(s[i])) {
            return false;
        }
    }
    const QByteArray u8 = v.toUtf8();
    appendJsonEscapedUtf8(out, u8.constData(), u8.size());
    return true;
}

// A field that names configuration (gateway, route, backend), the program (shared process information) or an
// address (the last one's text, kept by AddressText) is the same shared string in record after record: each writer
// thread keeps the last one it escaped per field and copies those bytes again. The kept copy holds
// the string's buffer, so an equal data pointer and size mean equal text.
struct EscapedMemo
{
    QString source;
    QByteArray escaped;
};

bool appendJsonStringMemo(ByteWriter &out, const QString &v, EscapedMemo &memo)
{
    if (v.constData() == memo.source.constData() && v.size() == memo.source.size() && !memo.escaped.isEmpty()) {
        out.put(memo.escaped.constData(), memo.escaped.size());
        return true;
    }
    const qsizetype start = out.size();
    if (!appendJsonString(out, v))
        return false;
    memo.source = v;
    memo.escaped = QByteArray(out.data() + start, out.size() - start);
    return true;
}

void appendJsonNumber(ByteWriter &out, qint64 v)
{
    if (quint64(v) < 10) { // most durations, bytesIn, flags: one digit
        out.put(char('0' + v));
        return;
    }
    char *d = out.claim(20); // "-9223372036854775808"
    const auto r = std::to_chars(d, d + 20, v);
    out.commit(r.ptr - d);
}

// A Latin-1 field (method, reason phrase): toJson() reads it as Latin-1, so bytes >= 0x80 are single characters.
bool appendJsonLatin1(ByteWriter &out, const QByteArray &v)
{
    if (appendPlainAscii(out, v.constData(), v.size()))
        return true;
    if (isAscii(v.constData(), v.size())) {
        appendJsonEscapedUtf8(out, v.constData(), v.size());
        return true;
    }
    return appendJsonString(out, QString::fromLatin1(v));
}

// The JSON Lines record, keys in QJsonObject's (sorted) order, byte for byte what
// QJsonDocument(toJson()).toJson(Compact) writes (tests/unit/telemetry compare the two). False (with `out` as it
// was) when a text field needs QJsonDocument's handling.
bool appendJsonLine(QByteArray &line, const AccessLogEntry &e)
{
    ByteWriter out(line, 640);
    const qsizetype start = out.size();
    bool ok = true;
    thread_local EscapedMemo gatewayMemo, routeMemo, backendMemo, clientMemo, resolvedMemo, processMemo, pathMemo,
        userMemo;
    const auto boolean = [&out](bool b) { b ? out.literal("true") : out.literal("false"); };
    const platform::ProcessInfo &app = processOf(e);
    out.literal("{\"backend\":");
    ok &= appendJsonStringMemo(out, e.backend, backendMemo);
    out.literal(",\"bytesIn\":");
    appendJsonNumber(out, e.bytesIn);
    out.literal(",\"bytesOut\":");
    appendJsonNumber(out, e.bytesOut);
    out.literal(",\"clientAddress\":");
    ok &= appendJsonStringMemo(out, clientAddressText(e), clientMemo);
    out.literal(",\"clientPort\":");
    appendJsonNumber(out, e.clientPort);
    out.literal(",\"connectMs\":");
    appendJsonNumber(out, ms(e.connectUs));
    out.literal(",\"decision\":");
    ok &= appendJsonLatin1(out, e.decision);
    out.literal(",\"dnsCacheHit\":");
    boolean(e.dnsCacheHit);
    out.literal(",\"dnsMs\":");
    appendJsonNumber(out, ms(e.dnsUs));
    out.literal(",\"gateway\":");
    ok &= appendJsonStringMemo(out, e.gateway, gatewayMemo);
    if (e.grpcStatus >= 0) { // only for gRPC responses
        out.literal(",\"grpcStatus\":");
        appendJsonNumber(out, e.grpcStatus);
    }
    out.literal(",\"host\":");
    appendJsonBytes(out, e.host);
    out.literal(",\"identity\":");
    ok &= appendJsonString(out, e.identity);
    out.literal(",\"method\":");
    ok &= appendJsonLatin1(out, e.method);
    out.literal(",\"path\":");
    appendJsonBytes(out, e.path);
    out.literal(",\"pid\":");
    appendJsonNumber(out, app.pid);
    out.literal(",\"port\":");
    appendJsonNumber(out, e.port);
    out.literal(",\"process\":");
    ok &= appendJsonStringMemo(out, app.name, processMemo);
    out.literal(",\"processPath\":");
    ok &= appendJsonStringMemo(out, app.path, pathMemo);
    out.literal(",\"processUser\":");
    ok &= appendJsonStringMemo(out, app.user, userMemo);
    out.literal(",\"protocol\":");
    ok &= appendJsonLatin1(out, e.protocol);
    out.literal(",\"reason\":");
    ok &= appendJsonLatin1(out, e.reason);
    out.literal(",\"resolvedAddress\":");
    ok &= appendJsonStringMemo(out, resolvedAddressText(e), resolvedMemo);
    out.literal(",\"route\":");
    ok &= appendJsonStringMemo(out, e.route, routeMemo);
    out.literal(",\"seq\":");
    appendJsonNumber(out, qint64(e.seq));
    out.literal(",\"status\":");
    appendJsonNumber(out, e.status);
    out.literal(",\"time\":\"");
    appendIsoTime(out, e.time);
    out.literal("\",\"totalMs\":");
    appendJsonNumber(out, ms(e.totalUs));
    if (e.trailersDropped > 0) {
        out.literal(",\"trailersDropped\":");
        appendJsonNumber(out, e.trailersDropped);
    }
    out.literal(",\"tunnel\":");
    boolean(e.tunnel);
    out.literal(",\"upstreamMs\":");
    appendJsonNumber(out, ms(e.upstreamUs));
    if (!e.upstreamProxy.isEmpty()) { // only for backends with an upstream proxy (#22)
        out.literal(",\"upstreamProxy\":");
        ok &= appendJsonString(out, e.upstreamProxy);
        out.literal(",\"upstreamProxyReason\":");
        ok &= appendJsonString(out, e.upstreamProxyReason);
    }
    out.literal(",\"upstreamReused\":");
    boolean(e.upstreamReused);
    out.literal("}\n");
    if (!ok)
        out.truncate(start);
    return ok;
}

/// Envoy: the application as %DYNAMIC_METADATA(dfproxy.application)% prints a metadata namespace (a JSON object),
/// "-" when there is none.
QByteArray applicationMetadata(const AccessLogEntry &e)
{
    const platform::ProcessInfo &app = processOf(e);
    if (app.pid == 0 && app.name.isEmpty())
        return QByteArrayLiteral("-");
    const QJsonObject o{{QStringLiteral("process"), app.name},
                        {QStringLiteral("processPath"), app.path},
                        {QStringLiteral("pid"), app.pid},
                        {QStringLiteral("processUser"), app.user}};
    return QJsonDocument(o).toJson(QJsonDocument::Compact);
}

QByteArray quotedOrDash(const QString &v)
{
    if (v.isEmpty())
        return QByteArrayLiteral("\"-\"");
    return '"' + sanitize(v.toUtf8()) + '"'; // quotes and control characters escaped
}

/// Combined: appended after the user agent, `"process" "processPath" pid "processUser"` ("-" when unknown).
QByteArray applicationFields(const AccessLogEntry &e)
{
    const platform::ProcessInfo &app = processOf(e);
    return quotedOrDash(app.name) + ' ' + quotedOrDash(app.path) + ' '
        + (app.pid > 0 ? QByteArray::number(app.pid) : QByteArrayLiteral("-")) + ' ' + quotedOrDash(app.user);
}

/// The request line's protocol: what the client spoke (records made without a request say HTTP/1.1).
QByteArray protocolOf(const AccessLogEntry &e)
{
    return e.protocol.isEmpty() ? QByteArrayLiteral("HTTP/1.1") : sanitize(e.protocol);
}

} // namespace

QJsonObject AccessLogEntry::toJson() const
{
    const platform::ProcessInfo &app = processOf(*this);
    QJsonObject o{
        {QStringLiteral("seq"), static_cast<qint64>(seq)},
        {QStringLiteral("time"), QString::fromLatin1(isoTime(time))},
        {QStringLiteral("clientAddress"), clientAddressText(*this)},
        {QStringLiteral("clientPort"), clientPort},
        {QStringLiteral("identity"), identity},
        {QStringLiteral("method"), QString::fromLatin1(method)},
        {QStringLiteral("host"), QString::fromUtf8(host)},
        {QStringLiteral("port"), port},
        {QStringLiteral("path"), QString::fromUtf8(path)},
        {QStringLiteral("protocol"), QString::fromLatin1(protocol)},
        {QStringLiteral("resolvedAddress"), resolvedAddressText(*this)},
        {QStringLiteral("dnsCacheHit"), dnsCacheHit},
        {QStringLiteral("status"), status},
        {QStringLiteral("reason"), QString::fromLatin1(reason)},
        {QStringLiteral("bytesIn"), bytesIn},
        {QStringLiteral("bytesOut"), bytesOut},
        {QStringLiteral("totalMs"), ms(totalUs)},
        {QStringLiteral("dnsMs"), ms(dnsUs)},
        {QStringLiteral("connectMs"), ms(connectUs)},
        {QStringLiteral("upstreamMs"), ms(upstreamUs)},
        {QStringLiteral("gateway"), gateway},
        {QStringLiteral("route"), route},
        {QStringLiteral("backend"), backend},
        {QStringLiteral("decision"), QString::fromLatin1(decision)},
        {QStringLiteral("upstreamReused"), upstreamReused},
        {QStringLiteral("tunnel"), tunnel},
        {QStringLiteral("process"), app.name},
        {QStringLiteral("processPath"), app.path},
        {QStringLiteral("pid"), app.pid},
        {QStringLiteral("processUser"), app.user},
    };
    if (!upstreamProxy.isEmpty()) { // only for backends with an upstream proxy (#22)
        o.insert(QStringLiteral("upstreamProxy"), upstreamProxy);
        o.insert(QStringLiteral("upstreamProxyReason"), upstreamProxyReason);
    }
    if (grpcStatus >= 0)
        o.insert(QStringLiteral("grpcStatus"), grpcStatus);
    if (trailersDropped > 0)
        o.insert(QStringLiteral("trailersDropped"), trailersDropped);
    return o;
}

std::optional<AccessLogFormat> accessLogFormatFromString(const QString &name)
{
    if (name == QLatin1String("json"))
        return AccessLogFormat::Json;
    if (name == QLatin1String("envoy"))
        return AccessLogFormat::Envoy;
    if (name == QLatin1String("combined"))
        return AccessLogFormat::Combined;
    return std::nullopt;
}

QString toString(AccessLogFormat format)
{
    switch (format) {
    case AccessLogFormat::Json: return QStringLiteral("json");
    case AccessLogFormat::Envoy: return QStringLiteral("envoy");
    case AccessLogFormat::Combined: return QStringLiteral("combined");
    }
    return {};
}

void appendAccessLogLine(QByteArray &out, const AccessLogEntry &e, AccessLogFormat format)
{
    if (format == AccessLogFormat::Json) {
        if (!appendJsonLine(out, e))
            out += QJsonDocument(e.toJson()).toJson(QJsonDocument::Compact) + '\n';
        return;
    }
    out += formatAccessLogLine(e, format);
}

QByteArray formatAccessLogLine(const AccessLogEntry &e, AccessLogFormat format)
{
    switch (format) {
    case AccessLogFormat::Json: {
        QByteArray line;
        line.reserve(512);
        appendAccessLogLine(line, e, format);
        return line;
    }
    case AccessLogFormat::Envoy: {
        QByteArray line;
        line.reserve(256);
        line += '[' + isoTime(e.time) + "] \"";
        line += orDash(sanitize(e.method)) + ' ' + orDash(sanitize(e.path)) + ' ' + protocolOf(e) + "\" ";
        line += QByteArray::number(e.status) + ' ' + orDash(sanitize(e.reason)) + ' ';
        line += QByteArray::number(e.bytesIn) + ' ' + QByteArray::number(e.bytesOut) + ' ';
        line += QByteArray::number(ms(e.totalUs)) + ' ';
        line += (e.resolvedAddress.isNull() ? QByteArrayLiteral("-") : QByteArray::number(ms(e.upstreamUs))) + ' ';
        line += "\"-\" \"-\" \"-\" \"" + orDash(sanitize(hostPort(e.host, e.port))) + "\" \"";
        line += orDash(hostPort(resolvedAddressText(e), e.port)) + "\" ";
        line += applicationMetadata(e);
        if (e.grpcStatus >= 0) // %GRPC_STATUS(NUMBER)%, only on gRPC responses
            line += ' ' + QByteArray::number(e.grpcStatus);
        line += '\n';
        return line;
    }
    case AccessLogFormat::Combined: {
        QByteArray line;
        line.reserve(200);
        line += orDash(clientAddressText(e)) + " - " + orDash(sanitize(e.identity.toUtf8()).replace(' ', '_')) + ' ';
        line += '[' + apacheTime(e.time) + "] \"";
        line += sanitize(e.method) + ' ' + sanitize(e.path) + ' ' + protocolOf(e) + "\" ";
        line += QByteArray::number(e.status) + ' ';
        line += (e.bytesOut > 0 ? QByteArray::number(e.bytesOut) : QByteArrayLiteral("-"));
        line += " \"-\" \"-\" ";
        line += applicationFields(e);
        if (e.grpcStatus >= 0) // appended only on gRPC responses
            line += " grpc-status=" + QByteArray::number(e.grpcStatus);
        line += '\n';
        return line;
    }
    }
    return {};
}

} // namespace dfproxy::telemetry
