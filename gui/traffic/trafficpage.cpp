// SPDX-License-Identifier: Apache-2.0
#include "traffic/trafficpage.h"

#include "app/connection.h"
#include "traffic/accesslogmodel.h"
#include "traffic/loggedrequest.h"
#include "traffic/trafficexport.h"
#include "widgets/toast.h"

#include <QAction>
#include <QApplication>
#include <QClipboard>
#include <QFile>
#include <QFileDialog>
#include <QFileInfo>
#include <QFontDatabase>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QJsonArray>
#include <QJsonDocument>
#include <QLabel>
#include <QLineEdit>
#include <QMenu>
#include <QMessageBox>
#include <QNetworkReply>
#include <QPlainTextEdit>
#include <QPushButton>
#include <QSortFilterProxyModel>
#include <QSplitter>
#include <QTableView>
#include <QToolButton>
#include <QVBoxLayout>

namespace dfproxy::gui {

namespace {

QList<QJsonObject> recordsOf(const QJsonValue &body)
{
    const QJsonArray arr = body.isArray() ? body.toArray()
                                          : body.toObject().value(body.toObject().contains("items") ? "items" : "records").toArray();
    QList<QJsonObject> out;
    for (const auto &v : arr)
        out.append(v.toObject());
    return out;
}

QString recordKey(const QJsonObject &r)
{
    return QString::fromUtf8(QJsonDocument(r).toJson(QJsonDocument::Compact));
}

qint64 seqOf(const QJsonObject &r)
{
    return qint64(r.value("seq").toDouble(0));
}

} // namespace

TrafficPage::TrafficPage(Connection *connection, QWidget *parent)
    : Page(connection, parent),
      m_model(new AccessLogModel(5000, this)),
      m_proxy(new QSortFilterProxyModel(this)),
      m_table(new QTableView(this)),
      m_filter(new QLineEdit(this)),
      m_pause(new QPushButton(tr("Pause"), this)),
      m_status(new QLabel(this)),
      m_detail(new QPlainTextEdit(this)),
      m_copyCurl(new QAction(tr("Copy as curl"), this)),
      m_copyRaw(new QAction(tr("Copy as raw request"), this)),
      m_copyUrl(new QAction(tr("Copy URL"), this))
{
    setObjectName(QStringLiteral("trafficPage"));
    auto *layout = new QVBoxLayout(this);
    auto *bar = new QHBoxLayout;
    m_filter->setObjectName(QStringLiteral("filterEdit"));
    m_filter->setPlaceholderText(tr("Filter: host, path, status, protocol, route, application…"));
    m_filter->setClearButtonEnabled(true);
    bar->addWidget(m_filter, 1);
    m_pause->setObjectName(QStringLiteral("pauseButton"));
    m_pause->setCheckable(true);
    connect(m_pause, &QPushButton::toggled, this, &TrafficPage::setPaused);
    bar->addWidget(m_pause);
    auto *clear = new QPushButton(tr("Clear"));
    clear->setObjectName(QStringLiteral("clearButton"));
    connect(clear, &QPushButton::clicked, m_model, &AccessLogModel::clear);
    bar->addWidget(clear);
    m_copyCurl->setObjectName(QStringLiteral("copyCurlAction"));
    m_copyCurl->setShortcut(QKeySequence(Qt::CTRL | Qt::SHIFT | Qt::Key_C));
    m_copyRaw->setObjectName(QStringLiteral("copyRawAction"));
    m_copyUrl->setObjectName(QStringLiteral("copyUrlAction"));
    connect(m_copyCurl, &QAction::triggered, this, [this] { copySelected(Copy::Curl); });
    connect(m_copyRaw, &QAction::triggered, this, [this] { copySelected(Copy::RawRequest); });
    connect(m_copyUrl, &QAction::triggered, this, [this] { copySelected(Copy::Url); });
    auto *copyMenu = new QMenu(this);
    copyMenu->addActions({m_copyCurl, m_copyRaw, m_copyUrl});
    // One button: a click copies as curl, its arrow offers the other forms (the toolbutton draws the arrow).
    auto *curl = new QToolButton;
    curl->setObjectName(QStringLiteral("copyCurlButton"));
    curl->setDefaultAction(m_copyCurl);
    curl->setMenu(copyMenu);
    curl->setPopupMode(QToolButton::MenuButtonPopup);
    curl->setToolButtonStyle(Qt::ToolButtonTextOnly);
    bar->addWidget(curl);
    auto *exportMenu = new QMenu(this);
    exportMenu->addAction(tr("Export visible as HAR 1.2…"), this, [this] { exportDialog(ExportFormat::Har); });
    exportMenu->addAction(tr("Export visible as JSON Lines…"), this,
                          [this] { exportDialog(ExportFormat::JsonLines); });
    auto *exportButton = new QToolButton;
    exportButton->setObjectName(QStringLiteral("exportButton"));
    exportButton->setText(tr("Export"));
    exportButton->setMenu(exportMenu);
    exportButton->setPopupMode(QToolButton::InstantPopup);
    bar->addWidget(exportButton);
    layout->addLayout(bar);
    m_status->setObjectName(QStringLiteral("feedStatus"));
    m_status->setWordWrap(true);
    layout->addWidget(m_status);

    m_proxy->setSourceModel(m_model);
    m_proxy->setFilterKeyColumn(-1);
    m_proxy->setFilterCaseSensitivity(Qt::CaseInsensitive);
    connect(m_filter, &QLineEdit::textChanged, m_proxy, &QSortFilterProxyModel::setFilterFixedString);
    m_table->setObjectName(QStringLiteral("trafficTable"));
    m_table->setModel(m_proxy);
    m_table->setSelectionBehavior(QAbstractItemView::SelectRows);
    m_table->setSelectionMode(QAbstractItemView::SingleSelection);
    m_table->setAlternatingRowColors(true);
    m_table->verticalHeader()->setVisible(false);
    m_table->verticalHeader()->setDefaultSectionSize(22);
    m_table->horizontalHeader()->setStretchLastSection(true);
    m_table->setWordWrap(false);
    const int widths[] = {95, 120, 70, 75, 190, 220, 55, 130, 80, 130, 170};
    for (int c = 0; c < int(std::size(widths)); ++c)
        m_table->setColumnWidth(c, widths[c]);
    connect(m_table->selectionModel(), &QItemSelectionModel::selectionChanged, this, &TrafficPage::showDetail);
    connect(m_table->selectionModel(), &QItemSelectionModel::selectionChanged, this, &TrafficPage::updateActions);
    connect(m_proxy, &QAbstractItemModel::rowsRemoved, this, &TrafficPage::updateActions);
    connect(m_proxy, &QAbstractItemModel::modelReset, this, &TrafficPage::updateActions);
    connect(m_proxy, &QAbstractItemModel::layoutChanged, this, &TrafficPage::updateActions);
    m_table->setContextMenuPolicy(Qt::ActionsContextMenu);
    m_table->addActions({m_copyCurl, m_copyRaw, m_copyUrl});
    updateActions();

    m_detail->setObjectName(QStringLiteral("detailPane"));
    m_detail->setReadOnly(true);
    m_detail->setFont(QFontDatabase::systemFont(QFontDatabase::FixedFont));
    m_detail->setPlaceholderText(tr("Select a request to see all its fields."));
    auto *split = new QSplitter(Qt::Vertical);
    split->addWidget(m_table);
    split->addWidget(m_detail);
    split->setStretchFactor(0, 3);
    split->setStretchFactor(1, 1);
    layout->addWidget(split, 1);
    m_pollTimer.setInterval(2000);
    connect(&m_pollTimer, &QTimer::timeout, this, &TrafficPage::poll);
    m_reconnect.setSingleShot(true);
    m_reconnect.setInterval(2000);
    connect(&m_reconnect, &QTimer::timeout, this, &TrafficPage::openStream);
    connect(connection, &Connection::connected, this, &TrafficPage::start);
    connect(connection, &Connection::serverInfoChanged, this, &TrafficPage::onServerInfo);
    connect(connection, &Connection::stateChanged, this, [this](ConnectionState s) {
        if (s != ConnectionState::Connected)
            stop();
    });
    setFeed(Feed::Idle, tr("Waiting for the service…"));
}

TrafficPage::~TrafficPage()
{
    stop();
}

void TrafficPage::refresh()
{
    stop();
    start();
}

void TrafficPage::setFeed(Feed f, const QString &text)
{
    m_feed = f;
    m_status->setText(text);
    m_status->setStyleSheet(f == Feed::NotAvailable
                                ? QStringLiteral("background: #fff4e5; border: 1px solid #f0c36d; border-radius: 4px; "
                                                 "padding: 8px; color: #7a4b00; font-weight: 600;")
                                : QStringLiteral("color: palette(mid);"));
}

QString TrafficPage::statusText() const
{
    return m_status->text();
}

void TrafficPage::stop()
{
    ++m_generation;
    m_pollTimer.stop();
    m_reconnect.stop();
    if (m_stream) {
        QNetworkReply *r = m_stream;
        m_stream = nullptr;
        r->disconnect(this);
        r->abort();
        r->deleteLater();
    }
}

void TrafficPage::start()
{
    if (!m_connection->isConnected())
        return;
    stop();
    const quint64 gen = m_generation;
    QPointer<TrafficPage> self(this);
    QUrlQuery q;
    q.addQueryItem(QStringLiteral("limit"), QStringLiteral("200"));
    m_connection->api()->send("GET", QStringLiteral("/api/v1/accesslog"), q, {}, {},
                              [self, gen](const client::ApiResult &r) {
                                  if (!self || gen != self->m_generation)
                                      return;
                                  if (!r.ok()) {
                                      if (r.error->status == 404 || r.error->status == 405)
                                          self->setFeed(Feed::NotAvailable,
                                                        tr("Live traffic is not available in this service version "
                                                           "(it has no /api/v1/accesslog endpoint)."));
                                      else
                                          self->setFeed(Feed::Idle, r.error->toString());
                                      return;
                                  }
                                  const auto records = recordsOf(r.json);
                                  const qint64 newest = records.isEmpty() ? 0 : seqOf(records.last());
                                  const bool hasRows = self->m_model->rowCount() > 0;
                                  if (hasRows && (self->m_restarted || newest < self->m_lastSeq)) {
                                      // A new service process: keep what the old one logged, mark where it ended.
                                      self->addRecords({AccessLogModel::separator(tr("service restarted"))});
                                      self->m_lastSeq = 0;
                                  } else if (!records.isEmpty() && newest == 0) {
                                      self->m_model->clear(); // records without seq: a reload cannot tell new ones
                                  }
                                  self->m_restarted = false;
                                  QList<QJsonObject> fresh;
                                  for (const QJsonObject &rec : records)
                                      if (seqOf(rec) == 0 || seqOf(rec) > self->m_lastSeq)
                                          fresh.append(rec);
                                  self->addRecords(fresh);
                                  self->m_lastPolledKey = records.isEmpty() ? QString() : recordKey(records.last());
                                  self->openStream();
                              });
}

void TrafficPage::openStream()
{
    if (!m_connection->isConnected() || m_stream)
        return;
    m_parser = SseParser();
    m_stream = m_connection->api()->openStream(QStringLiteral("/api/v1/accesslog/stream"));
    connect(m_stream, &QNetworkReply::readyRead, this, &TrafficPage::onStreamData);
    connect(m_stream, &QNetworkReply::finished, this, &TrafficPage::onStreamFinished);
    setFeed(Feed::Streaming, tr("Live: streaming the access log."));
}

void TrafficPage::onStreamData()
{
    if (!m_stream)
        return;
    const int status = m_stream->attribute(QNetworkRequest::HttpStatusCodeAttribute).toInt();
    if (status != 200)
        return; // finished() handles errors
    QList<QJsonObject> records;
    for (const QByteArray &data : m_parser.feed(m_stream->readAll())) {
        const auto doc = QJsonDocument::fromJson(data);
        if (doc.isObject())
            records.append(doc.object());
    }
    addRecords(records);
}

void TrafficPage::onStreamFinished()
{
    QNetworkReply *r = m_stream;
    m_stream = nullptr;
    if (!r)
        return;
    const int status = r->attribute(QNetworkRequest::HttpStatusCodeAttribute).toInt();
    r->deleteLater();
    if (!m_connection->isConnected())
        return;
    if (status == 404 || status == 405) {
        // A service with the list but no stream: poll the list instead.
        setFeed(Feed::Polling, tr("Live: polling the access log every %1 s.").arg(m_pollTimer.interval() / 1000));
        m_pollTimer.start();
        return;
    }
    setFeed(Feed::Idle, tr("The access-log stream ended; reconnecting…"));
    m_reconnect.start();
}

void TrafficPage::poll()
{
    const quint64 gen = m_generation;
    QPointer<TrafficPage> self(this);
    QUrlQuery q;
    q.addQueryItem(QStringLiteral("limit"), QStringLiteral("200"));
    m_connection->api()->send("GET", QStringLiteral("/api/v1/accesslog"), q, {}, {},
                              [self, gen](const client::ApiResult &r) {
                                  if (!self || gen != self->m_generation || !r.ok())
                                      return;
                                  const auto records = recordsOf(r.json);
                                  // Only what came after the newest record we already have.
                                  int from = 0;
                                  for (int i = int(records.size()) - 1; i >= 0; --i) {
                                      if (recordKey(records[i]) == self->m_lastPolledKey) {
                                          from = i + 1;
                                          break;
                                      }
                                  }
                                  self->addRecords(records.mid(from));
                                  if (!records.isEmpty())
                                      self->m_lastPolledKey = recordKey(records.last());
                              });
}

void TrafficPage::addRecords(const QList<QJsonObject> &records)
{
    if (records.isEmpty())
        return;
    for (const QJsonObject &r : records)
        m_lastSeq = std::max(m_lastSeq, seqOf(r));
    Q_EMIT recordsArrived(records);
    if (m_paused) {
        m_pending.append(records);
        if (m_pending.size() > 5000)
            m_pending = m_pending.mid(m_pending.size() - 5000);
        m_pause->setText(tr("Resume (%1 new)").arg(m_pending.size()));
        return;
    }
    m_model->append(records);
}

void TrafficPage::setPaused(bool paused)
{
    if (m_paused == paused)
        return;
    m_paused = paused;
    if (m_pause->isChecked() != paused)
        m_pause->setChecked(paused);
    m_pause->setText(paused ? tr("Resume") : tr("Pause"));
    if (!paused) {
        const auto pending = m_pending;
        m_pending.clear();
        m_model->append(pending);
    }
}

void TrafficPage::showDetail()
{
    const auto rows = m_table->selectionModel()->selectedRows();
    if (rows.isEmpty()) {
        m_detail->clear();
        return;
    }
    const QJsonObject r = m_model->recordAt(m_proxy->mapToSource(rows.first()).row());
    QString text = QString::fromUtf8(QJsonDocument(r).toJson(QJsonDocument::Indented));
    if (const QString curl = AccessLogModel::curlCommand(r, proxyUrl()); !curl.isEmpty())
        text += QStringLiteral("\n# ") + curl;
    m_detail->setPlainText(text);
}

QString TrafficPage::proxyUrl() const
{
    for (const auto &v : m_connection->serverInfo().value("listeners").toArray()) {
        const QJsonObject l = v.toObject();
        if (l.value("protocol").toString() != QLatin1String("HTTP"))
            continue;
        QString address = l.value("addresses").toArray().first().toString();
        if (address.isEmpty() || address == QLatin1String("0.0.0.0"))
            address = QStringLiteral("127.0.0.1");
        if (address.contains(u':'))
            address = u'[' + address + u']';
        return QStringLiteral("http://%1:%2").arg(address).arg(l.value("port").toInt());
    }
    return {};
}

QString TrafficPage::curlForSelected() const
{
    return textForSelected(Copy::Curl);
}

QString TrafficPage::textForSelected(Copy what) const
{
    const auto rows = m_table->selectionModel()->selectedRows();
    if (rows.isEmpty() || !rows.first().isValid())
        return {};
    const QJsonObject r = m_model->recordAt(m_proxy->mapToSource(rows.first()).row());
    if (r.isEmpty() || AccessLogModel::isSeparator(r))
        return {};
    const LoggedRequest q = LoggedRequest::fromRecord(r);
    switch (what) {
    case Copy::Curl:
        return q.curlCommand(proxyUrl());
    case Copy::RawRequest:
        return q.rawRequest();
    case Copy::Url:
        return q.url();
    }
    return {};
}

bool TrafficPage::copySelected(Copy what)
{
    const QString text = textForSelected(what);
    if (text.isEmpty())
        return false;
    QApplication::clipboard()->setText(text);
    showToast(this, what == Copy::Curl         ? tr("Copied the curl command")
                    : what == Copy::RawRequest ? tr("Copied the raw request")
                                               : tr("Copied the URL"));
    return true;
}

QAction *TrafficPage::copyAction(Copy what) const
{
    return what == Copy::Curl ? m_copyCurl : what == Copy::RawRequest ? m_copyRaw : m_copyUrl;
}

void TrafficPage::updateActions()
{
    const bool request = !textForSelected(Copy::Url).isEmpty();
    for (QAction *a : {m_copyCurl, m_copyRaw, m_copyUrl})
        a->setEnabled(request);
}

void TrafficPage::onServerInfo(const QJsonObject &info)
{
    // Uptime that went down: another process answers now (its access log and seq numbers start again).
    const double uptime = info.value("uptimeSeconds").toDouble(-1);
    if (uptime >= 0 && m_lastUptime >= 0 && uptime + 1 < m_lastUptime)
        m_restarted = true;
    m_lastUptime = uptime;
}

QList<QJsonObject> TrafficPage::visibleRecords() const
{
    QList<QJsonObject> out;
    for (int i = m_proxy->rowCount() - 1; i >= 0; --i)
        out.append(m_model->recordAt(m_proxy->mapToSource(m_proxy->index(i, 0)).row()));
    return out;
}

QString TrafficPage::exportVisible(const QString &path, ExportFormat format)
{
    const QList<QJsonObject> records = visibleRecords();
    const QByteArray data = format == ExportFormat::Har ? toHar(records, QStringLiteral(DFPROXY_VERSION))
                                                        : toJsonLines(records);
    QFile f(path);
    if (!f.open(QIODevice::WriteOnly | QIODevice::Truncate) || f.write(data) != data.size())
        return tr("Cannot write %1: %2").arg(path, f.errorString());
    qsizetype n = 0;
    for (const QJsonObject &r : records)
        n += AccessLogModel::isSeparator(r) ? 0 : 1;
    showToast(this, tr("Exported %n request(s) to %1", nullptr, int(n)).arg(QFileInfo(path).fileName()));
    return {};
}

void TrafficPage::exportDialog(ExportFormat format)
{
    const bool har = format == ExportFormat::Har;
    const QString path = QFileDialog::getSaveFileName(this, har ? tr("Export as HAR 1.2") : tr("Export as JSON Lines"),
                                                      har ? QStringLiteral("dfproxy-traffic.har")
                                                          : QStringLiteral("dfproxy-traffic.jsonl"),
                                                      har ? tr("HAR (*.har)") : tr("JSON Lines (*.jsonl)"));
    if (path.isEmpty())
        return;
    const QString error = exportVisible(path, format);
    if (!error.isEmpty())
        QMessageBox::warning(this, tr("Export failed"), error);
}

} // namespace dfproxy::gui
