// SPDX-License-Identifier: Apache-2.0
// Access log and metrics through the real binary: JSON Lines file with rotation, /metrics checked by a strict
// Prometheus text-format parser, the recent-records API and the server-sent-event stream.
#include "support/testsupport.h"

#include <QFile>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QProcess>
#include <QRegularExpression>

#include <gtest/gtest.h>

#include <cmath>

using namespace dfproxy::test;

namespace {

const QByteArray kManifests = dfproxy::test::seedManifests();

// ---- A strict parser of the Prometheus text exposition format 0.0.4 ----

struct PromSample
{
    QString name;
    QMap<QString, QString> labels;
    double value = 0;
};

struct PromFamily
{
    QString type;
    QString help;
    QList<PromSample> samples;
};

// The family a sample belongs to: histogram samples carry _bucket/_sum/_count suffixes.
QString familyOf(const QString &sample, const QMap<QString, PromFamily> &families)
{
    for (const char *suffix : {"_bucket", "_sum", "_count"}) {
        if (sample.endsWith(suffix)) {
            const QString base = sample.left(sample.size() - int(strlen(suffix)));
            if (families.value(base).type == "histogram")
                return base;
        }
    }
    return sample;
}

bool parseValue(const QString &text, double *out)
{
    if (text == "+Inf") {
        *out = INFINITY;
        return true;
    }
    if (text == "-Inf") {
        *out = -INFINITY;
        return true;
    }
    if (text == "NaN") {
        *out = NAN;
        return true;
    }
    bool ok = false;
    *out = text.toDouble(&ok);
    return ok;
}

// Returns an error message, empty when `text` is valid exposition.
QString parseExposition(const QByteArray &text, QMap<QString, PromFamily> *families)
{
    static const QRegularExpression metricName("^[a-zA-Z_:][a-zA-Z0-9_:]*$");
    static const QRegularExpression labelName("^[a-zA-Z_][a-zA-Z0-9_]*$");
    static const QStringList types{"counter", "gauge", "histogram", "summary", "untyped"};
    if (!text.endsWith('\n'))
        return "the exposition does not end with a newline";
    QSet<QString> finished; // families whose samples are over (samples of a family must be contiguous)
    QString current;
    int lineNo = 0;
    for (const QByteArray &raw : text.left(text.size() - 1).split('\n')) {
        ++lineNo;
        const QString line = QString::fromUtf8(raw);
        const QString where = QStringLiteral("line %1 \"%2\": ").arg(lineNo).arg(line);
        if (line.isEmpty())
            return where + "empty line";
        if (line.startsWith('#')) {
            const QStringList parts = line.split(' ');
            if (parts.size() < 3 || (parts[1] != "HELP" && parts[1] != "TYPE"))
                continue; // a plain comment
            const QString name = parts[2];
            if (!metricName.match(name).hasMatch())
                return where + "bad metric name";
            auto &fam = (*families)[name];
            if (parts[1] == "TYPE") {
                if (parts.size() != 4 || !types.contains(parts[3]))
                    return where + "bad TYPE";
                if (!fam.type.isEmpty() || !fam.samples.isEmpty())
                    return where + "TYPE repeated or after samples";
                fam.type = parts[3];
            } else {
                if (!fam.help.isEmpty())
                    return where + "HELP repeated";
                fam.help = line.section(' ', 3);
            }
            continue;
        }
        // name{labels} value
        int i = 0;
        while (i < line.size() && line[i] != '{' && line[i] != ' ')
            ++i;
        PromSample s;
        s.name = line.left(i);
        if (!metricName.match(s.name).hasMatch())
            return where + "bad metric name";
        if (i < line.size() && line[i] == '{') {
            ++i;
            while (i < line.size() && line[i] != '}') {
                int eq = line.indexOf('=', i);
                if (eq < 0)
                    return where + "label without =";
                const QString ln = line.mid(i, eq - i);
                if (!labelName.match(ln).hasMatch())
                    return where + "bad label name " + ln;
                if (eq + 1 >= line.size() || line[eq + 1] != '"')
                    return where + "label value not quoted";
                QString value;
                int j = eq + 2;
                for (; j < line.size() && line[j] != '"'; ++j) {
                    if (line[j] == '\\') {
                        if (++j >= line.size())
                            return where + "dangling escape";
                        if (line[j] == 'n')
                            value += '\n';
                        else if (line[j] == '\\' || line[j] == '"')
                            value += line[j];
                        else
                            return where + "bad escape";
                    } else {
                        value += line[j];
                    }
                }
                if (j >= line.size())
                    return where + "unterminated label value";
                if (s.labels.contains(ln))
                    return where + "label repeated";
                s.labels.insert(ln, value);
                i = j + 1;
                if (i < line.size() && line[i] == ',')
                    ++i;
                else if (i >= line.size() || line[i] != '}')
                    return where + "expected , or }";
            }
            if (i >= line.size())
                return where + "unterminated label set";
            ++i;
        }
        if (i >= line.size() || line[i] != ' ')
            return where + "expected a space before the value";
        const QStringList rest = line.mid(i + 1).split(' ');
        if (rest.isEmpty() || rest.size() > 2 || !parseValue(rest[0], &s.value))
            return where + "bad value";
        const QString fam = familyOf(s.name, *families);
        if (fam != current) {
            if (finished.contains(fam))
                return where + "samples of " + fam + " are not contiguous";
            if (!current.isEmpty())
                finished.insert(current);
            current = fam;
        }
        auto &family = (*families)[fam];
        if (family.type == "histogram" && s.name.endsWith("_bucket") && !s.labels.contains("le"))
            return where + "bucket without le";
        family.samples.append(s);
    }
    // Histograms: per label set, buckets sorted by le, cumulative, +Inf last and equal to _count.
    for (auto it = families->begin(); it != families->end(); ++it) {
        if (it->type != "histogram")
            continue;
        QMap<QString, QList<QPair<double, double>>> buckets;
        QMap<QString, double> counts;
        for (const auto &s : it->samples) {
            auto labels = s.labels;
            labels.remove("le");
            QStringList key;
            for (auto l = labels.begin(); l != labels.end(); ++l)
                key << l.key() + "=" + l.value();
            if (s.name.endsWith("_bucket")) {
                double le = 0;
                if (!parseValue(s.labels.value("le"), &le))
                    return it.key() + ": bad le " + s.labels.value("le");
                buckets[key.join(',')].append({le, s.value});
            } else if (s.name.endsWith("_count")) {
                counts[key.join(',')] = s.value;
            }
        }
        for (auto b = buckets.begin(); b != buckets.end(); ++b) {
            for (int k = 1; k < b->size(); ++k) {
                if (b->at(k).first <= b->at(k - 1).first || b->at(k).second < b->at(k - 1).second)
                    return it.key() + "{" + b.key() + "}: buckets not sorted or not cumulative";
            }
            if (b->isEmpty() || !std::isinf(b->last().first))
                return it.key() + "{" + b.key() + "}: no +Inf bucket";
            if (!counts.contains(b.key()) || counts.value(b.key()) != b->last().second)
                return it.key() + "{" + b.key() + "}: +Inf bucket differs from _count";
        }
    }
    return {};
}

double sumOf(const PromFamily &f, const QString &sampleName, const QMap<QString, QString> &match = {})
{
    double total = 0;
    for (const auto &s : f.samples) {
        if (s.name != sampleName)
            continue;
        bool ok = true;
        for (auto it = match.begin(); it != match.end(); ++it)
            ok = ok && s.labels.value(it.key()) == it.value();
        if (ok)
            total += s.value;
    }
    return total;
}

QList<QJsonObject> readJsonLines(const QString &path)
{
    QList<QJsonObject> out;
    QFile f(path);
    if (!f.open(QIODevice::ReadOnly))
        return out;
    for (const QByteArray &line : f.readAll().split('\n')) {
        if (!line.isEmpty())
            out.append(QJsonDocument::fromJson(line).object());
    }
    return out;
}

class Telemetry : public ::testing::Test
{
protected:
    void SetUp() override
    {
        if (!Dnsmasq::available())
            GTEST_SKIP() << "dnsmasq is not installed (scripts/test installs it)";
        Dnsmasq::Options dnsOpts;
        dnsOpts.localTtl = 300;
        dns = std::make_unique<Dnsmasq>(dnsOpts);
        ASSERT_TRUE(dns->start()) << dns->describe();
        ASSERT_TRUE(dns->setHost("httpbin.test", {QHostAddress("127.0.0.1")}));
        origin = std::make_unique<OriginProcess>();
        ASSERT_TRUE(origin->start()) << origin->describe();
    }

    // Starts dfproxy with `accessLog` as logging.accessLog (the support class writes the rest of the config).
    void startProxy(QJsonObject accessLog)
    {
        DfproxyProcess::Options p;
        p.dnsServers = {dns->address().toString()};
        proxy = std::make_unique<DfproxyProcess>(p);
        ASSERT_TRUE(proxy->start()) << proxy->describe().toStdString();
        logPath = proxy->dir().filePath("logs/access.log");
        if (!accessLog.contains("path"))
            accessLog.insert("path", logPath);
        QFile f(proxy->configPath());
        ASSERT_TRUE(f.open(QIODevice::ReadOnly));
        QJsonObject config = QJsonDocument::fromJson(f.readAll()).object();
        f.close();
        config.insert("logging", QJsonObject{{"accessLog", accessLog}});
        ASSERT_TRUE(proxy->dir().writeFile("config.json", QJsonDocument(config).toJson()));
        ASSERT_TRUE(proxy->restart()) << proxy->describe().toStdString();
        const auto r = proxy->ctl({"apply", "-f", "-"}, kManifests);
        ASSERT_EQ(r.exitCode, 0) << r.err.toStdString();
    }

    CurlResult request(const QString &path = QStringLiteral("/"))
    {
        return curl({"-H", QStringLiteral("host: httpbin.test:%1").arg(origin->port()), proxy->proxyUrl(path)});
    }

    CurlResult admin(const QString &path)
    {
        return proxy->apiGet(path);
    }

    std::unique_ptr<Dnsmasq> dns;
    std::unique_ptr<OriginProcess> origin;
    std::unique_ptr<DfproxyProcess> proxy;
    QString logPath;
};

} // namespace

TEST_F(Telemetry, ARequestWithoutARouteKeepsThePortItsHostHeaderNamed)
{
    startProxy({{"enabled", true}, {"format", "json"}});
    const auto r = proxy->ctl({"delete", "httproute", "dfp-httproute", "-n", "httpbin"});
    ASSERT_EQ(r.exitCode, 0) << r.err.toStdString();
    // The console copies such a record as a curl command: without the port it would ask another origin.
    ASSERT_EQ(request("/get").status, 404);
    ASSERT_EQ(curl({"-H", "host: other.test", proxy->proxyUrl("/")}).status, 404);
    ASSERT_TRUE(waitUntil([&] { return readJsonLines(logPath).size() >= 2; }, 10000)) << logPath.toStdString();
    const auto lines = readJsonLines(logPath);
    EXPECT_EQ(lines[0].value("reason").toString(), "route_not_found");
    EXPECT_EQ(lines[0].value("host").toString(), "httpbin.test");
    EXPECT_EQ(lines[0].value("port").toInt(), origin->port());
    EXPECT_EQ(lines[0].value("path").toString(), "/get");
    EXPECT_EQ(lines[1].value("port").toInt(), 0) << "a Host header without a port names none";
}

TEST_F(Telemetry, EveryRequestIsAJsonLineInTheAccessLogFile)
{
    startProxy({{"enabled", true}, {"format", "json"}});
    ASSERT_EQ(request("/headers").status, 200);
    ASSERT_EQ(request("/status/418").status, 418);
    ASSERT_TRUE(waitUntil([&] { return readJsonLines(logPath).size() >= 2; }, 10000)) << logPath.toStdString();
    const auto lines = readJsonLines(logPath);
    ASSERT_EQ(lines.size(), 2);
    const auto &first = lines[0];
    EXPECT_EQ(first.value("status").toInt(), 200);
    EXPECT_EQ(first.value("method").toString(), "GET");
    EXPECT_EQ(first.value("host").toString(), "httpbin.test");
    EXPECT_EQ(first.value("port").toInt(), origin->port());
    EXPECT_EQ(first.value("path").toString(), "/headers");
    EXPECT_EQ(first.value("clientAddress").toString(), "127.0.0.1");
    EXPECT_EQ(first.value("resolvedAddress").toString(), "127.0.0.1");
    EXPECT_TRUE(first.value("route").toString().startsWith("httpbin/dfp-httproute")) << qPrintable(first.value("route").toString());
    EXPECT_EQ(first.value("backend").toString(), "httpbin/dfp-backend");
    EXPECT_EQ(first.value("gateway").toString(), "agentgateway-system/agentgateway-proxy");
    EXPECT_GT(first.value("bytesOut").toInt(), 0);
    EXPECT_FALSE(first.value("dnsCacheHit").toBool());
    for (const char *key : {"time", "identity", "decision", "reason", "totalMs", "dnsMs", "connectMs", "upstreamMs",
                            "bytesIn"})
        EXPECT_TRUE(first.contains(key)) << key;
    EXPECT_EQ(lines[1].value("status").toInt(), 418);
    EXPECT_TRUE(lines[1].value("dnsCacheHit").toBool());
    EXPECT_GT(lines[1].value("seq").toInt(), first.value("seq").toInt());
}

TEST_F(Telemetry, EnvoyFormatGoesToTheFileAndToStdout)
{
    startProxy({{"enabled", true}, {"format", "envoy"}, {"stdout", true}});
    ASSERT_EQ(request("/headers").status, 200);
    const QRegularExpression line(QStringLiteral(
        R"(^\[\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z\] "GET /headers HTTP/1\.1" 200 - 0 \d+ \d+ \d+ "-" "-" "-" )"
        R"("httpbin\.test:%1" "127\.0\.0\.1:%1" \{"pid":\d+,"process":"curl",.*\}$)").arg(origin->port()));
    QByteArray file;
    ASSERT_TRUE(waitUntil([&] {
        QFile f(logPath);
        file = f.open(QIODevice::ReadOnly) ? f.readAll() : QByteArray();
        return file.endsWith('\n');
    }, 10000));
    EXPECT_TRUE(line.match(QString::fromUtf8(file.trimmed())).hasMatch()) << file.constData();
    ASSERT_TRUE(waitUntil([&] { return proxy->process()->stdoutData().contains("\"GET /headers HTTP/1.1\" 200"); },
                          10000))
        << proxy->process()->stdoutData().constData();
}

TEST_F(Telemetry, AccessLogFileRotatesBySizeAndKeepsMaxFiles)
{
    startProxy({{"enabled", true}, {"maxSizeBytes", 700}, {"maxFiles", 2}});
    for (int i = 0; i < 12; ++i)
        ASSERT_EQ(request().status, 200);
    ASSERT_TRUE(waitUntil([&] { return QFile::exists(logPath + ".2"); }, 10000));
    spinFor(200);
    EXPECT_TRUE(QFile::exists(logPath));
    EXPECT_TRUE(QFile::exists(logPath + ".1"));
    EXPECT_FALSE(QFile::exists(logPath + ".3"));
    EXPECT_LE(QFileInfo(logPath + ".1").size(), 700);
    for (const auto &o : readJsonLines(logPath + ".1"))
        EXPECT_EQ(o.value("status").toInt(), 200);
}

TEST_F(Telemetry, MetricsAreValidPrometheusTextAndCountTheRequests)
{
    startProxy({{"enabled", false}});
    constexpr int kOk = 3;
    for (int i = 0; i < kOk; ++i)
        ASSERT_EQ(request().status, 200);
    ASSERT_EQ(request("/status/404").status, 404);
    const auto noToken = curl({proxy->adminUrl("/metrics")});
    EXPECT_EQ(noToken.status, 401);

    // Metrics are counted on the worker threads right after the response: poll until they are all there.
    QMap<QString, PromFamily> families;
    CurlResult r;
    ASSERT_TRUE(waitUntil([&] {
        r = admin("/metrics");
        families.clear();
        return r.status == 200 && parseExposition(r.body, &families).isEmpty()
               && sumOf(families.value("dfproxy_requests_total"), "dfproxy_requests_total") >= kOk + 1;
    }, 10000)) << r.describe().toStdString() << parseExposition(r.body, &families).toStdString();
    EXPECT_TRUE(r.header("content-type").startsWith("text/plain; version=0.0.4")) << qPrintable(r.header("content-type"));

    const auto &requests = families.value("dfproxy_requests_total");
    EXPECT_EQ(requests.type, "counter");
    EXPECT_EQ(sumOf(requests, "dfproxy_requests_total", {{"code", "200"}, {"backend", "httpbin/dfp-backend"}}), kOk);
    EXPECT_EQ(sumOf(requests, "dfproxy_requests_total", {{"code", "404"}}), 1);
    const auto &duration = families.value("dfproxy_request_duration_seconds");
    EXPECT_EQ(duration.type, "histogram");
    EXPECT_EQ(sumOf(duration, "dfproxy_request_duration_seconds_count"), kOk + 1);
    // Only the first request's name was not in the cache.
    const auto &dnsWait = families.value("dfproxy_dns_wait_duration_seconds");
    EXPECT_EQ(dnsWait.type, "histogram");
    EXPECT_EQ(sumOf(dnsWait, "dfproxy_dns_wait_duration_seconds_count"), 1);
    EXPECT_EQ(sumOf(families.value("dfproxy_destination_requests_total"), "dfproxy_destination_requests_total",
                    {{"host", "httpbin.test"}}),
              kOk + 1);
    EXPECT_GT(sumOf(families.value("dfproxy_downstream_bytes_total"), "dfproxy_downstream_bytes_total",
                    {{"direction", "sent"}}),
              0);
    EXPECT_EQ(families.value("dfproxy_connect_tunnels_active").type, "gauge");
    EXPECT_EQ(families.value("dfproxy_downstream_connections_active").type, "gauge");
    EXPECT_EQ(families.value("dfproxy_authz_decisions_total").type, "counter");
    EXPECT_EQ(families.value("dfproxy_ratelimit_decisions_total").type, "counter");
    EXPECT_GE(sumOf(families.value("dfproxy_dns_cache_hit"), "dfproxy_dns_cache_hit"), kOk);
    EXPECT_EQ(sumOf(families.value("dfproxy_dns_num_hosts"), "dfproxy_dns_num_hosts"), 1);
    EXPECT_EQ(families.value("dfproxy_build_info").samples.size(), 1);

    // The JSON twin for the GUI.
    const auto json = admin("/api/v1/metrics");
    ASSERT_EQ(json.status, 200);
    const auto obj = QJsonDocument::fromJson(json.body).object();
    EXPECT_EQ(obj.value("dfproxy_requests_total").toObject().value("type").toString(), "counter");
}

TEST_F(Telemetry, RecentRecordsAreServedByTheAdminApi)
{
    startProxy({{"enabled", false}});
    ASSERT_EQ(request("/headers").status, 200);
    ASSERT_EQ(request("/status/201").status, 201);
    QJsonArray items;
    ASSERT_TRUE(waitUntil([&] {
        const auto r = admin("/api/v1/accesslog?limit=1");
        items = QJsonDocument::fromJson(r.body).object().value("items").toArray();
        return r.status == 200 && items.size() == 1 && items[0].toObject().value("status").toInt() == 201;
    }, 10000));
    const auto all = admin("/api/v1/accesslog?after=0");
    EXPECT_EQ(QJsonDocument::fromJson(all.body).object().value("items").toArray().size(), 2);
    EXPECT_EQ(admin("/api/v1/accesslog?limit=x").status, 400);
}

TEST_F(Telemetry, TheEventStreamDeliversARequestMadeAfterSubscribing)
{
    startProxy({{"enabled", false}});
    EXPECT_EQ(curl({proxy->adminUrl("/api/v1/accesslog/stream")}).status, 401);
    ASSERT_EQ(request("/headers?x=before").status, 200);
    // Subscribing only after the earlier record is in the ring makes "only new records" deterministic.
    ASSERT_TRUE(waitUntil([&] { return admin("/api/v1/accesslog?limit=1").body.contains("x=before"); }, 10000));

    QProcess sse;
    QByteArray received;
    QObject::connect(&sse, &QProcess::readyReadStandardOutput, [&] { received += sse.readAllStandardOutput(); });
    sse.start("curl", {"-q", "-sS", "-N", "-i", "--max-time", "30", "-H",
                       proxy->authorization(),
                       proxy->adminUrl("/api/v1/accesslog/stream")});
    ASSERT_TRUE(waitUntil([&] { return received.contains(": dfproxy access log"); }, 10000)) << received.constData();
    EXPECT_TRUE(received.toLower().contains("content-type: text/event-stream")) << received.constData();

    ASSERT_EQ(request("/headers?x=after").status, 200);
    const bool got = waitUntil([&] { return received.contains("\"path\":\"/headers?x=after\""); }, 10000);
    sse.kill();
    sse.waitForFinished();
    ASSERT_TRUE(got) << received.constData();
    EXPECT_FALSE(received.contains("\"path\":\"/headers?x=before\"")) << "a new subscriber sees only new records";
    const QByteArray body = received.mid(received.indexOf("\r\n\r\n") + 4);
    const int dataAt = body.indexOf("data: ");
    ASSERT_GE(dataAt, 0);
    const QByteArray event = body.mid(dataAt + 6, body.indexOf("\n\n", dataAt) - dataAt - 6);
    EXPECT_EQ(QJsonDocument::fromJson(event).object().value("status").toInt(), 200) << event.constData();

    // The client left: the service goes on serving (no write to a dead socket) and the API still answers.
    ASSERT_EQ(request("/headers?x=later").status, 200);
    spinFor(300);
    EXPECT_EQ(admin("/api/v1/accesslog?limit=1").status, 200);

    // The stream stops following the writer when its last client is gone; a new subscriber starts it again.
    QProcess again;
    QByteArray second;
    QObject::connect(&again, &QProcess::readyReadStandardOutput, [&] { second += again.readAllStandardOutput(); });
    again.start("curl", {"-q", "-sS", "-N", "--max-time", "30", "-H",
                         proxy->authorization(),
                         proxy->adminUrl("/api/v1/accesslog/stream")});
    ASSERT_TRUE(waitUntil([&] { return second.contains(": dfproxy access log"); }, 10000)) << second.constData();
    ASSERT_EQ(request("/headers?x=second").status, 200);
    const bool gotSecond = waitUntil([&] { return second.contains("\"path\":\"/headers?x=second\""); }, 10000);
    again.kill();
    again.waitForFinished();
    EXPECT_TRUE(gotSecond) << second.constData();
}

// A bad logging block does not stop the start (docs/admin-api.md, "Persistence and reload"): with no good backup
// dfproxy runs on an empty config (no listener) and logs the field path.
TEST_F(Telemetry, InvalidLoggingSettingsAreRefusedWithTheFieldPath)
{
    DfproxyProcess::Options p;
    p.dnsServers = {dns->address().toString()};
    proxy = std::make_unique<DfproxyProcess>(p);
    ASSERT_TRUE(proxy->start()) << proxy->describe().toStdString();
    QFile f(proxy->configPath());
    ASSERT_TRUE(f.open(QIODevice::ReadOnly));
    QJsonObject config = QJsonDocument::fromJson(f.readAll()).object();
    f.close();
    config.insert("logging", QJsonObject{{"accessLog", QJsonObject{{"format", "xml"}}}});
    ASSERT_TRUE(proxy->dir().writeFile("config.json", QJsonDocument(config).toJson()));
    EXPECT_FALSE(proxy->restart(3000)); // the admin API comes up, the proxy listener does not
    EXPECT_TRUE(proxy->process()->isRunning()) << proxy->describe().toStdString();
    EXPECT_TRUE(proxy->describe().contains("logging.accessLog.format")) << proxy->describe().toStdString();
    EXPECT_TRUE(proxy->describe().contains("starting with an empty configuration")) << proxy->describe().toStdString();
}
