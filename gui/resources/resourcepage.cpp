// SPDX-License-Identifier: Apache-2.0
#include "resources/resourcepage.h"

#include "app/connection.h"
#include "resources/backendeditor.h"
#include "resources/routeeditor.h"
#include "widgets/toast.h"

#include <QHBoxLayout>
#include <QKeyEvent>
#include <QHeaderView>
#include <QJsonArray>
#include <QLabel>
#include <QLineEdit>
#include <QMessageBox>
#include <QPushButton>
#include <QSortFilterProxyModel>
#include <QTableView>
#include <QVBoxLayout>

#include <algorithm>
#include <memory>

namespace dfproxy::gui {

ResourcePage::ResourcePage(Connection *connection, ResourceKind kind, QList<ResourceListModel::Column> columns,
                           std::shared_ptr<ReferenceIndex> references, QWidget *parent)
    : Page(connection, parent),
      m_kind(std::move(kind)),
      m_model(new ResourceListModel(std::move(columns), this)),
      m_proxy(new QSortFilterProxyModel(this)),
      m_table(new QTableView(this)),
      m_search(new QLineEdit(this)),
      m_info(new QLabel(this)),
      m_refs(std::move(references))
{
    setObjectName(m_kind.plural + QStringLiteral("Page"));
    auto *layout = new QVBoxLayout(this);
    auto *bar = new QHBoxLayout;
    m_search->setObjectName(QStringLiteral("searchEdit"));
    m_search->setPlaceholderText(tr("Search %1…").arg(m_kind.plural));
    m_search->setClearButtonEnabled(true);
    bar->addWidget(m_search, 1);
    auto addButton = [&](const QString &text, const QString &name, auto slot, bool needsSelection) {
        auto *b = new QPushButton(text);
        b->setObjectName(name);
        connect(b, &QPushButton::clicked, this, slot);
        bar->addWidget(b);
        if (needsSelection)
            m_selectionButtons.append(b);
        return b;
    };
    addButton(tr("New…"), QStringLiteral("newButton"), [this] { newObject(); }, false);
    addButton(tr("Edit…"), QStringLiteral("editButton"), [this] { editSelected(); }, true);
    addButton(tr("Duplicate…"), QStringLiteral("duplicateButton"), [this] { duplicateSelected(); }, true);
    addButton(tr("Delete"), QStringLiteral("deleteButton"), [this] { deleteSelected(); }, true);
    addButton(tr("Refresh"), QStringLiteral("refreshButton"), [this] { refresh(); }, false);
    layout->addLayout(bar);

    m_proxy->setSourceModel(m_model);
    m_proxy->setFilterKeyColumn(-1);
    m_proxy->setFilterCaseSensitivity(Qt::CaseInsensitive);
    connect(m_search, &QLineEdit::textChanged, m_proxy, &QSortFilterProxyModel::setFilterFixedString);
    m_table->setObjectName(m_kind.plural + QStringLiteral("Table"));
    m_table->setModel(m_proxy);
    m_table->setSortingEnabled(true);
    m_table->setSelectionBehavior(QAbstractItemView::SelectRows);
    m_table->setSelectionMode(QAbstractItemView::SingleSelection);
    m_table->setEditTriggers(QAbstractItemView::NoEditTriggers);
    m_table->setAlternatingRowColors(true);
    m_table->setWordWrap(false);
    m_table->verticalHeader()->setVisible(false);
    m_table->horizontalHeader()->setStretchLastSection(true);
    m_table->sortByColumn(0, Qt::AscendingOrder);
    connect(m_table, &QTableView::doubleClicked, this, [this] { editSelected(); });
    connect(m_table->selectionModel(), &QItemSelectionModel::selectionChanged, this, &ResourcePage::updateButtons);
    m_table->installEventFilter(this);
    layout->addWidget(m_table, 1);
    m_info->setObjectName(QStringLiteral("infoLabel"));
    layout->addWidget(m_info);
    updateButtons();
    connect(connection, &Connection::connected, this, &ResourcePage::refresh);
}

void ResourcePage::setActive(bool active)
{
    Page::setActive(active);
    if (active)
        refresh();
}

bool ResourcePage::eventFilter(QObject *watched, QEvent *event)
{
    if (watched == m_table && event->type() == QEvent::KeyPress
        && static_cast<QKeyEvent *>(event)->key() == Qt::Key_Delete) {
        deleteSelected();
        return true;
    }
    return Page::eventFilter(watched, event);
}

void ResourcePage::loadReferences()
{
    QPointer<ResourcePage> self(this);
    loadReferencedObjects(m_connection->api(), [self](const QList<QJsonObject> &objects, bool complete) {
        // A partial set would call everything missing: keep the last complete one.
        if (!self || !complete)
            return;
        self->m_refs->setObjects(objects);
        self->m_model->refreshColumns();
    });
}

void ResourcePage::refresh()
{
    if (!m_connection->isConnected())
        return;
    loadReferences();
    QPointer<ResourcePage> self(this);
    m_connection->api()->list(m_kind.plural, {}, [self](const client::ApiResult &r) {
        if (!self)
            return;
        ++self->m_loads;
        if (!r.ok()) {
            self->m_info->setText(r.error->toString());
            return;
        }
        const QJsonObject keep = self->selectedObject();
        QList<QJsonObject> items;
        for (const auto &v : r.object().value("items").toArray())
            items.append(v.toObject());
        self->m_model->setItems(items);
        self->m_table->resizeColumnsToContents();
        self->m_info->setText(tr("%n object(s)", nullptr, int(items.size())));
        if (!keep.isEmpty())
            self->select(resourceNamespace(keep), resourceName(keep));
        self->updateButtons();
    });
}

bool ResourcePage::select(const QString &ns, const QString &name)
{
    const int row = m_model->rowOf(ns, name);
    if (row < 0)
        return false;
    const QModelIndex idx = m_proxy->mapFromSource(m_model->index(row, 0));
    if (!idx.isValid())
        return false;
    m_table->selectRow(idx.row());
    return true;
}

QJsonObject ResourcePage::selectedObject() const
{
    const auto rows = m_table->selectionModel()->selectedRows();
    if (rows.isEmpty())
        return {};
    return m_model->itemAt(m_proxy->mapToSource(rows.first()).row());
}

void ResourcePage::updateButtons()
{
    const bool has = !selectedObject().isEmpty();
    for (auto *b : m_selectionButtons)
        b->setEnabled(has);
}

ResourceEditor *ResourcePage::openEditor(const QJsonObject &object, ResourceEditor::Mode mode)
{
    if (m_editor)
        m_editor->close();
    m_editor = createEditor();
    m_editor->setAttribute(Qt::WA_DeleteOnClose);
    m_editor->load(object, mode);
    connect(m_editor, &ResourceEditor::saved, this, [this, mode](const QJsonObject &o) {
        showToast(this, (mode == ResourceEditor::Mode::Create ? tr("Created %1") : tr("Saved %1"))
                            .arg(ObjectKey{m_kind.kind, resourceNamespace(o), resourceName(o)}.label()));
        refresh();
        // Select the saved object once the list has it.
        const QString ns = resourceNamespace(o), name = resourceName(o);
        const int loads = m_loads;
        auto *conn = new QMetaObject::Connection;
        *conn = connect(m_model, &QAbstractItemModel::modelReset, this, [this, ns, name, loads, conn] {
            if (m_loads > loads) {
                select(ns, name);
                disconnect(*conn);
                delete conn;
            }
        });
    });
    m_editor->open();
    return m_editor;
}

ResourceEditor *ResourcePage::newObject()
{
    return openEditor(templateObject(), ResourceEditor::Mode::Create);
}

ResourceEditor *ResourcePage::editSelected()
{
    const QJsonObject o = selectedObject();
    if (o.isEmpty())
        return nullptr;
    return openEditor(o, ResourceEditor::Mode::Edit);
}

ResourceEditor *ResourcePage::duplicateSelected()
{
    QJsonObject o = selectedObject();
    if (o.isEmpty())
        return nullptr;
    QJsonObject md = o.value("metadata").toObject();
    for (const char *k : {"uid", "resourceVersion", "creationTimestamp", "generation", "managedFields"})
        md.remove(QLatin1String(k));
    md.insert("name", md.value("name").toString() + QStringLiteral("-copy"));
    o.insert("metadata", md);
    o.remove("status");
    return openEditor(o, ResourceEditor::Mode::Create);
}

void ResourcePage::deleteSelected()
{
    const QJsonObject o = selectedObject();
    if (o.isEmpty())
        return;
    const ObjectKey key{m_kind.kind, resourceNamespace(o), resourceName(o)};
    const QList<Reference> users = m_refs->usedBy(key);
    if (users.isEmpty() && !m_confirmDeletes) {
        remove(o);
        return;
    }
    if (m_question)
        m_question->close();
    auto *box = new QMessageBox(this);
    box->setObjectName(QStringLiteral("deleteQuestion"));
    box->setAttribute(Qt::WA_DeleteOnClose);
    box->setWindowTitle(tr("Delete %1").arg(m_kind.kind));
    box->setIcon(users.isEmpty() ? QMessageBox::Question : QMessageBox::Warning);
    QPushButton *removeRefs = nullptr;
    if (users.isEmpty()) {
        box->setText(tr("Delete %1? This cannot be undone.").arg(key.label()));
    } else {
        QStringList lines;
        for (const Reference &r : users)
            lines.append(QStringLiteral("• ") + r.from.label());
        box->setText(tr("%1 is used by:\n%2\n\nDeleting it alone leaves them pointing at nothing (a route then "
                        "answers 500 no_backend). Remove the references from them first?")
                         .arg(key.label(), lines.join(u'\n')));
        removeRefs = box->addButton(tr("Remove references and delete"), QMessageBox::AcceptRole);
        removeRefs->setObjectName(QStringLiteral("removeReferencesButton"));
    }
    auto *del = box->addButton(users.isEmpty() ? tr("Delete") : tr("Delete only"), QMessageBox::DestructiveRole);
    del->setObjectName(QStringLiteral("confirmDeleteButton"));
    auto *cancel = box->addButton(QMessageBox::Cancel);
    cancel->setObjectName(QStringLiteral("cancelButton"));
    box->setDefaultButton(cancel);
    connect(box, &QMessageBox::buttonClicked, this, [this, o, users, removeRefs, del](QAbstractButton *b) {
        if (b == del)
            remove(o);
        else if (removeRefs && b == removeRefs)
            removeReferencesThenDelete(o, users);
    });
    m_question = box;
    box->open();
}

void ResourcePage::remove(const QJsonObject &o)
{
    const QString ns = resourceNamespace(o), name = resourceName(o);
    const QString label = ObjectKey{m_kind.kind, ns, name}.label();
    QPointer<ResourcePage> self(this);
    m_connection->api()->remove(m_kind.plural, ns, name, [self, label](const client::ApiResult &r) {
        if (!self)
            return;
        if (!r.ok())
            QMessageBox::warning(self, tr("Delete failed"), r.error->toString());
        else
            showToast(self, tr("Deleted %1").arg(label));
        self->refresh();
    });
}

void ResourcePage::removeReferencesThenDelete(const QJsonObject &object, const QList<Reference> &refs)
{
    const ObjectKey key{m_kind.kind, resourceNamespace(object), resourceName(object)};
    struct Pending
    {
        int left = 0;
        QStringList errors;
    };
    auto state = std::make_shared<Pending>();
    state->left = int(refs.size());
    QPointer<ResourcePage> self(this);
    for (const Reference &r : refs) {
        const QJsonObject updated = withoutReferencesTo(m_refs->object(r.from), key);
        const QString label = r.from.label();
        m_connection->api()->replace(pluralOf(r.from.kind), updated,
                                     [self, state, object, label](const client::ApiResult &res) {
            if (!res.ok())
                state->errors.append(QStringLiteral("%1: %2").arg(label, res.error->toString()));
            if (--state->left > 0 || !self)
                return;
            if (!state->errors.isEmpty()) {
                // Nothing is deleted while something still points at the object.
                QMessageBox::warning(self, tr("Could not remove the references"), state->errors.join(u'\n'));
                self->refresh();
                return;
            }
            self->remove(object);
        });
    }
}

// ---- Backends --------------------------------------------------------------------------------------------------

namespace {

QJsonObject specOf(const QJsonObject &o)
{
    return o.value("spec").toObject();
}

ResourceListModel::Column usedByColumn(std::shared_ptr<ReferenceIndex> refs)
{
    auto users = [refs](const QJsonObject &o) { return refs->usedBy(ObjectKey::of(o)); };
    return {QObject::tr("Used by"),
            [users](const QJsonObject &o) { return referenceLabels(users(o), true); },
            [users](const QJsonObject &o) {
                const auto u = users(o);
                return u.isEmpty() ? QObject::tr("Nothing references this object")
                                   : referenceLabels(u, true).replace(QStringLiteral(", "), QStringLiteral("\n"));
            }};
}

QList<ResourceListModel::Column> backendColumns(std::shared_ptr<ReferenceIndex> refs)
{
    return {
        {QObject::tr("Namespace"), [](const QJsonObject &o) { return resourceNamespace(o); }},
        {QObject::tr("Name"), [](const QJsonObject &o) { return resourceName(o); }},
        {QObject::tr("Type"),
         [](const QJsonObject &o) {
             const QJsonObject s = specOf(o);
             if (s.contains("static"))
                 return QObject::tr("static %1:%2")
                     .arg(s.value("static").toObject().value("host").toString())
                     .arg(s.value("static").toObject().value("port").toInt());
             return QObject::tr("dynamic forward proxy");
         }},
        {QObject::tr("TLS"),
         [](const QJsonObject &o) {
             const QJsonValue t = specOf(o).value("tls");
             if (t.isObject())
                 return t.toObject().value("insecureSkipVerify").toBool() ? QObject::tr("yes (no verify)")
                                                                          : QObject::tr("yes");
             return t.toBool() ? QObject::tr("yes") : QString();
         }},
        {QObject::tr("Lookup family"),
         [](const QJsonObject &o) {
             const QString f = specOf(o).value("dns").toObject().value("lookupFamily").toString();
             const QString canonical = BackendEditor::canonicalLookupFamily(f);
             return f.isEmpty() ? QObject::tr("default") : canonical.isEmpty() ? f : canonical;
         }},
        {QObject::tr("Engine"), [](const QJsonObject &o) { return specOf(o).value("engine").toString("native"); }},
        usedByColumn(refs),
        {QObject::tr("Age"), [](const QJsonObject &o) { return objectAge(o); }},
    };
}

// The condition of `type` over all parents: "True" only if every parent says so.
QJsonObject worstCondition(const QJsonObject &o, const QString &type)
{
    QJsonObject found;
    for (const auto &p : o.value("status").toObject().value("parents").toArray()) {
        for (const auto &c : p.toObject().value("conditions").toArray()) {
            const QJsonObject co = c.toObject();
            if (co.value("type").toString() != type)
                continue;
            if (found.isEmpty() || co.value("status").toString() != QLatin1String("True"))
                found = co;
        }
    }
    return found;
}

ResourceListModel::Column conditionColumn(const QString &type)
{
    return {type,
            [type](const QJsonObject &o) {
                const QJsonObject c = worstCondition(o, type);
                if (c.isEmpty())
                    return QString();
                return c.value("status").toString() == QLatin1String("True")
                           ? QStringLiteral("✔ %1").arg(c.value("reason").toString())
                           : QStringLiteral("✘ %1").arg(c.value("reason").toString());
            },
            [type](const QJsonObject &o) { return worstCondition(o, type).value("message").toString(); },
            [type](const QJsonObject &o) {
                const QJsonObject c = worstCondition(o, type);
                if (c.isEmpty())
                    return QString();
                return c.value("status").toString() == QLatin1String("True") ? QStringLiteral("good")
                                                                             : QStringLiteral("bad");
            }};
}

// The route's references of one kind ("Gateway" or "AgentgatewayBackend"), missing ones marked.
ResourceListModel::Column usesColumn(const QString &title, const QString &kind, std::shared_ptr<ReferenceIndex> refs)
{
    auto targets = [refs, kind](const QJsonObject &o) {
        QList<ObjectKey> out;
        for (const Reference &r : referencesOf(o)) {
            if (r.to.kind == kind)
                out.append(r.to);
        }
        return out;
    };
    // Until the other kinds are listed, nothing can be called missing.
    auto isMissing = [refs](const ObjectKey &k) { return refs->generation() > 0 && !refs->exists(k); };
    return {title,
            [targets, isMissing](const QJsonObject &o) {
                QStringList out;
                for (const ObjectKey &k : targets(o)) {
                    const QString text = k.ns == resourceNamespace(o) && k.kind != QLatin1String("Gateway")
                                             ? k.name : k.ns + u'/' + k.name;
                    out.append(isMissing(k) ? QObject::tr("⚠ %1 (missing)").arg(text) : text);
                }
                return out.join(QStringLiteral(", "));
            },
            [targets, isMissing](const QJsonObject &o) {
                QStringList out;
                for (const ObjectKey &k : targets(o))
                    out.append(isMissing(k) ? QObject::tr("%1 does not exist").arg(k.label()) : k.label());
                return out.join(u'\n');
            },
            [targets, isMissing](const QJsonObject &o) {
                const auto t = targets(o);
                return std::any_of(t.begin(), t.end(), isMissing) ? QStringLiteral("bad") : QString();
            }};
}

QList<ResourceListModel::Column> routeColumns(std::shared_ptr<ReferenceIndex> refs)
{
    return {
        {QObject::tr("Namespace"), [](const QJsonObject &o) { return resourceNamespace(o); }},
        {QObject::tr("Name"), [](const QJsonObject &o) { return resourceName(o); }},
        usesColumn(QObject::tr("Parents"), QStringLiteral("Gateway"), refs),
        {QObject::tr("Hostnames"),
         [](const QJsonObject &o) {
             QStringList out;
             for (const auto &h : specOf(o).value("hostnames").toArray())
                 out.append(h.toString());
             return out.isEmpty() ? QObject::tr("any") : out.join(QStringLiteral(", "));
         }},
        {QObject::tr("Rules"),
         [](const QJsonObject &o) { return QString::number(specOf(o).value("rules").toArray().size()); }},
        usesColumn(QObject::tr("Uses backends"), QStringLiteral("AgentgatewayBackend"), refs),
        conditionColumn(QStringLiteral("Accepted")),
        conditionColumn(QStringLiteral("ResolvedRefs")),
        usedByColumn(refs),
        {QObject::tr("Age"), [](const QJsonObject &o) { return objectAge(o); }},
    };
}

} // namespace

BackendsPage::BackendsPage(Connection *connection, QWidget *parent)
    : BackendsPage(connection, std::make_shared<ReferenceIndex>(), parent)
{
}

BackendsPage::BackendsPage(Connection *connection, std::shared_ptr<ReferenceIndex> references, QWidget *parent)
    : ResourcePage(connection, BackendEditor::resourceKind(), backendColumns(references), references, parent)
{
}

ResourceEditor *BackendsPage::createEditor()
{
    return new BackendEditor(m_connection->api(), this);
}

QJsonObject BackendsPage::templateObject() const
{
    return BackendEditor::newObject();
}

RoutesPage::RoutesPage(Connection *connection, QWidget *parent)
    : RoutesPage(connection, std::make_shared<ReferenceIndex>(), parent)
{
}

RoutesPage::RoutesPage(Connection *connection, std::shared_ptr<ReferenceIndex> references, QWidget *parent)
    : ResourcePage(connection, RouteEditor::resourceKind(), routeColumns(references), references, parent)
{
}

ResourceEditor *RoutesPage::createEditor()
{
    return new RouteEditor(m_connection->api(), this);
}

QJsonObject RoutesPage::templateObject() const
{
    return RouteEditor::newObject();
}

} // namespace dfproxy::gui
