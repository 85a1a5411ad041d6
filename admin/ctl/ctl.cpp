// SPDX-License-Identifier: Apache-2.0
#include "ctl/ctl.h"

#include "config/yaml.h"

#include <QDateTime>
#include <QFile>
#include <QJsonDocument>

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
        {"delete", "delete KIND NAME... [-n NS] | delete -f FILE", "Delete objects by name or from manifests."},
        {"export", "export [-n NS] [-o yaml|json]", "Print every object as manifests without server-managed fields."},
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

QStringList extraHeaders(const QString &kind)
{
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
    // First pass: find the command among the positionals, whatever options surround it.
    {
        QCommandLineParser probe;
        addGlobalOptions(probe);
        probe.addOptions({optNamespace, optAll, optOutput, optFile, optDryRun, optSelector});
        probe.parse(args);
        m_command = probe.positionalArguments().value(0);
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
        help += QStringLiteral("\nKinds: gateways (gw), httproutes (route), backends (agentgatewaybackend, be).\n"
                               "The API address and token are found from the dfproxy config file unless given.\n"
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
        m_parser.addOptions({optNamespace, optOutput});
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
    return 0;
}

int Ctl::cmdGet()
{
    if (m_args.isEmpty())
        return usageError(QStringLiteral("get needs a KIND (gateways, httproutes, backends)"));
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

} // namespace dfproxy::ctl
