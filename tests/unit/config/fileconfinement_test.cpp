// SPDX-License-Identifier: Apache-2.0
#include "config/configstore.h"
#include "config/fileconfinement.h"

#include <QDir>
#include <QFile>
#include <QJsonArray>
#include <QJsonDocument>
#include <QTemporaryDir>

#include <gtest/gtest.h>

using namespace dfproxy::config;

namespace {

QJsonObject parse(const QByteArray &text)
{
    return QJsonDocument::fromJson(text).object();
}

std::string describe(const QList<FieldError> &errors)
{
    QString s;
    for (const auto &e : errors)
        s += e.path + ": " + e.message + "\n";
    return s.toStdString();
}

QJsonObject authPolicy(const QString &htpasswdFile)
{
    return QJsonObject{
        {"apiVersion", "dfproxy.dev/v1alpha1"},
        {"kind", "AuthenticationPolicy"},
        {"metadata", QJsonObject{{"name", "auth"}, {"namespace", "ns"}}},
        {"spec", QJsonObject{{"targetRefs", QJsonArray{QJsonObject{{"kind", "Gateway"}, {"name", "gw"}}}},
                             {"basic", QJsonObject{{"htpasswdFile", htpasswdFile}}}}}};
}

QJsonObject configWithLog(const QString &logPath)
{
    return QJsonObject{{"apiVersion", "dfproxy.dev/v1"},
                       {"kind", "Config"},
                       {"logging", QJsonObject{{"accessLog", QJsonObject{{"enabled", true}, {"path", logPath}}}}},
                       {"resources", QJsonArray{}}};
}

// The service's layout: a config directory (reads) and a separate log directory (writes).
class FileConfinementTest : public ::testing::Test
{
protected:
    void SetUp() override
    {
        ASSERT_TRUE(root.isValid());
        ASSERT_TRUE(QDir().mkpath(configDir()) && QDir().mkpath(logDir()) && QDir().mkpath(outside()));
        confinement.readDirs = {configDir()};
        confinement.writeDirs = {logDir()};
        confinement.reservedFiles = {configDir() + "/config.json"};
        store.setDefaultConfigText(R"({"apiVersion": "dfproxy.dev/v1", "kind": "Config", "resources": []})");
        store.setFileConfinement(confinement);
        ASSERT_TRUE(store.load(configDir() + "/config.json")) << store.lastError().toStdString();
    }

    QString configDir() const { return root.filePath("etc"); }
    QString logDir() const { return root.filePath("log"); }
    QString outside() const { return root.filePath("elsewhere"); }

    QTemporaryDir root;
    FileConfinement confinement;
    ConfigStore store;
};

} // namespace

TEST(ResolvedFilePath, FollowsDotDotAndSymlinksLikeTheKernel)
{
    QTemporaryDir dir;
    const QString base = QFileInfo(dir.path()).canonicalFilePath();
    ASSERT_TRUE(QDir().mkpath(base + "/a/b"));
    EXPECT_EQ(resolvedFilePath(base + "/a/b/../c.log"), base + "/a/c.log");
    EXPECT_EQ(resolvedFilePath(base + "/a/./b/new/file"), base + "/a/b/new/file");
    EXPECT_EQ(resolvedFilePath(base + "/a/missing/../x"), QString()); // ".." below a directory that does not exist
#ifndef Q_OS_WIN
    ASSERT_TRUE(QFile::link(base + "/a/b", base + "/link"));
    // link/.. is the parent of the link's target, not the directory holding the link.
    EXPECT_EQ(resolvedFilePath(base + "/link/../x"), base + "/a/x");
    ASSERT_TRUE(QFile::link(base + "/nowhere/file", base + "/dangling"));
    EXPECT_EQ(resolvedFilePath(base + "/dangling"), QString());
#endif
}

TEST_F(FileConfinementTest, ReplaceConfigRefusesALogFileOutsideTheLogDirectory)
{
    const QString escapes[] = {"/etc/passwd", logDir() + "/../etc/config.json.bak", logDir() + "/../elsewhere/x.log",
                               configDir() + "/access.log"};
    for (const auto &path : escapes) {
        const auto result = store.replaceConfig(configWithLog(path), {});
        ASSERT_FALSE(result) << path.toStdString();
        EXPECT_EQ(result.error.code, StoreErrorCode::Invalid);
        ASSERT_EQ(result.error.fields.size(), 1) << describe(result.error.fields);
        EXPECT_EQ(result.error.fields[0].path, "logging.accessLog.path");
        EXPECT_TRUE(result.error.fields[0].message.contains(QDir::toNativeSeparators(logDir())))
            << describe(result.error.fields);
        EXPECT_TRUE(result.error.message.contains(QDir::toNativeSeparators(logDir())))
            << result.error.message.toStdString();
    }
    EXPECT_TRUE(store.replaceConfig(configWithLog(logDir() + "/access.log"), {}))
        << describe(store.replaceConfig(configWithLog(logDir() + "/access.log"), {}).error.fields);
}

#ifndef Q_OS_WIN
TEST_F(FileConfinementTest, ASymlinkInsideTheLogDirectoryPointingOutIsRefused)
{
    ASSERT_TRUE(QFile::link(outside(), logDir() + "/out"));
    ASSERT_TRUE(QFile::link(outside() + "/victim", logDir() + "/victim.log"));
    for (const QString &path : {logDir() + "/out/access.log", logDir() + "/victim.log"}) {
        const auto result = store.replaceConfig(configWithLog(path), {});
        ASSERT_FALSE(result) << path.toStdString();
        ASSERT_EQ(result.error.fields.size(), 1);
        EXPECT_EQ(result.error.fields[0].path, "logging.accessLog.path");
    }
}
#endif

TEST_F(FileConfinementTest, ALogFileMayNotReplaceDfproxysOwnFiles)
{
    // Even inside the log directory: the access log appends to its file and renames it on rotation.
    confinement.writeDirs = {configDir()};
    store.setFileConfinement(confinement);
    const auto result = store.replaceConfig(configWithLog(configDir() + "/config.json"), {});
    ASSERT_FALSE(result);
    ASSERT_EQ(result.error.fields.size(), 1);
    EXPECT_TRUE(result.error.fields[0].message.contains("own file")) << describe(result.error.fields);
}

TEST_F(FileConfinementTest, ResourceWritesRefuseFilesOutsideTheConfigDirectory)
{
    auto created = store.create(authPolicy("/etc/shadow"));
    ASSERT_FALSE(created);
    EXPECT_EQ(created.error.code, StoreErrorCode::Invalid);
    ASSERT_EQ(created.error.fields.size(), 1) << describe(created.error.fields);
    EXPECT_EQ(created.error.fields[0].path, "spec.basic.htpasswdFile");
    EXPECT_TRUE(created.error.message.contains(QDir::toNativeSeparators(configDir())));

    auto applied = store.apply(QJsonArray{authPolicy(configDir() + "/../elsewhere/htpasswd")});
    ASSERT_FALSE(applied);
    ASSERT_EQ(applied.error.fields.size(), 1) << describe(applied.error.fields);
    EXPECT_EQ(applied.error.fields[0].path, "items[0].spec.basic.htpasswdFile");

    ASSERT_TRUE(store.create(authPolicy(configDir() + "/htpasswd")));
    auto patched = store.patch({"AuthenticationPolicy", "ns", "auth"},
                               parse(R"({"spec": {"basic": {"htpasswdFile": "/etc/shadow"}}})"));
    ASSERT_FALSE(patched);
    EXPECT_EQ(patched.error.fields.value(0).path, "spec.basic.htpasswdFile");

    const auto tls = parse(R"({"apiVersion": "agentgateway.dev/v1alpha1", "kind": "AgentgatewayBackend",
        "metadata": {"name": "b", "namespace": "ns"},
        "spec": {"dynamicForwardProxy": {}, "tls": {"caFile": "/root/ca.pem"}}})");
    EXPECT_EQ(store.create(tls).error.fields.value(0).path, "spec.tls.caFile");
}

TEST_F(FileConfinementTest, AConfigFileOnDiskMayNameAnyPathAndKeepItThroughTheApi)
{
    QFile f(configDir() + "/config.json");
    ASSERT_TRUE(f.open(QIODevice::WriteOnly | QIODevice::Truncate));
    QJsonObject doc = configWithLog(outside() + "/access.log");
    doc.insert("resources", QJsonArray{authPolicy(outside() + "/htpasswd")});
    f.write(QJsonDocument(doc).toJson());
    f.close();
    ASSERT_TRUE(store.reload()) << store.lastError().toStdString();
    EXPECT_EQ(store.config().resources.size(), 1);

    // A round trip through the API (GET, edit something else, PUT) keeps the owner's paths.
    QJsonObject edited = store.config().toJson();
    edited.insert("dns", QJsonObject{{"hostsFilePath", configDir() + "/hosts"}});
    const auto result = store.replaceConfig(edited, {});
    EXPECT_TRUE(result) << describe(result.error.fields);
    // The owner's log path is not a licence to read it, nor to write the file it allowed reading.
    QJsonObject swapped = store.config().toJson();
    swapped.insert("dns", QJsonObject{{"hostsFilePath", outside() + "/access.log"}});
    const auto refused = store.replaceConfig(swapped, {});
    ASSERT_FALSE(refused);
    EXPECT_EQ(refused.error.fields.value(0).path, "dns.hostsFilePath");
}
