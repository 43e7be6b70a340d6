// JSON forms of parameter values, distributions and string maps, as the storage keeps them.
#pragma once

#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "mlptune/tune/search_space.hpp"

namespace mlptune::tune {

nlohmann::json param_value_to_json(const ParamValue& value);
ParamValue param_value_from_json(const nlohmann::json& json);

std::string_view distribution_kind_name(DistributionKind kind);
DistributionKind distribution_kind_from_name(std::string_view name);  // throws StorageError

nlohmann::json distribution_to_json(const Distribution& distribution);
Distribution distribution_from_json(const nlohmann::json& json);

// {"name": {"value": v, "distribution": {...}}, ...}
std::string params_to_json_text(const Params& params, const std::map<std::string, Distribution>& distributions);
void params_from_json_text(const std::string& text, Params& params, std::map<std::string, Distribution>& distributions);

std::string string_map_to_json_text(const std::map<std::string, std::string>& map);
std::map<std::string, std::string> string_map_from_json_text(const std::string& text);

}  // namespace mlptune::tune
