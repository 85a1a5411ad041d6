// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <QChartView>
#include <QList>

QT_BEGIN_NAMESPACE
class QLineSeries;
class QValueAxis;
QT_END_NAMESPACE

namespace dfproxy::gui {

/// A small line chart of the last `windowSeconds` seconds: x is "seconds ago", y scales to the data (or stays at
/// 0..100 for percentages). NaN values leave a gap-free line (they are skipped).
class TimeChart : public QChartView
{
    Q_OBJECT
public:
    /// `unit` labels the y axis and the values shown on hover.
    TimeChart(const QString &title, const QString &unit, bool percent, QWidget *parent = nullptr);

    /// Adds a line; returns its index.
    int addLine(const QString &name, const QColor &color);
    /// Replaces a line's points: (timeMs, value) pairs; `nowMs` is the right edge.
    void setPoints(int line, const QList<QPointF> &timeMsAndValue, qint64 nowMs);
    /// Small: the dashboard's layout, not the chart scene, decides how much room the charts get.
    QSize sizeHint() const override { return {360, 200}; }
    /// Points currently drawn on a line (for tests).
    int pointCount(int line) const;
    /// What the title says beside the name; the caller says what the number is over ("2.0 avg, last 5 s").
    void setCurrent(const QString &text);
    QString titleText() const;
    /// The text shown while the pointer is over a line's point (x in seconds ago); shown as a tooltip.
    QString hoverText(int line, const QPointF &point) const;
    /// The tooltip text of the last hover ("" after the pointer left the line).
    QString lastHoverText() const { return m_hover; }

private:
    void rescale();

    void onHovered(int line, const QPointF &point, bool state);

    QString m_title;
    QString m_unit;
    QString m_hover;
    bool m_percent;
    int m_windowSeconds = 120;
    QList<QLineSeries *> m_lines;
    QValueAxis *m_x;
    QValueAxis *m_y;
};

} // namespace dfproxy::gui
