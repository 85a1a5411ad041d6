// SPDX-License-Identifier: Apache-2.0
#pragma once

#include "resources/resourceeditor.h"

QT_BEGIN_NAMESPACE
class QCheckBox;
class QComboBox;
class QGroupBox;
class QLineEdit;
class QSpinBox;
QT_END_NAMESPACE

namespace dfproxy::gui {

/// Edits an AgentgatewayBackend: dynamic forward proxy or a static host:port, upstream TLS (SNI, CA file, skip
/// verification), the DNS lookup family override and the forwarding engine (native | qnam).
class BackendEditor : public ResourceEditor
{
    Q_OBJECT
public:
    explicit BackendEditor(client::ApiClient *api, QWidget *parent = nullptr);

    static ResourceKind resourceKind();
    /// A new backend's starting point: a dynamic forward proxy.
    static QJsonObject newObject();

    QComboBox *typeCombo() const { return m_type; }
    QLineEdit *staticHostEdit() const { return m_host; }
    QSpinBox *staticPortSpin() const { return m_port; }
    QGroupBox *tlsGroup() const { return m_tls; }
    QComboBox *lookupFamilyCombo() const { return m_family; }
    QComboBox *engineCombo() const { return m_engine; }

protected:
    void setForm(const QJsonObject &object) override;
    QJsonObject specFromForm(const QJsonObject &original) const override;

private:
    void updateEnabled();

    QComboBox *m_type;
    QLineEdit *m_host;
    QSpinBox *m_port;
    QGroupBox *m_tls;
    QLineEdit *m_sni;
    QCheckBox *m_insecure;
    QLineEdit *m_caFile;
    QComboBox *m_family;
    QComboBox *m_engine;
};

} // namespace dfproxy::gui
