// SPDX-License-Identifier: Apache-2.0
#include "policies/policywidgets.h"

#include "widgets/fieldbox.h"
#include "widgets/fitscrollarea.h"
#include "widgets/objectpicker.h"

#include <QComboBox>
#include <QCryptographicHash>
#include <QFormLayout>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QMenu>
#include <QMessageAuthenticationCode>
#include <QPushButton>
#include <QRandomGenerator>
#include <QScrollArea>
#include <QScrollBar>
#include <QTimer>
#include <QTableWidget>
#include <QVBoxLayout>

#include <algorithm>

namespace dfproxy::gui {

QByteArray hashPasswordPbkdf2(const QByteArray &password, const QByteArray &salt, int iterations)
{
    QByteArray s = salt;
    if (s.isEmpty()) {
        s.resize(16);
        QRandomGenerator::system()->fillRange(reinterpret_cast<quint32 *>(s.data()), 4);
    }
    // PBKDF2-HMAC-SHA256 (RFC 8018) with one 32-byte block: U1 = HMAC(P, S || INT(1)), Ui = HMAC(P, Ui-1).
    QMessageAuthenticationCode mac(QCryptographicHash::Sha256, password);
    mac.addData(s + QByteArray("\x00\x00\x00\x01", 4));
    QByteArray u = mac.result();
    QByteArray t = u;
    for (int i = 1; i < iterations; ++i) {
        mac.reset();
        mac.addData(u);
        u = mac.result();
        for (int k = 0; k < t.size(); ++k)
            t[k] = char(t[k] ^ u[k]);
    }
    const auto b64 = [](const QByteArray &b) { return b.toBase64(QByteArray::OmitTrailingEquals); };
    return "pbkdf2-sha256$" + QByteArray::number(iterations) + '$' + b64(s) + '$' + b64(t);
}

QByteArray sha256Hex(const QByteArray &data)
{
    return QCryptographicHash::hash(data, QCryptographicHash::Sha256).toHex();
}

QByteArray generateApiKey()
{
    QByteArray raw(32, '\0');
    QRandomGenerator::system()->fillRange(reinterpret_cast<quint32 *>(raw.data()), 8);
    return raw.toBase64(QByteArray::Base64UrlEncoding | QByteArray::OmitTrailingEquals);
}

QString KnownTarget::label() const
{
    QString s = QStringLiteral("%1 %2/%3").arg(kind, ns, name);
    if (!sectionName.isEmpty())
        s += u'#' + sectionName;
    return s;
}

namespace {
QList<KnownTarget> targetsOf(const QJsonObject &policy)
{
    const QString ns = policy.value("metadata").toObject().value("namespace").toString(QStringLiteral("default"));
    QList<KnownTarget> out;
    for (const auto &v : policy.value("spec").toObject().value("targetRefs").toArray()) {
        const QJsonObject t = v.toObject();
        out.append({t.value("kind").toString(), ns, t.value("name").toString(), t.value("sectionName").toString()});
    }
    return out;
}
} // namespace

QString attachedToText(const QJsonObject &policy, const QList<KnownTarget> *existing)
{
    QStringList out;
    for (const KnownTarget &t : targetsOf(policy)) {
        out.append(existing && !existing->contains(t) ? QObject::tr("⚠ %1 (missing)").arg(t.label()) : t.label());
    }
    return out.join(QStringLiteral(", "));
}

QList<KnownTarget> missingTargets(const QJsonObject &policy, const QList<KnownTarget> &existing)
{
    QList<KnownTarget> out;
    for (const KnownTarget &t : targetsOf(policy)) {
        if (!existing.contains(t))
            out.append(t);
    }
    return out;
}

// ---- ListCard / CardList ---------------------------------------------------------------------------------------

ListCard::ListCard(QWidget *parent)
    : QGroupBox(parent), m_form(new QFormLayout), m_remove(new QPushButton(tr("Remove")))
{
    auto *v = new QVBoxLayout(this);
    m_form->setFieldGrowthPolicy(QFormLayout::AllNonFixedFieldsGrow);
    v->addLayout(m_form);
    auto *row = new QHBoxLayout;
    row->addStretch(1);
    m_remove->setObjectName(QStringLiteral("removeCardButton"));
    row->addWidget(m_remove);
    v->addLayout(row);
}

FieldBox *ListCard::addField(const QString &label, const QString &suffix, QWidget *input)
{
    auto *box = new FieldBox(suffix, input);
    m_fields.append({box, suffix});
    m_form->addRow(label, box);
    return box;
}

void ListCard::setPrefix(const QString &prefix)
{
    for (const auto &[box, suffix] : m_fields)
        box->setPath(prefix + suffix);
}

CardList::CardList(const QString &path, const QString &itemTitle, const QString &addText, Factory factory,
                   QWidget *parent)
    : QWidget(parent), m_path(path), m_itemTitle(itemTitle), m_factory(std::move(factory)),
      m_scroll(new FitScrollArea(200)), m_cardsLayout(new QVBoxLayout)
{
    auto *v = new QVBoxLayout(this);
    v->setContentsMargins(0, 0, 0, 0);
    m_cardsLayout->setContentsMargins(0, 0, 0, 0);
    auto *cards = new QWidget;
    cards->setLayout(m_cardsLayout);
    m_scroll->setObjectName(QStringLiteral("cardsScroll"));
    m_scroll->setWidget(cards);
    v->addWidget(m_scroll);
    connect(m_scroll->verticalScrollBar(), &QScrollBar::rangeChanged, this, [this] {
        if (m_reveal)
            m_scroll->ensureWidgetVisible(m_reveal, 0, 0);
    });
    auto *add = new QPushButton(addText);
    add->setObjectName(QStringLiteral("addCardButton"));
    connect(add, &QPushButton::clicked, this, [this] { addCard(); });
    auto *row = new QHBoxLayout;
    row->addWidget(add);
    row->addStretch(1);
    v->addLayout(row);
}

void CardList::setItems(const QJsonArray &items)
{
    for (ListCard *c : std::as_const(m_cards))
        delete c;
    m_cards.clear();
    m_loading = true; // a loaded list starts at its top
    for (const auto &v : items)
        addCard(v.toObject());
    m_loading = false;
    m_reveal = nullptr;
}

QJsonArray CardList::items() const
{
    QJsonArray out;
    for (const ListCard *c : m_cards)
        out.append(c->toJson());
    return out;
}

ListCard *CardList::addCard(const QJsonObject &o)
{
    ListCard *card = m_factory();
    card->load(o);
    m_cards.append(card);
    m_cardsLayout->addWidget(card);
    connect(card->removeButton(), &QPushButton::clicked, this, [this, card] {
        m_cards.removeOne(card);
        m_cardsLayout->removeWidget(card); // now, so the list's size hint shrinks at once
        card->hide();
        card->deleteLater();
        renumber();
        m_scroll->updateGeometry();
    });
    renumber();
    m_scroll->updateGeometry();
    // A new card is the one to fill in: bring it into the list's view once the list has its new size.
    if (!m_loading) {
        m_reveal = card;
        QTimer::singleShot(0, card, [this, card] { m_scroll->ensureWidgetVisible(card, 0, 0); });
    }
    return card;
}

void CardList::renumber()
{
    for (int i = 0; i < m_cards.size(); ++i) {
        m_cards[i]->setPrefix(QStringLiteral("%1[%2]").arg(m_path).arg(i));
        m_cards[i]->setTitle(QStringLiteral("%1 %2").arg(m_itemTitle).arg(i + 1));
    }
}

// ---- TargetRefsEditor ------------------------------------------------------------------------------------------

namespace {

enum TargetColumn { TKind, TName, TSection, TCount };
const QStringList kTargetKinds = {"Gateway", "HTTPRoute", "AgentgatewayBackend"};

QString groupOf(const QString &kind)
{
    return kind == QLatin1String("AgentgatewayBackend") ? QStringLiteral("agentgateway.dev")
                                                        : QStringLiteral("gateway.networking.k8s.io");
}

} // namespace

TargetRefsEditor::TargetRefsEditor(QWidget *parent)
    : QWidget(parent), m_table(new QTableWidget(0, TCount, this)), m_pick(new QPushButton(tr("Add target ▾"), this))
{
    auto *v = new QVBoxLayout(this);
    v->setContentsMargins(0, 0, 0, 0);
    m_table->setObjectName(QStringLiteral("targetRefsTable"));
    m_table->setHorizontalHeaderLabels({tr("Kind"), tr("Name"), tr("Listener (Gateway only)")});
    m_table->horizontalHeader()->setStretchLastSection(true);
    // The Kind and Name cells are combo boxes, which ResizeToContents does not measure (the Kind cell showed "H"):
    // addRef() widens the columns to the widgets.
    m_table->setColumnWidth(TName, 220);
    m_table->verticalHeader()->setVisible(false);
    m_table->setSelectionBehavior(QAbstractItemView::SelectRows);
    m_table->setMinimumHeight(80);
    m_table->setMaximumHeight(120);
    v->addWidget(m_table);
    auto *row = new QHBoxLayout;
    m_pick->setObjectName(QStringLiteral("pickTargetButton"));
    m_pick->setToolTip(tr("Attach to an existing Gateway, listener, HTTPRoute or backend"));
    connect(m_pick, &QPushButton::clicked, this, [this] {
        QMenu menu(this);
        if (m_known.isEmpty())
            menu.addAction(tr("(no Gateways, routes or backends found)"))->setEnabled(false);
        QString lastKind;
        for (const KnownTarget &t : std::as_const(m_known)) {
            if (t.kind != lastKind) {
                menu.addSection(t.kind);
                lastKind = t.kind;
            }
            const QString text = t.sectionName.isEmpty() ? QStringLiteral("%1/%2").arg(t.ns, t.name)
                                                         : tr("%1/%2 — listener %3").arg(t.ns, t.name, t.sectionName);
            menu.addAction(text, this, [this, t] { pickTarget(t); });
        }
        menu.addSeparator();
        menu.addAction(tr("Empty row (type a name)"), this, [this] { addRef(QStringLiteral("HTTPRoute"), {}); });
        menu.exec(m_pick->mapToGlobal(QPoint(0, m_pick->height())));
    });
    auto *remove = new QPushButton(tr("Remove selected"), this);
    remove->setObjectName(QStringLiteral("removeTargetButton"));
    connect(remove, &QPushButton::clicked, this, [this] {
        const auto rows = m_table->selectionModel()->selectedRows();
        for (auto it = rows.rbegin(); it != rows.rend(); ++it)
            m_table->removeRow(it->row());
    });
    row->addWidget(m_pick);
    row->addWidget(remove);
    row->addStretch(1);
    v->addLayout(row);
}

void TargetRefsEditor::pickTarget(const KnownTarget &target)
{
    addRef(target.kind, target.name, target.sectionName);
    Q_EMIT targetPicked(target);
}

namespace {
QList<PickerObject> pickerObjects(const QList<KnownTarget> &targets)
{
    QList<PickerObject> out;
    for (const KnownTarget &t : targets)
        out.append({t.kind, t.ns, t.name, t.sectionName});
    return out;
}
} // namespace

void TargetRefsEditor::setKnownTargets(const QList<KnownTarget> &targets)
{
    m_known = targets;
    for (int r = 0; r < m_table->rowCount(); ++r) {
        if (auto *p = namePicker(r))
            p->setObjects(pickerObjects(m_known));
    }
}

void TargetRefsEditor::setRef(int row, const KnownTarget &target)
{
    if (!m_known.contains(target))
        setKnownTargets(m_known + QList<KnownTarget>{target});
    if (auto *p = namePicker(row))
        p->setName(target.name);
    if (auto *combo = qobject_cast<QComboBox *>(m_table->cellWidget(row, TKind)))
        combo->setCurrentIndex(std::max(0, combo->findData(target.kind)));
    m_table->setItem(row, TSection, new QTableWidgetItem(target.sectionName));
}

ObjectPicker *TargetRefsEditor::namePicker(int row) const
{
    return qobject_cast<ObjectPicker *>(m_table->cellWidget(row, TName));
}

void TargetRefsEditor::onRowPicked(ObjectPicker *picker, const PickerObject &o)
{
    const KnownTarget t{o.kind, o.ns, o.name, o.sectionName};
    for (int r = 0; r < m_table->rowCount(); ++r) {
        if (namePicker(r) != picker)
            continue;
        if (auto *combo = qobject_cast<QComboBox *>(m_table->cellWidget(r, TKind))) {
            if (combo->findData(t.kind) < 0)
                combo->addItem(t.kind, t.kind);
            combo->setCurrentIndex(combo->findData(t.kind));
        }
        m_table->setItem(r, TSection, new QTableWidgetItem(t.sectionName));
    }
    Q_EMIT targetPicked(t);
}

void TargetRefsEditor::addRef(const QString &kind, const QString &name, const QString &sectionName)
{
    const int row = m_table->rowCount();
    m_table->insertRow(row);
    auto *combo = new QComboBox;
    for (const QString &k : kTargetKinds)
        combo->addItem(k, k);
    if (combo->findData(kind) < 0)
        combo->addItem(kind, kind); // keep an unknown kind visible so the server can say what is wrong
    combo->setCurrentIndex(combo->findData(kind));
    m_table->setCellWidget(row, TKind, combo);
    m_table->setColumnWidth(TKind, std::max(m_table->columnWidth(TKind), combo->sizeHint().width()));
    auto *picker = new ObjectPicker;
    picker->setObjectName(QStringLiteral("targetPicker"));
    picker->setObjects(pickerObjects(m_known));
    picker->setName(name);
    picker->setCreateText(tr("Create new route…"));
    connect(picker, &ObjectPicker::picked, this, [this, picker](const PickerObject &o) { onRowPicked(picker, o); });
    connect(picker, &ObjectPicker::createRequested, this, [this, picker] {
        for (int r = 0; r < m_table->rowCount(); ++r) {
            if (namePicker(r) == picker)
                Q_EMIT createRouteRequested(r);
        }
    });
    m_table->setCellWidget(row, TName, picker);
    m_table->setItem(row, TSection, new QTableWidgetItem(sectionName));
}

void TargetRefsEditor::load(const QJsonArray &refs)
{
    m_table->setRowCount(0);
    for (const auto &v : refs) {
        const QJsonObject o = v.toObject();
        addRef(o.value("kind").toString(QStringLiteral("HTTPRoute")), o.value("name").toString(),
               o.value("sectionName").toString());
    }
}

QJsonArray TargetRefsEditor::toJson() const
{
    QJsonArray out;
    for (int r = 0; r < m_table->rowCount(); ++r) {
        const auto *combo = qobject_cast<QComboBox *>(m_table->cellWidget(r, TKind));
        const QString kind = combo ? combo->currentData().toString() : QString();
        const QString name = namePicker(r) ? namePicker(r)->name() : QString();
        const QString section = m_table->item(r, TSection) ? m_table->item(r, TSection)->text().trimmed() : QString();
        QJsonObject o{{"group", groupOf(kind)}, {"kind", kind}, {"name", name}};
        if (!section.isEmpty())
            o.insert("sectionName", section);
        out.append(o);
    }
    return out;
}

} // namespace dfproxy::gui
