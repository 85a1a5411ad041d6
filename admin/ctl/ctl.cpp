// SPDX-License-Identifier: Apache-2.0
#include "ctl/ctl.h"

#include "config/agentgatewaypolicy.h"

#include "config/yaml.h"
#include "desktop/systemproxy.h"

#include <algorithm>

#include <QCryptographicHash>
#include <QDateTime>
#include <QDir>
#include <QEventLoop>
#include <QFile>
#include <QJsonDocument>
#include <QNetworkAccessManager>
#include <QNetworkProxy>
#include <QNetworkReply>
#include <QProcess>
#include <QRegularExpression>
#include <QTemporaryDir>
#include <QThread>
#include <QTimer>

#ifndef DFPROXY_VERSION
#define DFPROXY_VERSION "unknown"
#endif

namespace dfproxy::ctl {

namespace {

struct CommandInfo
{
    const char *name;
    const char *synopsis;
    const char *description;
};

const QList<CommandInfo> &commands()
{
    static const QList<CommandInfo> list = {
        {"apply", "apply -f FILE|- [-f FILE...] [-n NS] [--dry-run] [-o name|json|yaml]",
         "Create or update objects from YAML or JSON manifests (multi-document files and Lists are fine)."},
        {"get", "get KIND [NAME...] [-n NS | -A] [-l SELECTOR] [-o table|json|yaml|name]",
         "List objects of a kind, or show named objects."},
        {"describe", "describe KIND NAME [-n NS]", "Show one object, with its status, as YAML."},
        {"delete", "delete KIND NAME... [-n NS] [--dry-run] | delete -f FILE [--dry-run]",
         "Delete objects by name or from manifests."},
        {"export", "export [-n NS] [-o yaml|json] [--for agentgateway [--allow-partial]]",
         "Print every object as manifests without server-managed fields; --for agentgateway: as objects an "
         "agentgateway cluster accepts (dfproxy.dev policies as AgentgatewayPolicy), listing on stderr what is not "
         "exported and exiting 1 then, unless --allow-partial."},
        {"edit", "edit KIND NAME [-n NS]",
         "Edit an object as YAML in $DFPROXY_EDITOR / $KUBE_EDITOR / $EDITOR / $VISUAL (default vi); saving\n"
         "      applies it. If the server rejects it, the editor opens again with the error on top; save unchanged\n"
         "      (or quit) to give up."},
        {"dns", "dns list [-o table|json|yaml] | dns flush | dns rm HOST:PORT | dns resolve HOST[:PORT] [--family F] | dns settings [-o yaml|json]",
         "Show and manage the DNS host cache: list entries, flush all, remove one, resolve a host now."},
        {"stats", "stats [-o json|yaml]", "Print the runtime statistics (GET /api/v1/stats)."},
        {"apps", "apps [-o table|json]",
         "List the programs seen behind local clients and the hosts they reached (GET /api/v1/applications)."},
        {"logs", "logs [-f] [--tail N]",
         "Print recent access-log records, one JSON line each; -f follows new ones (GET /api/v1/accesslog/stream)."},
        {"server", "server [-o json|yaml]", "Print the server's state: version, uptime, listeners, config path, last error."},
        {"system-proxy", "system-proxy on [--pac|--fixed] | off | status [-o json|yaml] | env",
         "Make dfproxy the desktop's proxy (GNOME, KDE, Windows, macOS) and restore the settings it replaced;\n"
         "      env prints http_proxy/https_proxy/no_proxy exports for shells (docs/desktop.md)."},
        {"version", "version", "Print the client and server versions."},
    };
    return list;
}

const QCommandLineOption optServer({"s", "server"}, "Admin API URL (env DFPROXY_SERVER).", "URL");
const QCommandLineOption optToken("token", "Bearer token (env DFPROXY_TOKEN).", "TOKEN");
const QCommandLineOption optTokenFile("token-file", "File holding the bearer token.", "FILE");
const QCommandLineOption optConfig("config", "dfproxy config file used to find the API and its token.", "PATH");
const QCommandLineOption optNamespace({"n", "namespace"}, "Namespace (default: \"default\").", "NS");
const QCommandLineOption optAll({"A", "all-namespaces"}, "List across all namespaces.");
const QCommandLineOption optOutput({"o", "output"}, "Output format.", "FORMAT");
const QCommandLineOption optFile({"f", "filename"}, "Manifest file, or - for standard input.", "FILE");
const QCommandLineOption optDryRun("dry-run", "Validate on the server, store nothing.");
const QCommandLineOption optSelector({"l", "selector"}, "Label selector (k=v,k2!=v,k3).", "SELECTOR");
const QCommandLineOption optHelp({"h", "help"}, "Show help.");
const QCommandLineOption optFollow({"f", "follow"}, "Follow new records until interrupted.");
const QCommandLineOption optTail("tail", "How many recent records to print (default 100).", "N");
const QCommandLineOption optPac("pac", "system-proxy on: point the desktop at the PAC URL (cannot be fail-closed).");
const QCommandLineOption optFixed("fixed", "system-proxy on: fixed host:port and the bypass list.");
const QCommandLineOption optFamily("family", "Lookup family: V4Only, V6Only, Auto, V4Preferred, All (or V4_ONLY ...).",
                                   "F");
const QCommandLineOption optFor("for", "Export for another engine: agentgateway.", "ENGINE");
const QCommandLineOption optAllowPartial("allow-partial", "With --for: exit 0 even when some fields are not exported.");

QString groupOf(const QString &apiVersion)
{
    const auto i = apiVersion.indexOf('/');
    return i < 0 ? QString() : apiVersion.left(i);
}

QString padRight(const QString &s, int width)
{
    return s.leftJustified(width, ' ');
}

void printTable(QTextStream &out, const QList<QStringList> &rows)
{
    QList<int> widths;
    for (const auto &row : rows) {
        for (int i = 0; i < row.size(); ++i) {
            if (widths.size() <= i)
                widths.append(0);
            widths[i] = std::max(widths[i], static_cast<int>(row[i].size()));
        }
    }
    for (const auto &row : rows) {
        QString line;
        for (int i = 0; i < row.size(); ++i)
            line += i + 1 < row.size() ? padRight(row[i], widths[i] + 3) : row[i];
        out << line << "\n";
    }
}

bool isPolicyKind(const QString &kind)
{
    return kind == config::kinds::RateLimitPolicy || kind == config::kinds::AuthenticationPolicy ||
           kind == config::kinds::AuthorizationPolicy || kind == config::kinds::AgentgatewayPolicy;
}

// "gateways (gateway, gw), httproutes (...)": every kind of the registry with the names it answers to.
QString kindsHelp()
{
    QStringList parts;
    for (const auto &k : config::knownKinds()) {
        QStringList names;
        for (const auto &alias : k.aliases) {
            if (alias != k.plural)
                names.append(alias);
        }
        parts.append(names.isEmpty() ? k.plural : QStringLiteral("%1 (%2)").arg(k.plural, names.join(", ")));
    }
    return parts.join(", ");
}

// The Accepted conditions of a policy's status that are False (GEP-713: one per ancestor), as (reason, message).
QList<QPair<QString, QString>> notAccepted(const QJsonObject &obj)
{
    QList<QPair<QString, QString>> out;
    const QJsonObject status = obj.value("status").toObject();
    QJsonArray conditions = status.value("conditions").toArray();
    for (const auto &a : status.value("ancestors").toArray()) {
        for (const auto &c : a.toObject().value("conditions").toArray())
            conditions.append(c);
    }
    for (const auto &v : conditions) {
        const auto c = v.toObject();
        if (c.value("type").toString() == "Accepted" && c.value("status").toString() == "False")
            out.append({c.value("reason").toString(), c.value("message").toString()});
    }
    return out;
}

QStringList extraHeaders(const QString &kind)
{
    if (isPolicyKind(kind))
        return {"TARGETS", "ACCEPTED"};
    if (kind == config::kinds::Gateway)
        return {"CLASS", "ADDRESS", "PORTS"};
    if (kind == config::kinds::HTTPRoute)
        return {"HOSTNAMES", "PARENTS"};
    if (kind == config::kinds::Backend)
        return {"TYPE"};
    return {};
}

QStringList extraColumns(const QJsonObject &obj)
{
    const QString kind = obj.value("kind").toString();
    const QJsonObject spec = obj.value("spec").toObject();
    auto joinStrings = [](const QJsonArray &arr, auto fn) {
        QStringList parts;
        for (const auto &v : arr)
            parts.append(fn(v));
        return parts.isEmpty() ? QStringLiteral("<none>") : parts.join(",");
    };
    if (kind == config::kinds::Gateway) {
        return {spec.value("gatewayClassName").toString(),
                joinStrings(spec.value("addresses").toArray(), [](const QJsonValue &v) { return v.toObject().value("value").toString(); }),
                joinStrings(spec.value("listeners").toArray(),
                            [](const QJsonValue &v) { return QString::number(v.toObject().value("port").toInt()); })};
    }
    if (kind == config::kinds::HTTPRoute) {
        return {joinStrings(spec.value("hostnames").toArray(), [](const QJsonValue &v) { return v.toString(); }),
                joinStrings(spec.value("parentRefs").toArray(), [](const QJsonValue &v) {
                    const auto o = v.toObject();
                    const QString ns = o.value("namespace").toString();
                    return ns.isEmpty() ? o.value("name").toString() : ns + "/" + o.value("name").toString();
                })};
    }
    if (isPolicyKind(kind)) {
        const auto problems = notAccepted(obj);
        QStringList reasons;
        for (const auto &p : problems)
            reasons.append(p.first);
        reasons.removeDuplicates();
        return {joinStrings(spec.value("targetRefs").toArray(),
                            [](const QJsonValue &v) {
                                const auto o = v.toObject();
                                const QString section = o.value("sectionName").toString();
                                return o.value("kind").toString() + "/" + o.value("name").toString() +
                                       (section.isEmpty() ? QString() : "/" + section);
                            }),
                problems.isEmpty() ? QStringLiteral("True") : QStringLiteral("False (%1)").arg(reasons.join(","))};
    }
    if (kind == config::kinds::Backend) {
        const QStringList keys = spec.keys();
        QString type = keys.isEmpty() ? QStringLiteral("<none>") : keys.first();
        if (spec.contains("dynamicForwardProxy"))
            type = QStringLiteral("DynamicForwardProxy");
        return {type};
    }
    return {};
}

} // namespace

QString qualifiedName(const QString &kind, const QString &apiVersion, const QString &name)
{
    const QString group = groupOf(apiVersion);
    return kind.toLower() + (group.isEmpty() ? QString() : "." + group) + "/" + name;
}

QString humanAge(const QString &creationTimestamp, const QDateTime &now)
{
    const QDateTime t = QDateTime::fromString(creationTimestamp, Qt::ISODate);
    if (!t.isValid())
        return QStringLiteral("<unknown>");
    const qint64 s = std::max<qint64>(0, t.secsTo(now));
    if (s < 120)
        return QStringLiteral("%1s").arg(s);
    if (s < 3600 * 3)
        return QStringLiteral("%1m").arg(s / 60);
    if (s < 86400 * 2)
        return QStringLiteral("%1h").arg(s / 3600);
    return QStringLiteral("%1d").arg(s / 86400);
}

void Ctl::addGlobalOptions(QCommandLineParser &parser)
{
    parser.addOptions({optServer, optToken, optTokenFile, optConfig, optHelp});
}

int Ctl::usageError(const QString &message)
{
    m_err << "error: " << message << "\n";
    const bool known = std::any_of(commands().begin(), commands().end(),
                                   [&](const CommandInfo &c) { return m_command == QLatin1String(c.name); });
    m_err << "Run 'dfproxyctl " << (known ? m_command + " " : QString()) << "--help' for usage.\n";
    return 1;
}

int Ctl::run(const QStringList &args)
{
    // First pass: the command is the first word that is neither an option nor an option's value. (A parser cannot
    // do this: -f takes a file for apply but is a flag for logs.)
    {
        static const QStringList valueOptions{"-s", "--server", "--token", "--token-file", "--config", "-n",
                                              "--namespace", "-o", "--output", "-l", "--selector", "--tail", "--family"};
        for (int i = 1; i < args.size(); ++i) {
            const QString &a = args[i];
            if (a == "--")
                break;
            if (a.startsWith('-')) {
                if (valueOptions.contains(a))
                    ++i;
                continue;
            }
            m_command = a;
            break;
        }
    }
    const CommandInfo *cmd = nullptr;
    for (const auto &c : commands()) {
        if (m_command == QLatin1String(c.name))
            cmd = &c;
    }

    addGlobalOptions(m_parser);
    if (!cmd) {
        QString help = QStringLiteral("dfproxyctl controls a running dfproxy through its admin API.\n\n"
                                      "Usage: dfproxyctl [global options] COMMAND [options]\n\nCommands:\n");
        for (const auto &c : commands())
            help += QStringLiteral("  %1\n      %2\n").arg(QLatin1String(c.synopsis), QLatin1String(c.description));
        help += QStringLiteral("\nKinds: %1.\n").arg(kindsHelp());
        help += QStringLiteral("The API address and token are found from the dfproxy config file (--config, else\n"
                               "$DFPROXY_CONFIG, else the per-user default) unless given.\n"
                               "Run 'dfproxyctl COMMAND --help' for a command's options.\n\nGlobal options:\n");
        m_parser.parse(args);
        if (m_command.isEmpty() || m_parser.isSet(optHelp)) {
            (m_command.isEmpty() && !m_parser.isSet(optHelp) ? m_err : m_out)
                << help << m_parser.helpText().section(QStringLiteral("Options:\n"), 1);
            return m_command.isEmpty() && !m_parser.isSet(optHelp) ? 1 : 0;
        }
        return usageError(QStringLiteral("unknown command \"%1\"").arg(m_command));
    }

    m_parser.setApplicationDescription(QLatin1String(cmd->description));
    const QString name = m_command;
    if (name == "apply")
        m_parser.addOptions({optFile, optNamespace, optDryRun, optOutput});
    else if (name == "get")
        m_parser.addOptions({optNamespace, optAll, optOutput, optSelector});
    else if (name == "describe")
        m_parser.addOptions({optNamespace});
    else if (name == "delete")
        m_parser.addOptions({optFile, optNamespace, optDryRun});
    else if (name == "export")
        m_parser.addOptions({optNamespace, optOutput, optFor, optAllowPartial});
    else if (name == "edit")
        m_parser.addOptions({optNamespace});
    else if (name == "dns")
        m_parser.addOptions({optOutput, optFamily});
    else if (name == "stats" || name == "server" || name == "apps")
        m_parser.addOptions({optOutput});
    else if (name == "logs")
        m_parser.addOptions({optFollow, optTail});
    else if (name == "system-proxy")
        m_parser.addOptions({optPac, optFixed, optOutput});
    if (!m_parser.parse(args))
        return usageError(m_parser.errorText());
    if (m_parser.isSet(optHelp)) {
        QString text = m_parser.helpText();
        text.replace(QRegularExpression("^Usage: [^\\n]*"), QStringLiteral("Usage: dfproxyctl %1").arg(QLatin1String(cmd->synopsis)));
        m_out << text;
        return 0;
    }
    m_args = m_parser.positionalArguments().mid(1);

    if (name == "apply")
        return cmdApply();
    if (name == "get")
        return cmdGet();
    if (name == "describe")
        return cmdDescribe();
    if (name == "delete")
        return cmdDelete();
    if (name == "export")
        return cmdExport();
    if (name == "edit")
        return cmdEdit();
    if (name == "dns")
        return cmdDns();
    if (name == "stats")
        return cmdStats();
    if (name == "apps")
        return cmdApps();
    if (name == "logs")
        return cmdLogs();
    if (name == "server")
        return cmdServer();
    if (name == "system-proxy")
        return cmdSystemProxy();
    return cmdVersion();
}

bool Ctl::connectClient()
{
    const QString configPath = m_parser.isSet(optConfig) ? m_parser.value(optConfig) : defaultConfigPath();
    const auto disc = client::ApiClient::discoverLocal(configPath);
    QUrl url = disc.baseUrl;
    QString server = m_parser.value(optServer);
    if (server.isEmpty())
        server = qEnvironmentVariable("DFPROXY_SERVER");
    if (!server.isEmpty()) {
        url = QUrl::fromUserInput(server);
        if (!url.isValid() || url.host().isEmpty()) {
            m_err << "error: invalid server URL \"" << server << "\"\n";
            return false;
        }
    }
    QByteArray token;
    if (m_parser.isSet(optToken)) {
        token = m_parser.value(optToken).toUtf8();
    } else if (m_parser.isSet(optTokenFile)) {
        QFile f(m_parser.value(optTokenFile));
        if (!f.open(QIODevice::ReadOnly)) {
            m_err << "error: cannot read token file " << f.fileName() << ": " << f.errorString() << "\n";
            return false;
        }
        token = f.readAll().trimmed();
    } else if (!qEnvironmentVariable("DFPROXY_TOKEN").isEmpty()) {
        token = qEnvironmentVariable("DFPROXY_TOKEN").toUtf8();
    } else {
        token = disc.token;
        m_tokenHint = disc.problem;
    }
    m_tokenHint = m_tokenHint.isEmpty() ? QStringLiteral("the token is in %1").arg(disc.tokenPath) : m_tokenHint;
    m_client = std::make_unique<client::ApiClient>(url, token);
    return true;
}

void Ctl::printError(const client::ApiError &e, const QList<QPair<QString, QString>> &itemNames)
{
    if (e.isConnectionError()) {
        m_err << "error: " << e.detail << "\n";
        return;
    }
    if (e.status == 401) {
        m_err << "error: unauthorized: " << e.detail << "\n"
              << "  pass --token, --token-file or DFPROXY_TOKEN (" << m_tokenHint << ")\n";
        return;
    }
    m_err << "Error from server (" << e.title << "): " << e.detail << "\n";
    for (const auto &f : e.fields) {
        QString path = f.first;
        // Name the object instead of its position in the request: "items[1].spec.x" -> "HTTPRoute/r1: spec.x".
        for (const auto &n : itemNames) {
            if (path == n.first || path.startsWith(n.first + ".")) {
                path = n.second + ": " + path.mid(n.first.size() + (path.size() > n.first.size() ? 1 : 0));
                break;
            }
        }
        m_err << "  " << path << ": " << f.second << "\n";
    }
}

std::optional<QJsonArray> Ctl::readManifests(const QStringList &files)
{
    QJsonArray out;
    for (const auto &file : files) {
        QFile f;
        QByteArray text;
        if (file == "-") {
            if (!f.open(stdin, QIODevice::ReadOnly)) {
                m_err << "error: cannot read standard input\n";
                return std::nullopt;
            }
            text = f.readAll();
        } else {
            f.setFileName(file);
            if (!f.open(QIODevice::ReadOnly)) {
                m_err << "error: cannot read " << file << ": " << f.errorString() << "\n";
                return std::nullopt;
            }
            text = f.readAll();
        }
        const QString label = file == "-" ? QStringLiteral("<stdin>") : file;
        QJsonArray docs;
        if (config::looksLikeJson(text)) {
            QJsonParseError pe;
            const auto doc = QJsonDocument::fromJson(text, &pe);
            if (pe.error != QJsonParseError::NoError) {
                m_err << "error: " << label << ": invalid JSON at offset " << pe.offset << ": " << pe.errorString() << "\n";
                return std::nullopt;
            }
            docs = doc.isArray() ? doc.array() : QJsonArray{doc.object()};
        } else {
            config::YamlError ye;
            auto parsed = config::parseYamlDocuments(text, &ye);
            if (!parsed) {
                m_err << "error: " << label << ": invalid YAML at " << ye.toString() << "\n";
                return std::nullopt;
            }
            docs = *parsed;
        }
        for (const auto &d : docs) {
            const QJsonObject o = d.toObject();
            if (!d.isObject()) {
                m_err << "error: " << label << ": every document must be an object\n";
                return std::nullopt;
            }
            if (o.value("items").isArray() && o.value("kind").toString().endsWith("List")) {
                for (const auto &item : o.value("items").toArray())
                    out.append(item);
            } else {
                out.append(o);
            }
        }
    }
    if (out.isEmpty()) {
        m_err << "error: no objects passed to " << m_command << "\n";
        return std::nullopt;
    }
    return out;
}

std::optional<config::KindInfo> Ctl::kindArg(const QString &name)
{
    const auto k = config::findKind(name);
    if (!k) {
        QStringList known;
        for (const auto &kind : config::knownKinds())
            known.append(kind.plural);
        m_err << "error: unknown resource type \"" << name << "\"; known types: " << known.join(", ") << "\n";
    }
    return k;
}

QString Ctl::namespaceArg() const
{
    const QString ns = m_parser.value(optNamespace);
    return ns.isEmpty() ? QStringLiteral("default") : ns;
}

int Ctl::cmdApply()
{
    if (!m_parser.isSet(optFile))
        return usageError(QStringLiteral("apply needs -f FILE (or -f - for standard input)"));
    auto objects = readManifests(m_parser.values(optFile));
    if (!objects)
        return 1;
    // Objects keep the namespace written in them; -n fills it in where absent and must not contradict it.
    QList<QPair<QString, QString>> itemNames;
    for (int i = 0; i < objects->size(); ++i) {
        QJsonObject o = (*objects)[i].toObject();
        QJsonObject md = o.value("metadata").toObject();
        const QString ns = md.value("namespace").toString();
        if (ns.isEmpty()) {
            if (o.value("metadata").isObject()) {
                md.insert("namespace", namespaceArg());
                o.insert("metadata", md);
            }
        } else if (m_parser.isSet(optNamespace) && ns != m_parser.value(optNamespace)) {
            m_err << "error: the namespace from the provided object \"" << ns << "\" does not match the namespace \""
                  << m_parser.value(optNamespace) << "\"; pass --namespace=" << ns << " or remove -n\n";
            return 1;
        }
        (*objects)[i] = o;
        itemNames.append({QStringLiteral("items[%1]").arg(i),
                          o.value("kind").toString() + "/" + md.value("name").toString()});
    }
    if (!connectClient())
        return 1;
    const QUrlQuery query = m_parser.isSet(optDryRun) ? QUrlQuery("dryRun=All") : QUrlQuery();
    const auto r = m_client->sendBlocking("POST", "/api/v1/apply", query,
                                          QJsonDocument(*objects).toJson(QJsonDocument::Compact), "application/json");
    if (!r.ok()) {
        printError(*r.error, itemNames);
        return 1;
    }
    const QString format = m_parser.value(optOutput);
    if (format == "json") {
        m_out << QJsonDocument(r.object()).toJson(QJsonDocument::Indented);
        return 0;
    }
    if (format == "yaml") {
        m_out << config::toYaml(r.object());
        return 0;
    }
    for (const auto &v : r.object().value("results").toArray()) {
        const auto o = v.toObject();
        const QString qn = qualifiedName(o.value("kind").toString(), o.value("apiVersion").toString(),
                                         o.value("name").toString());
        if (format == "name")
            m_out << qn << "\n";
        else
            m_out << qn << " " << o.value("action").toString() << (m_parser.isSet(optDryRun) ? " (dry run)" : "") << "\n";
    }
    if (!m_parser.isSet(optDryRun))
        warnAboutPolicies(r.object().value("results").toArray());
    return 0;
}

void Ctl::warnAboutPolicies(const QJsonArray &results)
{
    // A policy that loses a conflict (or cannot load its credentials) is stored but not in effect: say so, as
    // kubectl prints the API's warnings, on stderr so -o name output stays clean.
    for (const auto &v : results) {
        const auto o = v.toObject();
        const QString kind = o.value("kind").toString();
        const auto info = config::findKind(kind);
        if (!isPolicyKind(kind) || !info)
            continue;
        const QString ns = o.value("namespace").toString(), name = o.value("name").toString();
        const auto r = m_client->sendBlocking("GET", client::ApiClient::objectPath(info->plural, ns, name));
        if (!r.ok())
            continue;
        for (const auto &[reason, message] : notAccepted(r.object()))
            m_err << "Warning: " << kind << " " << ns << "/" << name << " is not accepted (" << reason << "): "
                  << message << "\n";
    }
}

int Ctl::cmdGet()
{
    if (m_args.isEmpty())
        return usageError(QStringLiteral("get needs a KIND (%1)").arg(kindsHelp()));
    const auto kind = kindArg(m_args[0]);
    if (!kind)
        return 1;
    const QString format = m_parser.value(optOutput).isEmpty() ? QStringLiteral("table") : m_parser.value(optOutput);
    if (!QStringList{"table", "wide", "json", "yaml", "name"}.contains(format))
        return usageError(QStringLiteral("unknown output format \"%1\" (table, json, yaml, name)").arg(format));
    if (!connectClient())
        return 1;
    const bool all = m_parser.isSet(optAll);
    const QString ns = namespaceArg();
    QJsonArray items;
    bool single = false;
    int rc = 0;
    if (m_args.size() > 1) {
        single = m_args.size() == 2;
        for (const auto &name : m_args.mid(1)) {
            const auto r = m_client->sendBlocking("GET", client::ApiClient::objectPath(kind->plural, ns, name));
            if (!r.ok()) {
                if (r.error->status == 404)
                    m_err << "Error from server (NotFound): " << kind->plural << " \"" << name << "\" not found in namespace \"" << ns << "\"\n";
                else
                    printError(*r.error);
                rc = 1;
                continue;
            }
            items.append(r.object());
        }
    } else {
        QUrlQuery q;
        if (!all)
            q.addQueryItem("namespace", ns);
        if (m_parser.isSet(optSelector))
            q.addQueryItem("labelSelector", m_parser.value(optSelector));
        const auto r = m_client->sendBlocking("GET", client::ApiClient::collectionPath(kind->plural), q);
        if (!r.ok()) {
            printError(*r.error);
            return 1;
        }
        items = r.object().value("items").toArray();
        if (items.isEmpty() && (format == "table" || format == "wide")) {
            if (all)
                m_err << "No resources found\n";
            else
                m_err << "No resources found in " << ns << " namespace.\n";
            // kubectl would stop here; saying where objects are saves a puzzled second try.
            if (!all) {
                const auto everywhere = m_client->sendBlocking("GET", client::ApiClient::collectionPath(kind->plural));
                const auto n = everywhere.object().value("items").toArray().size();
                if (n > 0)
                    m_err << "(" << n << " in other namespaces; use -A or -n NAMESPACE)\n";
            }
            return 0;
        }
    }
    if (format == "json" || format == "yaml") {
        QJsonObject doc = single && items.size() == 1
                              ? items[0].toObject()
                              : QJsonObject{{"apiVersion", "v1"}, {"kind", "List"}, {"items", items}};
        if (format == "json")
            m_out << QJsonDocument(doc).toJson(QJsonDocument::Indented);
        else
            m_out << config::toYaml(doc);
        return rc;
    }
    if (format == "name") {
        for (const auto &v : items) {
            const auto o = v.toObject();
            m_out << qualifiedName(o.value("kind").toString(), o.value("apiVersion").toString(),
                                   o.value("metadata").toObject().value("name").toString())
                  << "\n";
        }
        return rc;
    }
    if (items.isEmpty())
        return rc;
    QList<QStringList> rows;
    rows.append(QStringList{"NAMESPACE", "NAME"} + extraHeaders(kind->kind) + QStringList{"AGE"});
    const QDateTime now = QDateTime::currentDateTimeUtc();
    for (const auto &v : items) {
        const auto o = v.toObject();
        const auto md = o.value("metadata").toObject();
        rows.append(QStringList{md.value("namespace").toString(), md.value("name").toString()} + extraColumns(o)
                    + QStringList{humanAge(md.value("creationTimestamp").toString(), now)});
    }
    printTable(m_out, rows);
    return rc;
}

int Ctl::cmdDescribe()
{
    if (m_args.size() != 2)
        return usageError(QStringLiteral("describe needs KIND NAME"));
    const auto kind = kindArg(m_args[0]);
    if (!kind)
        return 1;
    if (!connectClient())
        return 1;
    const auto r = m_client->sendBlocking("GET", client::ApiClient::objectPath(kind->plural, namespaceArg(), m_args[1]));
    if (!r.ok()) {
        printError(*r.error);
        return 1;
    }
    m_out << config::toYaml(r.object());
    return 0;
}

int Ctl::cmdDelete()
{
    QList<std::tuple<config::KindInfo, QString, QString>> targets; // kind, namespace, name
    if (m_parser.isSet(optFile)) {
        if (!m_args.isEmpty())
            return usageError(QStringLiteral("delete takes either -f FILE or KIND NAME, not both"));
        auto objects = readManifests(m_parser.values(optFile));
        if (!objects)
            return 1;
        for (const auto &v : *objects) {
            const config::Resource res(v.toObject());
            const auto kind = kindArg(res.kind());
            if (!kind)
                return 1;
            QString ns = res.metadata().value("namespace").toString();
            if (ns.isEmpty())
                ns = namespaceArg();
            targets.append({*kind, ns, res.name()});
        }
    } else {
        if (m_args.size() < 2)
            return usageError(QStringLiteral("delete needs KIND NAME (or -f FILE)"));
        const auto kind = kindArg(m_args[0]);
        if (!kind)
            return 1;
        for (const auto &name : m_args.mid(1))
            targets.append({*kind, namespaceArg(), name});
    }
    if (!connectClient())
        return 1;
    const QUrlQuery query = m_parser.isSet(optDryRun) ? QUrlQuery("dryRun=All") : QUrlQuery();
    int rc = 0;
    for (const auto &[kind, ns, name] : targets) {
        const auto r = m_client->sendBlocking("DELETE", client::ApiClient::objectPath(kind.plural, ns, name), query);
        if (!r.ok()) {
            if (r.error->status == 404)
                m_err << "Error from server (NotFound): " << kind.plural << " \"" << name << "\" not found in namespace \"" << ns << "\"\n";
            else
                printError(*r.error);
            rc = 1;
            if (r.error->isConnectionError() || r.error->status == 401)
                return rc;
            continue;
        }
        m_out << qualifiedName(kind.kind, kind.group + "/" + kind.defaultVersion, name) << " deleted"
              << (m_parser.isSet(optDryRun) ? " (dry run)" : "") << "\n";
    }
    return rc;
}

int Ctl::cmdExport()
{
    const QString format = m_parser.value(optOutput).isEmpty() ? QStringLiteral("yaml") : m_parser.value(optOutput);
    if (format != "yaml" && format != "json")
        return usageError(QStringLiteral("export writes yaml or json"));
    if (!connectClient())
        return 1;
    QUrlQuery q;
    q.addQueryItem("format", format);
    if (m_parser.isSet(optNamespace))
        q.addQueryItem("namespace", m_parser.value(optNamespace));
    if (m_parser.isSet(optFor))
        return exportFor(m_parser.value(optFor), format, q);
    if (m_parser.isSet(optAllowPartial))
        return usageError(QStringLiteral("--allow-partial goes with --for"));
    const auto r = m_client->sendBlocking("GET", "/api/v1/export", q);
    if (!r.ok()) {
        printError(*r.error);
        return 1;
    }
    if (format == "json")
        m_out << QJsonDocument(r.object()).toJson(QJsonDocument::Indented);
    else
        m_out << QString::fromUtf8(r.body);
    return 0;
}

// export --for ENGINE: the objects on stdout, what is not exported on stderr (one line each), exit 1 when something
// is not, unless --allow-partial.
int Ctl::exportFor(const QString &engine, const QString &format, QUrlQuery q)
{
    if (engine != QLatin1String("agentgateway"))
        return usageError(QStringLiteral("--for takes agentgateway"));
    q.removeAllQueryItems("format");
    q.addQueryItem("format", "json");
    q.addQueryItem("for", engine);
    const auto r = m_client->sendBlocking("GET", "/api/v1/export", q);
    if (!r.ok()) {
        printError(*r.error);
        return 1;
    }
    const QJsonObject list = r.object();
    const QJsonArray items = list.value("items").toArray();
    if (format == "json")
        m_out << QJsonDocument(QJsonObject{{"apiVersion", "v1"}, {"kind", "List"}, {"items", items}})
                     .toJson(QJsonDocument::Indented);
    else
        m_out << QString::fromUtf8(config::toYamlDocuments(items));
    const QJsonArray notExported = list.value("notExported").toArray();
    for (const auto &v : notExported) {
        const QJsonObject n = v.toObject();
        m_err << "not exported: " << n.value("object").toString() << ": " << n.value("field").toString() << ": "
              << n.value("reason").toString() << "\n";
    }
    if (notExported.isEmpty() || m_parser.isSet(optAllowPartial))
        return 0;
    m_err << notExported.size() << " field(s) not exported; --allow-partial exits 0 all the same\n";
    return 1;
}

int Ctl::cmdVersion()
{
    m_out << "Client Version: " << DFPROXY_VERSION << "\n";
    if (!connectClient())
        return 1;
    const auto r = m_client->sendBlocking("GET", "/api/v1/server");
    if (!r.ok()) {
        printError(*r.error);
        return 1;
    }
    m_out << "Server Version: " << r.object().value("version").toString() << "\n";
    return 0;
}

namespace {

constexpr auto kEditHeader = "# Please edit the object below. Lines beginning with '#' are ignored.\n"
                             "# Save and quit to apply; an empty file or unchanged object cancels the edit.\n#\n";

QByteArray withoutComments(const QByteArray &text)
{
    QByteArrayList kept;
    for (const auto &line : text.split('\n')) {
        if (!line.trimmed().startsWith('#'))
            kept.append(line);
    }
    return kept.join('\n');
}

QString editorCommand()
{
    for (const char *var : {"DFPROXY_EDITOR", "KUBE_EDITOR", "EDITOR", "VISUAL"}) {
        const QString v = qEnvironmentVariable(var).trimmed();
        if (!v.isEmpty())
            return v;
    }
#ifdef Q_OS_WIN
    return QStringLiteral("notepad");
#else
    return QStringLiteral("vi");
#endif
}

// Runs the editor on `file` attached to this terminal; returns false with `error` if it did not exit cleanly.
bool runEditor(const QString &file, QString *error)
{
    QStringList cmd = QProcess::splitCommand(editorCommand());
    const QString program = cmd.takeFirst();
    QProcess p;
    p.setProcessChannelMode(QProcess::ForwardedChannels);
    p.setInputChannelMode(QProcess::ForwardedInputChannel);
    p.start(program, cmd << file);
    if (!p.waitForStarted(10000)) {
        *error = QStringLiteral("cannot start the editor \"%1\": %2 (set EDITOR)").arg(program, p.errorString());
        return false;
    }
    p.waitForFinished(-1);
    if (p.exitStatus() != QProcess::NormalExit || p.exitCode() != 0) {
        *error = QStringLiteral("the editor \"%1\" exited with status %2").arg(program).arg(p.exitCode());
        return false;
    }
    return true;
}

QString errorComment(const client::ApiError &e)
{
    QString out = QStringLiteral("# Error: %1\n").arg(e.isConnectionError() ? e.detail : e.title + ": " + e.detail);
    for (const auto &f : e.fields)
        out += QStringLiteral("#   %1: %2\n").arg(f.first, f.second);
    return out + "#\n";
}

QString msToHuman(qint64 ms)
{
    if (ms <= 0)
        return QStringLiteral("0s");
    if (ms < 120000)
        return QStringLiteral("%1s").arg((ms + 999) / 1000);
    return QStringLiteral("%1m").arg(ms / 60000);
}

} // namespace

int Ctl::cmdEdit()
{
    if (m_args.size() != 2)
        return usageError(QStringLiteral("edit needs KIND NAME"));
    const auto kind = kindArg(m_args[0]);
    if (!kind)
        return 1;
    if (!connectClient())
        return 1;
    const QString path = client::ApiClient::objectPath(kind->plural, namespaceArg(), m_args[1]);
    const auto got = m_client->sendBlocking("GET", path);
    if (!got.ok()) {
        if (got.error->status == 404)
            m_err << "Error from server (NotFound): " << kind->plural << " \"" << m_args[1] << "\" not found in namespace \""
                  << namespaceArg() << "\"\n";
        else
            printError(*got.error);
        return 1;
    }
    QJsonObject original = got.object();
    original.remove("status"); // computed by the server; editing it would be pointless

    QTemporaryDir tmp;
    if (!tmp.isValid()) {
        m_err << "error: cannot create a temporary directory\n";
        return 1;
    }
    const QString file = tmp.filePath(QStringLiteral("%1-%2.yaml").arg(kind->kind.toLower(), m_args[1]));
    QByteArray body = config::toYaml(original);
    QString errorHeader;
    QByteArray lastAttempt;
    for (;;) {
        {
            QFile f(file);
            if (!f.open(QIODevice::WriteOnly | QIODevice::Truncate)) {
                m_err << "error: cannot write " << file << "\n";
                return 1;
            }
            f.write(kEditHeader);
            f.write(errorHeader.toUtf8());
            f.write(body);
        }
        m_out.flush();
        QString editorError;
        if (!runEditor(file, &editorError)) {
            m_err << "error: " << editorError << "\n";
            return 1;
        }
        QFile f(file);
        if (!f.open(QIODevice::ReadOnly)) {
            m_err << "error: cannot read " << file << "\n";
            return 1;
        }
        const QByteArray edited = withoutComments(f.readAll());
        if (edited.trimmed().isEmpty()) {
            m_err << "Edit cancelled, the file was emptied.\n";
            return errorHeader.isEmpty() ? 0 : 1;
        }
        auto keepCopy = [&] {
            const QString copy = QDir::temp().filePath(QFileInfo(file).fileName());
            QFile::remove(copy);
            QFile::copy(file, copy);
            m_err << "A copy of your changes has been stored to \"" << copy << "\"\n";
        };
        if (!errorHeader.isEmpty() && edited == lastAttempt) {
            m_err << "error: Edit cancelled, no valid changes were saved.\n";
            keepCopy();
            return 1;
        }
        lastAttempt = edited;
        config::YamlError ye;
        const auto docs = config::parseYamlDocuments(edited, &ye);
        if (!docs || docs->size() != 1 || !docs->at(0).isObject()) {
            errorHeader = QStringLiteral("# Error: %1\n#\n").arg(docs ? QStringLiteral("the file must hold exactly one object")
                                                                      : QStringLiteral("invalid YAML at ") + ye.toString());
            body = edited;
            continue;
        }
        const QJsonObject obj = docs->at(0).toObject();
        if (obj == original) {
            m_err << "Edit cancelled, no changes made.\n";
            return 0;
        }
        const auto r = m_client->sendBlocking("PUT", path, {}, QJsonDocument(obj).toJson(QJsonDocument::Compact),
                                              "application/json");
        if (r.ok()) {
            m_out << qualifiedName(kind->kind, kind->group + "/" + kind->defaultVersion, m_args[1]) << " edited\n";
            return 0;
        }
        if (r.error->isConnectionError() || r.error->status == 401 || r.error->status == 404) {
            printError(*r.error);
            keepCopy();
            return 1;
        }
        errorHeader = errorComment(*r.error);
        body = edited;
    }
}

int Ctl::cmdDns()
{
    const QString sub = m_args.value(0);
    if (!QStringList{"list", "ls", "flush", "rm", "resolve", "settings"}.contains(sub))
        return usageError(sub.isEmpty() ? QStringLiteral("dns needs a subcommand: list, flush, rm HOST:PORT, resolve HOST[:PORT], settings")
                                        : QStringLiteral("unknown dns subcommand \"%1\"").arg(sub));
    if (sub == "settings") {
        if (m_args.size() != 1)
            return usageError(QStringLiteral("dns settings takes no arguments"));
        return printServerObject("/api/v1/dns/settings", QStringLiteral("yaml"), QStringLiteral("dns settings"));
    }
    if ((sub == "rm" || sub == "resolve") && m_args.size() != 2)
        return usageError(QStringLiteral("dns %1 needs HOST%2").arg(sub, sub == "rm" ? ":PORT" : "[:PORT]"));
    if ((sub == "list" || sub == "ls" || sub == "flush") && m_args.size() != 1)
        return usageError(QStringLiteral("dns %1 takes no arguments").arg(sub));
    const QString format = m_parser.value(optOutput).isEmpty() ? QStringLiteral("table") : m_parser.value(optOutput);
    if (!QStringList{"table", "wide", "json", "yaml"}.contains(format))
        return usageError(QStringLiteral("unknown output format \"%1\" (table, json, yaml)").arg(format));
    if (!connectClient())
        return 1;

    if (sub == "flush") {
        const auto r = m_client->sendBlocking("DELETE", "/api/v1/dns/cache");
        if (!r.ok()) {
            printError(*r.error);
            return 1;
        }
        m_out << "DNS cache flushed (" << r.object().value("flushed").toInt() << " entries)\n";
        return 0;
    }
    if (sub == "rm") {
        const auto r = m_client->sendBlocking("DELETE", "/api/v1/dns/cache/" + QString::fromLatin1(QUrl::toPercentEncoding(m_args[1], "[]:")));
        if (!r.ok()) {
            printError(*r.error);
            return 1;
        }
        m_out << r.object().value("removed").toString() << " removed\n";
        return 0;
    }
    if (sub == "resolve") {
        // HOST, HOST:PORT, [V6]:PORT; default port 80.
        static const QRegularExpression re(QStringLiteral("^(?:\\[([^\\]]+)\\]|([^:\\[\\]]+))(?::(\\d+))?$"));
        const auto m = re.match(m_args[1]);
        if (!m.hasMatch())
            return usageError(QStringLiteral("expected HOST[:PORT], e.g. example.com:443"));
        const QString host = m.captured(1).isEmpty() ? m.captured(2) : m.captured(1);
        const int port = m.captured(3).isEmpty() ? 80 : m.captured(3).toInt();
        QJsonObject req{{"host", host}, {"port", port}};
        if (m_parser.isSet(optFamily))
            req.insert("lookupFamily", m_parser.value(optFamily)); // the service reads any letter case
        const auto r = m_client->sendBlocking("POST", "/api/v1/dns/resolve", {},
                                              QJsonDocument(req).toJson(QJsonDocument::Compact), "application/json");
        if (!r.ok()) {
            printError(*r.error);
            return 1;
        }
        const QString key = r.object().value("resolving").toString();
        // The server resolves in the background; poll its cache briefly so the user sees the answer.
        QJsonObject entry;
        for (int i = 0; i < 50; ++i) {
            const auto c = m_client->sendBlocking("GET", "/api/v1/dns/cache");
            for (const auto &v : c.object().value("items").toArray()) {
                if (v.toObject().value("key").toString() == key)
                    entry = v.toObject();
            }
            if (!entry.isEmpty() && entry.value("state").toString() != "resolving")
                break;
            if (entry.isEmpty() && i >= 2)
                break; // addresses and static hosts are answered without a cache entry
            QEventLoop loop;
            QTimer::singleShot(100, &loop, &QEventLoop::quit);
            loop.exec();
        }
        if (format == "json" || format == "yaml") {
            m_out << (format == "json" ? QString::fromUtf8(QJsonDocument(entry).toJson(QJsonDocument::Indented))
                                       : QString::fromUtf8(config::toYaml(entry)));
            return entry.value("state").toString() == "failed" ? 1 : 0;
        }
        const QString state = entry.value("state").toString();
        if (state == "failed") {
            m_err << "error: " << key << " did not resolve: " << entry.value("lastError").toString() << "\n";
            return 1;
        }
        QStringList addrs;
        for (const auto &a : entry.value("addresses").toArray())
            addrs.append(a.toString());
        if (state.isEmpty())
            m_out << key << " needs no lookup (an address or a static host)\n";
        else if (state == "resolving")
            m_out << key << " resolving (check with 'dfproxyctl dns list')\n";
        else
            m_out << key << " " << state << ": " << addrs.join(", ") << "\n";
        return 0;
    }
    const auto r = m_client->sendBlocking("GET", "/api/v1/dns/cache");
    if (!r.ok()) {
        printError(*r.error);
        return 1;
    }
    if (format == "json") {
        m_out << QJsonDocument(r.object()).toJson(QJsonDocument::Indented);
        return 0;
    }
    if (format == "yaml") {
        m_out << config::toYaml(r.object());
        return 0;
    }
    const QJsonArray items = r.object().value("items").toArray();
    if (items.isEmpty()) {
        m_err << "The DNS cache is empty.\n";
        return 0;
    }
    QList<QStringList> rows{{"HOST:PORT", "FAMILY", "ADDRESSES", "TTL", "STATE", "HITS", "FAILURES", "LAST ERROR"}};
    for (const auto &v : items) {
        const auto o = v.toObject();
        QStringList addrs;
        for (const auto &a : o.value("addresses").toArray())
            addrs.append(a.toString());
        rows.append({o.value("key").toString(), o.value("lookupFamily").toString(),
                     addrs.isEmpty() ? QStringLiteral("<none>") : addrs.join(","),
                     msToHuman(o.value("ttlLeftMs").toInteger()), o.value("state").toString(),
                     QString::number(o.value("hits").toInteger()), QString::number(o.value("failures").toInteger()),
                     o.value("lastError").toString().isEmpty() ? QStringLiteral("-") : o.value("lastError").toString()});
    }
    printTable(m_out, rows);
    return 0;
}

int Ctl::cmdStats()
{
    return printServerObject("/api/v1/stats", QStringLiteral("json"), QStringLiteral("stats"));
}

int Ctl::cmdApps()
{
    if (!m_args.isEmpty())
        return usageError(QStringLiteral("apps takes no arguments"));
    const QString format = m_parser.value(optOutput).isEmpty() ? QStringLiteral("table") : m_parser.value(optOutput);
    if (!QStringList{"table", "json"}.contains(format))
        return usageError(QStringLiteral("unknown output format \"%1\" (table, json)").arg(format));
    if (!connectClient())
        return 1;
    const auto r = m_client->sendBlocking("GET", "/api/v1/applications");
    if (!r.ok()) {
        printError(*r.error);
        return 1;
    }
    if (format == "json") {
        m_out << QJsonDocument(r.object()).toJson(QJsonDocument::Indented);
        return 0;
    }
    const QJsonArray items = r.object().value("items").toArray();
    if (items.isEmpty()) {
        m_err << "No application seen yet (proxy.applicationLookup off, or no local client).\n";
        return 0;
    }
    QList<QStringList> rows{{"PROCESS", "USER", "PATH", "REQUESTS", "DENIED", "LAST SEEN", "HOSTS"}};
    for (const auto &v : items) {
        const auto o = v.toObject();
        QStringList hosts;
        for (const auto &h : o.value("hosts").toArray())
            hosts.append(h.toObject().value("host").toString());
        rows.append({o.value("process").toString(), o.value("processUser").toString(),
                     o.value("processPath").toString(), QString::number(o.value("requests").toInteger()),
                     QString::number(o.value("denied").toInteger()), o.value("lastSeen").toString(),
                     hosts.size() > 3 ? hosts.mid(0, 3).join(u',') + QStringLiteral(",+%1").arg(hosts.size() - 3)
                                      : hosts.join(u',')});
    }
    printTable(m_out, rows);
    return 0;
}

int Ctl::cmdServer()
{
    return printServerObject("/api/v1/server", QStringLiteral("yaml"), QStringLiteral("server"));
}

// GETs one JSON object from the API and prints it as json or yaml (-o), `defaultFormat` when -o is not given.
int Ctl::printServerObject(const QString &path, const QString &defaultFormat, const QString &command)
{
    const QString format = m_parser.value(optOutput).isEmpty() ? defaultFormat : m_parser.value(optOutput);
    if (format != "json" && format != "yaml")
        return usageError(command + QStringLiteral(" prints json or yaml"));
    if (!connectClient())
        return 1;
    const auto r = m_client->sendBlocking("GET", path);
    if (!r.ok()) {
        printError(*r.error);
        return 1;
    }
    m_out << (format == "json" ? QString::fromUtf8(QJsonDocument(r.object()).toJson(QJsonDocument::Indented))
                               : QString::fromUtf8(config::toYaml(r.object())));
    return 0;
}

int Ctl::cmdLogs()
{
    if (!m_args.isEmpty())
        return usageError(QStringLiteral("logs takes no arguments"));
    int tail = 100;
    if (m_parser.isSet(optTail)) {
        bool ok = false;
        tail = m_parser.value(optTail).toInt(&ok);
        if (!ok || tail < 0)
            return usageError(QStringLiteral("--tail needs a non-negative number"));
    }
    if (!connectClient())
        return 1;
    // -f after a tail resumes the stream right after the last record printed, so nothing logged between the two
    // calls is lost (without after=, the stream starts at "now").
    qint64 lastSeq = -1;
    qint64 tailEnd = -1;
    auto printRecord = [this, &lastSeq](const QJsonValue &v) {
        if (v.isObject())
            lastSeq = std::max(lastSeq, qint64(v.toObject().value("seq").toDouble(-1)));
        m_out << (v.isObject() ? QString::fromUtf8(QJsonDocument(v.toObject()).toJson(QJsonDocument::Compact))
                               : v.toString())
              << "\n";
        m_out.flush();
    };
    if (!m_parser.isSet(optFollow) || m_parser.isSet(optTail)) {
        QUrlQuery q;
        q.addQueryItem("limit", QString::number(std::max(tail, 1))); // the API takes 1..100000
        const auto r = m_client->sendBlocking("GET", "/api/v1/accesslog", q);
        if (!r.ok() && (r.error->status == 404 || r.error->status == 405)) {
            if (!m_parser.isSet(optFollow)) {
                m_err << "error: this server does not keep recent access-log records (GET /api/v1/accesslog is not "
                         "available); use 'dfproxyctl logs -f' to follow new ones\n";
                return 1;
            }
        } else if (!r.ok()) {
            printError(*r.error);
            return 1;
        } else {
            const QJsonArray items = r.json.isArray() ? r.json.toArray() : r.object().value("items").toArray();
            tailEnd = qint64(r.object().value("lastSeq").toDouble(-1));
            for (qsizetype i = std::max<qsizetype>(0, items.size() - tail); i < items.size(); ++i)
                printRecord(items[i]);
        }
        if (!m_parser.isSet(optFollow))
            return 0;
    }

    // Server-sent events: "data: <one JSON record>" lines, events separated by blank lines.
    QNetworkAccessManager nam;
    nam.setProxy(QNetworkProxy::NoProxy);
    QUrl url = m_client->baseUrl();
    url.setPath("/api/v1/accesslog/stream");
    if (std::max(lastSeq, tailEnd) >= 0) {
        // Resume after what the tail printed; an empty tail resumes after the newest record at the time of the GET.
        QUrlQuery sq;
        sq.addQueryItem("after", QString::number(std::max<qint64>(lastSeq, tailEnd)));
        url.setQuery(sq);
    }
    QNetworkRequest req(url);
    req.setRawHeader("Authorization", "Bearer " + m_client->token());
    req.setRawHeader("Accept", "text/event-stream");
    req.setAttribute(QNetworkRequest::RedirectPolicyAttribute, QNetworkRequest::ManualRedirectPolicy);
    req.setTransferTimeout(0);
    QNetworkReply *reply = nam.get(req);
    QByteArray buffer;
    QByteArray data;
    QEventLoop loop;
    QObject::connect(reply, &QNetworkReply::readyRead, &loop, [&] {
        if (reply->attribute(QNetworkRequest::HttpStatusCodeAttribute).toInt() != 200)
            return; // an error body: reported when finished
        buffer += reply->readAll();
        qsizetype nl;
        while ((nl = buffer.indexOf('\n')) >= 0) {
            QByteArray line = buffer.left(nl);
            buffer.remove(0, nl + 1);
            if (line.endsWith('\r'))
                line.chop(1);
            if (line.isEmpty()) {
                if (!data.isEmpty()) {
                    QJsonParseError pe;
                    const auto doc = QJsonDocument::fromJson(data, &pe);
                    printRecord(pe.error == QJsonParseError::NoError && doc.isObject() ? QJsonValue(doc.object())
                                                                                        : QJsonValue(QString::fromUtf8(data)));
                    data.clear();
                }
            } else if (line.startsWith("data:")) {
                QByteArray d = line.mid(5);
                if (d.startsWith(' '))
                    d.remove(0, 1);
                data += data.isEmpty() ? d : "\n" + d;
            }
        }
    });
    QObject::connect(reply, &QNetworkReply::finished, &loop, &QEventLoop::quit);
    loop.exec();
    const auto result = client::ApiClient::resultFromReply(reply, m_client->baseUrl());
    reply->deleteLater();
    if (result.error) {
        if (result.error->status == 404)
            m_err << "error: this server has no access-log stream (GET /api/v1/accesslog/stream)\n";
        else
            printError(*result.error);
        return 1;
    }
    return 0;
}

std::optional<desktop::ProxyTarget> Ctl::systemProxyTarget()
{
    if (!connectClient())
        return std::nullopt;
    const auto r = m_client->sendBlocking("GET", "/api/v1/system-proxy");
    if (!r.ok()) {
        printError(*r.error);
        return std::nullopt;
    }
    QString error;
    auto target = desktop::ProxyTarget::fromJson(r.object(), &error);
    if (!target)
        m_err << "error: " << error << "\n";
    return target;
}

int Ctl::cmdSystemProxy()
{
    const QString sub = m_args.value(0);
    static const QStringList subcommands{"on", "off", "status", "env"};
    if (m_args.size() != 1 || !subcommands.contains(sub))
        return usageError(QStringLiteral("system-proxy needs one of: on, off, status, env"));
    if ((m_parser.isSet(optPac) || m_parser.isSet(optFixed)) && sub != "on")
        return usageError(QStringLiteral("--pac and --fixed go with system-proxy on"));
    if (m_parser.isSet(optPac) && m_parser.isSet(optFixed))
        return usageError(QStringLiteral("--pac and --fixed exclude each other"));
    const QString format = m_parser.value(optOutput);
    if (!format.isEmpty() && (sub != "status" || (format != "json" && format != "yaml")))
        return usageError(QStringLiteral("-o json|yaml goes with system-proxy status"));

    if (sub == "env") {
        const auto target = systemProxyTarget();
        if (!target)
            return 1;
        m_out << desktop::envExports(*target);
        return 0;
    }

    // A journal's settings go back through the backend that wrote them, whatever $XDG_CURRENT_DESKTOP says now.
    QString error;
    auto backend = desktop::backendForJournal(desktop::defaultJournalPath(), &error);
    if (!backend) {
        m_err << "error: " << (error.isEmpty() ? QStringLiteral("this platform has no system-proxy backend") : error)
              << "\n";
        return 1;
    }
    desktop::SystemProxySwitch sw(*backend, desktop::defaultJournalPath());
    // Every system-proxy command first looks for settings left by a dfproxy that is gone (crash, kill -9).
    if (sub != "off") {
        const QString recovered = sw.recoverStale(false, &error);
        if (!recovered.isEmpty())
            m_err << recovered << "\n";
    }
    if (!error.isEmpty()) {
        m_err << "error: " << error << "\n";
        return 1;
    }

    if (sub == "on") {
        const auto target = systemProxyTarget();
        if (!target)
            return 1;
        desktop::ProxyMode mode = target->defaultMode();
        if (m_parser.isSet(optPac))
            mode = desktop::ProxyMode::Pac;
        else if (m_parser.isSet(optFixed))
            mode = desktop::ProxyMode::Fixed;
        if (mode == desktop::ProxyMode::Pac && target->failClosed)
            m_err << "warning: a PAC URL cannot be fail-closed: a program that cannot fetch it goes direct. The "
                     "Gateway's failMode is closed; --fixed (the default) keeps egress blocked when dfproxy stops.\n";
        if (!sw.turnOn(*target, mode, QStringLiteral("dfproxyctl"), &error)) {
            m_err << "error: " << error << "\n";
            return 1;
        }
        m_out << "system proxy on (" << backend->name() << "): "
              << (mode == desktop::ProxyMode::Pac ? target->pacUrl
                                                  : target->hostPort() + " + " +
                                                        QString::number(target->bypass.size()) + " bypass entries")
              << ", failMode " << (target->failClosed ? "closed" : "open") << "\n"
              << "previous settings recorded in " << desktop::defaultJournalPath()
              << "; `dfproxyctl system-proxy off` restores them\n";
        return 0;
    }
    if (sub == "off") {
        const auto r = sw.restore(&error);
        if (!r) {
            m_err << "error: " << error << "\n";
            return 1;
        }
        if (!r->hadJournal) {
            m_out << "system proxy is off (" << backend->name() << "): nothing to restore\n";
            return 0;
        }
        m_out << "system proxy off (" << backend->name() << "): restored " << r->restored.size() << " setting(s)\n";
        for (const auto &k : r->leftAlone)
            m_out << "  left alone (changed since dfproxy set it): " << k << "\n";
        return 0;
    }
    const auto st = sw.status(&error);
    if (!st) {
        m_err << "error: " << error << "\n";
        return 1;
    }
    if (!format.isEmpty()) {
        const QJsonObject o = st->toJson(backend->name());
        m_out << (format == "json" ? QString::fromUtf8(QJsonDocument(o).toJson(QJsonDocument::Indented))
                                   : QString::fromUtf8(config::toYaml(o)));
        return 0;
    }
    m_out << "state:    " << desktop::stateName(st->state) << "\n"
          << "backend:  " << backend->name() << "\n";
    if (st->journal) {
        m_out << "mode:     " << desktop::modeName(st->journal->mode) << "\n"
              << "proxy:    " << st->journal->proxy << "\n"
              << "failMode: " << (st->journal->failClosed ? "closed" : "open") << "\n"
              << "set by:   " << st->journal->setBy << " (pid " << st->journal->pid << ") at "
              << st->journal->time.toString(Qt::ISODate) << "\n";
    }
    for (auto it = st->current.begin(); it != st->current.end(); ++it)
        m_out << "  " << it.key() << " = " << it.value().value_or(QStringLiteral("<unset>")) << "\n";
    return 0;
}

} // namespace dfproxy::ctl
