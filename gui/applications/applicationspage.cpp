// SPDX-License-Identifier: Apache-2.0
#include "applications/applicationspage.h"

#include "app/connection.h"
#include "applications/applicationrules.h"

#include <QDateTime>
#include <QFileIconProvider>
#include <QFileInfo>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QJsonDocument>
#include <QJsonObject>
#include <QLabel>
#include <QLocale>
#include <QMessageBox>
#include <QPointer>
#include <QPushButton>
#include <QTreeWidget>
#include <QUrl>
#include <QVBoxLayout>

namespace dfproxy::gui {

namespace {

enum Column { Program, User, Path, Requests, Denied, Bytes, LastSeen, ColumnCount };
constexpr int PathRole = Qt::UserRole + 1;  ///< the program's path, on program and host rows
constexpr int HostRole = Qt::UserRole + 2;  ///< the host, on host rows only

QString lastSeen(const QString &iso)
{
    const QDateTime t = QDateTime::fromString(iso, Qt::ISODateWithMs);
    return t.isValid() ? QLocale().toString(t.toLocalTime(), QStringLiteral("yyyy-MM-dd HH:mm:ss")) : iso;
}

QString bytes(const QJsonObject &o)
{
    const QLocale l;
    return QStringLiteral("↑%1 ↓%2")
        .arg(l.formattedDataSize(o.value("bytesIn").toInteger()), l.formattedDataSize(o.value("bytesOut").toInteger()));
}

} // namespace

ApplicationsPage::ApplicationsPage(Connection *connection, QWidget *parent)
    : Page(connection, parent),
      m_tree(new QTreeWidget(this)),
      m_denyButton(new QPushButton(tr("Deny this application to this host…"), this)),
      m_allowOnlyButton(new QPushButton(tr("Allow only these hosts…"), this)),
      m_message(new QLabel(this))
{
    setObjectName(QStringLiteral("applicationsPage"));
    auto *layout = new QVBoxLayout(this);
    auto *bar = new QHBoxLayout;
    auto *refreshButton = new QPushButton(tr("Refresh"), this);
    refreshButton->setObjectName(QStringLiteral("refreshButton"));
    connect(refreshButton, &QPushButton::clicked, this, &ApplicationsPage::refresh);
    m_denyButton->setObjectName(QStringLiteral("denyHostButton"));
    m_denyButton->setToolTip(tr("Adds a Deny rule for the selected program and host to the AuthorizationPolicy "
                                "\"%1\"").arg(ApplicationRules::policyName()));
    connect(m_denyButton, &QPushButton::clicked, this, &ApplicationsPage::denySelectedHost);
    m_allowOnlyButton->setObjectName(QStringLiteral("allowOnlyButton"));
    m_allowOnlyButton->setToolTip(tr("Lets the selected program reach only the hosts listed under it; everything "
                                     "else is refused (403 application_denied)"));
    connect(m_allowOnlyButton, &QPushButton::clicked, this, &ApplicationsPage::allowOnlySelectedHosts);
    bar->addWidget(refreshButton);
    bar->addStretch(1);
    bar->addWidget(m_denyButton);
    bar->addWidget(m_allowOnlyButton);
    layout->addLayout(bar);

    m_tree->setObjectName(QStringLiteral("applicationsTree"));
    m_tree->setColumnCount(ColumnCount);
    m_tree->setHeaderLabels({tr("Program / host"), tr("User"), tr("Path"), tr("Requests"), tr("Denied"), tr("Bytes"),
                             tr("Last seen")});
    m_tree->setRootIsDecorated(true);
    m_tree->setUniformRowHeights(true);
    m_tree->setAlternatingRowColors(true);
    m_tree->header()->setStretchLastSection(false);
    m_tree->header()->setSectionResizeMode(Path, QHeaderView::Stretch);
    connect(m_tree, &QTreeWidget::itemSelectionChanged, this, &ApplicationsPage::updateButtons);
    layout->addWidget(m_tree, 1);

    m_message->setObjectName(QStringLiteral("messageLabel"));
    m_message->setWordWrap(true);
    m_message->setTextInteractionFlags(Qt::TextSelectableByMouse);
    m_message->setText(tr("Programs on this machine behind the proxy's clients (proxy.applicationLookup). "
                          "Select a host to deny it to its program, or a program to allow it only its hosts."));
    layout->addWidget(m_message);

    m_poll.setInterval(3000);
    connect(&m_poll, &QTimer::timeout, this, &ApplicationsPage::refresh);
    updateButtons();
}

void ApplicationsPage::setActive(bool active)
{
    Page::setActive(active);
    if (active) {
        refresh();
        m_poll.start();
    } else {
        m_poll.stop();
    }
}

QString ApplicationsPage::message() const
{
    return m_message->text();
}

void ApplicationsPage::showMessage(const QString &text, bool error)
{
    m_message->setText(text);
    m_message->setStyleSheet(error ? QStringLiteral("color: #b00020;") : QString());
}

void ApplicationsPage::refresh()
{
    if (!m_connection->isConnected())
        return;
    QPointer<ApplicationsPage> self(this);
    m_connection->api()->send("GET", QStringLiteral("/api/v1/applications"), {}, {}, {},
                              [self](const client::ApiResult &r) {
                                  if (!self)
                                      return;
                                  ++self->m_loads;
                                  if (!r.ok()) {
                                      self->showMessage(r.error->status == 404
                                                            ? tr("This service version has no applications API.")
                                                            : r.error->toString(),
                                                        true);
                                      return;
                                  }
                                  self->show(r.object().value("items").toArray());
                              });
}

void ApplicationsPage::show(const QJsonArray &items)
{
    // Keep the selection and what is expanded across refreshes.
    QString selectedPath, selectedHost;
    if (const QTreeWidgetItem *cur = m_tree->currentItem()) {
        selectedPath = cur->data(0, PathRole).toString();
        selectedHost = cur->data(0, HostRole).toString();
    }
    QSet<QString> expanded;
    for (int i = 0; i < m_tree->topLevelItemCount(); ++i) {
        if (m_tree->topLevelItem(i)->isExpanded())
            expanded.insert(m_tree->topLevelItem(i)->data(0, PathRole).toString());
    }
    const bool first = m_tree->topLevelItemCount() == 0;
    m_tree->clear();
    QFileIconProvider icons;
    for (const auto &v : items) {
        const QJsonObject a = v.toObject();
        const QString path = a.value("processPath").toString();
        auto *item = new QTreeWidgetItem(m_tree);
        item->setIcon(Program, icons.icon(QFileInfo(path)));
        item->setText(Program, a.value("process").toString());
        item->setText(User, a.value("processUser").toString());
        item->setText(Path, path);
        item->setText(Requests, QString::number(a.value("requests").toInteger()));
        item->setText(Denied, QString::number(a.value("denied").toInteger()));
        item->setText(Bytes, bytes(a));
        item->setText(LastSeen, lastSeen(a.value("lastSeen").toString()));
        QStringList pids;
        for (const auto &p : a.value("pids").toArray())
            pids.append(QString::number(p.toInteger()));
        item->setToolTip(Program, tr("%1\npids %2").arg(path, pids.join(", ")));
        item->setData(0, PathRole, path);
        for (const auto &hv : a.value("hosts").toArray()) {
            const QJsonObject h = hv.toObject();
            auto *child = new QTreeWidgetItem(item);
            child->setText(Program, h.value("host").toString());
            child->setText(Requests, QString::number(h.value("requests").toInteger()));
            child->setText(Denied, QString::number(h.value("denied").toInteger()));
            child->setText(Bytes, bytes(h));
            child->setText(LastSeen, lastSeen(h.value("lastSeen").toString()));
            child->setData(0, PathRole, path);
            child->setData(0, HostRole, h.value("host").toString());
            if (h.value("denied").toInteger() > 0)
                child->setForeground(Denied, QBrush(QColor(0xb0, 0x00, 0x20)));
            if (path == selectedPath && h.value("host").toString() == selectedHost)
                m_tree->setCurrentItem(child);
        }
        item->setExpanded(first || expanded.contains(path));
        if (path == selectedPath && selectedHost.isEmpty())
            m_tree->setCurrentItem(item);
    }
    if (first)
        for (int c = 0; c < ColumnCount; ++c)
            if (c != Path)
                m_tree->resizeColumnToContents(c);
    if (items.isEmpty())
        showMessage(tr("No application seen yet: programs appear here after their first request through the "
                       "proxy from this machine (proxy.applicationLookup on)."));
    updateButtons();
}

void ApplicationsPage::updateButtons()
{
    const QTreeWidgetItem *cur = m_tree->currentItem();
    m_denyButton->setEnabled(cur && !cur->data(0, HostRole).toString().isEmpty());
    m_allowOnlyButton->setEnabled(cur != nullptr);
}

void ApplicationsPage::denySelectedHost()
{
    const QTreeWidgetItem *cur = m_tree->currentItem();
    if (!cur || cur->data(0, HostRole).toString().isEmpty())
        return;
    const QString path = cur->data(0, PathRole).toString();
    const QString host = cur->data(0, HostRole).toString();
    if (ApplicationRules::usableHosts({host}).isEmpty()) {
        showMessage(tr("%1 is an IPv6 address: an AuthorizationPolicy cannot name it.").arg(host), true);
        return;
    }
    if (m_confirm && QMessageBox::question(this, tr("Deny application"),
                                           tr("Refuse %1 to %2 from now on?\n\nThe rule goes into the "
                                              "AuthorizationPolicy \"%3\".")
                                               .arg(path, host, ApplicationRules::policyName()))
                         != QMessageBox::Yes)
        return;
    changePolicy(tr("%1 may no longer reach %2").arg(QFileInfo(path).fileName(), host),
                 [path, host](const QJsonObject &existing, const QString &ns, const QJsonArray &targets) {
                     return ApplicationRules::denyHost(existing, ns, targets, path, host);
                 });
}

void ApplicationsPage::allowOnlySelectedHosts()
{
    QTreeWidgetItem *cur = m_tree->currentItem();
    if (!cur)
        return;
    QTreeWidgetItem *program = cur->parent() ? cur->parent() : cur;
    const QString path = program->data(0, PathRole).toString();
    // The hosts it was let through to: a host every request to which was refused stays refused.
    QStringList hosts;
    for (int i = 0; i < program->childCount(); ++i) {
        const QTreeWidgetItem *h = program->child(i);
        if (h->text(Requests).toLongLong() > h->text(Denied).toLongLong())
            hosts.append(h->data(0, HostRole).toString());
    }
    if (m_confirm && QMessageBox::question(this, tr("Allow only these hosts"),
                                           tr("Let %1 reach only %2, and refuse it everything else?\n\nThe rules go "
                                              "into the AuthorizationPolicy \"%3\".")
                                               .arg(path, ApplicationRules::usableHosts(hosts).join(", "),
                                                    ApplicationRules::policyName()))
                         != QMessageBox::Yes)
        return;
    changePolicy(tr("%1 may now reach only %2").arg(QFileInfo(path).fileName(), hosts.join(", ")),
                 [path, hosts](const QJsonObject &existing, const QString &ns, const QJsonArray &targets) {
                     return ApplicationRules::allowOnly(existing, ns, targets, path, hosts);
                 });
}

void ApplicationsPage::changePolicy(
    const QString &what, std::function<QJsonObject(const QJsonObject &, const QString &, const QJsonArray &)> change)
{
    QPointer<ApplicationsPage> self(this);
    auto *api = m_connection->api();
    api->send("GET", QStringLiteral("/api/v1/gateways"), {}, {}, {}, [self, api, what, change](const client::ApiResult &g) {
        if (!self)
            return;
        const QJsonArray gateways = g.object().value("items").toArray();
        if (!g.ok() || gateways.isEmpty()) {
            self->showMessage(g.ok() ? tr("There is no Gateway to attach the policy to.") : g.error->toString(), true);
            return;
        }
        const QString ns = gateways.first().toObject().value("metadata").toObject().value("namespace").toString();
        QJsonArray targets;
        for (const auto &gw : gateways) {
            const QJsonObject md = gw.toObject().value("metadata").toObject();
            if (md.value("namespace").toString() == ns)
                targets.append(QJsonObject{{"kind", "Gateway"}, {"name", md.value("name").toString()}});
        }
        const QString path = QStringLiteral("/api/v1/namespaces/%1/authorizationpolicies/%2")
                                 .arg(QString::fromLatin1(QUrl::toPercentEncoding(ns)), ApplicationRules::policyName());
        api->send("GET", path, {}, {}, {}, [self, api, what, change, ns, targets, path](const client::ApiResult &p) {
            if (!self)
                return;
            if (!p.ok() && p.error->status != 404) {
                self->showMessage(p.error->toString(), true);
                return;
            }
            const bool exists = p.ok();
            const QJsonObject policy = change(exists ? p.object() : QJsonObject(), ns, targets);
            const QString target = exists ? path
                                          : QStringLiteral("/api/v1/namespaces/%1/authorizationpolicies")
                                                .arg(QString::fromLatin1(QUrl::toPercentEncoding(ns)));
            api->send(exists ? "PUT" : "POST", target, {}, QJsonDocument(policy).toJson(QJsonDocument::Compact),
                      "application/json", [self, api, what, path](const client::ApiResult &r) {
                          if (!self)
                              return;
                          if (!r.ok()) {
                              QString text = r.error->toString();
                              for (const auto &[field, msg] : r.error->fields)
                                  text += QStringLiteral("\n%1: %2").arg(field, msg);
                              self->showMessage(text, true);
                              return;
                          }
                          // Saved is not in force: an older AuthorizationPolicy on the same Gateway wins the conflict.
                          api->send("GET", path, {}, {}, {}, [self, what](const client::ApiResult &s) {
                              if (!self)
                                  return;
                              const QString notInForce = ApplicationRules::notInForce(s.object());
                              if (!notInForce.isEmpty())
                                  self->showMessage(tr("Saved the AuthorizationPolicy \"%1\", but it is not in force: %2. "
                                                       "Add the rule to that policy on the Policies page.")
                                                        .arg(ApplicationRules::policyName(), notInForce),
                                                    true);
                              else
                                  self->showMessage(what + tr(" (AuthorizationPolicy \"%1\")")
                                                               .arg(ApplicationRules::policyName()));
                          });
                      });
        });
    });
}

} // namespace dfproxy::gui
