// SPDX-License-Identifier: Apache-2.0
#include "dns/dnspage.h"

#include "app/connection.h"
#include "dns/dnscachemodel.h"
#include "widgets/confirm.h"
#include "widgets/toast.h"

#include <QHBoxLayout>
#include <QHeaderView>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QLabel>
#include <QLineEdit>
#include <QPointer>
#include <QPushButton>
#include <QShortcut>
#include <QSortFilterProxyModel>
#include <QTableView>
#include <QUrl>
#include <QVBoxLayout>

namespace dfproxy::gui {

DnsPage::DnsPage(Connection *connection, QWidget *parent)
    : Page(connection, parent),
      m_model(new DnsCacheModel(this)),
      m_proxy(new QSortFilterProxyModel(this)),
      m_table(new QTableView(this)),
      m_search(new QLineEdit(this)),
      m_resolveEdit(new QLineEdit(this)),
      m_message(new QLabel(this)),
      m_settings(new QLabel(this))
{
    setObjectName(QStringLiteral("dnsPage"));
    auto *layout = new QVBoxLayout(this);
    auto *bar = new QHBoxLayout;
    m_search->setObjectName(QStringLiteral("searchEdit"));
    m_search->setPlaceholderText(tr("Search hosts…"));
    m_search->setClearButtonEnabled(true);
    bar->addWidget(m_search, 1);
    auto button = [&](const QString &text, const QString &name, auto slot) {
        auto *b = new QPushButton(text);
        b->setObjectName(name);
        connect(b, &QPushButton::clicked, this, slot);
        bar->addWidget(b);
        return b;
    };
    button(tr("Refresh"), QStringLiteral("refreshButton"), [this] { refresh(); });
    button(tr("Remove…"), QStringLiteral("removeButton"), [this] { removeSelected(); });
    button(tr("Flush all…"), QStringLiteral("flushButton"), [this] { flushAll(); });
    layout->addLayout(bar);

    auto *resolveBar = new QHBoxLayout;
    m_resolveEdit->setObjectName(QStringLiteral("resolveEdit"));
    m_resolveEdit->setPlaceholderText(tr("host:port to resolve ahead of traffic, e.g. example.com:443"));
    resolveBar->addWidget(m_resolveEdit, 1);
    auto *resolve = new QPushButton(tr("Preresolve"));
    resolve->setObjectName(QStringLiteral("resolveButton"));
    connect(resolve, &QPushButton::clicked, this, [this] { preresolve(m_resolveEdit->text()); });
    connect(m_resolveEdit, &QLineEdit::returnPressed, this, [this] { preresolve(m_resolveEdit->text()); });
    resolveBar->addWidget(resolve);
    layout->addLayout(resolveBar);
    m_settings->setObjectName(QStringLiteral("settingsLabel"));
    m_settings->setStyleSheet(QStringLiteral("color: palette(mid);"));
    m_settings->setTextInteractionFlags(Qt::TextSelectableByMouse);
    m_settings->setWordWrap(true);
    m_settings->setToolTip(tr("The \"dns\" settings in effect (GET /api/v1/dns/settings). Change them in the config "
                              "file's \"dns\" block or with --dns-server; docs/dns.md."));
    layout->addWidget(m_settings);

    m_proxy->setSourceModel(m_model);
    m_proxy->setFilterKeyColumn(-1);
    m_proxy->setFilterCaseSensitivity(Qt::CaseInsensitive);
    m_proxy->setSortRole(Qt::DisplayRole);
    connect(m_search, &QLineEdit::textChanged, m_proxy, &QSortFilterProxyModel::setFilterFixedString);
    m_table->setObjectName(QStringLiteral("dnsTable"));
    m_table->setModel(m_proxy);
    m_table->setSortingEnabled(true);
    m_table->sortByColumn(DnsCacheModel::Host, Qt::AscendingOrder);
    m_table->setSelectionBehavior(QAbstractItemView::SelectRows);
    m_table->setSelectionMode(QAbstractItemView::SingleSelection);
    m_table->setAlternatingRowColors(true);
    m_table->setWordWrap(false);
    m_table->verticalHeader()->setVisible(false);
    m_table->horizontalHeader()->setStretchLastSection(true);
    layout->addWidget(m_table, 1);
    // The Delete key removes the selected entry, asking first like the button.
    auto *del = new QShortcut(QKeySequence::Delete, m_table, this, &DnsPage::removeSelected);
    del->setContext(Qt::WidgetShortcut);
    m_message->setObjectName(QStringLiteral("messageLabel"));
    m_message->setWordWrap(true);
    layout->addWidget(m_message);

    m_poll.setInterval(3000);
    connect(&m_poll, &QTimer::timeout, this, &DnsPage::refresh);
    m_tick.setInterval(250);
    connect(&m_tick, &QTimer::timeout, m_model, &DnsCacheModel::tick);
    connect(connection, &Connection::connected, this, [this] {
        if (isActive())
            refresh();
    });
}

void DnsPage::setActive(bool active)
{
    Page::setActive(active);
    if (active) {
        refresh();
        m_poll.start();
        m_tick.start();
    } else {
        m_poll.stop();
        m_tick.stop();
    }
}

void DnsPage::refresh()
{
    if (!m_connection->isConnected())
        return;
    QPointer<DnsPage> self(this);
    m_connection->api()->send("GET", QStringLiteral("/api/v1/dns/settings"), {}, {}, {}, [self](const client::ApiResult &r) {
        if (!self)
            return;
        if (r.ok())
            self->m_settings->setText(describeSettings(r.object()));
        else
            self->m_settings->clear(); // an older service, or the request failed: the cache table says why
    });
    m_connection->api()->send("GET", QStringLiteral("/api/v1/dns/cache"), {}, {}, {}, [self](const client::ApiResult &r) {
        if (!self)
            return;
        ++self->m_loads;
        if (!r.ok()) {
            self->showMessage(r.error->status == 404 ? tr("This service version has no DNS cache API.")
                                                     : r.error->toString(),
                              true);
            self->m_message->setProperty("loadError", true);
            return;
        }
        const auto sel = self->m_table->selectionModel()->selectedRows();
        const QString keep = sel.isEmpty() ? QString()
                                           : self->m_model->itemAt(self->m_proxy->mapToSource(sel.first()).row())
                                                 .value("key")
                                                 .toString();
        const bool first = self->m_model->rowCount() == 0;
        if (self->m_message->property("loadError").toBool())
            self->showMessage({}); // loading works again
        self->m_model->setItems(r.object().value("items").toArray());
        self->reportPreresolve();
        if (first)
            self->m_table->resizeColumnsToContents();
        if (!keep.isEmpty()) {
            for (int i = 0; i < self->m_model->rowCount(); ++i) {
                if (self->m_model->itemAt(i).value("key").toString() == keep)
                    self->m_table->selectRow(self->m_proxy->mapFromSource(self->m_model->index(i, 0)).row());
            }
        }
    });
}

QString DnsPage::describeSettings(const QJsonObject &settings)
{
    QStringList servers;
    for (const QJsonValue &v : settings.value("servers").toArray())
        servers.append(v.toString());
    const QString serverText = servers.isEmpty() ? tr("the system's nameservers") : servers.join(QStringLiteral(", "));
    const int attached = settings.value("attachedThreads").toInt();
    QString resolver;
    if (settings.value("resolverInEffect").toString() == QLatin1String("udp")) {
        if (attached == 1)
            resolver = tr("dfproxy's DNS client (1 worker thread sends its own queries)");
        else if (attached > 1)
            resolver = tr("dfproxy's DNS client (%1 worker threads send their own queries)").arg(attached);
        else
            resolver = tr("dfproxy's DNS client");
    } else {
        resolver = tr("Qt's QDnsLookup");
    }
    return tr("Resolver: %1 · servers: %2 · timeout %3 ms · lookup family %4")
        .arg(resolver, serverText, QString::number(settings.value("queryTimeoutMs").toInt()),
             settings.value("lookupFamily").toString());
}

QString DnsPage::settingsText() const
{
    return m_settings->text();
}

void DnsPage::showMessage(const QString &text, bool error)
{
    m_message->setText(text);
    m_message->setProperty("loadError", false);
    m_message->setVisible(!text.isEmpty());
    m_message->setStyleSheet(error ? QStringLiteral("color: #b00020;") : QString());
}

QString DnsPage::message() const
{
    return m_message->text();
}

void DnsPage::removeSelected()
{
    const auto sel = m_table->selectionModel()->selectedRows();
    if (sel.isEmpty())
        return;
    const QJsonObject o = m_model->itemAt(m_proxy->mapToSource(sel.first()).row());
    QString host = o.value("host").toString();
    if (host.contains(u':'))
        host = u'[' + host + u']';
    const QString key = QStringLiteral("%1:%2").arg(host).arg(o.value("port").toInt());
    if (m_confirm
        && !confirmDestructive(this, tr("Remove"), tr("DNS cache entry"), key,
                               tr("The next request to %1 resolves it again.").arg(key)))
        return;
    QPointer<DnsPage> self(this);
    m_connection->api()->send("DELETE", QStringLiteral("/api/v1/dns/cache/") + QString::fromLatin1(QUrl::toPercentEncoding(key, ":[]")),
                              {}, {}, {}, [self, key](const client::ApiResult &r) {
                                  if (!self)
                                      return;
                                  if (r.ok()) {
                                      self->showMessage({});
                                      showToast(self, tr("Removed %1 from the DNS cache").arg(key));
                                  } else {
                                      self->showMessage(r.error->toString(), true);
                                  }
                                  self->refresh();
                              });
}

void DnsPage::flushAll()
{
    if (m_confirm && !confirmFlush(this))
        return;
    QPointer<DnsPage> self(this);
    m_connection->api()->send("DELETE", QStringLiteral("/api/v1/dns/cache"), {}, {}, {}, [self](const client::ApiResult &r) {
        if (!self)
            return;
        if (r.ok()) {
            self->showMessage({});
            showToast(self, flushedText(r.object()));
        } else {
            self->showMessage(r.error->toString(), true);
        }
        self->refresh();
    });
}

void DnsPage::preresolve(const QString &hostPort)
{
    QString host = hostPort.trimmed();
    int port = 80;
    const int colon = host.lastIndexOf(u':');
    if (colon > 0 && !host.endsWith(u']') && host.count(u':') == 1) {
        bool ok = false;
        port = host.mid(colon + 1).toInt(&ok);
        if (!ok) {
            showMessage(tr("\"%1\" is not host:port").arg(hostPort), true);
            return;
        }
        host = host.left(colon);
    }
    if (host.isEmpty()) {
        showMessage(tr("Enter a host name, e.g. example.com:443"), true);
        return;
    }
    const QJsonObject body{{"host", host}, {"port", port}};
    QPointer<DnsPage> self(this);
    m_connection->api()->send("POST", QStringLiteral("/api/v1/dns/resolve"), {},
                              QJsonDocument(body).toJson(QJsonDocument::Compact), "application/json",
                              [self, host, port](const client::ApiResult &r) {
                                  if (!self)
                                      return;
                                  if (!r.ok()) {
                                      QString text = r.error->toString();
                                      for (const auto &[path, msg] : r.error->fields)
                                          text += QStringLiteral("\n%1: %2").arg(path, msg);
                                      self->showMessage(text, true);
                                      return;
                                  }
                                  // Says "Resolving…" until the cache shows the outcome (reportPreresolve()).
                                  self->m_pendingHost = host;
                                  self->m_pendingPort = port;
                                  self->m_pendingSince.start();
                                  self->showMessage(tr("Resolving %1:%2…").arg(host).arg(port));
                                  // The answer lands in the cache a moment later.
                                  QTimer::singleShot(300, self, &DnsPage::refresh);
                                  QTimer::singleShot(1500, self, &DnsPage::refresh);
                              });
}

void DnsPage::reportPreresolve()
{
    if (m_pendingHost.isEmpty())
        return;
    const int row = m_model->rowOf(m_pendingHost, m_pendingPort);
    const QJsonObject o = row >= 0 ? m_model->itemAt(row) : QJsonObject();
    const QString state = o.value("state").toString();
    const QString key = QStringLiteral("%1:%2").arg(m_pendingHost).arg(m_pendingPort);
    if (row < 0 || state == QLatin1String("resolving")) {
        // The service answers within its DNS timeout; past that, stop claiming anything and let the table speak.
        if (m_pendingSince.elapsed() > 30000) {
            m_pendingHost.clear();
            showMessage({});
        }
        return;
    }
    m_pendingHost.clear();
    const QStringList addresses = [&] {
        QStringList a;
        for (const QJsonValue &v : o.value("addresses").toArray())
            a.append(v.toString());
        return a;
    }();
    if (state == QLatin1String("failed") || addresses.isEmpty()) {
        const QString why = o.value("lastError").toString();
        showMessage(tr("%1 did not resolve: %2").arg(key, why.isEmpty() ? state : why), true);
        return;
    }
    showMessage({});
    showToast(this, tr("Resolved %1 → %2").arg(key, addresses.join(QStringLiteral(", "))));
}

bool DnsPage::confirmFlush(QWidget *parent)
{
    return confirmDestructive(parent, tr("Flush"), tr("DNS cache"), {},
                              tr("Every entry is removed; the next request to each host resolves it again."));
}

QString DnsPage::flushedText(const QJsonObject &answer)
{
    return tr("Flushed the DNS cache (%n entr(y/ies))", nullptr, answer.value("flushed").toInt());
}

} // namespace dfproxy::gui
