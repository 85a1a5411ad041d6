// SPDX-License-Identifier: Apache-2.0
#include "config/configstore.h"

#include "base/clock.h"
#include "config/model.h"

#include <QFile>
#include <QFileInfo>
#include <QJsonArray>
#include <QJsonDocument>
#include <QTemporaryDir>

#include <gtest/gtest.h>

using namespace dfproxy;
using namespace dfproxy::config;

namespace {

const QByteArray kDefault = R"({"apiVersion": "dfproxy.dev/v1", "kind": "Config",
  "admin": {"address": "127.0.0.1", "port": 15000},
  "resources": [{"apiVersion": "gateway.networking.k8s.io/v1", "kind": "Gateway",
                 "metadata": {"name": "agentgateway-proxy", "namespace": "agentgateway-system"},
                 "spec": {"gatewayClassName": "agentgateway", "listeners": [{"name": "http", "protocol": "HTTP", "port": 8080}]}}]})";

QJsonObject backend(const QString &name, const QString &ns = "httpbin")
{
    return QJsonObject{{"apiVersion", "agentgateway.dev/v1alpha1"},
                       {"kind", "AgentgatewayBackend"},
                       {"metadata", QJsonObject{{"name", name}, {"namespace", ns}}},
                       {"spec", QJsonObject{{"dynamicForwardProxy", QJsonObject{}}}}};
}

QByteArray readFile(const QString &path)
{
    QFile f(path);
    return f.open(QIODevice::ReadOnly) ? f.readAll() : QByteArray();
}

void writeFile(const QString &path, const QByteArray &data)
{
    QFile f(path);
    ASSERT_TRUE(f.open(QIODevice::WriteOnly | QIODevice::Truncate));
    f.write(data);
}

class ConfigStoreTest : public ::testing::Test
{
protected:
    void SetUp() override
    {
        ASSERT_TRUE(dir.isValid());
        path = dir.filePath("sub/config.json");
        store.setDefaultConfigText(kDefault);
        ASSERT_TRUE(store.load(path)) << store.lastError().toStdString();
    }

    QTemporaryDir dir;
    QString path;
    ManualClock clock;
    ConfigStore store{nullptr, &clock};
};

} // namespace

TEST_F(ConfigStoreTest, FirstStartWritesTheDefaultConfig)
{
    EXPECT_TRUE(QFile::exists(path));
    EXPECT_EQ(store.config().resources.size(), 1);
    QList<FieldError> errors;
    const Config onDisk = Config::fromJsonText(readFile(path), &errors);
    EXPECT_TRUE(errors.isEmpty());
    EXPECT_EQ(onDisk.resources.size(), 1);
    EXPECT_EQ(onDisk.admin.value("port").toInt(), 15000);
}

TEST_F(ConfigStoreTest, CreateSetsServerManagedMetadataAndWritesAtomically)
{
    int changes = 0;
    QObject::connect(&store, &ConfigStore::changed, [&changes] { ++changes; });
    const QByteArray before = readFile(path);
    QJsonObject obj = backend("dfp-backend");
    obj.insert("status", QJsonObject{{"x", 1}});
    auto r = store.create(obj);
    ASSERT_TRUE(r) << r.error.message.toStdString();
    const auto md = r.value->metadata();
    EXPECT_FALSE(md.value("uid").toString().isEmpty());
    EXPECT_EQ(md.value("creationTimestamp").toString().toStdString(), "2023-11-14T22:30:00Z");
    EXPECT_EQ(md.value("resourceVersion").toString(), store.resourceVersion());
    EXPECT_FALSE(r.value->json().contains("status"));
    EXPECT_EQ(changes, 1);
    EXPECT_EQ(readFile(path + ".bak"), before);
    EXPECT_TRUE(readFile(path).contains("dfp-backend"));
    EXPECT_FALSE(readFile(path).contains("\"status\""));
}

TEST_F(ConfigStoreTest, CreateOfExistingObjectIsConflict)
{
    ASSERT_TRUE(store.create(backend("b1")));
    auto r = store.create(backend("b1"));
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error.code, StoreErrorCode::Conflict);
}

TEST_F(ConfigStoreTest, InvalidObjectIsRejectedWithFieldErrors)
{
    int changes = 0;
    QObject::connect(&store, &ConfigStore::changed, [&changes] { ++changes; });
    auto r = store.create(backend("Bad_Name"));
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error.code, StoreErrorCode::Invalid);
    ASSERT_FALSE(r.error.fields.isEmpty());
    EXPECT_EQ(r.error.fields[0].path, "metadata.name");
    EXPECT_EQ(changes, 0);
}

TEST_F(ConfigStoreTest, ReplaceChecksExistenceAndResourceVersions)
{
    const ResourceKey key{"AgentgatewayBackend", "httpbin", "b1"};
    EXPECT_EQ(store.replace(key, backend("b1")).error.code, StoreErrorCode::NotFound);
    auto created = store.create(backend("b1"));
    ASSERT_TRUE(created);
    const QString rv = created.value->metadata().value("resourceVersion").toString();

    QJsonObject changedSpec = backend("b1");
    changedSpec.insert("spec", QJsonObject{{"dynamicForwardProxy", QJsonObject{}}, {"dns", QJsonObject{{"lookupFamily", "V4Only"}}}});
    WriteOptions wrongIfMatch;
    wrongIfMatch.ifMatch = "999";
    EXPECT_EQ(store.replace(key, changedSpec, wrongIfMatch).error.code, StoreErrorCode::PreconditionFailed);

    QJsonObject stale = changedSpec;
    auto md = stale.value("metadata").toObject();
    md.insert("resourceVersion", "1");
    stale.insert("metadata", md);
    EXPECT_EQ(store.replace(key, stale).error.code, StoreErrorCode::Conflict);

    EXPECT_EQ(store.replace(key, backend("other")).error.code, StoreErrorCode::BadRequest);

    WriteOptions rightIfMatch;
    rightIfMatch.ifMatch = rv;
    auto replaced = store.replace(key, changedSpec, rightIfMatch);
    ASSERT_TRUE(replaced) << replaced.error.message.toStdString();
    const auto newMd = replaced.value->metadata();
    EXPECT_GT(newMd.value("resourceVersion").toString().toLongLong(), rv.toLongLong());
    EXPECT_EQ(newMd.value("uid"), created.value->metadata().value("uid"));
    EXPECT_EQ(newMd.value("creationTimestamp"), created.value->metadata().value("creationTimestamp"));
    EXPECT_EQ(newMd.value("generation").toInt(), 2);
}

TEST_F(ConfigStoreTest, NoOpReplaceKeepsResourceVersion)
{
    auto created = store.create(backend("b1"));
    ASSERT_TRUE(created);
    auto again = store.replace({"AgentgatewayBackend", "httpbin", "b1"}, backend("b1"));
    ASSERT_TRUE(again);
    EXPECT_EQ(again.value->metadata().value("resourceVersion"), created.value->metadata().value("resourceVersion"));
}

TEST(ConfigStoreMergePatch, FollowsRfc7386)
{
    const auto target = QJsonDocument::fromJson(R"({"a":"b","c":{"d":"e","f":"g"},"arr":[1,2]})").object();
    const auto patch = QJsonDocument::fromJson(R"({"a":"z","c":{"f":null},"arr":[3],"n":{"x":1}})").object();
    const auto expected = QJsonDocument::fromJson(R"({"a":"z","c":{"d":"e"},"arr":[3],"n":{"x":1}})").object();
    EXPECT_EQ(ConfigStore::mergePatch(target, patch).toObject(), expected);
}

TEST_F(ConfigStoreTest, PatchMergesIntoTheStoredObject)
{
    ASSERT_TRUE(store.create(backend("b1")));
    const QJsonObject patch{{"metadata", QJsonObject{{"labels", QJsonObject{{"team", "a"}}}}}};
    auto r = store.patch({"AgentgatewayBackend", "httpbin", "b1"}, patch);
    ASSERT_TRUE(r) << r.error.message.toStdString();
    EXPECT_EQ(r.value->metadata().value("labels").toObject().value("team").toString(), "a");
    EXPECT_TRUE(r.value->spec().contains("dynamicForwardProxy"));
    EXPECT_EQ(store.patch({"AgentgatewayBackend", "httpbin", "zz"}, patch).error.code, StoreErrorCode::NotFound);
}

TEST_F(ConfigStoreTest, RemoveDeletesAndReportsMissingObjects)
{
    ASSERT_TRUE(store.create(backend("b1")));
    const ResourceKey key{"AgentgatewayBackend", "httpbin", "b1"};
    ASSERT_TRUE(store.remove(key));
    EXPECT_FALSE(store.get(key));
    EXPECT_EQ(store.remove(key).error.code, StoreErrorCode::NotFound);
    EXPECT_FALSE(readFile(path).contains("\"b1\""));
}

// A list's continue token and anything that polls the version must see deletions (docs/admin-api.md).
TEST_F(ConfigStoreTest, EveryWriteRaisesTheResourceVersion)
{
    ASSERT_TRUE(store.create(backend("b1")));
    ASSERT_TRUE(store.create(backend("b2")));
    const qint64 afterCreate = store.resourceVersion().toLongLong();
    ASSERT_TRUE(store.patch({"AgentgatewayBackend", "httpbin", "b1"},
                            QJsonObject{{"metadata", QJsonObject{{"labels", QJsonObject{{"a", "b"}}}}}}));
    const qint64 afterPatch = store.resourceVersion().toLongLong();
    EXPECT_GT(afterPatch, afterCreate);
    ASSERT_TRUE(store.remove({"AgentgatewayBackend", "httpbin", "b2"}));
    const qint64 afterDelete = store.resourceVersion().toLongLong();
    EXPECT_GT(afterDelete, afterPatch);
    // A whole-config replace that only drops an object is a write too.
    QJsonObject whole = store.config().toJson();
    QJsonArray resources = whole.value("resources").toArray();
    resources.removeLast();
    whole.insert("resources", resources);
    ASSERT_TRUE(store.replaceConfig(whole)) << store.lastError().toStdString();
    EXPECT_GT(store.resourceVersion().toLongLong(), afterDelete);
    // A dry run is not a write.
    const QString before = store.resourceVersion();
    ASSERT_TRUE(store.create(backend("b3"), WriteOptions{true, {}}));
    EXPECT_EQ(store.resourceVersion(), before);
}

TEST_F(ConfigStoreTest, ProxySsrfIsParsedOnceAndTravelsWithTheVersion)
{
    // The policy engine reads these back (Config::parsed) instead of parsing proxy.ssrf again.
    QJsonObject whole = store.config().toJson();
    whole.insert("proxy", QJsonObject{{"ssrf", QJsonObject{{"preset", "strict"},
                                                           {"deniedCIDRs", QJsonArray{"203.0.113.0/24"}},
                                                           {"denySelf", false}}}});
    ASSERT_TRUE(store.replaceConfig(whole)) << store.lastError().toStdString();
    const SsrfSettings *ssrf = store.config().parsed.get<SsrfSettings>();
    ASSERT_TRUE(ssrf);
    EXPECT_EQ(ssrf->preset, "strict");
    EXPECT_EQ(ssrf->deniedCIDRs, QStringList{"203.0.113.0/24"});
    EXPECT_FALSE(ssrf->denySelf);

    // A resource write keeps them; a load from the file parses them for that version.
    ASSERT_TRUE(store.create(backend("b1")));
    ASSERT_TRUE(store.config().parsed.get<SsrfSettings>());
    EXPECT_EQ(store.config().parsed.get<SsrfSettings>()->preset, "strict");
    ConfigStore reloaded;
    ASSERT_TRUE(reloaded.load(path)) << reloaded.lastError().toStdString();
    ASSERT_TRUE(reloaded.config().parsed.get<SsrfSettings>());
    EXPECT_FALSE(reloaded.config().parsed.get<SsrfSettings>()->denySelf);
}

TEST_F(ConfigStoreTest, ApplyReportsCreatedConfiguredUnchanged)
{
    auto first = store.apply(QJsonArray{backend("b1"), backend("b2")});
    ASSERT_TRUE(first) << first.error.message.toStdString();
    EXPECT_EQ(first.value->at(0).actionName(), "created");
    EXPECT_EQ(first.value->at(1).actionName(), "created");

    QJsonObject b1 = backend("b1");
    b1.insert("metadata", QJsonObject{{"name", "b1"}, {"namespace", "httpbin"}, {"labels", QJsonObject{{"k", "v"}}}});
    int changes = 0;
    QObject::connect(&store, &ConfigStore::changed, [&changes] { ++changes; });
    auto second = store.apply(QJsonArray{b1, backend("b2")});
    ASSERT_TRUE(second);
    EXPECT_EQ(second.value->at(0).actionName(), "configured");
    EXPECT_EQ(second.value->at(1).actionName(), "unchanged");
    EXPECT_EQ(changes, 1);

    auto third = store.apply(QJsonArray{b1, backend("b2")});
    ASSERT_TRUE(third);
    EXPECT_EQ(third.value->at(0).actionName(), "unchanged");
    EXPECT_EQ(changes, 1);
}

TEST_F(ConfigStoreTest, ApplyIsAllOrNothing)
{
    auto r = store.apply(QJsonArray{backend("good"), backend("Bad_Name")});
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error.code, StoreErrorCode::Invalid);
    ASSERT_FALSE(r.error.fields.isEmpty());
    EXPECT_EQ(r.error.fields[0].path, "items[1].metadata.name");
    EXPECT_FALSE(store.get({"AgentgatewayBackend", "httpbin", "good"}));
}

TEST_F(ConfigStoreTest, DryRunStoresNothing)
{
    int changes = 0;
    QObject::connect(&store, &ConfigStore::changed, [&changes] { ++changes; });
    WriteOptions dry;
    dry.dryRun = true;
    ASSERT_TRUE(store.create(backend("b1"), dry));
    ASSERT_TRUE(store.apply(QJsonArray{backend("b2")}, dry));
    EXPECT_FALSE(store.get({"AgentgatewayBackend", "httpbin", "b1"}));
    EXPECT_EQ(changes, 0);
}

TEST_F(ConfigStoreTest, ListFiltersByKindNamespaceAndLabels)
{
    QJsonObject labelled = backend("b2", "other");
    labelled.insert("metadata", QJsonObject{{"name", "b2"}, {"namespace", "other"}, {"labels", QJsonObject{{"env", "prod"}}}});
    ASSERT_TRUE(store.apply(QJsonArray{backend("b1"), labelled}));
    EXPECT_EQ(store.list("AgentgatewayBackend").value->size(), 2);
    EXPECT_EQ(store.list("AgentgatewayBackend", "httpbin").value->size(), 1);
    EXPECT_EQ(store.list({}, {}, "env=prod").value->size(), 1);
    EXPECT_EQ(store.list({}, {}, "env").value->size(), 1);
    EXPECT_EQ(store.list("AgentgatewayBackend", {}, "!env").value->size(), 1);
    EXPECT_EQ(store.list({}, {}, "env!=prod").value->size(), 2); // b1 and the Gateway
    EXPECT_EQ(store.list({}, {}, "env in (prod)").error.code, StoreErrorCode::BadRequest);
}

TEST_F(ConfigStoreTest, CorruptFileFallsBackToBackupAndIsNotLost)
{
    ASSERT_TRUE(store.create(backend("b1")));
    ASSERT_TRUE(store.create(backend("b2")));
    const QByteArray good = readFile(path + ".bak"); // holds b1 only
    writeFile(path, "{ this is not json");

    ConfigStore fresh;
    EXPECT_FALSE(fresh.load(path));
    EXPECT_TRUE(fresh.usingBackup());
    EXPECT_TRUE(fresh.lastError().contains("config.json")) << fresh.lastError().toStdString();
    EXPECT_TRUE(fresh.get({"AgentgatewayBackend", "httpbin", "b1"}));

    // The next change keeps the good backup and saves the rejected text aside.
    ASSERT_TRUE(fresh.create(backend("b3")));
    EXPECT_EQ(readFile(path + ".bak"), good);
    EXPECT_EQ(readFile(path + ".rejected"), "{ this is not json");
    EXPECT_TRUE(readFile(path).contains("b3"));
}

TEST_F(ConfigStoreTest, InvalidFileOnReloadKeepsTheConfigInEffect)
{
    ASSERT_TRUE(store.create(backend("b1")));
    QFile::remove(path + ".bak");
    writeFile(path, R"({"resources": [{"kind": "Nope"}]})");
    int changes = 0;
    QObject::connect(&store, &ConfigStore::changed, [&changes] { ++changes; });
    EXPECT_FALSE(store.reload());
    EXPECT_FALSE(store.lastError().isEmpty());
    EXPECT_TRUE(store.get({"AgentgatewayBackend", "httpbin", "b1"}));
    EXPECT_EQ(changes, 0);
}

TEST_F(ConfigStoreTest, ResourceVersionSurvivesRestart)
{
    ASSERT_TRUE(store.create(backend("b1")));
    ASSERT_TRUE(store.create(backend("b2")));
    const QString rv = store.resourceVersion();
    ConfigStore fresh;
    ASSERT_TRUE(fresh.load(path));
    EXPECT_EQ(fresh.resourceVersion(), rv);
    auto r = fresh.create(backend("b3"));
    ASSERT_TRUE(r);
    EXPECT_GT(r.value->metadata().value("resourceVersion").toString().toLongLong(), rv.toLongLong());
}

// After a deletion of the newest object the collection's version is above every object's: a restart must not take
// it back (a poller would see an old version again and miss the deletion and what follows).
TEST_F(ConfigStoreTest, TheVersionOfADeletionSurvivesRestart)
{
    ASSERT_TRUE(store.create(backend("b1")));
    ASSERT_TRUE(store.create(backend("b2")));
    ASSERT_TRUE(store.remove({"AgentgatewayBackend", "httpbin", "b2"}));
    const qint64 rv = store.resourceVersion().toLongLong();
    ConfigStore fresh;
    ASSERT_TRUE(fresh.load(path)) << fresh.lastError().toStdString();
    EXPECT_EQ(fresh.resourceVersion().toLongLong(), rv);
    // A hand edit reloaded by the running store is a write too.
    QJsonObject doc = QJsonDocument::fromJson(readFile(path)).object();
    doc.insert("logging", QJsonObject{{"level", "debug"}});
    writeFile(path, QJsonDocument(doc).toJson());
    ASSERT_TRUE(fresh.reload()) << fresh.lastError().toStdString();
    EXPECT_GT(fresh.resourceVersion().toLongLong(), rv);
}

// Neither the file nor a backup loads: the store runs on an empty config, with the bad file's admin block when that
// block is fine (the API stays where dfproxyctl looks for it), and says so.
TEST(ConfigStoreFallback, AnEmptyConfigKeepsAValidAdminBlockOfTheRefusedFile)
{
    QTemporaryDir dir;
    const QString path = dir.filePath("config.json");
    writeFile(path, R"({"apiVersion": "dfproxy.dev/v1", "kind": "Config",
        "admin": {"address": "127.0.0.1", "port": 12345}, "logging": {"level": "loud"}, "resources": []})");
    ConfigStore store;
    store.setConfigValidator([](const Config &c) {
        QList<FieldError> errors;
        if (c.logging.value("level").toString() == "loud")
            errors.append(FieldError{"logging.level", "must be a level"});
        if (c.admin.value("port").toInt() > 65535)
            errors.append(FieldError{"admin.port", "must be a port"});
        return errors;
    });
    EXPECT_FALSE(store.load(path));
    EXPECT_TRUE(store.usingEmptyConfig());
    EXPECT_FALSE(store.usingBackup());
    EXPECT_TRUE(store.lastError().contains("logging.level")) << store.lastError().toStdString();
    EXPECT_TRUE(store.config().resources.isEmpty());
    EXPECT_EQ(store.config().admin.value("port").toInt(), 12345);

    writeFile(path, R"({"apiVersion": "dfproxy.dev/v1", "kind": "Config", "admin": {"port": 99999}})");
    ConfigStore badAdmin;
    badAdmin.setConfigValidator([](const Config &c) {
        return c.admin.value("port").toInt() > 65535 ? QList<FieldError>{{"admin.port", "must be a port"}}
                                                      : QList<FieldError>{};
    });
    EXPECT_FALSE(badAdmin.load(path));
    EXPECT_TRUE(badAdmin.usingEmptyConfig());
    EXPECT_TRUE(badAdmin.config().admin.isEmpty());
}

TEST_F(ConfigStoreTest, ReloadOfABadFileKeepsTheConfigInEffectNotTheBackup)
{
    ASSERT_TRUE(store.create(backend("b1")));
    ASSERT_TRUE(store.create(backend("b2"))); // .bak now holds b1 only
    writeFile(path, "{ broken");
    QString reported;
    QObject::connect(&store, &ConfigStore::loadFailed, [&reported](const QString &e) { reported = e; });
    EXPECT_FALSE(store.reload());
    EXPECT_FALSE(store.usingBackup());
    EXPECT_TRUE(store.get({"AgentgatewayBackend", "httpbin", "b2"})) << "a bad edit must not roll back to the backup";
    EXPECT_EQ(reported, store.lastError());
    EXPECT_TRUE(reported.contains("keeping the configuration in effect")) << reported.toStdString();
}

TEST_F(ConfigStoreTest, ValidatorHookRejectsBadGlobalBlocksOnLoadAndReplace)
{
    store.setConfigValidator([](const Config &c) {
        QList<FieldError> errors;
        if (c.dns.contains("servers") && !c.dns.value("servers").isArray())
            errors.append(FieldError{"dns.servers", "must be a list"});
        return errors;
    });
    QJsonObject doc = store.config().toJson();
    doc.insert("dns", QJsonObject{{"servers", "nope"}});
    WriteOptions opts;
    opts.ifMatch = store.configEtag();
    auto r = store.replaceConfig(doc, opts);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error.code, StoreErrorCode::Invalid);
    ASSERT_EQ(r.error.fields.size(), 1);
    EXPECT_EQ(r.error.fields[0].path, "dns.servers");

    writeFile(path, QJsonDocument(doc).toJson());
    EXPECT_FALSE(store.reload());
    EXPECT_TRUE(store.lastError().contains("dns.servers")) << store.lastError().toStdString();
}

TEST_F(ConfigStoreTest, ReplaceConfigChecksTheEtagAndKeepsMetadataOfUnchangedObjects)
{
    ASSERT_TRUE(store.create(backend("b1")));
    const Resource b1 = *store.get({"AgentgatewayBackend", "httpbin", "b1"}).value;
    const QString etag = store.configEtag();
    QJsonObject doc = store.config().toJson();
    QJsonArray resources = doc.value("resources").toArray();
    resources.append(backend("b2"));
    doc.insert("resources", resources);

    WriteOptions stale;
    stale.ifMatch = "0123";
    EXPECT_EQ(store.replaceConfig(doc, stale).error.code, StoreErrorCode::PreconditionFailed);

    WriteOptions dry;
    dry.ifMatch = etag;
    dry.dryRun = true;
    ASSERT_TRUE(store.replaceConfig(doc, dry));
    EXPECT_EQ(store.configEtag(), etag);

    WriteOptions opts;
    opts.ifMatch = etag;
    ASSERT_TRUE(store.replaceConfig(doc, opts));
    EXPECT_NE(store.configEtag(), etag);
    EXPECT_EQ(store.get({"AgentgatewayBackend", "httpbin", "b1"}).value->json(), b1.json());
    EXPECT_TRUE(store.get({"AgentgatewayBackend", "httpbin", "b2"}).value->metadata().contains("uid"));
    EXPECT_TRUE(readFile(path).contains("\"b2\""));

    // The same key twice is refused.
    resources.append(backend("b2"));
    doc.insert("resources", resources);
    opts.ifMatch = "*";
    EXPECT_EQ(store.replaceConfig(doc, opts).error.code, StoreErrorCode::Invalid);
}

#ifndef Q_OS_WIN
// The config and its backups hold password hashes and JWT keys: private to the service's account.
TEST_F(ConfigStoreTest, TheConfigItsBackupAndItsNewDirectoryArePrivate)
{
    constexpr auto ownerOnly = QFileDevice::ReadOwner | QFileDevice::WriteOwner;
    // Without the "User" bits, which only repeat the owner's for the test's own files.
    const auto mode = [](const QString &p) { return QFileInfo(p).permissions() & ~QFileDevice::Permissions(0x0700); };
    // SetUp's load created sub/ and wrote the default there.
    EXPECT_EQ(mode(dir.filePath("sub")), QFileDevice::ReadOwner | QFileDevice::WriteOwner | QFileDevice::ExeOwner);
    EXPECT_EQ(mode(path), ownerOnly);
    ASSERT_TRUE(store.create(backend("b1")));
    EXPECT_EQ(mode(path + ".bak"), ownerOnly);
    EXPECT_EQ(mode(path), ownerOnly);

    // Modes loosened by hand (or by an older dfproxy) are tightened when the file is loaded.
    ASSERT_TRUE(QFile::setPermissions(path, ownerOnly | QFileDevice::ReadGroup | QFileDevice::ReadOther));
    ASSERT_TRUE(QFile::setPermissions(path + ".bak", ownerOnly | QFileDevice::ReadOther));
    ConfigStore again;
    ASSERT_TRUE(again.load(path)) << again.lastError().toStdString();
    EXPECT_EQ(mode(path), ownerOnly);
    EXPECT_EQ(mode(path + ".bak"), ownerOnly);
    EXPECT_FALSE(QFileInfo::exists(path + ".tmp"));
}
#endif

// The global blocks are parsed once, when a version is validated, and the typed result travels with the version:
// a resource write (which leaves the blocks alone) does not parse them again, and a reload does.
TEST_F(ConfigStoreTest, GlobalBlocksAreParsedOncePerVersionAndTravelWithIt)
{
    int parses = 0;
    store.setConfigValidator([&parses](Config &c) {
        ++parses;
        c.parsed.set(qint64(c.proxy.value("connectTimeoutMs").toInteger(-1)));
        return QList<FieldError>{};
    });
    QJsonObject doc = store.config().toJson();
    doc.insert("proxy", QJsonObject{{"connectTimeoutMs", 1234}});
    ASSERT_TRUE(store.replaceConfig(doc, {}));
    EXPECT_EQ(parses, 1);
    ASSERT_NE(store.config().parsed.get<qint64>(), nullptr);
    EXPECT_EQ(*store.config().parsed.get<qint64>(), 1234);
    ASSERT_TRUE(store.create(backend("parsed-once")));
    EXPECT_EQ(parses, 1) << "a resource write must not parse the global blocks again";
    ASSERT_NE(store.config().parsed.get<qint64>(), nullptr);
    EXPECT_EQ(*store.config().parsed.get<qint64>(), 1234);
    ASSERT_TRUE(store.reload()) << store.lastError().toStdString();
    EXPECT_EQ(parses, 2);
    EXPECT_EQ(*store.config().parsed.get<qint64>(), 1234);
}

// A config the store falls back to without validating it (the empty one, after a bad file and no backup) still
// has its global blocks parsed: the service reads only the parsed form.
TEST(ConfigStoreFallback, TheEmptyConfigHasItsGlobalBlocksParsed)
{
    QTemporaryDir dir;
    const QString path = dir.filePath("config.json");
    writeFile(path, "{ broken");
    ConfigStore store;
    store.setConfigValidator([](Config &c) {
        c.parsed.set(QStringLiteral("parsed"));
        return QList<FieldError>{};
    });
    EXPECT_FALSE(store.load(path));
    ASSERT_TRUE(store.usingEmptyConfig());
    ASSERT_NE(store.config().parsed.get<QString>(), nullptr);
    EXPECT_EQ(*store.config().parsed.get<QString>(), "parsed");
}

// The cross-resource check (forward::tunnelErrors in the service) refuses a write for the problem it brings, whichever
// of the objects involved it writes, names the field as the write names its objects, and does not hold a problem the
// config already had against other writes. Here a stand-in: backends "a" and "b" may not be together (blamed on "a").
TEST_F(ConfigStoreTest, CrossResourceCheckRefusesTheWriteThatBringsAProblem)
{
    const CrossResourceCheck check = [](const Config &c) {
        QList<FieldError> errors;
        int a = -1;
        bool b = false;
        for (int i = 0; i < c.resources.size(); ++i) {
            a = c.resources[i].name() == "a" ? i : a;
            b = b || c.resources[i].name() == "b";
        }
        if (a >= 0 && b)
            errors.append(
                FieldError{QStringLiteral("resources[%1].spec.dynamicForwardProxy").arg(a), "a and b together"});
        return errors;
    };
    store.setCrossResourceCheck(check);
    ASSERT_TRUE(store.create(backend("a")));
    auto applied = store.apply(QJsonArray{backend("c"), backend("b")});
    ASSERT_FALSE(applied);
    EXPECT_EQ(applied.error.code, StoreErrorCode::Invalid);
    ASSERT_EQ(applied.error.fields.size(), 1);
    EXPECT_EQ(applied.error.fields[0].path, "resources[1].spec.dynamicForwardProxy"); // "a", not in the write
    EXPECT_EQ(applied.error.fields[0].message, "AgentgatewayBackend httpbin/a: a and b together");
    EXPECT_FALSE(store.get({"AgentgatewayBackend", "httpbin", "c"})) << "nothing was applied";
    EXPECT_FALSE(store.create(backend("b"), WriteOptions{true, {}})) << "a dry run says so too";

    ASSERT_TRUE(store.remove({"AgentgatewayBackend", "httpbin", "a"}));
    ASSERT_TRUE(store.create(backend("b")));
    applied = store.apply(QJsonArray{backend("c"), backend("a")});
    ASSERT_FALSE(applied);
    ASSERT_EQ(applied.error.fields.size(), 1);
    EXPECT_EQ(applied.error.fields[0].path, "items[1].spec.dynamicForwardProxy");
    EXPECT_EQ(applied.error.fields[0].message, "a and b together");
    const auto created = store.create(backend("a"));
    ASSERT_FALSE(created);
    EXPECT_EQ(created.error.fields.value(0).path, "spec.dynamicForwardProxy");

    // A config that has the problem already (e.g. from before the check): other writes go through.
    store.setCrossResourceCheck({});
    ASSERT_TRUE(store.create(backend("a")));
    store.setCrossResourceCheck(check);
    EXPECT_TRUE(store.create(backend("d")));
    EXPECT_TRUE(store.remove({"AgentgatewayBackend", "httpbin", "d"}));
}
