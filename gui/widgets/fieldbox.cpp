// SPDX-License-Identifier: Apache-2.0
#include "widgets/fieldbox.h"

#include <QScrollArea>
#include <QStackedWidget>
#include <QTabWidget>
#include <QVBoxLayout>

namespace dfproxy::gui {

FieldBox::FieldBox(const QString &path, QWidget *input, QWidget *parent)
    : QWidget(parent), m_input(input), m_error(new QLabel(this))
{
    setPath(path);
    auto *layout = new QVBoxLayout(this);
    layout->setContentsMargins(0, 0, 0, 0);
    layout->setSpacing(2);
    layout->addWidget(input);
    m_error->setObjectName(QStringLiteral("fieldError"));
    m_error->setWordWrap(true);
    m_error->setStyleSheet(QStringLiteral("color: #b00020;"));
    m_error->setTextInteractionFlags(Qt::TextSelectableByMouse);
    m_error->hide();
    layout->addWidget(m_error);
}

void FieldBox::setPath(const QString &path)
{
    m_path = path;
    setObjectName(QStringLiteral("field:") + path);
}

void FieldBox::setError(const QString &message)
{
    m_error->setText(message);
    m_error->show();
    m_input->setProperty("invalid", true);
    m_input->setStyleSheet(QStringLiteral("border: 1px solid #b00020;"));
}

void FieldBox::clearError()
{
    m_error->clear();
    m_error->hide();
    m_input->setProperty("invalid", false);
    m_input->setStyleSheet({});
}

QString FieldBox::errorText() const
{
    return m_error->isHidden() ? QString() : m_error->text();
}

namespace {

// True when `path` is `prefix` or lies under it ("spec.a" covers "spec.a.b" and "spec.a[0]", not "spec.ab").
bool covers(const QString &prefix, const QString &path)
{
    if (!path.startsWith(prefix))
        return false;
    if (path.size() == prefix.size())
        return true;
    const QChar next = path.at(prefix.size());
    return next == u'.' || next == u'[';
}

void reveal(QWidget *w)
{
    for (QWidget *child = w, *p = w->parentWidget(); p; child = p, p = p->parentWidget()) {
        if (auto *stack = qobject_cast<QStackedWidget *>(p)) {
            const int i = stack->indexOf(child);
            if (i >= 0) {
                if (auto *tabs = qobject_cast<QTabWidget *>(stack->parentWidget()))
                    tabs->setCurrentIndex(i);
                else
                    stack->setCurrentIndex(i);
            }
        }
        // A field in a list that scrolls by itself (the policy editors' cards) is scrolled into view.
        if (auto *area = qobject_cast<QScrollArea *>(p))
            area->ensureWidgetVisible(w);
    }
}

} // namespace

void clearFieldErrors(QWidget *root)
{
    for (auto *box : root->findChildren<FieldBox *>())
        box->clearError();
}

QList<QPair<QString, QString>> showFieldErrors(QWidget *root, const QList<QPair<QString, QString>> &errors)
{
    clearFieldErrors(root);
    const auto boxes = root->findChildren<FieldBox *>();
    QList<QPair<QString, QString>> unmatched;
    QHash<FieldBox *, QStringList> messages;
    QList<FieldBox *> order;
    for (const auto &[path, message] : errors) {
        FieldBox *best = nullptr;
        for (auto *box : boxes) {
            if (covers(box->path(), path) && (!best || box->path().size() > best->path().size()))
                best = box;
        }
        if (!best) {
            unmatched.append({path, message});
            continue;
        }
        // A table or list field takes errors of its rows: keep the row part so the user knows which one.
        const QString rest = path.mid(best->path().size());
        if (!messages.contains(best))
            order.append(best);
        messages[best].append(rest.isEmpty() ? message : rest.mid(rest.startsWith(u'.') ? 1 : 0) + ": " + message);
    }
    for (auto *box : order) {
        box->setError(messages.value(box).join(u'\n'));
        reveal(box);
    }
    return unmatched;
}

} // namespace dfproxy::gui
