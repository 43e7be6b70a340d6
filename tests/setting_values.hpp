// For the tests that cover every setting table entry: a value each entry accepts that differs from
// the one it holds, chosen from the entry's own description (kind, range, names), so an entry added
// later is covered without touching a test; and such a value as a study config writes it.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <nlohmann/json.hpp>
#include <vector>

#include "mlptune/tune/search_space.hpp"
#include "nn/setting.hpp"

namespace mlptune::testing {

// A valid value of `setting` other than `current` (as the entry's get gives it), as JSON.
inline nlohmann::json other_value(const SettingInfo& setting, const nlohmann::json& current) {
  switch (setting.kind) {
    case SettingKind::real: {
      const double value = current.get<double>();
      for (const double candidate : {value / 2, 0.5, 2.0})
        if (candidate != value && setting.range.contains(candidate)) return candidate;
      break;
    }
    case SettingKind::count:
      return current.get<int>() + 1;
    case SettingKind::seed:
      return std::uint64_t{12345678901234567890u};  // beyond int64: exact or not at all
    case SettingKind::on_off:
      return !current.get<bool>();
    case SettingKind::choice:
      for (const std::string_view name : setting.names)
        if (name != current.get<std::string>()) return std::string(name);
      break;
    case SettingKind::widths: {
      const nlohmann::json layers = nlohmann::json::array({7, 5});
      return current == layers ? nlohmann::json::array({9}) : layers;
    }
  }
  ADD_FAILURE() << setting.name << " accepts no value but its current one";
  return current;
}

// A value as a study config gives it: numbers as numbers, everything else (names, widths) as text.
inline tune::ParamValue as_param(const SettingInfo& setting, const nlohmann::json& value) {
  if (value.is_number_integer()) return value.get<std::int64_t>();
  if (value.is_number_float()) return value.get<double>();
  return setting.text(value);
}

// `owner` with `setting` changed to other_value.
template <class Owner>
Owner with_other_value(const Setting<Owner>& setting, Owner owner) {
  setting.set(owner, other_value(setting, setting.get(owner)));
  return owner;
}

}  // namespace mlptune::testing
