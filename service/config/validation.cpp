// SPDX-License-Identifier: Apache-2.0
// Placeholder: the spec checks of each kind arrive with config/model.cpp.
#include "config/validation.h"

namespace dfproxy::config {

QList<FieldError> validateResource(const Resource &resource)
{
    return resource.validateEnvelope();
}

QList<FieldError> validateConfig(const Config &config)
{
    QList<FieldError> errors;
    for (int i = 0; i < config.resources.size(); ++i) {
        for (const auto &e : validateResource(config.resources[i]))
            errors.append(FieldError{QStringLiteral("resources[%1].%2").arg(i).arg(e.path), e.message});
    }
    return errors;
}

} // namespace dfproxy::config
