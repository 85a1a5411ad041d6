// SPDX-License-Identifier: Apache-2.0
#include "policies/policiespage.h"

#include "app/connection.h"
#include "resources/resourcelistmodel.h"
#include "widgets/toast.h"

#include <QComboBox>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QKeyEvent>
#include <QJsonArray>
#include <QLabel>
#include <QLineEdit>
#include <QMenu>
#include <QMessageBox>
#include <QPushButton>
#include <QRegularExpression>
#include <QSortFilterProxyModel>
#include <QTableView>
#include <QVBoxLayout>

#include <algorithm>
#include <memory>

namespace dfproxy::gui {

namespace {

enum Column { CKind, CNamespace, CName, CAttached, CAccepted, CAge, CSummary };

// The policy's Accepted condition (GEP-713, docs/policies.md "Status and conflicts") over all its targets: False
// (Conflicted, Invalid) wins over True, so a policy in effect on one target but not another shows the problem.
QJsonObject acceptedCondition(const QJsonObject &policy)
{
    const QJsonObject status = policy.value("status").toObject();
    QJsonArray conditions = status.value("conditions").toArray();
    for (const auto &a : status.value("ancestors").toArray()) {
        for (const auto &c : a.toObject().value("conditions").toArray())
            conditions.append(c);
    }
    QJsonObject found;
    for (const auto &c : std::as_const(conditions)) {
        const QJsonObject co = c.toObject();
        if (co.value("type").toString() != QLatin1String("Accepted"))
            continue;
        if (found.isEmpty() || (found.value("status").toString() == QLatin1String("True")
                                && co.value("status").toString() != QLatin1String("True")))
            found = co;
    }
    return found;
}

bool isAccepted(const QJsonObject &condition)
{
    return condition.value("status").toString() == QLatin1String("True");
}

QList<ResourceListModel::Column> policyColumns(std::shared_ptr<std::optional<QList<KnownTarget>>> existing)
{
    auto attached = [existing](const QJsonObject &o) {
        return attachedToText(o, existing->has_value() ? &**existing : nullptr);
    };
    return {
        {QObject::tr("Kind"), [](const QJsonObject &o) { return o.value("kind").toString(); }},
        {QObject::tr("Namespace"), [](const QJsonObject &o) { return resourceNamespace(o); }},
        {QObject::tr("Name"), [](const QJsonObject &o) { return resourceName(o); }},
        {QObject::tr("Attached to"), attached,
         [attached](const QJsonObject &o) { return attached(o).replace(QStringLiteral(", "), QStringLiteral("\n")); },
         [existing](const QJsonObject &o) {
             return existing->has_value() && !missingTargets(o, **existing).isEmpty() ? QStringLiteral("bad")
                                                                                      : QString();
         }},
        {QObject::tr("Accepted"),
         [](const QJsonObject &o) {
             const QJsonObject c = acceptedCondition(o);
             if (c.isEmpty())
                 return QString(); // an older service, or a policy without targets
             return (isAccepted(c) ? QStringLiteral("✔ %1") : QStringLiteral("✘ %1")).arg(c.value("reason").toString());
         },
         [](const QJsonObject &o) { return acceptedCondition(o).value("message").toString(); },
         [](const QJsonObject &o) {
             const QJsonObject c = acceptedCondition(o);
             return c.isEmpty() ? QString() : isAccepted(c) ? QStringLiteral("good") : QStringLiteral("bad");
         }},
        {QObject::tr("Age"), [](const QJsonObject &o) { return objectAge(o); }},
        {QObject::tr("Summary"), [](const QJsonObject &o) { return policySummary(o); },
         [](const QJsonObject &o) { return policySummary(o); }},
    };
}

} // namespace

PoliciesPage::PoliciesPage(Connection *connection, QWidget *parent)
    : Page(connection, parent), m_existing(std::make_shared<std::optional<QList<KnownTarget>>>()),
      m_message(new QLabel(this)), m_kindFilter(new QComboBox(this)),
      m_search(new QLineEdit(this)), m_model(new ResourceListModel(policyColumns(m_existing), this)),
      m_kindProxy(new QSortFilterProxyModel(this)), m_proxy(new QSortFilterProxyModel(this)),
      m_table(new QTableView(this)), m_new(new QPushButton(tr("New"), this))
{
    setObjectName(QStringLiteral("policiesPage"));
    auto *layout = new QVBoxLayout(this);
    auto *bar = new QHBoxLayout;
    m_kindFilter->setObjectName(QStringLiteral("kindFilter"));
    m_kindFilter->addItem(tr("All kinds"), QString());
    for (PolicyKind k : PolicyEditor::kinds())
        m_kindFilter->addItem(PolicyEditor::displayName(k), PolicyEditor::resourceKind(k).kind);
    bar->addWidget(m_kindFilter);
    m_search->setObjectName(QStringLiteral("searchEdit"));
    m_search->setPlaceholderText(tr("Search policies, targets, hosts…"));
    m_search->setClearButtonEnabled(true);
    bar->addWidget(m_search, 1);

    m_new->setObjectName(QStringLiteral("newButton"));
    auto *newMenu = new QMenu(m_new);
    for (PolicyKind k : PolicyEditor::kinds())
        newMenu->addAction(tr("%1 policy…").arg(PolicyEditor::displayName(k)), this, [this, k] { newPolicy(k); });
    m_new->setMenu(newMenu);
    bar->addWidget(m_new);
    auto addButton = [&](const QString &text, const QString &name, auto slot, bool needsSelection) {
        auto *b = new QPushButton(text);
        b->setObjectName(name);
        connect(b, &QPushButton::clicked, this, slot);
        bar->addWidget(b);
        if (needsSelection)
            m_selectionButtons.append(b);
    };
    addButton(
        tr("Edit…"), QStringLiteral("editButton"), [this] { editSelected(); }, true);
    addButton(
        tr("Duplicate…"), QStringLiteral("duplicateButton"), [this] { duplicateSelected(); }, true);
    addButton(
        tr("Delete"), QStringLiteral("deleteButton"), [this] { deleteSelected(); }, true);
    addButton(
        tr("Refresh"), QStringLiteral("refreshButton"), [this] { refresh(); }, false);
    layout->addLayout(bar);

    m_kindProxy->setSourceModel(m_model);
    m_kindProxy->setFilterKeyColumn(CKind);
    m_proxy->setSourceModel(m_kindProxy);
    m_proxy->setFilterKeyColumn(-1);
    m_proxy->setFilterCaseSensitivity(Qt::CaseInsensitive);
    connect(m_search, &QLineEdit::textChanged, m_proxy, &QSortFilterProxyModel::setFilterFixedString);
    connect(m_kindFilter, &QComboBox::currentIndexChanged, this, [this] {
        const QString kind = m_kindFilter->currentData().toString();
        m_kindProxy->setFilterRegularExpression(
            kind.isEmpty() ? QString() : QStringLiteral("^%1$").arg(QRegularExpression::escape(kind)));
        updateButtons();
    });
    m_table->setObjectName(QStringLiteral("policiesTable"));
    m_table->setModel(m_proxy);
    m_table->setSortingEnabled(true);
    m_table->setSelectionBehavior(QAbstractItemView::SelectRows);
    m_table->setSelectionMode(QAbstractItemView::SingleSelection);
    m_table->setEditTriggers(QAbstractItemView::NoEditTriggers);
    m_table->setAlternatingRowColors(true);
    m_table->setWordWrap(false);
    m_table->verticalHeader()->setVisible(false);
    m_table->horizontalHeader()->setStretchLastSection(true);
    m_table->sortByColumn(CKind, Qt::AscendingOrder);
    connect(m_table, &QTableView::doubleClicked, this, [this] { editSelected(); });
    connect(m_table->selectionModel(), &QItemSelectionModel::selectionChanged, this, &PoliciesPage::updateButtons);
    m_table->installEventFilter(this);
    layout->addWidget(m_table, 1);
    m_message->setObjectName(QStringLiteral("messageLabel"));
    m_message->setWordWrap(true);
    layout->addWidget(m_message);
    updateButtons();
    connect(connection, &Connection::connected, this, &PoliciesPage::refresh);
}

bool PoliciesPage::eventFilter(QObject *watched, QEvent *event)
{
    if (watched == m_table && event->type() == QEvent::KeyPress
        && static_cast<QKeyEvent *>(event)->key() == Qt::Key_Delete) {
        deleteSelected();
        return true;
    }
    return Page::eventFilter(watched, event);
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
    loadTargets();
    struct Pending
    {
        int left = 0;
        QList<QJsonObject> items;
        QStringList plurals;
        QStringList errors;
        bool anyKnown = false;
    };
    auto state = std::make_shared<Pending>();
    const int generation = ++m_generation;
    const auto kinds = PolicyEditor::kinds();
    state->left = int(kinds.size());
    QPointer<PoliciesPage> self(this);
    for (PolicyKind k : kinds) {
        const QString plural = PolicyEditor::resourceKind(k).plural;
        m_connection->api()->list(plural, {}, [self, state, plural, generation](const client::ApiResult &r) {
            if (r.ok()) {
                state->plurals.append(plural);
                for (const auto &v : r.object().value("items").toArray())
                    state->items.append(v.toObject());
            } else if (r.status != 404) {
                state->errors.append(r.error->toString());
            }
            if (--state->left > 0 || !self || generation != self->m_generation)
                return;
            ++self->m_loads;
            const QJsonObject keep = self->selectedObject();
            self->m_plurals = state->plurals;
            self->m_model->setItems(state->items);
            self->m_table->resizeColumnsToContents();
            // Long target lists and summaries are elided (the tooltip has them whole); Summary takes the rest.
            for (int c = 0; c < CSummary; ++c)
                self->m_table->setColumnWidth(c, std::min(self->m_table->columnWidth(c), 380));
            self->m_table->setColumnWidth(CSummary, 100);
            self->m_new->setEnabled(!state->plurals.isEmpty());
            if (state->plurals.isEmpty() && state->errors.isEmpty()) {
                self->m_message->setText(tr("Policies are not available in this service version. Kinds such as rate "
                                            "limits, authentication and authorization appear here when the service "
                                            "supports them."));
            } else {
                QString text =
                    state->items.size() == 1 ? tr("1 policy object") : tr("%1 policy objects").arg(state->items.size());
                if (!state->errors.isEmpty())
                    text += QStringLiteral(" — ") + state->errors.join(QStringLiteral("; "));
                self->m_message->setText(text);
            }
            if (!keep.isEmpty())
                self->select(keep.value("kind").toString(), resourceNamespace(keep), resourceName(keep));
            self->updateButtons();
        });
    }
}

void PoliciesPage::loadTargets()
{
    struct Pending
    {
        int left = 3;
        bool failed = false; ///< a list failed: nothing can be called missing
        QList<KnownTarget> gateways, routes, backends;
    };
    auto state = std::make_shared<Pending>();
    QPointer<PoliciesPage> self(this);
    auto finish = [self, state] {
        if (--state->left > 0 || !self)
            return;
        self->m_targets = state->gateways + state->routes + state->backends;
        if (state->failed)
            self->m_existing->reset();
        else
            *self->m_existing = self->m_targets;
        self->m_model->refreshColumns();
        if (self->m_editor)
            self->m_editor->setKnownTargets(self->m_targets);
    };
    auto sorted = [](QList<KnownTarget> &l) {
        std::sort(l.begin(), l.end(), [](const KnownTarget &a, const KnownTarget &b) { return a.label() < b.label(); });
    };
    m_connection->api()->list(QStringLiteral("gateways"), {}, [state, finish, sorted](const client::ApiResult &r) {
        state->failed = state->failed || !r.ok();
        for (const auto &v : r.object().value("items").toArray()) {
            const QJsonObject o = v.toObject();
            state->gateways.append({QStringLiteral("Gateway"), resourceNamespace(o), resourceName(o), {}});
            for (const auto &l : o.value("spec").toObject().value("listeners").toArray()) {
                const QString listener = l.toObject().value("name").toString();
                if (!listener.isEmpty())
                    state->gateways.append(
                        {QStringLiteral("Gateway"), resourceNamespace(o), resourceName(o), listener});
            }
        }
        sorted(state->gateways);
        finish();
    });
    m_connection->api()->list(QStringLiteral("httproutes"), {}, [state, finish, sorted](const client::ApiResult &r) {
        state->failed = state->failed || !r.ok();
        for (const auto &v : r.object().value("items").toArray())
            state->routes.append(
                {QStringLiteral("HTTPRoute"), resourceNamespace(v.toObject()), resourceName(v.toObject()), {}});
        sorted(state->routes);
        finish();
    });
    m_connection->api()->list(QStringLiteral("backends"), {}, [state, finish, sorted](const client::ApiResult &r) {
        state->failed = state->failed || !r.ok();
        for (const auto &v : r.object().value("items").toArray())
            state->backends.append({QStringLiteral("AgentgatewayBackend"),
                                    resourceNamespace(v.toObject()),
                                    resourceName(v.toObject()),
                                    {}});
        sorted(state->backends);
        finish();
    });
}

int PoliciesPage::rowOf(const QString &kind, const QString &ns, const QString &name) const
{
    const auto &items = m_model->items();
    for (int i = 0; i < items.size(); ++i) {
        if (items[i].value("kind").toString() == kind && resourceNamespace(items[i]) == ns &&
            resourceName(items[i]) == name)
            return i;
    }
    return -1;
}

bool PoliciesPage::select(const QString &kind, const QString &ns, const QString &name)
{
    const int row = rowOf(kind, ns, name);
    if (row < 0)
        return false;
    const QModelIndex idx = m_proxy->mapFromSource(m_kindProxy->mapFromSource(m_model->index(row, 0)));
    if (!idx.isValid())
        return false;
    m_table->selectRow(idx.row());
    return true;
}

QJsonObject PoliciesPage::selectedObject() const
{
    const auto rows = m_table->selectionModel()->selectedRows();
    if (rows.isEmpty())
        return {};
    return m_model->itemAt(m_kindProxy->mapToSource(m_proxy->mapToSource(rows.first())).row());
}

void PoliciesPage::updateButtons()
{
    const bool has = !selectedObject().isEmpty();
    for (auto *b : std::as_const(m_selectionButtons))
        b->setEnabled(has);
}

PolicyEditor *PoliciesPage::openEditor(PolicyKind kind, const QJsonObject &object, ResourceEditor::Mode mode)
{
    if (m_editor)
        m_editor->close();
    m_editor = PolicyEditor::create(kind, m_connection->api(), this);
    m_editor->setAttribute(Qt::WA_DeleteOnClose);
    m_editor->setKnownTargets(m_targets);
    m_editor->load(object, mode);
    connect(m_editor, &ResourceEditor::saved, this, [this, mode](const QJsonObject &o) {
        const QString kind = o.value("kind").toString(), ns = resourceNamespace(o), name = resourceName(o);
        showToast(this, (mode == ResourceEditor::Mode::Create ? tr("Created %1 %2/%3") : tr("Saved %1 %2/%3"))
                            .arg(kind, ns, name));
        const int loads = m_loads;
        auto *conn = new QMetaObject::Connection;
        *conn = connect(m_model, &QAbstractItemModel::modelReset, this, [this, kind, ns, name, loads, conn] {
            if (m_loads > loads) {
                select(kind, ns, name);
                disconnect(*conn);
                delete conn;
            }
        });
        refresh();
    });
    m_editor->open();
    return m_editor;
}

PolicyEditor *PoliciesPage::newPolicy(PolicyKind kind)
{
    QJsonObject o = PolicyEditor::newObject(kind);
    // Start where the user is looking: the namespace of the selected policy, if any.
    const QJsonObject sel = selectedObject();
    if (!sel.isEmpty()) {
        QJsonObject md = o.value("metadata").toObject();
        md.insert("namespace", resourceNamespace(sel));
        o.insert("metadata", md);
    }
    return openEditor(kind, o, ResourceEditor::Mode::Create);
}

PolicyEditor *PoliciesPage::editSelected()
{
    const QJsonObject o = selectedObject();
    const auto kind = PolicyEditor::kindOf(o.value("kind").toString());
    if (!kind)
        return nullptr;
    return openEditor(*kind, o, ResourceEditor::Mode::Edit);
}

PolicyEditor *PoliciesPage::duplicateSelected()
{
    QJsonObject o = selectedObject();
    const auto kind = PolicyEditor::kindOf(o.value("kind").toString());
    if (!kind)
        return nullptr;
    QJsonObject md = o.value("metadata").toObject();
    for (const char *k : {"uid", "resourceVersion", "creationTimestamp", "generation", "managedFields"})
        md.remove(QLatin1String(k));
    md.insert("name", md.value("name").toString() + QStringLiteral("-copy"));
    o.insert("metadata", md);
    o.remove("status");
    return openEditor(*kind, o, ResourceEditor::Mode::Create);
}

void PoliciesPage::deleteSelected()
{
    const QJsonObject o = selectedObject();
    if (!PolicyEditor::kindOf(o.value("kind").toString()))
        return;
    if (!m_confirmDeletes) {
        remove(o);
        return;
    }
    if (m_question)
        m_question->close();
    const QString ns = resourceNamespace(o), name = resourceName(o), kindName = o.value("kind").toString();
    auto *box = new QMessageBox(QMessageBox::Question, tr("Delete %1").arg(kindName),
                                tr("Delete %1 %2/%3? Requests it covers are no longer limited or checked by it. "
                                   "This cannot be undone.")
                                    .arg(kindName, ns, name),
                                QMessageBox::NoButton, this);
    box->setObjectName(QStringLiteral("deleteQuestion"));
    box->setAttribute(Qt::WA_DeleteOnClose);
    auto *del = box->addButton(tr("Delete"), QMessageBox::DestructiveRole);
    del->setObjectName(QStringLiteral("confirmDeleteButton"));
    box->setDefaultButton(box->addButton(QMessageBox::Cancel));
    connect(box, &QMessageBox::buttonClicked, this, [this, o, del](QAbstractButton *b) {
        if (b == del)
            remove(o);
    });
    m_question = box;
    box->open();
}

void PoliciesPage::remove(const QJsonObject &o)
{
    const auto kind = PolicyEditor::kindOf(o.value("kind").toString());
    if (!kind)
        return;
    const QString ns = resourceNamespace(o), name = resourceName(o), kindName = o.value("kind").toString();
    QPointer<PoliciesPage> self(this);
    m_connection->api()->remove(PolicyEditor::resourceKind(*kind).plural, ns, name,
                                [self, kindName, ns, name](const client::ApiResult &r) {
        if (!self)
            return;
        if (!r.ok())
            QMessageBox::warning(self, tr("Delete failed"), r.error->toString());
        else
            showToast(self, tr("Deleted %1 %2/%3").arg(kindName, ns, name));
        self->refresh();
    });
}

} // namespace dfproxy::gui
