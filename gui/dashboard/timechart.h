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
    TimeChart(const QString &title, const QString &unit, bool percent, QWidget *parent = nullptr);

    /// Adds a line; returns its index.
    int addLine(const QString &name, const QColor &color);
    /// Replaces a line's points: (timeMs, value) pairs; `nowMs` is the right edge.
    void setPoints(int line, const QList<QPointF> &timeMsAndValue, qint64 nowMs);
    /// Points currently drawn on a line (for tests).
    int pointCount(int line) const;
    /// The newest value shown in the title ("Requests/s — 12.0").
    void setCurrent(const QString &text);

private:
    void rescale();

    QString m_title;
    bool m_percent;
    int m_windowSeconds = 120;
    QList<QLineSeries *> m_lines;
    QValueAxis *m_x;
    QValueAxis *m_y;
};

} // namespace dfproxy::gui
