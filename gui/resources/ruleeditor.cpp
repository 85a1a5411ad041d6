// SPDX-License-Identifier: Apache-2.0
#include "resources/ruleeditor.h"

#include "widgets/fieldbox.h"

#include <QComboBox>
#include <QFormLayout>
#include <QGridLayout>
#include <QGroupBox>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QJsonArray>
#include <QLabel>
#include <QLineEdit>
#include <QPushButton>
#include <QSpinBox>
#include <QTableWidget>
#include <QVBoxLayout>

namespace dfproxy::gui {

namespace {

enum MatchColumn { MPathType, MPathValue, MMethod, MHeaders, MQuery, MCount };
enum BackendColumn { BName, BNamespace, BWeight, BPort, BGroup, BKind, BCount };

const QStringList kMethods = {QString(), "GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH"};

QString cellText(const QTableWidget *t, int row, int col)
{
    if (auto *picker = qobject_cast<ObjectPicker *>(t->cellWidget(row, col)))
        return picker->name();
    if (auto *combo = qobject_cast<QComboBox *>(t->cellWidget(row, col)))
        return combo->currentData().isValid() ? combo->currentData().toString() : combo->currentText();
    const auto *item = t->item(row, col);
    return item ? item->text().trimmed() : QString();
}

void setCell(QTableWidget *t, int row, int col, const QString &text)
{
    t->setItem(row, col, new QTableWidgetItem(text));
}

QComboBox *comboCell(QTableWidget *t, int row, int col, const QStringList &values, const QString &current,
                     const QString &emptyLabel = {})
{
    auto *c = new QComboBox;
    for (const QString &v : values)
        c->addItem(v.isEmpty() ? emptyLabel : v, v);
    c->setCurrentIndex(std::max(0, c->findData(current)));
    t->setCellWidget(row, col, c);
    return c;
}

QTableWidget *makeTable(const QStringList &headers, const QString &objectName)
{
    auto *t = new QTableWidget(0, int(headers.size()));
    t->setObjectName(objectName);
    t->setHorizontalHeaderLabels(headers);
    t->horizontalHeader()->setStretchLastSection(true);
    t->verticalHeader()->setVisible(false);
    t->setSelectionBehavior(QAbstractItemView::SelectRows);
    t->setMinimumHeight(80);
    t->setWordWrap(false);
    t->horizontalHeader()->setMinimumSectionSize(70);
    t->setSizeAdjustPolicy(QAbstractScrollArea::AdjustToContents);
    return t;
}

QWidget *withButtons(QTableWidget *table, const std::function<void()> &add, const QString &addText)
{
    auto *w = new QWidget;
    auto *v = new QVBoxLayout(w);
    v->setContentsMargins(0, 0, 0, 0);
    v->addWidget(table);
    auto *row = new QHBoxLayout;
    auto *addButton = new QPushButton(addText);
    addButton->setObjectName(table->objectName() + QStringLiteral("Add"));
    auto *removeButton = new QPushButton(QObject::tr("Remove selected"));
    removeButton->setObjectName(table->objectName() + QStringLiteral("Remove"));
    QObject::connect(addButton, &QPushButton::clicked, w, add);
    QObject::connect(removeButton, &QPushButton::clicked, w, [table] {
        const auto rows = table->selectionModel()->selectedRows();
        QList<int> indexes;
        for (const auto &r : rows)
            indexes.append(r.row());
        std::sort(indexes.rbegin(), indexes.rend());
        for (int r : indexes)
            table->removeRow(r);
    });
    row->addWidget(addButton);
    row->addWidget(removeButton);
    row->addStretch();
    v->addLayout(row);
    return w;
}

// A checkable group whose fields show only while it is checked, so unused filters take one line.
QFormLayout *collapsibleForm(QGroupBox *group)
{
    auto *outer = new QVBoxLayout(group);
    auto *inner = new QWidget;
    auto *form = new QFormLayout(inner);
    form->setContentsMargins(0, 0, 0, 0);
    outer->addWidget(inner);
    inner->setVisible(group->isChecked());
    QObject::connect(group, &QGroupBox::toggled, inner, &QWidget::setVisible);
    return form;
}

QComboBox *pathModifierCombo()
{
    auto *c = new QComboBox;
    c->addItem(QObject::tr("keep the path"), QString());
    c->addItem(QObject::tr("replace full path"), QStringLiteral("ReplaceFullPath"));
    c->addItem(QObject::tr("replace matched prefix"), QStringLiteral("ReplacePrefixMatch"));
    return c;
}

QJsonObject pathModifierJson(const QComboBox *type, const QLineEdit *value)
{
    const QString t = type->currentData().toString();
    if (t.isEmpty())
        return {};
    const QString key = t == QLatin1String("ReplaceFullPath") ? QStringLiteral("replaceFullPath")
                                                              : QStringLiteral("replacePrefixMatch");
    return QJsonObject{{"type", t}, {key, value->text().trimmed()}};
}

void loadPathModifier(const QJsonObject &path, QComboBox *type, QLineEdit *value)
{
    const QString t = path.value("type").toString();
    type->setCurrentIndex(std::max(0, type->findData(t)));
    value->setText(path.value(t == QLatin1String("ReplacePrefixMatch") ? "replacePrefixMatch" : "replaceFullPath").toString());
}

QString pairsText(const QJsonArray &pairs)
{
    QStringList parts;
    for (const auto &p : pairs)
        parts.append(p.toObject().value("name").toString() + u'=' + p.toObject().value("value").toString());
    return parts.join(QStringLiteral(", "));
}

QJsonArray pairsJson(const QString &text)
{
    QJsonArray out;
    for (const QString &part : text.split(u',', Qt::SkipEmptyParts)) {
        const int eq = part.indexOf(u'=');
        const QString name = (eq < 0 ? part : part.left(eq)).trimmed();
        if (!name.isEmpty())
            out.append(QJsonObject{{"name", name}, {"value", eq < 0 ? QString() : part.mid(eq + 1).trimmed()}});
    }
    return out;
}

} // namespace

QJsonArray parseValueMatches(const QString &text)
{
    QJsonArray out;
    for (const QString &part : text.split(u',', Qt::SkipEmptyParts)) {
        const int regex = part.indexOf(QStringLiteral("~="));
        const int eq = part.indexOf(u'=');
        QJsonObject m;
        if (regex >= 0 && regex < eq) {
            m.insert("type", "RegularExpression");
            m.insert("name", part.left(regex).trimmed());
            m.insert("value", part.mid(regex + 2).trimmed());
        } else {
            m.insert("name", (eq < 0 ? part : part.left(eq)).trimmed());
            m.insert("value", eq < 0 ? QString() : part.mid(eq + 1).trimmed());
        }
        if (!m.value("name").toString().isEmpty())
            out.append(m);
    }
    return out;
}

QString valueMatchesText(const QJsonArray &matches)
{
    QStringList parts;
    for (const auto &v : matches) {
        const QJsonObject m = v.toObject();
        const bool regex = m.value("type").toString() == QLatin1String("RegularExpression");
        parts.append(m.value("name").toString() + (regex ? QStringLiteral("~=") : QStringLiteral("="))
                     + m.value("value").toString());
    }
    return parts.join(QStringLiteral(", "));
}

RuleEditor::HeaderModifierWidgets RuleEditor::makeHeaderModifier(const QString &title, const QString &objectName)
{
    HeaderModifierWidgets w;
    w.group = new QGroupBox(title);
    w.group->setObjectName(objectName);
    w.group->setCheckable(true);
    w.group->setChecked(false);
    auto *f = collapsibleForm(w.group);
    w.set = new QLineEdit;
    w.set->setObjectName(objectName + QStringLiteral("Set"));
    w.set->setPlaceholderText(tr("X-Name=value, X-Other=value"));
    w.add = new QLineEdit;
    w.add->setObjectName(objectName + QStringLiteral("Add"));
    w.add->setPlaceholderText(tr("X-Name=value"));
    w.remove = new QLineEdit;
    w.remove->setObjectName(objectName + QStringLiteral("Remove"));
    w.remove->setPlaceholderText(tr("X-Name, X-Other"));
    f->addRow(tr("Set"), w.set);
    f->addRow(tr("Add"), w.add);
    f->addRow(tr("Remove"), w.remove);
    w.box = new FieldBox(QString(), w.group);
    return w;
}

void RuleEditor::loadHeaderModifier(const HeaderModifierWidgets &w, const QJsonObject &o)
{
    w.set->setText(pairsText(o.value("set").toArray()));
    w.add->setText(pairsText(o.value("add").toArray()));
    QStringList remove;
    for (const auto &r : o.value("remove").toArray())
        remove.append(r.toString());
    w.remove->setText(remove.join(QStringLiteral(", ")));
}

QJsonObject RuleEditor::headerModifierJson(const HeaderModifierWidgets &w)
{
    QJsonObject o;
    if (const auto set = pairsJson(w.set->text()); !set.isEmpty())
        o.insert("set", set);
    if (const auto add = pairsJson(w.add->text()); !add.isEmpty())
        o.insert("add", add);
    QJsonArray remove;
    for (const QString &r : w.remove->text().split(u',', Qt::SkipEmptyParts))
        if (!r.trimmed().isEmpty())
            remove.append(r.trimmed());
    if (!remove.isEmpty())
        o.insert("remove", remove);
    return o;
}

RuleEditor::RuleEditor(QWidget *parent) : QWidget(parent)
{
    setObjectName(QStringLiteral("ruleEditor"));
    auto *form = new QFormLayout(this);
    form->setFieldGrowthPolicy(QFormLayout::AllNonFixedFieldsGrow);
    auto track = [this](FieldBox *b, const QString &suffix) {
        m_boxes.append(b);
        m_suffixes.append(suffix);
        return b;
    };

    m_name = new QLineEdit;
    m_name->setObjectName(QStringLiteral("ruleName"));
    m_name->setPlaceholderText(tr("optional"));
    form->addRow(tr("Rule name"), track(new FieldBox({}, m_name), QStringLiteral(".name")));

    m_matches = makeTable({tr("Path type"), tr("Path"), tr("Method"), tr("Headers"), tr("Query params")},
                          QStringLiteral("matchesTable"));
    m_matches->setToolTip(tr("A request matches the rule when it matches any row; no rows = every path.\n"
                             "Headers and query parameters: name=value (exact) or name~=regex, separated by commas."));
    form->addRow(tr("Matches"), track(new FieldBox({}, withButtons(m_matches, [this] { addMatch(); }, tr("Add match"))),
                                      QStringLiteral(".matches")));

    m_backends = makeTable({tr("Backend"), tr("Namespace"), tr("Weight"), tr("Port"), tr("Group"), tr("Kind")},
                           QStringLiteral("backendRefsTable"));
    m_backends->setToolTip(tr("Requests are split between backends by weight. Namespace empty = the route's."));
    // The backend's name takes the room; the other columns are as wide as their content (the Kind column used to
    // take the width and cut the name to "dfp-bac…").
    m_backends->horizontalHeader()->setStretchLastSection(false);
    m_backends->horizontalHeader()->setSectionResizeMode(QHeaderView::ResizeToContents);
    m_backends->horizontalHeader()->setSectionResizeMode(BName, QHeaderView::Stretch);
    // The group follows from the kind (agentgateway.dev for AgentgatewayBackend); it stays in the YAML tab.
    m_backends->setColumnHidden(BGroup, true);
    form->addRow(tr("Backends"), track(new FieldBox({}, withButtons(m_backends, [this] { addBackendRef(); }, tr("Add backend"))),
                                       QStringLiteral(".backendRefs")));

    auto *filters = new QWidget;
    // Two filters a row: unused ones take one line each, and the rule fits a 1280x800 screen without scrolling.
    auto *fl = new QGridLayout(filters);
    fl->setContentsMargins(0, 0, 0, 0);
    fl->setColumnStretch(0, 1);
    fl->setColumnStretch(1, 1);
    m_requestHeaders = makeHeaderModifier(tr("Modify request headers"), QStringLiteral("requestHeaderModifier"));
    m_responseHeaders = makeHeaderModifier(tr("Modify response headers"), QStringLiteral("responseHeaderModifier"));
    fl->addWidget(m_requestHeaders.box, 0, 0, Qt::AlignTop);
    fl->addWidget(m_responseHeaders.box, 0, 1, Qt::AlignTop);

    m_rewrite = new QGroupBox(tr("Rewrite URL"));
    m_rewrite->setObjectName(QStringLiteral("urlRewrite"));
    m_rewrite->setCheckable(true);
    m_rewrite->setChecked(false);
    auto *rf = collapsibleForm(m_rewrite);
    m_rewriteHost = new QLineEdit;
    m_rewriteHost->setObjectName(QStringLiteral("rewriteHostname"));
    m_rewriteHost->setPlaceholderText(tr("keep the Host"));
    m_rewritePathType = pathModifierCombo();
    m_rewritePathType->setObjectName(QStringLiteral("rewritePathType"));
    m_rewritePath = new QLineEdit;
    m_rewritePath->setObjectName(QStringLiteral("rewritePath"));
    rf->addRow(tr("Hostname"), m_rewriteHost);
    rf->addRow(tr("Path"), m_rewritePathType);
    rf->addRow(tr("New path"), m_rewritePath);
    m_rewriteBox = new FieldBox({}, m_rewrite);
    fl->addWidget(m_rewriteBox, 1, 0, Qt::AlignTop);

    m_redirect = new QGroupBox(tr("Redirect"));
    m_redirect->setObjectName(QStringLiteral("requestRedirect"));
    m_redirect->setCheckable(true);
    m_redirect->setChecked(false);
    auto *df = collapsibleForm(m_redirect);
    m_redirectScheme = new QComboBox;
    m_redirectScheme->setObjectName(QStringLiteral("redirectScheme"));
    m_redirectScheme->addItem(tr("keep"), QString());
    m_redirectScheme->addItem(QStringLiteral("http"), QStringLiteral("http"));
    m_redirectScheme->addItem(QStringLiteral("https"), QStringLiteral("https"));
    m_redirectHost = new QLineEdit;
    m_redirectHost->setObjectName(QStringLiteral("redirectHostname"));
    m_redirectHost->setPlaceholderText(tr("keep the host"));
    m_redirectPort = new QSpinBox;
    m_redirectPort->setObjectName(QStringLiteral("redirectPort"));
    m_redirectPort->setRange(0, 65535);
    m_redirectPort->setSpecialValueText(tr("keep"));
    m_redirectStatus = new QComboBox;
    m_redirectStatus->setObjectName(QStringLiteral("redirectStatus"));
    for (int code : {301, 302, 303, 307, 308})
        m_redirectStatus->addItem(QString::number(code), code);
    m_redirectStatus->setCurrentIndex(1);
    m_redirectPathType = pathModifierCombo();
    m_redirectPathType->setObjectName(QStringLiteral("redirectPathType"));
    m_redirectPath = new QLineEdit;
    m_redirectPath->setObjectName(QStringLiteral("redirectPath"));
    df->addRow(tr("Scheme"), m_redirectScheme);
    df->addRow(tr("Hostname"), m_redirectHost);
    df->addRow(tr("Port"), m_redirectPort);
    df->addRow(tr("Status code"), m_redirectStatus);
    df->addRow(tr("Path"), m_redirectPathType);
    df->addRow(tr("New path"), m_redirectPath);
    m_redirectBox = new FieldBox({}, m_redirect);
    fl->addWidget(m_redirectBox, 1, 1, Qt::AlignTop);
    form->addRow(tr("Filters"), track(new FieldBox({}, filters), QStringLiteral(".filters")));

    m_requestTimeout = new QLineEdit;
    m_requestTimeout->setObjectName(QStringLiteral("requestTimeout"));
    m_requestTimeout->setPlaceholderText(tr("none, e.g. 10s, 500ms, 1m30s"));
    m_backendTimeout = new QLineEdit;
    m_backendTimeout->setObjectName(QStringLiteral("backendRequestTimeout"));
    m_backendTimeout->setPlaceholderText(tr("none, at most the request timeout"));
    auto *timeouts = new QWidget;
    auto *tl = new QHBoxLayout(timeouts);
    tl->setContentsMargins(0, 0, 0, 0);
    tl->addWidget(new QLabel(tr("Request")));
    tl->addWidget(track(new FieldBox({}, m_requestTimeout), QStringLiteral(".timeouts.request")), 1);
    tl->addWidget(new QLabel(tr("Backend")));
    tl->addWidget(track(new FieldBox({}, m_backendTimeout), QStringLiteral(".timeouts.backendRequest")), 1);
    form->addRow(tr("Timeouts"), timeouts);
    track(new FieldBox({}, new QWidget), QStringLiteral(".timeouts"))->hide();
    setPrefix(QStringLiteral("spec.rules[0]"));
}

void RuleEditor::setPrefix(const QString &prefix)
{
    m_prefix = prefix;
    for (int i = 0; i < m_boxes.size(); ++i)
        m_boxes[i]->setPath(prefix + m_suffixes[i]);
    toJson(); // numbers the filter boxes
}

void RuleEditor::addMatch(const QString &pathType, const QString &pathValue, const QString &method,
                          const QString &headers, const QString &queryParams)
{
    const int row = m_matches->rowCount();
    m_matches->insertRow(row);
    comboCell(m_matches, row, MPathType, {"PathPrefix", "Exact", "RegularExpression"},
              pathType.isEmpty() ? QStringLiteral("PathPrefix") : pathType);
    setCell(m_matches, row, MPathValue, pathValue.isEmpty() ? QStringLiteral("/") : pathValue);
    comboCell(m_matches, row, MMethod, kMethods, method, tr("any"));
    setCell(m_matches, row, MHeaders, headers);
    setCell(m_matches, row, MQuery, queryParams);
}

void RuleEditor::addBackendRef(const QString &name, const QString &ns, int weight, int port)
{
    const int row = m_backends->rowCount();
    m_backends->insertRow(row);
    auto *picker = new ObjectPicker;
    picker->setObjectName(QStringLiteral("backendPicker"));
    picker->setObjects(m_knownBackends);
    picker->setCreateText(tr("Create new backend…"));
    picker->setName(name);
    connect(picker, &ObjectPicker::picked, this, [this, picker](const PickerObject &o) {
        for (int r = 0; r < m_backends->rowCount(); ++r) {
            if (m_backends->cellWidget(r, BName) == picker)
                setCell(m_backends, r, BNamespace, o.ns);
        }
    });
    connect(picker, &ObjectPicker::createRequested, this, [this, picker] {
        for (int r = 0; r < m_backends->rowCount(); ++r) {
            if (m_backends->cellWidget(r, BName) == picker)
                Q_EMIT createBackendRequested(r);
        }
    });
    m_backends->setCellWidget(row, BName, picker);
    setCell(m_backends, row, BNamespace, ns);
    setCell(m_backends, row, BWeight, QString::number(weight));
    setCell(m_backends, row, BPort, port > 0 ? QString::number(port) : QString());
    setCell(m_backends, row, BGroup, QStringLiteral("agentgateway.dev"));
    setCell(m_backends, row, BKind, QStringLiteral("AgentgatewayBackend"));
}

ObjectPicker *RuleEditor::backendPicker(int row) const
{
    return qobject_cast<ObjectPicker *>(m_backends->cellWidget(row, BName));
}

void RuleEditor::setKnownBackends(const QList<PickerObject> &backends)
{
    m_knownBackends = backends;
    for (int r = 0; r < m_backends->rowCount(); ++r) {
        if (auto *p = backendPicker(r))
            p->setObjects(backends);
    }
}

void RuleEditor::setBackendRef(int row, const QString &ns, const QString &name)
{
    if (auto *p = backendPicker(row))
        p->setName(name);
    setCell(m_backends, row, BNamespace, ns);
}

void RuleEditor::load(const QJsonObject &rule)
{
    m_original = rule;
    m_name->setText(rule.value("name").toString());
    m_matches->setRowCount(0);
    for (const auto &mv : rule.value("matches").toArray()) {
        const QJsonObject m = mv.toObject();
        const QJsonObject p = m.value("path").toObject();
        addMatch(p.value("type").toString(), p.value("value").toString(), m.value("method").toString(),
                 valueMatchesText(m.value("headers").toArray()), valueMatchesText(m.value("queryParams").toArray()));
    }
    m_requestHeaders.group->setChecked(false);
    m_responseHeaders.group->setChecked(false);
    m_rewrite->setChecked(false);
    m_redirect->setChecked(false);
    for (const auto &fv : rule.value("filters").toArray()) {
        const QJsonObject f = fv.toObject();
        const QString type = f.value("type").toString();
        if (type == QLatin1String("RequestHeaderModifier")) {
            m_requestHeaders.group->setChecked(true);
            loadHeaderModifier(m_requestHeaders, f.value("requestHeaderModifier").toObject());
        } else if (type == QLatin1String("ResponseHeaderModifier")) {
            m_responseHeaders.group->setChecked(true);
            loadHeaderModifier(m_responseHeaders, f.value("responseHeaderModifier").toObject());
        } else if (type == QLatin1String("URLRewrite")) {
            const QJsonObject r = f.value("urlRewrite").toObject();
            m_rewrite->setChecked(true);
            m_rewriteHost->setText(r.value("hostname").toString());
            loadPathModifier(r.value("path").toObject(), m_rewritePathType, m_rewritePath);
        } else if (type == QLatin1String("RequestRedirect")) {
            const QJsonObject r = f.value("requestRedirect").toObject();
            m_redirect->setChecked(true);
            m_redirectScheme->setCurrentIndex(std::max(0, m_redirectScheme->findData(r.value("scheme").toString())));
            m_redirectHost->setText(r.value("hostname").toString());
            m_redirectPort->setValue(r.value("port").toInt(0));
            m_redirectStatus->setCurrentIndex(std::max(0, m_redirectStatus->findData(r.value("statusCode").toInt(302))));
            loadPathModifier(r.value("path").toObject(), m_redirectPathType, m_redirectPath);
        }
    }
    m_backends->setRowCount(0);
    for (const auto &bv : rule.value("backendRefs").toArray()) {
        const QJsonObject b = bv.toObject();
        addBackendRef(b.value("name").toString(), b.value("namespace").toString(), b.value("weight").toInt(1),
                      b.value("port").toInt(0));
        const int row = m_backends->rowCount() - 1;
        setCell(m_backends, row, BGroup, b.value("group").toString(QStringLiteral("agentgateway.dev")));
        setCell(m_backends, row, BKind, b.value("kind").toString(QStringLiteral("AgentgatewayBackend")));
    }
    m_matches->resizeColumnsToContents();
    const QJsonObject t = rule.value("timeouts").toObject();
    m_requestTimeout->setText(t.value("request").toString());
    m_backendTimeout->setText(t.value("backendRequest").toString());
    toJson();
}

QJsonObject RuleEditor::toJson() const
{
    QJsonObject rule = m_original;
    for (const char *k : {"name", "matches", "filters", "backendRefs", "timeouts"})
        rule.remove(QLatin1String(k));
    if (!m_name->text().trimmed().isEmpty())
        rule.insert("name", m_name->text().trimmed());

    QJsonArray matches;
    for (int r = 0; r < m_matches->rowCount(); ++r) {
        QJsonObject m{{"path", QJsonObject{{"type", cellText(m_matches, r, MPathType)},
                                           {"value", cellText(m_matches, r, MPathValue)}}}};
        if (const QString method = cellText(m_matches, r, MMethod); !method.isEmpty())
            m.insert("method", method);
        if (const auto h = parseValueMatches(cellText(m_matches, r, MHeaders)); !h.isEmpty())
            m.insert("headers", h);
        if (const auto q = parseValueMatches(cellText(m_matches, r, MQuery)); !q.isEmpty())
            m.insert("queryParams", q);
        matches.append(m);
    }
    if (!matches.isEmpty())
        rule.insert("matches", matches);

    QJsonArray filters;
    auto place = [&](FieldBox *box, bool on, const QJsonObject &filter) {
        if (!on) {
            box->setPath(m_prefix + QStringLiteral(".filters[-]"));
            return;
        }
        box->setPath(QStringLiteral("%1.filters[%2]").arg(m_prefix).arg(filters.size()));
        filters.append(filter);
    };
    place(m_requestHeaders.box, m_requestHeaders.group->isChecked(),
          {{"type", "RequestHeaderModifier"}, {"requestHeaderModifier", headerModifierJson(m_requestHeaders)}});
    place(m_responseHeaders.box, m_responseHeaders.group->isChecked(),
          {{"type", "ResponseHeaderModifier"}, {"responseHeaderModifier", headerModifierJson(m_responseHeaders)}});
    QJsonObject rewrite;
    if (!m_rewriteHost->text().trimmed().isEmpty())
        rewrite.insert("hostname", m_rewriteHost->text().trimmed());
    if (const auto p = pathModifierJson(m_rewritePathType, m_rewritePath); !p.isEmpty())
        rewrite.insert("path", p);
    place(m_rewriteBox, m_rewrite->isChecked(), {{"type", "URLRewrite"}, {"urlRewrite", rewrite}});
    QJsonObject redirect{{"statusCode", m_redirectStatus->currentData().toInt()}};
    if (!m_redirectScheme->currentData().toString().isEmpty())
        redirect.insert("scheme", m_redirectScheme->currentData().toString());
    if (!m_redirectHost->text().trimmed().isEmpty())
        redirect.insert("hostname", m_redirectHost->text().trimmed());
    if (m_redirectPort->value() > 0)
        redirect.insert("port", m_redirectPort->value());
    if (const auto p = pathModifierJson(m_redirectPathType, m_redirectPath); !p.isEmpty())
        redirect.insert("path", p);
    place(m_redirectBox, m_redirect->isChecked(), {{"type", "RequestRedirect"}, {"requestRedirect", redirect}});
    if (!filters.isEmpty())
        rule.insert("filters", filters);

    QJsonArray backends;
    for (int r = 0; r < m_backends->rowCount(); ++r) {
        QJsonObject b{{"name", cellText(m_backends, r, BName)}};
        if (const QString g = cellText(m_backends, r, BGroup); !g.isEmpty())
            b.insert("group", g);
        if (const QString k = cellText(m_backends, r, BKind); !k.isEmpty())
            b.insert("kind", k);
        if (const QString ns = cellText(m_backends, r, BNamespace); !ns.isEmpty())
            b.insert("namespace", ns);
        bool ok = false;
        if (const int w = cellText(m_backends, r, BWeight).toInt(&ok); ok && w != 1)
            b.insert("weight", w);
        if (const int p = cellText(m_backends, r, BPort).toInt(&ok); ok && p > 0)
            b.insert("port", p);
        backends.append(b);
    }
    if (!backends.isEmpty())
        rule.insert("backendRefs", backends);

    QJsonObject timeouts = m_original.value("timeouts").toObject();
    timeouts.remove("request");
    timeouts.remove("backendRequest");
    if (!m_requestTimeout->text().trimmed().isEmpty())
        timeouts.insert("request", m_requestTimeout->text().trimmed());
    if (!m_backendTimeout->text().trimmed().isEmpty())
        timeouts.insert("backendRequest", m_backendTimeout->text().trimmed());
    if (!timeouts.isEmpty())
        rule.insert("timeouts", timeouts);
    return rule;
}

} // namespace dfproxy::gui
