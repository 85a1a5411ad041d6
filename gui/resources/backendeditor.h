// SPDX-License-Identifier: Apache-2.0
#pragma once

#include "resources/resourceeditor.h"

QT_BEGIN_NAMESPACE
class QCheckBox;
class QComboBox;
class QGroupBox;
class QLabel;
class QLineEdit;
class QSpinBox;
QT_END_NAMESPACE

namespace dfproxy::gui {

/// Edits an AgentgatewayBackend: dynamic forward proxy or a static host:port, upstream TLS (SNI, CA file, skip
/// verification), the DNS lookup family override, the forwarding engine (native | qnam) and the upstream (corporate)
/// proxy: the AgentgatewayPolicy whose spec.backend.tunnel targets this backend (docs/upstream-proxy.md), found in the
/// REST list of agentgatewaypolicies and created, updated or deleted after the backend is saved. A policy the editor
/// must not change for this backend alone (one that targets other objects too, or the Gateway) is shown read-only.
class BackendEditor : public ResourceEditor
{
    Q_OBJECT
public:
    explicit BackendEditor(client::ApiClient *api, QWidget *parent = nullptr);

    static ResourceKind resourceKind();
    /// A new backend's starting point: a dynamic forward proxy.
    static QJsonObject newObject();
    /// spec.dns.lookupFamily as the console shows it: the service also accepts Envoy's spelling in any letter case
    /// (V4_ONLY, v4only), shown as its canonical name (V4Only); empty when it is none of them.
    static QString canonicalLookupFamily(const QString &value);

    QComboBox *typeCombo() const { return m_type; }
    QLineEdit *staticHostEdit() const { return m_host; }
    QSpinBox *staticPortSpin() const { return m_port; }
    QGroupBox *tlsGroup() const { return m_tls; }
    QComboBox *lookupFamilyCombo() const { return m_family; }
    QComboBox *engineCombo() const { return m_engine; }
    QComboBox *upstreamModeCombo() const { return m_proxyMode; }
    QLineEdit *upstreamUrlEdit() const { return m_proxyUrl; }
    QLineEdit *upstreamCredentialsEdit() const { return m_proxyCredentials; }
    QLineEdit *upstreamBypassEdit() const { return m_proxyBypass; }
    QLineEdit *upstreamPacEdit() const { return m_proxyPac; }
    /// "AgentgatewayPolicy ns/name: Accepted" (or why not), or what Save would create.
    QString upstreamPolicyText() const;
    /// Policies shown read-only (on the Gateway, or shared with other targets); "" when none.
    QString upstreamNote() const;
    /// True once the policy lookup of the loaded backend finished (tests wait on it).
    bool upstreamLoaded() const { return m_policyLoaded; }

    /// The field-path prefix of the policy's validation errors in this editor ("upstreamProxy.spec.backend...").
    static constexpr const char *UpstreamPrefix = "upstreamProxy";

protected:
    void setForm(const QJsonObject &object) override;
    QJsonObject specFromForm(const QJsonObject &original) const override;
    void afterSave(const QJsonObject &stored, AfterSaveDone finish) override;

private:
    void updateEnabled();
    void lookupPolicy(const QString &ns, const QString &name);
    void showPolicy(const QJsonArray &policies, const QString &ns, const QString &name);
    QJsonObject policyFromForm(const QString &ns, const QString &name) const;
    void showNewPolicyName(const QString &ns, const QString &name);

    QComboBox *m_type;
    QLineEdit *m_host;
    QSpinBox *m_port;
    QGroupBox *m_tls;
    QLineEdit *m_sni;
    QCheckBox *m_insecure;
    QLineEdit *m_caFile;
    QComboBox *m_family;
    QComboBox *m_engine;

    client::ApiClient *m_apiClient;
    QGroupBox *m_proxyGroup;
    QComboBox *m_proxyMode;
    QLabel *m_proxyPolicy;
    QLineEdit *m_proxyUrl;
    QLineEdit *m_proxyCredentials;
    QLineEdit *m_proxyBypass;
    QLineEdit *m_proxyPac;
    QLabel *m_proxyNote;
    QJsonObject m_policy;      ///< the backend's own tunnel policy as the service has it; empty when none
    QString m_policyKey;       ///< "ns/name" of the backend whose policy was looked up
    bool m_policyLoaded = true;
    bool m_policyReadOnly = false;
    int m_lookup = 0;          ///< the current lookup; older answers are dropped
};

} // namespace dfproxy::gui
