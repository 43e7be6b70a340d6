// Searched parameters that no trial can use, found from the settings' `active_when` fields.
#include "tune/inert_parameters.hpp"

#include <algorithm>
#include <optional>
#include <set>

#include "common/text_list.hpp"
#include "nn/settings.hpp"
#include "tune/storage_json.hpp"

namespace mlptune::tune {
namespace {

// The canonical value names the trials can give `deciding`: the values the space draws for it, or
// `base`'s when the space does not search it. Nothing for a distribution that draws from a range
// (no finite list to compare), or for a value the setting does not take (the study refuses it).
template <class Owner>
std::optional<std::set<std::string>> values_trials_take(const SearchSpace& space, const Setting<Owner>& deciding,
                                                        const Owner& base) {
  const auto searched = std::find_if(space.parameters.begin(), space.parameters.end(),
                                     [&deciding](const ParameterSpec& p) { return deciding.answers_to(p.name); });
  if (searched == space.parameters.end()) return std::set<std::string>{deciding.text_of(base)};
  const Distribution& distribution = searched->distribution;
  if (distribution.kind != DistributionKind::constant && distribution.kind != DistributionKind::categorical)
    return std::nullopt;
  std::set<std::string> names;
  for (const ParamValue& value : distribution.values) {
    Owner probe = base;
    try {
      deciding.set(probe, param_value_to_json(value));
    } catch (const Error&) {
      return std::nullopt;
    }
    names.insert(deciding.text_of(probe));
  }
  return names;
}

template <class Owner>
void add_warnings(std::vector<std::string>& warnings, const SearchSpace& space,
                  const std::vector<Setting<Owner>>& table, const Owner& base) {
  for (const ParameterSpec& parameter : space.parameters) {
    const Setting<Owner>* setting = find_parameter(table, parameter.name);
    if (setting == nullptr || setting->active_when.always()) continue;
    const ActiveWhen& when = setting->active_when;
    const Setting<Owner>* deciding = find_setting(table, when.setting);
    if (deciding == nullptr) continue;
    const auto taken = values_trials_take(space, *deciding, base);
    if (!taken || std::any_of(when.values.begin(), when.values.end(),
                              [&](std::string_view value) { return taken->contains(std::string(value)); }))
      continue;
    const std::string deciding_name(when.setting);
    warnings.push_back("parameters." + parameter.name + " (line " + std::to_string(parameter.line) +
                       ") has no effect: every trial uses " + deciding_name + " " + join_or(*taken) + ", and " +
                       parameter.name + " acts only with " + deciding_name + " " + join_or(when.values) +
                       "; add one of those to parameters." + deciding_name + ", or remove parameters." +
                       parameter.name);
  }
}

}  // namespace

std::vector<std::string> inert_parameter_warnings(const SearchSpace& space, const TrialSpec& base) {
  std::vector<std::string> warnings;
  add_warnings(warnings, space, model_settings(), base.model);
  add_warnings(warnings, space, train_settings(), base.train);
  return warnings;
}

}  // namespace mlptune::tune
