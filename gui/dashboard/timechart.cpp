// SPDX-License-Identifier: Apache-2.0
#include "dashboard/timechart.h"

#include <QChart>
#include <QCursor>
#include <QToolTip>
#include <QLineSeries>
#include <QValueAxis>

#include <cmath>

namespace dfproxy::gui {

TimeChart::TimeChart(const QString &title, const QString &unit, bool percent, QWidget *parent)
    : QChartView(parent), m_title(title), m_unit(unit), m_percent(percent), m_x(new QValueAxis), m_y(new QValueAxis)
{
    auto *c = new QChart;
    c->setTitle(title);
    c->setMargins(QMargins(4, 4, 4, 4));
    c->legend()->setAlignment(Qt::AlignBottom);
    c->setAnimationOptions(QChart::NoAnimation);
    m_x->setRange(-m_windowSeconds, 0);
    m_x->setLabelFormat(QStringLiteral("%.0fs"));
    m_x->setTickCount(5);
    m_y->setRange(0, percent ? 100 : 1);
    m_y->setLabelFormat(percent ? QStringLiteral("%.0f%%") : QStringLiteral("%.1f"));
    m_y->setTitleText(unit);
    c->addAxis(m_x, Qt::AlignBottom);
    c->addAxis(m_y, Qt::AlignLeft);
    setChart(c);
    setRenderHint(QPainter::Antialiasing);
    setMinimumHeight(190);
}

int TimeChart::addLine(const QString &name, const QColor &color)
{
    auto *s = new QLineSeries;
    s->setName(name);
    QPen pen(color);
    pen.setWidthF(2);
    s->setPen(pen);
    chart()->addSeries(s);
    s->attachAxis(m_x);
    s->attachAxis(m_y);
    m_lines.append(s);
    const int index = int(m_lines.size()) - 1;
    connect(s, &QLineSeries::hovered, this,
            [this, index](const QPointF &p, bool state) { onHovered(index, p, state); });
    chart()->legend()->setVisible(m_lines.size() > 1);
    return int(m_lines.size()) - 1;
}

void TimeChart::setPoints(int line, const QList<QPointF> &points, qint64 nowMs)
{
    QList<QPointF> shown;
    for (const QPointF &p : points) {
        const double ago = (p.x() - double(nowMs)) / 1000.0;
        if (ago >= -m_windowSeconds && !std::isnan(p.y()))
            shown.append({ago, p.y()});
    }
    m_lines.value(line)->replace(shown);
    rescale();
}

int TimeChart::pointCount(int line) const
{
    return int(m_lines.value(line)->count());
}

void TimeChart::setCurrent(const QString &text)
{
    chart()->setTitle(text.isEmpty() ? m_title : QStringLiteral("%1 — %2").arg(m_title, text));
}

QString TimeChart::titleText() const
{
    return chart()->title();
}

QString TimeChart::hoverText(int line, const QPointF &point) const
{
    const QLineSeries *s = m_lines.value(line);
    if (!s)
        return {};
    // The nearest plotted point: the pointer is rarely exactly on one.
    QPointF best = point;
    double distance = INFINITY;
    for (const QPointF &p : s->points()) {
        if (std::abs(p.x() - point.x()) < distance) {
            distance = std::abs(p.x() - point.x());
            best = p;
        }
    }
    const QString value = m_percent ? QStringLiteral("%1%").arg(best.y(), 0, 'f', 1)
                                    : QStringLiteral("%1 %2").arg(best.y(), 0, 'f', best.y() < 10 ? 2 : 1).arg(m_unit);
    return tr("%1: %2, %3 s ago").arg(s->name(), value).arg(-best.x(), 0, 'f', 0);
}

void TimeChart::onHovered(int line, const QPointF &point, bool state)
{
    m_hover = state ? hoverText(line, point) : QString();
    if (state)
        QToolTip::showText(QCursor::pos(), m_hover, this);
    else
        QToolTip::hideText();
}

void TimeChart::rescale()
{
    if (m_percent)
        return;
    double max = 0;
    for (auto *s : m_lines)
        for (const QPointF &p : s->points())
            max = std::max(max, p.y());
    // Round the top up to a 1/2/5 step so the axis labels stay readable.
    double top = 1;
    while (top < max * 1.15) {
        const double d = std::pow(10.0, std::floor(std::log10(top)));
        top = top / d < 2 ? 2 * d : top / d < 5 ? 5 * d : 10 * d;
    }
    m_y->setRange(0, top);
}

} // namespace dfproxy::gui
