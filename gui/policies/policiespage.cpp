// SPDX-License-Identifier: Apache-2.0
#include "policies/policiespage.h"

#include "app/connection.h"
#include "widgets/jsonutil.h"

#include <QHBoxLayout>
#include <QHeaderView>
#include <QJsonArray>
#include <QLabel>
#include <QPointer>
#include <QPushButton>
#include <QRegularExpression>
#include <QTreeWidget>
#include <QVBoxLayout>

namespace dfproxy::gui {

PoliciesPage::PoliciesPage(Connection *connection, QWidget *parent)
    : Page(connection, parent), m_message(new QLabel(this)), m_tree(new QTreeWidget(this))
{
    setObjectName(QStringLiteral("policiesPage"));
    auto *layout = new QVBoxLayout(this);
    auto *refreshButton = new QPushButton(tr("Refresh"));
    refreshButton->setObjectName(QStringLiteral("refreshButton"));
    connect(refreshButton, &QPushButton::clicked, this, &PoliciesPage::refresh);
    auto *top = new QHBoxLayout;
    m_message->setObjectName(QStringLiteral("messageLabel"));
    m_message->setWordWrap(true);
    top->addWidget(m_message, 1);
    top->addWidget(refreshButton);
    layout->addLayout(top);
    m_tree->setObjectName(QStringLiteral("policiesTree"));
    m_tree->setHeaderLabels({tr("Kind / object"), tr("Namespace"), tr("Targets"), tr("Status")});
    m_tree->header()->setStretchLastSection(true);
    layout->addWidget(m_tree, 1);
}

void PoliciesPage::setActive(bool active)
{
    Page::setActive(active);
    if (active)
        refresh();
}

QString PoliciesPage::message() const
{
    return m_message->text();
}

void PoliciesPage::refresh()
{
    if (!m_connection->isConnected())
        return;
    const QJsonValue kinds = m_connection->serverInfo().value("kinds");
    if (kinds.isArray()) {
        QStringList plurals;
        for (const auto &k : kinds.toArray()) {
            const QString plural = k.isObject() ? k.toObject().value("plural").toString() : k.toString().toLower();
            if (plural.contains(QLatin1String("polic")))
                plurals.append(plural);
        }
        listKinds(plurals);
        return;
    }
    // Older services: an unknown plural's 404 names the known ones ("…; known: gateways, httproutes, backends").
    QPointer<PoliciesPage> self(this);
    m_connection->api()->send("GET", QStringLiteral("/api/v1/policies"), {}, {}, {}, [self](const client::ApiResult &r) {
        if (!self)
            return;
        if (r.ok()) {
            self->listKinds({QStringLiteral("policies")});
            return;
        }
        QStringList plurals;
        const auto m = QRegularExpression(QStringLiteral("known: (.*)$")).match(r.error->detail);
        if (m.hasMatch()) {
            for (const QString &p : m.captured(1).split(u',', Qt::SkipEmptyParts))
                if (p.trimmed().contains(QLatin1String("polic")))
                    plurals.append(p.trimmed());
        }
        self->listKinds(plurals);
    });
}

void PoliciesPage::listKinds(const QStringList &plurals)
{
    m_plurals = plurals;
    m_tree->clear();
    if (plurals.isEmpty()) {
        m_message->setText(tr("Policies are not available in this service version. Kinds such as rate limits, "
                              "authentication and authorization appear here when the service supports them."));
        return;
    }
    m_message->setText(tr("Policy kinds: %1").arg(plurals.join(QStringLiteral(", "))));
    for (const QString &plural : plurals) {
        auto *kindItem = new QTreeWidgetItem(m_tree, {plural});
        kindItem->setExpanded(true);
        QPointer<QTreeWidget> tree(m_tree);
        m_connection->api()->list(plural, {}, [tree, kindItem](const client::ApiResult &r) {
            if (!tree || tree->indexOfTopLevelItem(kindItem) < 0)
                return;
            if (!r.ok()) {
                new QTreeWidgetItem(kindItem, {r.error->toString()});
                return;
            }
            const QJsonArray items = r.object().value("items").toArray();
            kindItem->setText(0, QStringLiteral("%1 (%2)").arg(kindItem->text(0)).arg(items.size()));
            for (const auto &v : items) {
                const QJsonObject o = v.toObject();
                const QJsonObject md = o.value("metadata").toObject();
                const QJsonObject spec = o.value("spec").toObject();
                QStringList targets;
                for (const auto &t : spec.value("targetRefs").toArray())
                    targets.append(t.toObject().value("kind").toString() + u'/' + t.toObject().value("name").toString());
                new QTreeWidgetItem(kindItem, {md.value("name").toString(), md.value("namespace").toString(),
                                               targets.join(QStringLiteral(", ")),
                                               jsonText(o.value("status").toObject().value("conditions"))});
            }
        });
    }
}

} // namespace dfproxy::gui
