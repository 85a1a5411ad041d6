// SPDX-License-Identifier: Apache-2.0
#pragma once
// The console against a real dfproxy (with dnsmasq and an origin on loopback), shared by the gui test files.

#include "app/mainwindow.h"
#include "resources/resourceeditor.h"
#include "support/testsupport.h"

#include <QPointer>
#include <QPushButton>
#include <QTest>

#include <gtest/gtest.h>

namespace dfproxy::test {

using dfproxy::client::ApiClient;
using dfproxy::client::ApiResult;
using dfproxy::gui::ConsoleOptions;
using dfproxy::gui::MainWindow;
using dfproxy::gui::ResourceEditor;


inline const QByteArray kSeedYaml = dfproxy::test::seedManifests();

class Console : public ::testing::Test
{
protected:
    void SetUp() override
    {
        if (!Dnsmasq::available())
            GTEST_SKIP() << "dnsmasq is not installed (scripts/test installs it)";
        dns = std::make_unique<Dnsmasq>();
        ASSERT_TRUE(dns->start()) << dns->describe();
        ASSERT_TRUE(dns->setHost("httpbin.test", {QHostAddress("127.0.0.1")}));
        ASSERT_TRUE(dns->setHost("other.test", {QHostAddress("127.0.0.2")}));
        OriginProcess::Options o;
        o.title = "httpbin.test";
        origin = std::make_unique<OriginProcess>(o);
        ASSERT_TRUE(origin->start()) << origin->describe();
        DfproxyProcess::Options p;
        p.dnsServers = {dns->address().toString()};
        service = std::make_unique<DfproxyProcess>(p);
        ASSERT_TRUE(service->start()) << service->describe();

        ConsoleOptions options;
        options.serverUrl = QUrl(QStringLiteral("http://127.0.0.1:%1").arg(service->adminPort()));
        options.token = service->token();
        options.configPath = service->configPath();
        options.persistSettings = false;
        options.trayIcon = false;
        options.pollIntervalMs = 300;
        window = std::make_unique<MainWindow>(options);
        window->connection()->setMaxBackoffMs(1000);
        window->show();
        ASSERT_TRUE(waitUntil([&] { return window->connection()->isConnected(); }, 15000)) << window->statusText();
        api = std::make_unique<ApiClient>(options.serverUrl, options.token);
    }

    void TearDown() override
    {
        window.reset();
        // Let deleteLater()ed replies and editors go before the next test's service starts.
        spinFor(50);
    }

    ApiResult get(const QString &path) { return api->sendBlocking("GET", path); }
    QString hostHeader() const { return QStringLiteral("httpbin.test:%1").arg(origin->port()); }
    CurlResult curlThroughProxy() { return curl({"-H", "host: " + hostHeader(), service->proxyUrl("/")}); }

    void applySeed()
    {
        const ApiResult r = api->sendBlocking("POST", "/api/v1/apply", {}, kSeedYaml, "application/yaml");
        ASSERT_TRUE(r.ok()) << r.error->toString();
    }

    // Clicks Save and waits until the editor closed (success) or showed an error.
    static void clickSave(ResourceEditor *editor)
    {
        QPointer<ResourceEditor> e(editor);
        auto *save = editor->findChild<QPushButton *>("saveButton");
        ASSERT_NE(save, nullptr);
        QTest::mouseClick(save, Qt::LeftButton);
        ASSERT_TRUE(waitUntil([&] { return !e || !e->isVisible() || (!e->isSaving() && !e->lastError().isEmpty()); },
                              10000));
    }

    std::unique_ptr<Dnsmasq> dns;
    std::unique_ptr<OriginProcess> origin;
    std::unique_ptr<DfproxyProcess> service;
    std::unique_ptr<MainWindow> window;
    std::unique_ptr<ApiClient> api;
};


} // namespace dfproxy::test
