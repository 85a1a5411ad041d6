// SPDX-License-Identifier: Apache-2.0
#include "fuzzentries.h"

#include "api/apitypes.h"
#include "config/config.h"
#include "config/configstore.h"
#include "config/validation.h"
#include "config/yaml.h"
#include "dns/dnsmessage.h"
#include "http/httpparser.h"
#include "routing/routetable.h"

#include <QDir>
#include <QFile>
#include <QJsonDocument>
#include <QJsonObject>
#include <QRegularExpression>
#include <QTemporaryDir>

#include <cstdio>
#include <cstdlib>

#ifdef DFPROXY_HAVE_LLHTTP
#include <llhttp.h>
#endif

namespace dfproxy::fuzz {

namespace {

/// A logic bug (not a memory error): print why and abort, so libFuzzer saves the input.
void fuzzCheck(bool ok, const char *what)
{
    if (!ok) {
        std::fprintf(stderr, "fuzz invariant violated: %s\n", what);
        std::abort();
    }
}

/// What a parser made of a byte stream: each message's head and body, and how it ended.
struct Framing : http::BodyHandler
{
    struct Message
    {
        QByteArray method, target;
        int status = 0;
        qint64 contentLength = -1;
        bool chunked = false;
        QByteArray body;
        bool complete = false;
    };
    QList<Message> messages;
    int errorStatus = 0;
    bool upgraded = false;
    void onBody(const char *data, qsizetype size) override
    {
        fuzzCheck(!messages.isEmpty(), "body bytes before a head");
        fuzzCheck(size >= 0, "negative body size");
        messages.last().body.append(data, size);
    }
};

/// Feeds `input` in pieces of `step` bytes (0: all at once), the way DownstreamConnection does: unconsumed bytes
/// are kept and offered again with the next piece.
Framing frame(const QByteArray &input, http::HttpParser::Kind kind, qsizetype step, bool expectNoBody)
{
    Framing out;
    http::HttpParser parser(kind, http::ParserLimits{4096, 1024});
    parser.setBodyHandler(&out);
    parser.setExpectNoBody(expectNoBody);
    QByteArray pending;
    qsizetype pos = 0;
    int spins = 0;
    for (;;) {
        if (pos < input.size()) {
            const qsizetype n = step > 0 ? std::min(step, input.size() - pos) : input.size() - pos;
            pending.append(input.constData() + pos, n);
            pos += n;
        }
        http::HttpParser::Stop stop = http::HttpParser::Stop::NeedMore;
        const qsizetype used = parser.feed(pending.constData(), pending.size(), &stop);
        fuzzCheck(used >= 0 && used <= pending.size(), "feed consumed more than it was given");
        pending.remove(0, used);
        if (stop == http::HttpParser::Stop::Error) {
            out.errorStatus = parser.error().status;
            fuzzCheck(out.errorStatus >= 400 && out.errorStatus <= 599, "error without a 4xx/5xx status");
            fuzzCheck(!parser.error().reason.isEmpty(), "error without a reason");
            return out;
        }
        if (stop == http::HttpParser::Stop::Head) {
            const http::MessageHead &h = parser.head();
            Framing::Message m;
            m.method = h.method;
            m.target = h.target;
            m.status = h.status;
            m.contentLength = h.contentLength;
            m.chunked = h.chunked;
            fuzzCheck(!(h.chunked && h.contentLength >= 0), "both chunked and Content-Length accepted");
            out.messages.append(m);
            if (h.upgrade && kind == http::HttpParser::Kind::Request) {
                out.upgraded = true; // CONNECT / Upgrade: the rest is tunnel bytes, not HTTP
                return out;
            }
            spins = 0;
            continue;
        }
        if (stop == http::HttpParser::Stop::Complete) {
            fuzzCheck(!out.messages.isEmpty(), "message complete without a head");
            Framing::Message &m = out.messages.last();
            fuzzCheck(!m.complete, "message completed twice");
            m.complete = true;
            // Responses to HEAD and 1xx, 204, 304 have no body whatever their Content-Length says.
            const bool bodiless = expectNoBody
                || (kind == http::HttpParser::Kind::Response
                    && (m.status == 204 || m.status == 304 || (m.status >= 100 && m.status < 200)));
            if (m.contentLength >= 0 && !m.chunked && !bodiless)
                fuzzCheck(m.body.size() == m.contentLength, "body length differs from Content-Length");
            if (kind == http::HttpParser::Kind::Response)
                parser.setExpectNoBody(expectNoBody);
            spins = 0;
            continue;
        }
        // NeedMore: everything offered must have been taken, else the caller would spin.
        if (pos >= input.size()) {
            if (used == 0 || pending.isEmpty()) {
                if (++spins > 2)
                    break;
                if (pending.isEmpty())
                    break;
            }
        }
    }
    const http::HttpParser::Stop eof = parser.feedEof();
    if (eof == http::HttpParser::Stop::Complete && !out.messages.isEmpty())
        out.messages.last().complete = true;
    else if (eof == http::HttpParser::Stop::Error)
        out.errorStatus = parser.error().status;
    return out;
}

/// The messages both framings completed must be the same: a proxy that frames differently depending on how
/// TCP split the bytes is open to request smuggling.
void compareFramings(const Framing &a, const Framing &b)
{
    qsizetype n = 0;
    for (; n < a.messages.size() && n < b.messages.size(); ++n) {
        const auto &x = a.messages[n];
        const auto &y = b.messages[n];
        if (!x.complete || !y.complete)
            break;
        fuzzCheck(x.method == y.method && x.target == y.target && x.status == y.status, "split changed a head");
        fuzzCheck(x.body == y.body, "split changed a body");
    }
    const auto completed = [](const Framing &f) {
        qsizetype c = 0;
        for (const auto &m : f.messages)
            c += m.complete ? 1 : 0;
        return c;
    };
    // Errors may be found at different points (limits are checked per piece), but one framing must never see a
    // complete message the other rejected before reaching it as a different message.
    if (a.errorStatus == 0 && b.errorStatus == 0)
        fuzzCheck(completed(a) == completed(b), "split changed the number of messages");
}

#ifdef DFPROXY_HAVE_LLHTTP
/// llhttp's framing of the same requests (strict mode; tests/CMakeLists.txt builds it from node-llhttp).
Framing llhttpFrame(const QByteArray &input)
{
    Framing out;
    llhttp_settings_t settings;
    llhttp_settings_init(&settings);
    settings.on_message_begin = [](llhttp_t *p) {
        static_cast<Framing *>(p->data)->messages.append(Framing::Message());
        return 0;
    };
    settings.on_headers_complete = [](llhttp_t *p) {
        auto *f = static_cast<Framing *>(p->data);
        f->messages.last().method = llhttp_method_name(static_cast<llhttp_method_t>(p->method));
        return 0;
    };
    settings.on_body = [](llhttp_t *p, const char *at, size_t n) {
        static_cast<Framing *>(p->data)->messages.last().body.append(at, qsizetype(n));
        return 0;
    };
    settings.on_message_complete = [](llhttp_t *p) {
        static_cast<Framing *>(p->data)->messages.last().complete = true;
        return 0;
    };
    llhttp_t parser;
    llhttp_init(&parser, HTTP_REQUEST, &settings);
    parser.data = &out;
    const llhttp_errno_t err = llhttp_execute(&parser, input.constData(), size_t(input.size()));
    out.upgraded = err == HPE_PAUSED_UPGRADE;
    out.errorStatus = err == HPE_OK || out.upgraded ? 0 : 400;
    return out;
}

/// Where both parsers completed a request, they must have read the same request: same method, same body. A
/// disagreement on where a message ends is a desync (request smuggling) between dfproxy and an llhttp-based origin.
/// Accept/reject disagreements are not checked here: some are intended (llhttp_differential_test.cpp lists them).
void compareWithLlhttp(const Framing &ours, const QByteArray &input)
{
    const Framing theirs = llhttpFrame(input);
    for (qsizetype n = 0; n < ours.messages.size() && n < theirs.messages.size(); ++n) {
        const auto &x = ours.messages[n];
        const auto &y = theirs.messages[n];
        if (!x.complete || !y.complete)
            break;
        fuzzCheck(x.method == y.method, "llhttp read another method");
        fuzzCheck(x.body == y.body, "llhttp read another body");
    }
}
#endif

int fuzzHttp(const uint8_t *data, size_t size, http::HttpParser::Kind kind)
{
    if (size < 1)
        return 0;
    const uint8_t ctl = data[0];
    const QByteArray input(reinterpret_cast<const char *>(data + 1), qsizetype(size - 1));
    const bool noBody = kind == http::HttpParser::Kind::Response && (ctl & 0x80);
    const qsizetype step = (ctl & 0x7f) % 17 + 1;
    const Framing whole = frame(input, kind, 0, noBody);
    const Framing split = frame(input, kind, step, noBody);
    compareFramings(whole, split);
#ifdef DFPROXY_HAVE_LLHTTP
    if (kind == http::HttpParser::Kind::Request)
        compareWithLlhttp(whole, input);
#endif
    return 0;
}

/// Routes, hostnames and matches of every kind the matcher knows, so the fuzzer reaches all its branches.
const char *const kRouteConfig = R"json({"resources": [
 {"apiVersion": "gateway.networking.k8s.io/v1", "kind": "Gateway", "metadata": {"name": "gw", "namespace": "gw"},
  "spec": {"gatewayClassName": "agentgateway", "listeners": [
    {"name": "http", "protocol": "HTTP", "port": 8080},
    {"name": "named", "protocol": "HTTP", "port": 8081, "hostname": "*.example.test"}]}},
 {"apiVersion": "agentgateway.dev/v1alpha1", "kind": "AgentgatewayBackend",
  "metadata": {"name": "dfp", "namespace": "r"}, "spec": {"dynamicForwardProxy": {}}},
 {"apiVersion": "agentgateway.dev/v1alpha1", "kind": "AgentgatewayBackend",
  "metadata": {"name": "other", "namespace": "r"}, "spec": {"dynamicForwardProxy": {}}},
 {"apiVersion": "gateway.networking.k8s.io/v1", "kind": "HTTPRoute", "metadata": {"name": "exact", "namespace": "r"},
  "spec": {"parentRefs": [{"name": "gw", "namespace": "gw"}], "hostnames": ["api.example.test"],
   "rules": [
    {"matches": [{"path": {"type": "Exact", "value": "/exact"}, "method": "POST"}],
     "backendRefs": [{"name": "dfp", "group": "agentgateway.dev", "kind": "AgentgatewayBackend"}]},
    {"matches": [{"path": {"type": "PathPrefix", "value": "/api/v1"},
                  "headers": [{"name": "X-Env", "value": "prod"},
                              {"type": "RegularExpression", "name": "x-id", "value": "[0-9]{1,6}"}],
                  "queryParams": [{"name": "debug", "value": "1"},
                                  {"type": "RegularExpression", "name": "q", "value": "^a.*z$"}]}],
     "filters": [{"type": "URLRewrite",
                  "urlRewrite": {"path": {"type": "ReplacePrefixMatch", "replacePrefixMatch": "/v2"}}}],
     "backendRefs": [{"name": "dfp", "weight": 3}, {"name": "other", "weight": 1}]}]}},
 {"apiVersion": "gateway.networking.k8s.io/v1", "kind": "HTTPRoute", "metadata": {"name": "wild", "namespace": "r"},
  "spec": {"parentRefs": [{"name": "gw", "namespace": "gw"}], "hostnames": ["*.example.test", "*.test"],
   "rules": [
    {"matches": [{"path": {"type": "RegularExpression", "value": "/re/(a|b)+/[^/]*"}}],
     "filters": [{"type": "RequestRedirect", "requestRedirect": {"scheme": "https", "statusCode": 301}}]},
    {"matches": [{"path": {"type": "PathPrefix", "value": "/"}}],
     "filters": [{"type": "RequestHeaderModifier", "requestHeaderModifier": {"set": [{"name": "x-a", "value": "1"}]}}],
     "backendRefs": [{"name": "other"}]}]}},
 {"apiVersion": "gateway.networking.k8s.io/v1", "kind": "HTTPRoute", "metadata": {"name": "any", "namespace": "r"},
  "spec": {"parentRefs": [{"name": "gw", "namespace": "gw", "sectionName": "http"}],
   "rules": [{"backendRefs": [{"name": "dfp"}]}]}}
]})json";

std::shared_ptr<const routing::RouteTable> routeTable()
{
    static const std::shared_ptr<const routing::RouteTable> table = [] {
        QList<config::FieldError> errors;
        const config::Config c = config::Config::fromJsonText(kRouteConfig, &errors);
        fuzzCheck(errors.isEmpty(), "the fixed route config does not parse");
        return routing::RouteTable::build(c);
    }();
    return table;
}

/// Splits at the first `sep` from `*pos`.
QByteArray takeField(const QByteArray &input, qsizetype *pos, char sep)
{
    if (*pos >= input.size())
        return {};
    qsizetype end = input.indexOf(sep, *pos);
    if (end < 0)
        end = input.size();
    QByteArray field = input.mid(*pos, end - *pos);
    *pos = end + 1;
    return field;
}

} // namespace

int fuzzHttpRequest(const uint8_t *data, size_t size)
{
    return fuzzHttp(data, size, http::HttpParser::Kind::Request);
}

int fuzzHttpResponse(const uint8_t *data, size_t size)
{
    return fuzzHttp(data, size, http::HttpParser::Kind::Response);
}

int fuzzRouteMatch(const uint8_t *data, size_t size)
{
    if (size < 1 || size > 4096)
        return 0;
    const uint8_t ctl = data[0];
    const QByteArray input(reinterpret_cast<const char *>(data + 1), qsizetype(size - 1));
    // Lines: method, path, query, host, listener, then "name: value" headers.
    qsizetype pos = 0;
    // RequestInfo views a request: these hold what it points at.
    const QByteArray method = takeField(input, &pos, '\n');
    const QByteArray path = takeField(input, &pos, '\n');
    const QByteArray query = takeField(input, &pos, '\n');
    const QByteArray host = takeField(input, &pos, '\n');
    const QString listenerName = QString::fromUtf8(takeField(input, &pos, '\n'));
    routing::RequestInfo req;
    req.gatewayNamespace = "gw";
    req.gatewayName = (ctl & 1) ? QStringLiteral("gw") : QStringLiteral("missing");
    req.method = method;
    req.path = path;
    req.query = query;
    req.host = host;
    req.listenerName = listenerName;
    routing::HeaderList headers;
    while (pos < input.size()) {
        const QByteArray line = takeField(input, &pos, '\n');
        const qsizetype colon = line.indexOf(':');
        if (colon < 0)
            headers.append({line, QByteArray()});
        else
            headers.append({line.left(colon), line.mid(colon + 1).trimmed()});
    }
    req.headers = (ctl & 2) ? &headers : nullptr;
    const double random = double(ctl >> 2) / 64.0; // [0, 1)
    const auto match = routeTable()->match(req, random);
    if (match) {
        fuzzCheck(match->ruleIndex >= 0, "a match without a rule");
        fuzzCheck(match->backend || match->redirect || match->routeName == "wild" || match->routeName == "exact" ||
                      match->routeName == "any",
                  "a match from an unknown route");
    }
    return 0;
}

namespace {

// Written apart from the validator on purpose: whatever it accepts must hold no control character in a string
// that can reach the wire (keys included). TAB only in header values; annotations are the one free-text field.
bool onlyWireSafeStrings(const QJsonValue &v, const QString &path)
{
    static const QRegularExpression headerValue(
        QStringLiteral("(HeaderModifier\\.(set|add)|\\.headers)\\[\\d+\\]\\.value$"));
    static const QRegularExpression annotation(
        QStringLiteral("^resources\\[\\d+\\]\\.metadata\\.annotations\\."));
    auto safe = [](const QString &s, bool tab) {
        for (const QChar c : s) {
            if ((c.unicode() < 0x20 && !(tab && c == u'\t')) || c.unicode() == 0x7f)
                return false;
        }
        return true;
    };
    if (v.isString())
        return annotation.match(path).hasMatch() || safe(v.toString(), headerValue.match(path).hasMatch());
    if (v.isArray()) {
        const QJsonArray a = v.toArray();
        for (qsizetype i = 0; i < a.size(); ++i) {
            if (!onlyWireSafeStrings(a[i], path + u'[' + QString::number(i) + u']'))
                return false;
        }
    }
    if (v.isObject()) {
        const QJsonObject o = v.toObject();
        for (auto it = o.begin(); it != o.end(); ++it) {
            const QString p = path.isEmpty() ? it.key() : path + u'.' + it.key();
            if (!safe(it.key(), false) || !onlyWireSafeStrings(it.value(), p))
                return false;
        }
    }
    return true;
}

} // namespace

int fuzzConfig(const uint8_t *data, size_t size)
{
    if (size > 64 * 1024)
        return 0;
    const QByteArray text(reinterpret_cast<const char *>(data), qsizetype(size));
    config::YamlError yamlError;
    const auto docs = config::parseYamlDocuments(text, &yamlError);
    if (!docs) {
        fuzzCheck(!yamlError.message.isEmpty(), "YAML rejected without a message");
        return 0;
    }
    // Each document as a whole config, and all of them as the resources of one config.
    QJsonArray resources;
    for (const QJsonValue &doc : *docs) {
        if (!doc.isObject())
            continue;
        resources.append(doc);
        QList<config::FieldError> errors;
        const config::Config c = config::Config::fromJson(doc.toObject(), &errors);
        if (errors.isEmpty() && config::validateConfig(c).isEmpty()) {
            fuzzCheck(onlyWireSafeStrings(c.toJson(), {}), "the validator accepted a control character");
            routing::RouteTable::build(c);
        }
        // What we would render must read back (the admin API exports YAML).
        config::YamlError again;
        fuzzCheck(config::parseYamlDocuments(config::toYaml(doc), &again).has_value(), "toYaml output does not parse");
    }
    QList<config::FieldError> errors;
    const config::Config all = config::Config::fromJson(QJsonObject{{"resources", resources}}, &errors);
    const bool valid = config::validateConfig(all).isEmpty();
    if (errors.isEmpty() && valid)
        fuzzCheck(onlyWireSafeStrings(all.toJson(), {}), "the validator accepted a control character");
    routing::RouteTable::build(all); // build never throws and skips invalid parts, so feed it unvalidated too
    return 0;
}

int fuzzAdminApply(const uint8_t *data, size_t size)
{
    if (size < 1 || size > 64 * 1024)
        return 0;
    static const char *const kTypes[] = {"application/json", "application/yaml", "", "application/merge-patch+json",
                                         "text/yaml",        "text/plain"};
    static QTemporaryDir dir(QDir::tempPath() + QStringLiteral("/dfproxy-fuzz-XXXXXX"));
    static const QString path = dir.path() + QStringLiteral("/config.json");
    static const QByteArray baseConfig = [] {
        QList<config::FieldError> errors;
        return QJsonDocument(config::Config::fromJsonText(kRouteConfig, &errors).toJson()).toJson();
    }();
    admin::ApiRequest req;
    req.method = "POST";
    req.path = QStringLiteral("/api/v1/apply");
    req.contentType = kTypes[data[0] % (sizeof(kTypes) / sizeof(kTypes[0]))];
    req.body = QByteArray(reinterpret_cast<const char *>(data + 1), qsizetype(size - 1));
    admin::ApiResponse error;
    const auto objects = admin::decodeObjectsBody(req, &error);
    if (!objects) {
        fuzzCheck(error.status == 400 || error.status == 415, "decode failed with an unexpected status");
        return 0;
    }
    {
        QFile f(path);
        fuzzCheck(f.open(QIODevice::WriteOnly | QIODevice::Truncate), "cannot write the temp config");
        f.write(baseConfig);
    }
    config::ConfigStore store;
    fuzzCheck(store.load(path), "the base config does not load");
    config::WriteOptions opts;
    opts.dryRun = (data[0] & 0x80) != 0;
    const auto result = store.apply(*objects, opts);
    if (!result.isOk()) {
        const int status = admin::ApiResponse::httpStatus(result.error.code);
        fuzzCheck(status >= 400 && status < 500, "apply of client input failed with a 5xx");
    } else if (!opts.dryRun) {
        // What was stored must load again: a write that the next start rejects loses the config.
        config::ConfigStore again;
        fuzzCheck(again.load(path), "a config accepted by apply does not load back");
        fuzzCheck(again.config().resources.size() == store.config().resources.size(), "reload lost resources");
    }
    return 0;
}

int fuzzDnsReply(const uint8_t *data, size_t size)
{
    if (size < 3 || size > 4096)
        return 0;
    const quint16 type = (data[0] & 1) ? dns::wire::TypeAaaa : dns::wire::TypeA;
    const QByteArray datagram(reinterpret_cast<const char *>(data + 1), qsizetype(size - 1));
    const quint16 id = quint16((quint8(datagram[0]) << 8) | quint8(datagram[1]));
    const QByteArray name("www.example.test");
    if (!dns::wire::isReplyTo(datagram, id, name, type))
        return 0;
    QString error;
    const auto reply = dns::wire::parseReply(datagram, name, type, &error);
    if (!reply) {
        fuzzCheck(!error.isEmpty(), "a rejected reply without a reason");
        return 0;
    }
    fuzzCheck(reply->id == id, "a reply with another id");
    const auto family = type == dns::wire::TypeA ? QAbstractSocket::IPv4Protocol : QAbstractSocket::IPv6Protocol;
    for (qsizetype i = 0; i < reply->addresses.size(); ++i) {
        fuzzCheck(reply->addresses.at(i).protocol() == family, "an address of the other family");
        fuzzCheck(reply->addresses.indexOf(reply->addresses.at(i)) == i, "an address listed twice");
    }
    fuzzCheck(reply->addresses.size() * 16 <= datagram.size(), "more addresses than the datagram holds");
    fuzzCheck(reply->ttlSeconds <= quint32(INT32_MAX), "a TTL above 2^31-1");
    fuzzCheck(reply->rcode >= 0 && reply->rcode <= 15, "an RCODE outside 4 bits");
    return 0;
}

const QList<Target> &targets()
{
    static const QList<Target> all{{"http_request", &fuzzHttpRequest},
                                   {"http_response", &fuzzHttpResponse},
                                   {"route_match", &fuzzRouteMatch},
                                   {"config", &fuzzConfig},
                                   {"admin_apply", &fuzzAdminApply},
                                   {"dns_reply", &fuzzDnsReply},
                                   {"http2_frames", &fuzzHttp2Frames},
                                   {"http2_client", &fuzzHttp2Client}};
    return all;
}

} // namespace dfproxy::fuzz
