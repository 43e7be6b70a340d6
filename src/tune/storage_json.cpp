// JSON forms of parameter values, distributions and string maps, as the storage keeps them.
#include "tune/storage_json.hpp"

#include "mlptune/tune/storage.hpp"
#include "tune/search_space_math.hpp"

namespace mlptune::tune {
namespace {

using nlohmann::json;

json values_to_json(const std::vector<ParamValue>& values) {
  json list = json::array();
  for (const auto& value : values) list.push_back(param_value_to_json(value));
  return list;
}

}  // namespace

json param_value_to_json(const ParamValue& value) {
  return std::visit([](const auto& held) { return json(held); }, value);
}

ParamValue param_value_from_json(const json& value) {
  if (value.is_number_integer()) return value.get<std::int64_t>();
  if (value.is_number()) return value.get<double>();
  if (value.is_string()) return value.get<std::string>();
  throw StorageError("stored parameter value " + value.dump() +
                     " is neither a number nor a string; the database was written by another program");
}

std::string_view distribution_kind_name(DistributionKind kind) {
  return to_string(kind);
}

DistributionKind distribution_kind_from_name(std::string_view name) {
  if (const space::KindInfo* kind = space::find_kind(name)) return kind->kind;
  throw StorageError("stored distribution '" + std::string(name) +
                     "' is unknown; the database was written by a newer mlptune: use that version");
}

json distribution_to_json(const Distribution& distribution) {
  return json{{"kind", distribution_kind_name(distribution.kind)},
              {"min", distribution.min},
              {"max", distribution.max},
              {"q", distribution.q},
              {"mu", distribution.mu},
              {"sigma", distribution.sigma},
              {"a", distribution.a},
              {"b", distribution.b},
              {"integer", distribution.integer},
              {"values", values_to_json(distribution.values)},
              {"probabilities", distribution.probabilities}};
}

Distribution distribution_from_json(const json& stored) {
  Distribution distribution;
  distribution.kind = distribution_kind_from_name(stored.at("kind").get<std::string>());
  distribution.min = stored.value("min", 0.0);
  distribution.max = stored.value("max", 0.0);
  distribution.q = stored.value("q", 1.0);
  distribution.mu = stored.value("mu", 0.0);
  distribution.sigma = stored.value("sigma", 1.0);
  distribution.a = stored.value("a", 1.0);
  distribution.b = stored.value("b", 1.0);
  distribution.integer = stored.value("integer", false);
  for (const auto& value : stored.value("values", json::array()))
    distribution.values.push_back(param_value_from_json(value));
  distribution.probabilities = stored.value("probabilities", std::vector<double>{});
  return distribution;
}

std::string params_to_json_text(const Params& params, const std::map<std::string, Distribution>& distributions) {
  json stored = json::object();
  for (const auto& [name, value] : params) {
    json entry{{"value", param_value_to_json(value)}};
    if (auto found = distributions.find(name); found != distributions.end())
      entry["distribution"] = distribution_to_json(found->second);
    stored[name] = std::move(entry);
  }
  return stored.dump();
}

void params_from_json_text(const std::string& text, Params& params,
                           std::map<std::string, Distribution>& distributions) {
  try {
    const json stored = json::parse(text);
    for (const auto& [name, entry] : stored.items()) {
      params[name] = param_value_from_json(entry.at("value"));
      if (entry.contains("distribution")) distributions[name] = distribution_from_json(entry.at("distribution"));
    }
  } catch (const json::exception& error) {
    throw StorageError(std::string("stored trial parameters are not the JSON mlptune writes (") + error.what() +
                       "); the database was written by another program");
  }
}

std::string string_map_to_json_text(const std::map<std::string, std::string>& map) {
  return json(map).dump();
}

std::map<std::string, std::string> string_map_from_json_text(const std::string& text) {
  if (text.empty()) return {};
  try {
    return json::parse(text).get<std::map<std::string, std::string>>();
  } catch (const json::exception& error) {
    throw StorageError(std::string("stored trial attributes are not a JSON object of strings (") + error.what() +
                       "); the database was written by another program");
  }
}

}  // namespace mlptune::tune
