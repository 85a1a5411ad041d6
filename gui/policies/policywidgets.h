// SPDX-License-Identifier: Apache-2.0
#pragma once
// Building blocks of the policy editors: a list of cards (one per limit or rule), the targetRefs table with a picker
// of existing targets, and the client-side hashing of passwords and API keys.

#include <QGroupBox>
#include <QJsonArray>
#include <QJsonObject>
#include <QPointer>

#include <functional>

QT_BEGIN_NAMESPACE
class QFormLayout;
class QPushButton;
class QScrollArea;
class QTableWidget;
class QVBoxLayout;
QT_END_NAMESPACE

namespace dfproxy::gui {

class FieldBox;
class ObjectPicker;
struct PickerObject;

/// "pbkdf2-sha256$ITERATIONS$SALT$HASH" (base64 without padding, 32-byte key), the format the service verifies in
/// service/policy/passwords.h. An empty salt means 16 random bytes.
QByteArray hashPasswordPbkdf2(const QByteArray &password, const QByteArray &salt = {}, int iterations = 100000);
/// Lower-case hex SHA-256, the form AuthenticationPolicy stores API keys in.
QByteArray sha256Hex(const QByteArray &data);
/// A random API key (32 bytes, base64url without padding).
QByteArray generateApiKey();

/// A Gateway (optionally one listener), HTTPRoute or AgentgatewayBackend a policy can attach to.
struct KnownTarget
{
    QString kind;
    QString ns;
    QString name;
    QString sectionName;
    /// "Gateway agentgateway-system/agentgateway-proxy#http"
    QString label() const;
    bool operator==(const KnownTarget &o) const = default;
};

/// "Gateway agentgateway-system/agentgateway-proxy#http, HTTPRoute httpbin/dfp-httproute" for a policy object. With
/// `existing` (the targets the service has), a target not among them reads "⚠ HTTPRoute httpbin/gone (missing)".
QString attachedToText(const QJsonObject &policy, const QList<KnownTarget> *existing = nullptr);
/// The policy's targets that are not in `existing`.
QList<KnownTarget> missingTargets(const QJsonObject &policy, const QList<KnownTarget> &existing);

/// One item of a CardList (a rate limit, an authorization rule). Fields added with addField() get the path
/// prefix + suffix, renumbered when cards move.
class ListCard : public QGroupBox
{
    Q_OBJECT
public:
    explicit ListCard(QWidget *parent = nullptr);
    virtual void load(const QJsonObject &o) = 0;
    virtual QJsonObject toJson() const = 0;
    void setPrefix(const QString &prefix);
    QPushButton *removeButton() const { return m_remove; }

protected:
    FieldBox *addField(const QString &label, const QString &suffix, QWidget *input);
    QFormLayout *form() const { return m_form; }
    QJsonObject m_original; ///< as loaded: fields without a widget survive a save

private:
    QFormLayout *m_form;
    QPushButton *m_remove;
    QList<QPair<FieldBox *, QString>> m_fields;
};

/// A vertical list of cards with Add and per-card Remove; the cards' field paths follow their position
/// (`path`[i]). The list itself sits in a FieldBox with `path` for errors about the whole list. The cards scroll in
/// their own FitScrollArea, so only the list scrolls, never the whole form.
class CardList : public QWidget
{
    Q_OBJECT
public:
    using Factory = std::function<ListCard *()>;
    /// `itemTitle` names a card ("Limit" gives "Limit 1", "Limit 2", …).
    CardList(const QString &path, const QString &itemTitle, const QString &addText, Factory factory,
             QWidget *parent = nullptr);

    void setItems(const QJsonArray &items);
    QJsonArray items() const;
    ListCard *addCard(const QJsonObject &o = {});
    int count() const { return int(m_cards.size()); }
    ListCard *card(int i) const { return m_cards.value(i); }
    QScrollArea *scrollArea() const { return m_scroll; }

private:
    void renumber();

    QString m_path;
    QString m_itemTitle;
    Factory m_factory;
    QScrollArea *m_scroll;
    QVBoxLayout *m_cardsLayout;
    QList<ListCard *> m_cards;
    QPointer<ListCard> m_reveal; ///< the card added last, scrolled into view once the list has its new size
    bool m_loading = false;
};

/// spec.targetRefs: kind, name and (Gateways) listener per row, plus "Add target" listing what exists. The Name cell
/// is a picker over the known targets too (choosing one sets the row's kind and listener). Targets must be in the
/// policy's namespace; the editor says so when a picked target is elsewhere.
class TargetRefsEditor : public QWidget
{
    Q_OBJECT
public:
    explicit TargetRefsEditor(QWidget *parent = nullptr);

    void load(const QJsonArray &refs);
    QJsonArray toJson() const;
    void addRef(const QString &kind, const QString &name, const QString &sectionName = {});
    /// Adds a row for a known target and announces it (what choosing it from "Add target" does).
    void pickTarget(const KnownTarget &target);
    /// Targets offered by the picker.
    void setKnownTargets(const QList<KnownTarget> &targets);
    QTableWidget *table() const { return m_table; }
    QPushButton *pickButton() const { return m_pick; }
    /// The Name cell of row `row`.
    ObjectPicker *namePicker(int row) const;
    /// Sets row `row` to a target that was just created (after "Create new route…").
    void setRef(int row, const KnownTarget &target);

Q_SIGNALS:
    /// A target was picked from the list; the editor may adopt its namespace.
    void targetPicked(const dfproxy::gui::KnownTarget &target);
    /// "Create new route…" was chosen in row `row`.
    void createRouteRequested(int row);

private:
    void onRowPicked(ObjectPicker *picker, const PickerObject &o);

    QTableWidget *m_table;
    QPushButton *m_pick;
    QList<KnownTarget> m_known;
};

} // namespace dfproxy::gui
