// SPDX-License-Identifier: Apache-2.0
#include "telemetry/accesslogformat.h"
#include "telemetry/accesslogger.h"
#include "telemetry/rotatingfile.h"

#include <QDir>
#include <QFile>
#include <QFileInfo>
#include <QJsonDocument>
#include <QElapsedTimer>
#include <QTemporaryDir>
#include <QThread>

#include <gtest/gtest.h>

#include <atomic>
#include <limits>

using namespace dfproxy::telemetry;

namespace {

std::shared_ptr<const dfproxy::platform::ProcessInfo> program(const QString &name, const QString &path, qint64 pid,
                                                              const QString &user)
{
    auto p = std::make_shared<dfproxy::platform::ProcessInfo>();
    p->name = name;
    p->path = path;
    p->pid = pid;
    p->user = user;
    return p;
}

AccessLogEntry sampleEntry()
{
    AccessLogEntry e;
    e.seq = 7;
    e.time = QDateTime(QDate(2024, 3, 5), QTime(13, 55, 36, 123), Qt::UTC);
    e.clientAddress = QHostAddress(QStringLiteral("127.0.0.1"));
    e.clientPort = 51234;
    e.method = "GET";
    e.host = "httpbin.test";
    e.port = 8081;
    e.path = "/get?a=1";
    e.protocol = "HTTP/1.1";
    e.resolvedAddress = QHostAddress(QStringLiteral("127.0.0.2"));
    e.dnsCacheHit = true;
    e.status = 200;
    e.bytesIn = 0;
    e.bytesOut = 1234;
    e.totalUs = 15'999; // the log shows whole milliseconds
    e.dnsUs = 2'000;
    e.connectUs = 3'500;
    e.upstreamUs = 9'001;
    e.route = "httpbin/dfp-httproute#0";
    e.backend = "httpbin/dfp-backend";
    return e;
}

QByteArray readAll(const QString &path)
{
    QFile f(path);
    return f.open(QIODevice::ReadOnly) ? f.readAll() : QByteArray();
}

/// Options that write `format` to access.log in `dir`.
AccessLogOptions fileLog(const QTemporaryDir &dir, AccessLogFormat format = AccessLogFormat::Json)
{
    AccessLogOptions o;
    o.enabled = true;
    o.format = format;
    o.path = dir.filePath("access.log");
    return o;
}

} // namespace

TEST(AccessLogFormat, JsonLineHasEveryFieldOnOneLine)
{
    EXPECT_EQ(formatAccessLogLine(sampleEntry(), AccessLogFormat::Json),
              QByteArray(R"({"backend":"httpbin/dfp-backend","bytesIn":0,"bytesOut":1234,"clientAddress":"127.0.0.1",)"
                         R"("clientPort":51234,"connectMs":3,"decision":"","dnsCacheHit":true,"dnsMs":2,"gateway":"",)"
                         R"("host":"httpbin.test","identity":"","method":"GET","path":"/get?a=1","pid":0,"port":8081,)"
                         R"("process":"","processPath":"","processUser":"","protocol":"HTTP/1.1","reason":"",)"
                         R"("resolvedAddress":"127.0.0.2","route":"httpbin/dfp-httproute#0","seq":7,)"
                         R"("status":200,"time":"2024-03-05T13:55:36.123Z","totalMs":15,"tunnel":false,)"
                         R"("upstreamMs":9,"upstreamReused":false})"
                         "\n"));
}

// The protocol the client spoke (#26): its own JSON field, and the request line's version in the text formats.
// The proxy fills this record and the access logger formats it as it is (no copy into another struct): every field
// of a full record, of one without a request and of a tunnel comes out as these lines, in every format.
TEST(AccessLogFormat, EveryFieldOfTheProxysRecordInEveryFormat)
{
    AccessLogEntry full;
    full.seq = 5;
    full.time = QDateTime::fromMSecsSinceEpoch(1796650958580, Qt::UTC);
    full.clientAddress = QHostAddress(QStringLiteral("::1"));
    full.clientPort = 40000;
    full.method = "GET";
    full.host = "ex\xc3\xa4mple.org";
    full.port = 8443;
    full.path = "/a\"b\x01/\xc3\xa9?q=1";
    full.protocol = "HTTP/2";
    full.status = 403;
    full.reason = "authz_denied";
    full.bytesIn = 12;
    full.bytesOut = 3456;
    full.totalUs = 12345;
    full.dnsUs = 2345;
    full.dnsWaited = true;
    full.connectUs = 3456;
    full.upstreamUs = 4567;
    full.gateway = "ns/gw";
    full.route = "ns/r#0";
    full.backend = "ns/b";
    full.resolvedAddress = QHostAddress(QStringLiteral("127.0.0.2"));
    full.dnsCacheHit = true;
    full.tunnel = true;
    full.identity = QString::fromUtf8("alice smith\"\xc3\xa9");
    full.decision = "deny:authz ns/p rule 1";
    full.application = program("curl", "/usr/bin/curl \"x\"", 4242, "bob");
    full.upstreamProxy = "proxy:3128";
    full.upstreamProxyReason = "bypass *.x";
    full.grpcStatus = 7;
    full.trailersDropped = 2;

    AccessLogEntry noRequest; // a head that did not parse
    noRequest.seq = 6;
    noRequest.time = QDateTime::fromMSecsSinceEpoch(1796650958000, Qt::UTC);
    noRequest.clientAddress = QHostAddress(QStringLiteral("127.0.0.1"));
    noRequest.clientPort = 1;
    noRequest.status = 400;
    noRequest.reason = "bad_request";

    AccessLogEntry tunnel = noRequest;
    tunnel.seq = 7;
    tunnel.method = "CONNECT";
    tunnel.host = "h";
    tunnel.port = 443;
    tunnel.path = "h:443";
    tunnel.protocol = "HTTP/1.1";
    tunnel.status = 200;
    tunnel.reason.clear();
    tunnel.decision = "allow";
    tunnel.totalUs = 999;
    tunnel.dnsUs = 10;
    tunnel.upstreamReused = true;
    tunnel.resolvedAddress = QHostAddress(QStringLiteral("::ffff:127.0.0.3"));

    const struct
    {
        const char *json, *envoy, *combined;
    } cases[] = {
        {R"({"backend":"ns/b","bytesIn":12,"bytesOut":3456,"clientAddress":"::1","clientPort":40000,)"
         R"("connectMs":3,"decision":"deny:authz ns/p rule 1","dnsCacheHit":true,"dnsMs":2,"gateway":"ns/gw",)"
         R"("grpcStatus":7,"host":"exämple.org","identity":"alice smith\"é","method":"GET","path":"/a\"b\u0001/é?q=1",)"
         R"("pid":4242,"port":8443,"process":"curl","processPath":"/usr/bin/curl \"x\"","processUser":"bob",)"
         R"("protocol":"HTTP/2","reason":"authz_denied","resolvedAddress":"127.0.0.2","route":"ns/r#0",)"
         R"("seq":5,"status":403,"time":"2026-12-07T13:42:38.580Z","totalMs":12,"trailersDropped":2,)"
         R"("tunnel":true,"upstreamMs":4,"upstreamProxy":"proxy:3128","upstreamProxyReason":"bypass )"
         R"(*.x","upstreamReused":false})",
         R"([2026-12-07T13:42:38.580Z] "GET /a\"b\x01/é?q=1 HTTP/2" 403 authz_denied 12 3456 12 4 "-" )"
         R"("-" "-" "exämple.org:8443" "127.0.0.2:8443" {"pid":4242,"process":"curl","processPath":"/usr/bin/curl )"
         R"(\"x\"","processUser":"bob"} 7)",
         R"(::1 - alice_smith\"é [07/Dec/2026:13:42:38 +0000] "GET /a\"b\x01/é?q=1 HTTP/2" 403 3456 )"
         R"("-" "-" "curl" "/usr/bin/curl \"x\"" 4242 "bob" grpc-status=7)"},
        {R"({"backend":"","bytesIn":0,"bytesOut":0,"clientAddress":"127.0.0.1","clientPort":1,"connectMs":0,)"
         R"("decision":"","dnsCacheHit":false,"dnsMs":0,"gateway":"","host":"","identity":"","method":"",)"
         R"("path":"","pid":0,"port":0,"process":"","processPath":"","processUser":"","protocol":"",)"
         R"("reason":"bad_request","resolvedAddress":"","route":"","seq":6,"status":400,)"
         R"("time":"2026-12-07T13:42:38.000Z",)"
         R"("totalMs":0,"tunnel":false,"upstreamMs":0,"upstreamReused":false})",
         R"([2026-12-07T13:42:38.000Z] "- - HTTP/1.1" 400 bad_request 0 0 0 - "-" "-" "-" "-" "-" -)",
         R"(127.0.0.1 - - [07/Dec/2026:13:42:38 +0000] "  HTTP/1.1" 400 - "-" "-" "-" "-" - "-")"},
        {R"({"backend":"","bytesIn":0,"bytesOut":0,"clientAddress":"127.0.0.1","clientPort":1,"connectMs":0,)"
         R"("decision":"allow","dnsCacheHit":false,"dnsMs":0,"gateway":"","host":"h","identity":"","method":"CONNECT",)"
         R"("path":"h:443","pid":0,"port":443,"process":"","processPath":"","processUser":"","protocol":"HTTP/1.1",)"
         R"("reason":"","resolvedAddress":"::ffff:127.0.0.3","route":"","seq":7,"status":200,)"
         R"("time":"2026-12-07T13:42:38.000Z",)"
         R"("totalMs":0,"tunnel":false,"upstreamMs":0,"upstreamReused":true})",
         R"()"
         R"([2026-12-07T13:42:38.000Z] "CONNECT h:443 HTTP/1.1" 200 - 0 0 0 0 "-" "-" "-" "h:443" )"
         R"("[::ffff:127.0.0.3]:443" -)",
         R"(127.0.0.1 - - [07/Dec/2026:13:42:38 +0000] "CONNECT h:443 HTTP/1.1" 200 - "-" "-" "-" "-" - "-")"},
    };
    const AccessLogEntry *entries[] = {&full, &noRequest, &tunnel};
    for (int i = 0; i < 3; ++i) {
        const AccessLogEntry *entry = entries[i];
        const auto *expected = &cases[i];
        EXPECT_EQ(formatAccessLogLine(*entry, AccessLogFormat::Json), QByteArray(expected->json) + '\n');
        EXPECT_EQ(QJsonDocument(entry->toJson()).toJson(QJsonDocument::Compact), QByteArray(expected->json));
        EXPECT_EQ(formatAccessLogLine(*entry, AccessLogFormat::Envoy), QByteArray(expected->envoy) + '\n');
        EXPECT_EQ(formatAccessLogLine(*entry, AccessLogFormat::Combined), QByteArray(expected->combined) + '\n');
        for (AccessLogFormat f : {AccessLogFormat::Json, AccessLogFormat::Envoy, AccessLogFormat::Combined}) {
            QByteArray appended;
            appendAccessLogLine(appended, *entry, f);
            EXPECT_EQ(appended, formatAccessLogLine(*entry, f));
        }
    }
}

TEST(AccessLogFormat, ProtocolShowsInEveryFormat)
{
    AccessLogEntry e = sampleEntry();
    e.protocol = "HTTP/2";
    EXPECT_TRUE(formatAccessLogLine(e, AccessLogFormat::Json).contains(R"("protocol":"HTTP/2")"));
    EXPECT_TRUE(formatAccessLogLine(e, AccessLogFormat::Envoy).contains("\"GET /get?a=1 HTTP/2\""));
    EXPECT_TRUE(formatAccessLogLine(e, AccessLogFormat::Combined).contains("\"GET /get?a=1 HTTP/2\""));
    e.protocol.clear(); // a record without a request (a head that never came)
    EXPECT_TRUE(formatAccessLogLine(e, AccessLogFormat::Envoy).contains("\"GET /get?a=1 HTTP/1.1\""));
}

// The JSON line is written directly (no QJsonObject per record): it must stay byte for byte what QJsonDocument
// writes for toJson(), whatever the fields hold.
TEST(AccessLogFormat, UpstreamProxyFieldsOnlyForBackendsWithOne)
{
    AccessLogEntry e = sampleEntry();
    e.upstreamProxy = QStringLiteral("DIRECT");
    e.upstreamProxyReason = QStringLiteral("bypass *.corp.example");
    const QByteArray line = formatAccessLogLine(e, AccessLogFormat::Json);
    EXPECT_TRUE(line.contains(R"("upstreamMs":9,"upstreamProxy":"DIRECT","upstreamProxyReason":"bypass *.corp.example",)"
                              R"("upstreamReused":false})"))
        << line.constData();
    EXPECT_FALSE(formatAccessLogLine(sampleEntry(), AccessLogFormat::Json).contains("upstreamProxy"));
}

TEST(AccessLogFormat, GrpcStatusAndDroppedTrailersOnlyWhereThereAreSome)
{
    AccessLogEntry e = sampleEntry();
    for (AccessLogFormat f : {AccessLogFormat::Json, AccessLogFormat::Envoy, AccessLogFormat::Combined}) {
        const QByteArray line = formatAccessLogLine(e, f);
        EXPECT_FALSE(line.contains("grpc")) << line.constData();
        EXPECT_FALSE(line.contains("trailersDropped")) << line.constData();
    }
    e.grpcStatus = 0;
    e.trailersDropped = 2;
    const QByteArray json = formatAccessLogLine(e, AccessLogFormat::Json);
    EXPECT_TRUE(json.contains(R"("gateway":"agentgateway-system/agentgateway-proxy","grpcStatus":0,"host")")
                || json.contains(R"(,"grpcStatus":0,"host")"))
        << json.constData();
    EXPECT_TRUE(json.contains(R"("trailersDropped":2,"tunnel")")) << json.constData();
    EXPECT_TRUE(formatAccessLogLine(e, AccessLogFormat::Envoy).endsWith("} 0\n")
                || formatAccessLogLine(e, AccessLogFormat::Envoy).endsWith("- 0\n"))
        << formatAccessLogLine(e, AccessLogFormat::Envoy).constData();
    EXPECT_TRUE(formatAccessLogLine(e, AccessLogFormat::Combined).endsWith(" grpc-status=0\n"))
        << formatAccessLogLine(e, AccessLogFormat::Combined).constData();
}

TEST(AccessLogFormat, JsonLineIsExactlyWhatQJsonDocumentWrites)
{
    const auto viaQt = [](const AccessLogEntry &e) {
        return QJsonDocument(e.toJson()).toJson(QJsonDocument::Compact) + '\n';
    };
    QList<AccessLogEntry> entries;
    entries.append(sampleEntry());
    entries.append(AccessLogEntry{}); // invalid time, empty everything
    AccessLogEntry proxied = sampleEntry(); // a backend with an upstream proxy: two more fields
    proxied.upstreamProxy = QStringLiteral("proxy.corp:3128");
    proxied.upstreamProxyReason = QStringLiteral("tunnel");
    entries.append(proxied);
    AccessLogEntry grpc = sampleEntry(); // a gRPC call whose trailers an HTTP/1.1 client could not take
    grpc.grpcStatus = 5;
    grpc.trailersDropped = 2;
    entries.append(grpc);

    AccessLogEntry controls = sampleEntry();
    QByteArray allBytes;
    for (int c = 1; c < 0x80; ++c)
        allBytes += char(c);
    controls.path = allBytes;
    controls.host = "a\"b\\c";
    controls.reason = QByteArray("x\ty\nz\x7f");
    controls.method = "M\x01";
    controls.identity = QStringLiteral("alice \"the\" admin\n");
    entries.append(controls);

    AccessLogEntry unicode = sampleEntry();
    unicode.path = QByteArray("/caf\xc3\xa9/\xe2\x82\xac/\xf0\x9f\x98\x80");  // valid UTF-8, up to 4 bytes
    unicode.host = QByteArray("bad\xff\xfe\xc3(\xe2\x82");                    // invalid sequences -> U+FFFD
    unicode.method = QByteArray("G\xe9T");                                         // Latin-1 in toJson()
    unicode.reason = QByteArray("r\xb5");
    unicode.protocol = QByteArray("HTTP/\xb2");
    unicode.identity = QString::fromUtf8("j\xc3\xbcrgen \xf0\x9f\x94\x91");
    unicode.route = QString(QChar(0xd800)) + "lone";                               // lone surrogate: Qt's path
    unicode.gateway = QString(300, QChar('g'));                                    // longer than the stack copy
    entries.append(unicode);

    AccessLogEntry extremes = sampleEntry();
    extremes.seq = std::numeric_limits<quint64>::max() / 2;
    extremes.bytesIn = std::numeric_limits<qint64>::max();
    extremes.totalUs = -1'000;
    extremes.clientPort = 65535;
    extremes.status = 0;
    extremes.dnsCacheHit = false;
    extremes.upstreamReused = true;
    extremes.tunnel = true;
    extremes.time = QDateTime(QDate(1969, 12, 31), QTime(23, 59, 59, 999), Qt::UTC);
    entries.append(extremes);

    AccessLogEntry application = sampleEntry();
    application.application = program(QStringLiteral("curl \"x\""),
                                       QString::fromUtf8("/home/j\xc3\xbcrgen/bin/curl\n"), 4194304,
                                       QStringLiteral("DOMAIN\\alice"));
    entries.append(application);

    for (const QDateTime &t : {QDateTime(QDate(2000, 2, 29), QTime(0, 0), Qt::UTC),
                               QDateTime(QDate(2100, 3, 1), QTime(12, 0, 0, 1), Qt::UTC),
                               QDateTime(QDate(1600, 1, 1), QTime(1, 2, 3, 4), Qt::UTC),
                               QDateTime(QDate(9999, 12, 31), QTime(23, 59, 59, 999), Qt::UTC),
                               QDateTime(QDate(2026, 11, 26), QTime(15, 22, 38, 580), Qt::OffsetFromUTC, 3600)}) {
        AccessLogEntry e = sampleEntry();
        e.time = t;
        entries.append(e);
    }
    // Each character that needs escaping at every offset of a long value: the escaper skips plain bytes eight at
    // a time, so a special byte in any lane of a word, and words after it, must come out the same.
    for (const char special : {'"', '\\', '\x01', '\x1f', '\n'}) {
        for (int at = 0; at < 26; ++at) {
            AccessLogEntry e = sampleEntry();
            e.path = QByteArray(at, 'p') + special + QByteArray(25 - at, 'q') + special + "tail";
            e.identity = QString::fromLatin1(e.path);
            entries.append(e);
        }
    }
    for (const auto &e : entries)
        EXPECT_EQ(formatAccessLogLine(e, AccessLogFormat::Json), viaQt(e)) << viaQt(e).toStdString();

    QByteArray appended = "prefix\n";
    appendAccessLogLine(appended, entries.at(0), AccessLogFormat::Json);
    appendAccessLogLine(appended, entries.at(3), AccessLogFormat::Json);
    EXPECT_EQ(appended, "prefix\n" + viaQt(entries.at(0)) + viaQt(entries.at(3)));
}

// Gateway, route and backend names are escaped once and reused while the next record holds the same string.
TEST(AccessLogFormat, JsonLineNamesRepeatedOrChangedBetweenRecordsComeOutRight)
{
    const auto viaQt = [](const AccessLogEntry &e) {
        return QJsonDocument(e.toJson()).toJson(QJsonDocument::Compact) + '\n';
    };
    AccessLogEntry e = sampleEntry();
    QString route = QStringLiteral("ns/route-a#0");
    const QList<QString> routes = {route, route, QStringLiteral("ns/route-b#0"), // same length, other text
                                   route, QStringLiteral("ns/\"quoted\"#1"), QString(), route};
    for (const QString &r : routes) {
        e.route = r;
        e.backend = r.isEmpty() ? QString() : r + QStringLiteral("-backend");
        EXPECT_EQ(formatAccessLogLine(e, AccessLogFormat::Json), viaQt(e)) << r.toStdString();
    }
    route[3] = QChar('X'); // changed in place after it was written: its own buffer now
    e.route = route;
    EXPECT_EQ(formatAccessLogLine(e, AccessLogFormat::Json), viaQt(e));
    QString lone = QString(QChar(0xd800)) + "x"; // not escapable here: Qt's path, and no memo of it
    e.gateway = lone;
    EXPECT_EQ(formatAccessLogLine(e, AccessLogFormat::Json), viaQt(e));
    EXPECT_EQ(formatAccessLogLine(e, AccessLogFormat::Json), viaQt(e));
}

// The writer keeps the text of the last record's second, the escaped program and addresses of the last record,
// and writes one-digit numbers directly: records in the same second, the next, an earlier one, across midnight and
// before 1970, numbers around every fast path, programs and addresses that change or not, must each come out as
// QJsonDocument writes them.
TEST(AccessLogFormat, JsonLineTimesNumbersProgramsAndAddressesInTurnComeOutRight)
{
    const auto viaQt = [](const AccessLogEntry &e) {
        return QJsonDocument(e.toJson()).toJson(QJsonDocument::Compact) + '\n';
    };
    const QDateTime base(QDate(2026, 12, 7), QTime(23, 59, 58, 998), Qt::UTC);
    const QList<QDateTime> times = {base,
                                    base.addMSecs(1),
                                    base.addMSecs(2), // the next second
                                    base.addMSecs(1),
                                    base.addMSecs(1002), // the next day
                                    base.addMSecs(1003),
                                    QDateTime(),
                                    QDateTime(QDate(1969, 12, 31), QTime(23, 59, 59, 1), Qt::UTC),
                                    QDateTime(QDate(1969, 12, 31), QTime(23, 59, 59, 999), Qt::UTC),
                                    QDateTime(QDate(10000, 1, 1), QTime(0, 0, 0, 5), Qt::UTC),
                                    QDateTime(QDate(10000, 1, 1), QTime(0, 0, 0, 6), Qt::UTC),
                                    base};
    const QList<qint64> numbers = {0, 9, 10, -1, -9, 99, 12345, std::numeric_limits<qint64>::min() + 1,
                                   std::numeric_limits<qint64>::max(), 1, 5, 0};
    const auto curl = program(QStringLiteral("curl"), QStringLiteral("/usr/bin/curl"), 42, QStringLiteral("alice"));
    const auto other = program(QStringLiteral("cu\"rl"), QString::fromUtf8("/usr/bin/c\xc3\xbcrl"), 43,
                               QStringLiteral("bob"));
    for (qsizetype i = 0; i < times.size(); ++i) {
        AccessLogEntry e = sampleEntry();
        e.time = times[i];
        e.bytesIn = numbers[i];
        e.bytesOut = -numbers[i];
        // In microseconds where the product fits (qint64 overflow is undefined), the extremes as they are.
        const bool fits = numbers[i] <= std::numeric_limits<qint64>::max() / 1000
            && numbers[i] >= std::numeric_limits<qint64>::min() / 1000;
        e.totalUs = fits ? numbers[i] * 1000 : numbers[i];
        e.status = int(numbers[i] % 1000);
        e.method = i % 2 ? QByteArray("GET") : QByteArray();
        e.path = i % 3 ? QByteArray("/0123456789abcdef/x") : QByteArray("/0123456\"/");
        // The program and the addresses are kept escaped too: the same one again, another one, none.
        e.application = i % 4 == 3 ? nullptr : i % 4 == 2 ? other : curl;
        e.clientAddress = QHostAddress(i % 3 ? QStringLiteral("127.0.0.1") : QStringLiteral("::1"));
        e.resolvedAddress = i % 5 == 4 ? QHostAddress() : QHostAddress(i % 2 ? "127.0.0.2" : "127.0.0.3");
        EXPECT_EQ(formatAccessLogLine(e, AccessLogFormat::Json), viaQt(e)) << i << viaQt(e).toStdString();
    }
}

TEST(AccessLogFormat, EnvoyLineFollowsEnvoysDefaultFormat)
{
    EXPECT_EQ(formatAccessLogLine(sampleEntry(), AccessLogFormat::Envoy),
              QByteArray("[2024-03-05T13:55:36.123Z] \"GET /get?a=1 HTTP/1.1\" 200 - 0 1234 15 9 \"-\" \"-\" \"-\" "
                         "\"httpbin.test:8081\" \"127.0.0.2:8081\" -\n"));
}

TEST(AccessLogFormat, TextFormatsCarryTheApplication)
{
    auto e = sampleEntry();
    e.application = program("curl", "/usr/bin/curl", 4242, "alice");
    EXPECT_EQ(formatAccessLogLine(e, AccessLogFormat::Envoy),
              QByteArray("[2024-03-05T13:55:36.123Z] \"GET /get?a=1 HTTP/1.1\" 200 - 0 1234 15 9 \"-\" \"-\" \"-\" "
                         "\"httpbin.test:8081\" \"127.0.0.2:8081\" "
                         "{\"pid\":4242,\"process\":\"curl\",\"processPath\":\"/usr/bin/curl\",\"processUser\":\"alice\"}\n"));
    EXPECT_EQ(formatAccessLogLine(e, AccessLogFormat::Combined),
              QByteArray("127.0.0.1 - - [05/Mar/2024:13:55:36 +0000] \"GET /get?a=1 HTTP/1.1\" 200 1234 \"-\" \"-\" "
                         "\"curl\" \"/usr/bin/curl\" 4242 \"alice\"\n"));
    e.application = program("curl", "/tmp/a \"b\"\nc", 4242, "alice");
    const QByteArray line = formatAccessLogLine(e, AccessLogFormat::Combined);
    EXPECT_TRUE(line.contains("\"/tmp/a \\\"b\\\"\\x0ac\"")) << line.constData();
    EXPECT_EQ(line.count('\n'), 1);
    const QJsonObject o = e.toJson();
    EXPECT_EQ(o.value("process").toString(), "curl");
    EXPECT_EQ(o.value("pid").toInteger(), 4242);
    EXPECT_EQ(o.value("processUser").toString(), "alice");
}

TEST(AccessLogFormat, EnvoyLineShowsReasonAsResponseFlagsAndDashesWithoutUpstream)
{
    auto e = sampleEntry();
    e.status = 502;
    e.reason = "dns_resolution_failed";
    e.resolvedAddress.clear();
    e.bytesOut = 0;
    EXPECT_EQ(formatAccessLogLine(e, AccessLogFormat::Envoy),
              QByteArray("[2024-03-05T13:55:36.123Z] \"GET /get?a=1 HTTP/1.1\" 502 dns_resolution_failed 0 0 15 - "
                         "\"-\" \"-\" \"-\" \"httpbin.test:8081\" \"-\" -\n"));
}

TEST(AccessLogFormat, CombinedLineFollowsApache)
{
    auto e = sampleEntry();
    EXPECT_EQ(formatAccessLogLine(e, AccessLogFormat::Combined),
              QByteArray("127.0.0.1 - - [05/Mar/2024:13:55:36 +0000] \"GET /get?a=1 HTTP/1.1\" 200 1234 \"-\" \"-\" "
                         "\"-\" \"-\" - \"-\"\n"));
    e.identity = "alice";
    e.bytesOut = 0;
    EXPECT_EQ(formatAccessLogLine(e, AccessLogFormat::Combined),
              QByteArray("127.0.0.1 - alice [05/Mar/2024:13:55:36 +0000] \"GET /get?a=1 HTTP/1.1\" 200 - \"-\" \"-\" "
                         "\"-\" \"-\" - \"-\"\n"));
}

TEST(AccessLogFormat, TextFormatsEscapeQuotesAndControlCharacters)
{
    auto e = sampleEntry();
    e.path = "/a\"b\nc";
    const QByteArray line = formatAccessLogLine(e, AccessLogFormat::Combined);
    EXPECT_TRUE(line.contains("\"GET /a\\\"b\\x0ac HTTP/1.1\"")) << line.constData();
    EXPECT_EQ(line.count('\n'), 1);
}

TEST(AccessLogFormat, ParsesFormatNames)
{
    EXPECT_EQ(accessLogFormatFromString("json"), AccessLogFormat::Json);
    EXPECT_EQ(accessLogFormatFromString("envoy"), AccessLogFormat::Envoy);
    EXPECT_EQ(accessLogFormatFromString("combined"), AccessLogFormat::Combined);
    EXPECT_FALSE(accessLogFormatFromString("JSON").has_value());
}

TEST(RotatingFile, RotatesBySizeAndKeepsOnlyMaxFiles)
{
    QTemporaryDir dir;
    const QString path = dir.filePath("logs/access.log");
    RotatingFile file(path, 10, 2);
    ASSERT_TRUE(file.open()) << qPrintable(file.errorString());
    for (char c : QByteArray("abcde"))
        ASSERT_TRUE(file.write(QByteArray(6, c))); // 6 bytes each: every second write exceeds 10 bytes
    file.flush();
    EXPECT_EQ(file.rotations(), 4u);
    EXPECT_EQ(readAll(path), QByteArray("eeeeee"));
    EXPECT_EQ(readAll(path + ".1"), QByteArray("dddddd"));
    EXPECT_EQ(readAll(path + ".2"), QByteArray("cccccc"));
    EXPECT_FALSE(QFile::exists(path + ".3"));
}

#ifndef Q_OS_WIN
TEST(RotatingFile, LogFilesArePrivateToTheServiceAccount)
{
    QTemporaryDir dir;
    const QString path = dir.filePath("access.log");
    const QString loose = dir.filePath("loose.log");
    {
        QFile f(loose);
        ASSERT_TRUE(f.open(QIODevice::WriteOnly));
        ASSERT_TRUE(f.setPermissions(QFile::ReadOwner | QFile::WriteOwner | QFile::ReadGroup | QFile::ReadOther));
    }
    const QFile::Permissions others = QFile::ReadGroup | QFile::WriteGroup | QFile::ReadOther | QFile::WriteOther;
    RotatingFile file(path, 4, 2);
    ASSERT_TRUE(file.write("1234"));
    ASSERT_TRUE(file.write("5678")); // rotated: the new file is private too
    file.flush();
    EXPECT_EQ(QFile::permissions(path) & others, QFile::Permissions());
    EXPECT_EQ(QFile::permissions(path + ".1") & others, QFile::Permissions());
    RotatingFile existing(loose, 1024, 1);
    ASSERT_TRUE(existing.write("x"));
    EXPECT_EQ(QFile::permissions(loose) & others, QFile::Permissions()); // tightened when opened
}
#endif

TEST(RotatingFile, ZeroMaxFilesTruncatesInsteadOfKeeping)
{
    QTemporaryDir dir;
    const QString path = dir.filePath("access.log");
    RotatingFile file(path, 4, 0);
    ASSERT_TRUE(file.write("1234"));
    ASSERT_TRUE(file.write("5678"));
    file.flush();
    EXPECT_EQ(readAll(path), QByteArray("5678"));
    EXPECT_FALSE(QFile::exists(path + ".1"));
}

TEST(RotatingFile, AppendsToAnExistingFileAndCountsItsSize)
{
    QTemporaryDir dir;
    const QString path = dir.filePath("access.log");
    {
        QFile f(path);
        ASSERT_TRUE(f.open(QIODevice::WriteOnly));
        f.write("123456789");
    }
    RotatingFile file(path, 10, 1);
    ASSERT_TRUE(file.write("ab"));
    file.flush();
    EXPECT_EQ(readAll(path), QByteArray("ab"));
    EXPECT_EQ(readAll(path + ".1"), QByteArray("123456789"));
}

TEST(AccessLogger, DropsAndCountsRecordsWhenTheQueueIsFull)
{
    AccessLogOptions o;
    o.queueCapacity = 3;
    AccessLogger logger(o); // writer not started: nothing drains the queue
    for (int i = 0; i < 5; ++i)
        logger.submit(sampleEntry());
    auto s = logger.stats();
    EXPECT_EQ(s.submitted, 3u);
    EXPECT_EQ(s.dropped, 2u);
    logger.processPending();
    logger.submit(sampleEntry());
    s = logger.stats();
    EXPECT_EQ(s.submitted, 4u);
    EXPECT_EQ(s.dropped, 2u);
}

TEST(AccessLogger, WritesJsonLinesToTheFileAndFeedsTheRing)
{
    QTemporaryDir dir;
    AccessLogOptions o = fileLog(dir);
    AccessLogger logger(o);
    int signals = 0;
    QObject::connect(&logger, &AccessLogger::recorded, [&signals] { ++signals; });
    for (int i = 0; i < 3; ++i) {
        auto e = sampleEntry();
        e.status = 200 + i;
        logger.submit(e);
    }
    logger.processPending();
    EXPECT_EQ(signals, 1);
    const auto lines = readAll(o.path).trimmed().split('\n');
    ASSERT_EQ(lines.size(), 3);
    for (int i = 0; i < 3; ++i) {
        const auto obj = QJsonDocument::fromJson(lines[i]).object();
        EXPECT_EQ(obj.value("status").toInt(), 200 + i);
        EXPECT_EQ(obj.value("seq").toInt(), i + 1);
    }
    EXPECT_EQ(logger.stats().written, 3u);
    EXPECT_EQ(logger.lastSeq(), 3u);
    const auto recent = logger.recent(2);
    ASSERT_EQ(recent.size(), 2);
    EXPECT_EQ(recent[0].seq, 2u);
    EXPECT_EQ(recent[1].seq, 3u);
}

TEST(AccessLogger, DisabledLoggerWritesNoFileButKeepsRecentRecords)
{
    QTemporaryDir dir;
    AccessLogOptions o;
    o.enabled = false;
    o.path = dir.filePath("access.log");
    AccessLogger logger(o);
    logger.submit(sampleEntry());
    logger.processPending();
    EXPECT_FALSE(QFile::exists(o.path));
    EXPECT_EQ(logger.recent(10).size(), 1);
}

TEST(AccessLogger, RingKeepsOnlyTheNewestRecordsAndSinceSkipsSeenOnes)
{
    AccessLogOptions o;
    o.recentRecords = 4;
    AccessLogger logger(o);
    for (int i = 0; i < 10; ++i)
        logger.submit(sampleEntry());
    logger.processPending();
    const auto all = logger.recent(100);
    ASSERT_EQ(all.size(), 4);
    EXPECT_EQ(all.front().seq, 7u);
    EXPECT_EQ(all.back().seq, 10u);
    const auto newer = logger.since(8, 100);
    ASSERT_EQ(newer.size(), 2);
    EXPECT_EQ(newer[0].seq, 9u);
    EXPECT_EQ(logger.since(0, 1).front().seq, 7u);
    EXPECT_TRUE(logger.since(10, 100).isEmpty());
}

TEST(AccessLogger, ChangingRecentRecordsKeepsTheNewestInOrder)
{
    AccessLogOptions o;
    o.recentRecords = 5;
    AccessLogger logger(o);
    const auto seqs = [&logger] {
        QList<quint64> out;
        for (const auto &e : logger.recent(100))
            out.append(e.seq);
        return out;
    };
    const auto submit = [&logger](int n) {
        for (int i = 0; i < n; ++i)
            logger.submit(sampleEntry());
        logger.processPending();
    };
    submit(7); // wrapped: 3..7
    EXPECT_EQ(seqs(), (QList<quint64>{3, 4, 5, 6, 7}));
    o.recentRecords = 8;
    logger.setOptions(o);
    submit(2); // grows again from a wrapped ring
    EXPECT_EQ(seqs(), (QList<quint64>{3, 4, 5, 6, 7, 8, 9}));
    o.recentRecords = 3;
    logger.setOptions(o);
    submit(1);
    EXPECT_EQ(seqs(), (QList<quint64>{8, 9, 10}));
    EXPECT_EQ(logger.since(8, 10).size(), 2);
    o.recentRecords = 0;
    logger.setOptions(o);
    submit(2);
    EXPECT_TRUE(logger.recent(100).isEmpty());
    EXPECT_EQ(logger.lastSeq(), 12u);
}

TEST(AccessLogger, BatchesOfEverySizeInTurnKeepEveryRecordInOrder)
{
    // The queue reuses the previous batch's storage (up to a bound): small, large (past the bound) and empty
    // batches in turn must each write exactly what was submitted, in order.
    QTemporaryDir dir;
    AccessLogOptions o = fileLog(dir, AccessLogFormat::Combined);
    o.recentRecords = 10000;
    AccessLogger logger(o);
    quint64 expected = 0;
    for (const int n : {3, 5000, 0, 7, 1, 6000, 2, 0, 0, 40}) {
        for (int i = 0; i < n; ++i)
            logger.submit(sampleEntry());
        expected += quint64(n);
        logger.processPending();
        EXPECT_EQ(logger.stats().written, expected);
        EXPECT_EQ(logger.lastSeq(), expected);
    }
    logger.stop();
    EXPECT_EQ(readAll(o.path).count('\n'), qsizetype(expected));
    const auto ring = logger.recent(10000);
    ASSERT_EQ(ring.size(), 10000);
    for (qsizetype i = 1; i < ring.size(); ++i)
        ASSERT_EQ(ring[i].seq, ring[i - 1].seq + 1);
    EXPECT_EQ(ring.back().seq, expected);
}

TEST(AccessLogger, WriterThreadWritesEverythingQueuedBeforeStopReturns)
{
    QTemporaryDir dir;
    AccessLogOptions o = fileLog(dir, AccessLogFormat::Combined);
    AccessLogger logger(o);
    logger.start();
    for (int i = 0; i < 100; ++i)
        logger.submit(sampleEntry());
    logger.stop();
    EXPECT_EQ(readAll(o.path).count('\n'), 100);
    EXPECT_EQ(logger.stats().written, 100u);
}

TEST(AccessLogger, WriterBatchesForTheFlushIntervalButWakesEarlyWhenHalfFull)
{
    QTemporaryDir dir;
    AccessLogOptions o = fileLog(dir);
    o.flushIntervalMs = 60'000; // far longer than the test: only "half full" or stop() can make it write
    o.queueCapacity = 10;
    AccessLogger logger(o);
    std::atomic<int> batches{0}; // recorded() is emitted on the writer thread
    QObject::connect(&logger, &AccessLogger::recorded, [&batches] { ++batches; });
    logger.start();
    for (int i = 0; i < 6; ++i) // the 6th passes half of the capacity
        logger.submit(sampleEntry());
    QElapsedTimer t;
    t.start();
    while (batches.load() < 1 && t.elapsed() < 10'000)
        QThread::msleep(5);
    EXPECT_EQ(logger.stats().written, 6u);
    EXPECT_EQ(batches.load(), 1); // one wake-up, one batch
    logger.submit(sampleEntry());
    logger.stop(); // writes what waits, without waiting out the interval
    EXPECT_EQ(readAll(o.path).count('\n'), 7);
    EXPECT_EQ(batches.load(), 2);
}

TEST(AccessLogger, ObserverSeesEveryRecordIncludingDroppedOnes)
{
    AccessLogOptions o;
    o.queueCapacity = 2;
    AccessLogger logger(o); // writer not started
    QList<int> seen;
    logger.setObserver([&seen](const AccessLogEntry &e) { seen.append(e.status); });
    for (int i = 0; i < 3; ++i) {
        auto e = sampleEntry();
        e.status = 200 + i;
        logger.submit(e);
    }
    EXPECT_EQ(seen, QList<int>({202})); // the dropped one at once
    logger.processPending();
    EXPECT_EQ(seen, QList<int>({202, 200, 201})); // the others as their batch is written
    logger.setObserver({});
    logger.submit(sampleEntry());
    logger.processPending();
    EXPECT_EQ(seen.size(), 3);
}

TEST(AccessLogger, RotatesTheFileWithTheConfiguredLimits)
{
    QTemporaryDir dir;
    AccessLogOptions o = fileLog(dir);
    o.maxSizeBytes = 1000;
    o.maxFiles = 2;
    AccessLogger logger(o);
    for (int i = 0; i < 20; ++i) {
        logger.submit(sampleEntry());
        logger.processPending();
    }
    EXPECT_TRUE(QFile::exists(o.path + ".1"));
    EXPECT_TRUE(QFile::exists(o.path + ".2"));
    EXPECT_FALSE(QFile::exists(o.path + ".3"));
    EXPECT_GT(logger.stats().rotations, 2u);
    EXPECT_LE(QFileInfo(o.path).size(), 1000);
}

TEST(AccessLogOptions, ReadsTheAccessLogBlock)
{
    QList<dfproxy::config::FieldError> errors;
    const auto o = AccessLogOptions::fromJson(
        QJsonDocument::fromJson(R"({"accessLog": {"enabled": true, "format": "envoy", "path": "/tmp/a.log",
            "stdout": true, "maxSizeBytes": 2048, "maxFiles": 3, "flushIntervalMs": 0}})").object(), &errors);
    EXPECT_TRUE(errors.isEmpty());
    EXPECT_TRUE(o.enabled);
    EXPECT_EQ(o.format, AccessLogFormat::Envoy);
    EXPECT_EQ(o.path, "/tmp/a.log");
    EXPECT_TRUE(o.toStdout);
    EXPECT_EQ(o.maxSizeBytes, 2048);
    EXPECT_EQ(o.maxFiles, 3);
    EXPECT_EQ(o.flushIntervalMs, 0);
    EXPECT_EQ(AccessLogOptions().flushIntervalMs, 2);
}

TEST(AccessLogOptions, ReportsEveryBadFieldWithItsPath)
{
    QList<dfproxy::config::FieldError> errors;
    AccessLogOptions::fromJson(
        QJsonDocument::fromJson(R"({"accessLog": {"enabled": "yes", "format": "xml", "path": 3,
            "maxSizeBytes": -1, "maxFiles": 1.5, "colour": 1}})").object(), &errors);
    QStringList paths;
    for (const auto &e : errors)
        paths << e.path;
    paths.sort();
    EXPECT_EQ(paths, QStringList({"logging.accessLog.colour", "logging.accessLog.enabled", "logging.accessLog.format",
                                  "logging.accessLog.maxFiles", "logging.accessLog.maxSizeBytes",
                                  "logging.accessLog.path"}));
    errors.clear();
    AccessLogOptions::fromJson(QJsonObject{{"accessLog", 5}}, &errors);
    ASSERT_EQ(errors.size(), 1);
    EXPECT_EQ(errors[0].path, "logging.accessLog");
}
