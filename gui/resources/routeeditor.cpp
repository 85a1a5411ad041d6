// SPDX-License-Identifier: Apache-2.0
#include "resources/routeeditor.h"

#include "resources/backendeditor.h"
#include "resources/resourcelistmodel.h"
#include "resources/ruleeditor.h"
#include "widgets/fieldbox.h"
#include "widgets/fitscrollarea.h"

#include <QFormLayout>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QJsonArray>
#include <QLineEdit>
#include <QPushButton>
#include <QRegularExpression>
#include <QScrollArea>
#include <QTabWidget>
#include <QTableWidget>
#include <QTreeWidget>
#include <QVBoxLayout>

#include <algorithm>
#include <tuple>

namespace dfproxy::gui {

namespace {
enum ParentColumn { PName, PNamespace, PSection, PPort, PCount };

QString cell(const QTableWidget *t, int row, int col)
{
    if (auto *picker = qobject_cast<ObjectPicker *>(t->cellWidget(row, col)))
        return picker->name();
    const auto *item = t->item(row, col);
    return item ? item->text().trimmed() : QString();
}
} // namespace

ResourceKind RouteEditor::resourceKind()
{
    return {QStringLiteral("httproutes"), QStringLiteral("HTTPRoute"), QStringLiteral("gateway.networking.k8s.io/v1")};
}

QJsonObject RouteEditor::newObject()
{
    return QJsonObject{
        {"apiVersion", resourceKind().apiVersion},
        {"kind", resourceKind().kind},
        {"metadata", QJsonObject{{"name", ""}, {"namespace", "default"}}},
        {"spec", QJsonObject{{"parentRefs", QJsonArray{QJsonObject{{"name", "agentgateway-proxy"},
                                                                   {"namespace", "agentgateway-system"}}}},
                             {"rules", QJsonArray{QJsonObject{}}}}}};
}

RouteEditor::RouteEditor(client::ApiClient *api, QWidget *parent)
    : ResourceEditor(api, resourceKind(), parent),
      m_api(api),
      m_parents(new QTableWidget(0, PCount, this)),
      m_hostnames(new QLineEdit(this)),
      m_rules(new QTabWidget(this)),
      m_status(new QTreeWidget(this))
{
    setObjectName(QStringLiteral("routeEditor"));
    resize(960, 720);
    m_parents->setObjectName(QStringLiteral("parentRefsTable"));
    m_parents->setHorizontalHeaderLabels({tr("Gateway"), tr("Namespace"), tr("Listener"), tr("Port")});
    m_parents->horizontalHeader()->setStretchLastSection(false);
    m_parents->horizontalHeader()->setSectionResizeMode(QHeaderView::ResizeToContents);
    m_parents->horizontalHeader()->setSectionResizeMode(PName, QHeaderView::Stretch);
    m_parents->verticalHeader()->setVisible(false);
    m_parents->setSelectionBehavior(QAbstractItemView::SelectRows);
    m_parents->setWordWrap(false);
    m_parents->setToolTip(tr("Gateways the route attaches to. Listener: one listener's name (sectionName); empty = all."));
    m_parents->setMaximumHeight(90);
    auto *parentsBox = new QWidget;
    auto *pl = new QVBoxLayout(parentsBox);
    pl->setContentsMargins(0, 0, 0, 0);
    pl->addWidget(m_parents);
    auto *pButtons = new QHBoxLayout;
    auto *addParent = new QPushButton(tr("Add parent"));
    addParent->setObjectName(QStringLiteral("parentRefsTableAdd"));
    connect(addParent, &QPushButton::clicked, this, [this] { addParentRef({}); });
    auto *removeParent = new QPushButton(tr("Remove selected"));
    connect(removeParent, &QPushButton::clicked, this, [this] {
        if (m_parents->currentRow() >= 0)
            m_parents->removeRow(m_parents->currentRow());
    });
    pButtons->addWidget(addParent);
    pButtons->addWidget(removeParent);
    pButtons->addStretch();
    pl->addLayout(pButtons);
    form()->addRow(tr("Parents"), new FieldBox(QStringLiteral("spec.parentRefs"), parentsBox));

    m_hostnames->setObjectName(QStringLiteral("hostnamesEdit"));
    m_hostnames->setPlaceholderText(tr("any host; or e.g. httpbin.test, *.example.com"));
    form()->addRow(tr("Hostnames"), new FieldBox(QStringLiteral("spec.hostnames"), m_hostnames));

    m_rules->setObjectName(QStringLiteral("rulesTabs"));
    auto *rulesBox = new QWidget;
    auto *rl = new QVBoxLayout(rulesBox);
    rl->setContentsMargins(0, 0, 0, 0);
    // The buttons sit beside the rule tabs, not on a line of their own (the dialog fits 1280x800 without scrolling).
    auto *rButtonsBox = new QWidget;
    auto *rButtons = new QHBoxLayout(rButtonsBox);
    rButtons->setContentsMargins(0, 0, 0, 2);
    auto *addRuleButton = new QPushButton(tr("Add rule"));
    addRuleButton->setObjectName(QStringLiteral("addRuleButton"));
    connect(addRuleButton, &QPushButton::clicked, this, [this] {
        addRule();
        m_rules->setCurrentIndex(m_rules->count() - 1);
    });
    auto *removeRuleButton = new QPushButton(tr("Remove this rule"));
    removeRuleButton->setObjectName(QStringLiteral("removeRuleButton"));
    connect(removeRuleButton, &QPushButton::clicked, this, [this] { removeRule(m_rules->currentIndex()); });
    rButtons->addWidget(addRuleButton);
    rButtons->addWidget(removeRuleButton);
    m_rules->setCornerWidget(rButtonsBox, Qt::TopRightCorner);
    rl->addWidget(m_rules);
    form()->addRow(tr("Rules"), new FieldBox(QStringLiteral("spec.rules"), rulesBox));

    m_status->setObjectName(QStringLiteral("statusTree"));
    m_status->setHeaderLabels({tr("Parent / condition"), tr("Status"), tr("Reason"), tr("Message")});
    m_status->setRootIsDecorated(true);
    addExtraTab(m_status, tr("Status"));

    load(newObject(), Mode::Create);
    refreshPickers();
}

ObjectPicker *RouteEditor::parentPicker(int row) const
{
    return qobject_cast<ObjectPicker *>(m_parents->cellWidget(row, PName));
}

void RouteEditor::refreshPickers()
{
    QPointer<RouteEditor> self(this);
    auto listOf = [](const client::ApiResult &r, const QString &kind) {
        QList<PickerObject> out;
        for (const auto &v : r.object().value("items").toArray())
            out.append({kind, resourceNamespace(v.toObject()), resourceName(v.toObject()), {}});
        std::sort(out.begin(), out.end(), [](const PickerObject &a, const PickerObject &b) {
            return std::tie(a.ns, a.name) < std::tie(b.ns, b.name);
        });
        return out;
    };
    m_api->list(QStringLiteral("backends"), {}, [self, listOf](const client::ApiResult &r) {
        if (!self)
            return;
        self->m_backends = listOf(r, QStringLiteral("AgentgatewayBackend"));
        for (int i = 0; i < self->ruleCount(); ++i)
            self->rule(i)->setKnownBackends(self->m_backends);
        ++self->m_pickerLoads;
    });
    m_api->list(QStringLiteral("gateways"), {}, [self, listOf](const client::ApiResult &r) {
        if (!self)
            return;
        self->m_gateways = listOf(r, QStringLiteral("Gateway"));
        for (int row = 0; row < self->m_parents->rowCount(); ++row) {
            if (auto *p = self->parentPicker(row))
                p->setObjects(self->m_gateways);
        }
        ++self->m_pickerLoads;
    });
}

void RouteEditor::createBackend(RuleEditor *ruleEditor, int row)
{
    if (m_creator)
        m_creator->close();
    auto *editor = new BackendEditor(m_api, this);
    editor->setAttribute(Qt::WA_DeleteOnClose);
    QJsonObject o = BackendEditor::newObject();
    QJsonObject md = o.value("metadata").toObject();
    md.insert("namespace", namespaceEdit()->text().trimmed().isEmpty() ? QStringLiteral("default")
                                                                       : namespaceEdit()->text().trimmed());
    o.insert("metadata", md);
    editor->load(o, Mode::Create);
    QPointer<RuleEditor> target(ruleEditor);
    connect(editor, &ResourceEditor::saved, this, [this, target, row](const QJsonObject &saved) {
        if (target)
            target->setBackendRef(row, resourceNamespace(saved), resourceName(saved));
        refreshPickers();
    });
    m_creator = editor;
    editor->open();
}

RuleEditor *RouteEditor::rule(int i) const
{
    auto *scroll = qobject_cast<QScrollArea *>(m_rules->widget(i));
    return scroll ? qobject_cast<RuleEditor *>(scroll->widget()) : nullptr;
}

int RouteEditor::ruleCount() const
{
    return m_rules->count();
}

RuleEditor *RouteEditor::addRule(const QJsonObject &ruleJson)
{
    auto *r = new RuleEditor;
    r->setKnownBackends(m_backends);
    r->load(ruleJson);
    connect(r, &RuleEditor::createBackendRequested, this, [this, r](int row) { createBackend(r, row); });
    // A rule is the list part of the route editor: with its filters open it scrolls in its tab, the form does not.
    auto *scroll = new FitScrollArea(220);
    scroll->setObjectName(QStringLiteral("ruleScroll"));
    scroll->setWidget(r);
    m_rules->addTab(scroll, QString());
    renumberRules();
    return r;
}

void RouteEditor::removeRule(int i)
{
    if (i < 0 || i >= m_rules->count())
        return;
    QWidget *w = m_rules->widget(i);
    m_rules->removeTab(i);
    w->deleteLater();
    w->setParent(nullptr);
    renumberRules();
}

void RouteEditor::renumberRules()
{
    for (int i = 0; i < m_rules->count(); ++i) {
        m_rules->setTabText(i, tr("Rule %1").arg(i + 1));
        rule(i)->setPrefix(QStringLiteral("spec.rules[%1]").arg(i));
    }
}

void RouteEditor::addParentRef(const QJsonObject &ref)
{
    const int row = m_parents->rowCount();
    m_parents->insertRow(row);
    auto *picker = new ObjectPicker;
    picker->setObjectName(QStringLiteral("parentPicker"));
    picker->setObjects(m_gateways);
    picker->setName(ref.value("name").toString());
    connect(picker, &ObjectPicker::picked, this, [this, picker](const PickerObject &o) {
        for (int r = 0; r < m_parents->rowCount(); ++r) {
            if (m_parents->cellWidget(r, PName) == picker)
                m_parents->setItem(r, PNamespace, new QTableWidgetItem(o.ns));
        }
    });
    m_parents->setCellWidget(row, PName, picker);
    m_parents->setItem(row, PNamespace, new QTableWidgetItem(ref.value("namespace").toString()));
    m_parents->setItem(row, PSection, new QTableWidgetItem(ref.value("sectionName").toString()));
    const int port = ref.value("port").toInt(0);
    m_parents->setItem(row, PPort, new QTableWidgetItem(port > 0 ? QString::number(port) : QString()));
}

void RouteEditor::setForm(const QJsonObject &object)
{
    const QJsonObject spec = object.value("spec").toObject();
    m_parents->setRowCount(0);
    for (const auto &p : spec.value("parentRefs").toArray())
        addParentRef(p.toObject());
    QStringList hosts;
    for (const auto &h : spec.value("hostnames").toArray())
        hosts.append(h.toString());
    m_hostnames->setText(hosts.join(QStringLiteral(", ")));
    while (m_rules->count() > 0)
        removeRule(0);
    for (const auto &r : spec.value("rules").toArray())
        addRule(r.toObject());
    fillRouteStatus(m_status, object.value("status").toObject());
}

QJsonObject RouteEditor::specFromForm(const QJsonObject &original) const
{
    QJsonObject spec = original;
    QJsonArray parents;
    const QJsonArray originalParents = original.value("parentRefs").toArray();
    for (int r = 0; r < m_parents->rowCount(); ++r) {
        // Keep group/kind and anything else the table has no column for.
        QJsonObject p = r < originalParents.size() ? originalParents[r].toObject() : QJsonObject{};
        p.insert("name", cell(m_parents, r, PName));
        for (auto [col, key] : {std::pair{PNamespace, "namespace"}, std::pair{PSection, "sectionName"}}) {
            if (cell(m_parents, r, col).isEmpty())
                p.remove(QLatin1String(key));
            else
                p.insert(QLatin1String(key), cell(m_parents, r, col));
        }
        bool ok = false;
        const int port = cell(m_parents, r, PPort).toInt(&ok);
        if (ok && port != 0)
            p.insert("port", port);
        else
            p.remove("port");
        parents.append(p);
    }
    spec.insert("parentRefs", parents);
    QJsonArray hosts;
    for (const QString &h : m_hostnames->text().split(QRegularExpression(QStringLiteral("[,\\s]+")), Qt::SkipEmptyParts))
        hosts.append(h);
    if (hosts.isEmpty())
        spec.remove("hostnames");
    else
        spec.insert("hostnames", hosts);
    QJsonArray rules;
    for (int i = 0; i < m_rules->count(); ++i)
        rules.append(rule(i)->toJson());
    spec.insert("rules", rules);
    return spec;
}

void fillRouteStatus(QTreeWidget *tree, const QJsonObject &status, const QString &emptyText)
{
    tree->clear();
    const QJsonArray parents = status.value("parents").toArray();
    if (parents.isEmpty()) {
        auto *item = new QTreeWidgetItem(
            tree, {emptyText.isEmpty() ? QObject::tr("No status reported (save the route first)") : emptyText});
        item->setDisabled(true);
        return;
    }
    for (const auto &pv : parents) {
        const QJsonObject p = pv.toObject();
        const QJsonObject ref = p.value("parentRef").toObject();
        auto *parent = new QTreeWidgetItem(
            tree, {QStringLiteral("%1 %2/%3").arg(ref.value("kind").toString(QStringLiteral("Gateway")),
                                                   ref.value("namespace").toString(), ref.value("name").toString())
                   + (ref.contains("sectionName") ? QStringLiteral(" (%1)").arg(ref.value("sectionName").toString())
                                                  : QString())});
        for (const auto &cv : p.value("conditions").toArray()) {
            const QJsonObject c = cv.toObject();
            auto *item = new QTreeWidgetItem(parent, {c.value("type").toString(), c.value("status").toString(),
                                                      c.value("reason").toString(), c.value("message").toString()});
            const bool ok = c.value("status").toString() == QLatin1String("True");
            item->setForeground(1, ok ? QColor(0x1b, 0x7f, 0x3b) : QColor(0xb0, 0x00, 0x20));
            item->setToolTip(3, c.value("message").toString());
        }
        parent->setExpanded(true);
    }
    for (int c = 0; c < 3; ++c)
        tree->resizeColumnToContents(c);
}

} // namespace dfproxy::gui
