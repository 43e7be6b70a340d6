// One W&B Sweeps parameter: value, values (+ probabilities), min/max, or a named distribution.
#include "tune/study_config_parameters.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <limits>
#include <numeric>
#include <optional>
#include <regex>
#include <unordered_set>

#include "common/closest_name.hpp"
#include "common/size_limits.hpp"
#include "common/text_list.hpp"
#include "mlptune/error.hpp"
#include "mlptune/tune/study.hpp"
#include "nn/settings.hpp"
#include "tune/search_space_math.hpp"

namespace mlptune::tune::config_yaml {
namespace {

const std::regex kNamePattern(R"([A-Za-z_][A-Za-z0-9_.-]*)");

std::string kind_names_text() {
  return join(space::kind_table(), ", ", &space::KindInfo::name);
}

// The parameter's name as the user wrote it (learning_rate stays learning_rate in the storage, the
// leaderboard and the exports); params_to_spec takes aliases.
std::string checked_name(const Reader& reader, const YAML::Node& name_node) {
  const std::string name = name_node.as<std::string>();
  const std::string path = "parameters." + name;
  if (!std::regex_match(name, kNamePattern))
    reader.fail(name_node, path, "invalid parameter name; names match ^[A-Za-z_][A-Za-z0-9_.-]*$");
  if (!canonical_parameter_name(name))
    reader.fail(name_node, path,
                "unknown hyperparameter" + did_you_mean(name, tunable_parameter_names()) +
                    "; known names: " + tunable_parameter_list());
  return name;
}

// A parameter of layer widths (hidden): a YAML list [256, 128] is its text "256,128".
bool takes_widths(const std::string& name) {
  const ModelSetting* setting = find_setting(model_settings(), name);
  return setting != nullptr && setting->kind == SettingKind::widths;
}

// The keys a kind reads, for rejecting the rest ("q does not apply to uniform").
std::vector<std::string_view> keys_of(const space::KindInfo& kind) {
  std::vector<std::string_view> keys{"distribution"};
  if (kind.kind == DistributionKind::constant) keys.push_back("value");
  if (kind.kind == DistributionKind::categorical) keys.insert(keys.end(), {"values", "probabilities"});
  if (kind.uses_min_max) keys.insert(keys.end(), {"min", "max"});
  if (kind.uses_mu_sigma) keys.insert(keys.end(), {"mu", "sigma"});
  if (kind.uses_a_b) keys.insert(keys.end(), {"a", "b"});
  if (kind.quantized) keys.push_back("q");
  return keys;
}

class ParameterParser {
 public:
  ParameterParser(const Reader& reader, const YAML::Node& name_node, const YAML::Node& spec)
      : reader_(reader), name_node_(name_node), spec_(spec), path_("parameters." + name_node.as<std::string>()) {}

  ParameterSpec parse() {
    ParameterSpec parameter{checked_name(reader_, name_node_), {}, Reader::line(name_node_)};
    reader_.require_map(spec_, path_);
    reader_.check_keys(
        spec_, path_,
        {"value", "values", "probabilities", "distribution", "min", "max", "q", "mu", "sigma", "a", "b", "parameters"});
    if (spec_["parameters"])
      reader_.fail(spec_["parameters"], path_ + ".parameters",
                   "nested parameters are not supported; list each hyperparameter at the top of `parameters`");
    const space::KindInfo& kind = choose_kind();
    check_keys_apply(kind);
    parameter.distribution = read_distribution(kind, takes_widths(parameter.name));
    check_whole_draws(parameter, kind);
    check_values(parameter);
    return parameter;
  }

 private:
  std::string key(std::string_view name) const { return path_ + "." + std::string(name); }

  const space::KindInfo& choose_kind() const {
    if (const auto node = spec_["distribution"]) {
      const std::string name = reader_.text(node, key("distribution"));
      if (const auto* kind = space::find_kind(name)) return *kind;
      reader_.fail(node, key("distribution"), "unknown distribution '" + name + "'; use one of: " + kind_names_text());
    }
    if (spec_["value"]) return space::info(DistributionKind::constant);
    if (spec_["values"]) return space::info(DistributionKind::categorical);
    if (spec_["min"] && spec_["max"]) {
      const bool integers = spec_["min"].IsScalar() && classify(spec_["min"]) == ScalarType::integer &&
                            spec_["max"].IsScalar() && classify(spec_["max"]) == ScalarType::integer;
      return space::info(integers ? DistributionKind::int_uniform : DistributionKind::uniform);
    }
    reader_.fail(name_node_, path_,
                 "give `value`, `values`, or `min` and `max` (write 0.0/1.0 for a real range), or a `distribution`");
  }

  void check_keys_apply(const space::KindInfo& kind) const {
    const auto allowed = keys_of(kind);
    const std::string allowed_text = join(allowed, ", ");
    for (const auto& entry : spec_) {
      const std::string name = entry.first.as<std::string>();
      if (std::find(allowed.begin(), allowed.end(), name) == allowed.end())
        reader_.fail(entry.first, key(name),
                     "does not apply to distribution " + std::string(kind.name) + "; its keys are: " + allowed_text);
    }
  }

  // A required or defaulted number.
  double number(std::string_view name, std::optional<double> fallback = std::nullopt) const {
    const auto node = spec_[std::string(name)];
    if (!node) {
      if (fallback) return *fallback;
      reader_.fail(name_node_, key(name), "missing; this distribution needs it");
    }
    return reader_.real(node, key(name));
  }

  bool written_as_integer(std::string_view name) const {
    const auto node = spec_[std::string(name)];
    return !node || (node.IsScalar() && classify(node) == ScalarType::integer);
  }

  Distribution read_distribution(const space::KindInfo& kind, bool takes_list) const {
    Distribution distribution;
    distribution.kind = kind.kind;
    if (kind.kind == DistributionKind::constant)
      distribution.values = {read_value(spec_["value"], key("value"), takes_list)};
    if (kind.kind == DistributionKind::categorical) read_choices(distribution, takes_list);
    if (kind.uses_min_max) read_range(distribution, kind);
    if (kind.uses_mu_sigma) read_mu_sigma(distribution);
    if (kind.uses_a_b) read_a_b(distribution);
    if (kind.quantized) read_q(distribution, kind);
    return distribution;
  }

  // hidden takes "256,128" or a YAML list [256, 128]; both become the text "256,128".
  ParamValue read_value(const YAML::Node& node, const std::string& where, bool takes_list) const {
    if (!node) reader_.fail(name_node_, where, "missing");
    if (takes_list && node.IsSequence()) {
      std::vector<std::int64_t> widths;
      for (const auto& width : node) widths.push_back(reader_.integer(width, where));
      return join(widths, ",");
    }
    if (takes_list) return reader_.text(node, where);
    if (node.IsSequence()) reader_.fail(node, where, "a list is a value only for `hidden`; write one value");
    return reader_.scalar_value(node, where);
  }

  void read_choices(Distribution& distribution, bool takes_list) const {
    const auto node = spec_["values"];
    if (!node || !node.IsSequence() || node.size() == 0)
      reader_.fail(node ? node : name_node_, key("values"), "must be a non-empty list of choices, e.g. [relu, tanh]");
    // A hash set keeps the check linear: a list may hold a million choices.
    std::unordered_set<ParamValue> seen;
    seen.reserve(node.size());
    distribution.values.reserve(node.size());
    for (const auto& choice : node) {
      ParamValue value = read_value(choice, key("values"), takes_list);
      if (!seen.insert(value).second)
        reader_.fail(node, key("values"), "choice '" + to_string(value) + "' is listed twice");
      distribution.values.push_back(std::move(value));
    }
    if (const auto probabilities = spec_["probabilities"]) read_probabilities(distribution, probabilities);
  }

  void read_probabilities(Distribution& distribution, const YAML::Node& node) const {
    const std::string where = key("probabilities");
    if (!node.IsSequence() || node.size() != distribution.values.size())
      reader_.fail(
          node, where,
          "must be a list of " + std::to_string(distribution.values.size()) + " numbers, one per entry of values");
    for (const auto& entry : node) {
      const double probability = reader_.real(entry, where);
      if (probability < 0.0) reader_.fail(entry, where, "must not be negative, got " + entry.Scalar());
      distribution.probabilities.push_back(probability);
    }
    constexpr double kSumTolerance = 1e-6;  // decimal fractions such as 0.1 + 0.2 + 0.7 are not exact
    const double sum = std::accumulate(distribution.probabilities.begin(), distribution.probabilities.end(), 0.0);
    if (std::abs(sum - 1.0) > kSumTolerance)
      reader_.fail(node, where, "must sum to 1, got " + to_string(ParamValue(sum)));
  }

  void read_range(Distribution& distribution, const space::KindInfo& kind) const {
    distribution.min = number("min");
    distribution.max = number("max");
    const bool log_of_values = kind.bounds_are_values && kind.transform != space::Transform::identity;
    if (kind.kind == DistributionKind::int_uniform && !(written_as_integer("min") && written_as_integer("max")))
      reader_.fail(spec_["min"], key("min"), "int_uniform needs whole-number min and max");
    if (!(distribution.min < distribution.max))
      reader_.fail(spec_["min"], key("min"),
                   "min (" + spec_["min"].Scalar() + ") must be less than max (" + spec_["max"].Scalar() + ")");
    if (log_of_values && distribution.min <= 0.0)
      reader_.fail(spec_["min"], key("min"),
                   std::string(kind.name) + " needs min > 0 (values on a log scale), got " + spec_["min"].Scalar() +
                       "; or use log_uniform with exponents");
    distribution.integer = kind.kind == DistributionKind::int_uniform;
  }

  void read_mu_sigma(Distribution& distribution) const {
    distribution.mu = number("mu", 0.0);
    distribution.sigma = number("sigma", 1.0);
    if (!(distribution.sigma > 0.0)) reader_.fail(spec_["sigma"], key("sigma"), "must be > 0");
  }

  void read_a_b(Distribution& distribution) const {
    distribution.a = number("a", 1.0);
    distribution.b = number("b", 1.0);
    if (!(distribution.a > 0.0)) reader_.fail(spec_["a"], key("a"), "must be > 0");
    if (!(distribution.b > 0.0)) reader_.fail(spec_["b"], key("b"), "must be > 0");
  }

  void read_q(Distribution& distribution, const space::KindInfo& kind) const {
    distribution.q = number("q", 1.0);
    if (!(distribution.q > 0.0)) reader_.fail(spec_["q"], key("q"), "must be > 0");
    const bool integer_bounds = !kind.uses_min_max || (written_as_integer("min") && written_as_integer("max"));
    distribution.integer = written_as_integer("q") && integer_bounds;
    if (kind.kind == DistributionKind::q_uniform && space::grid_count(distribution) == 0)
      reader_.fail(spec_["q"], key("q"), "no multiple of q lies between min and max; use a smaller q");
  }

  // A setting of whole numbers (depth, batch_size, epochs, ...) needs a distribution that draws
  // them: a real draw would fail the first trial that gets it.
  void check_whole_draws(const ParameterSpec& parameter, const space::KindInfo& kind) const {
    const Distribution& distribution = parameter.distribution;
    if (distribution.integer || space::is_constant(distribution) || space::is_categorical(distribution) ||
        !takes_whole_numbers(parameter.name))
      return;
    const std::string quantized = kind.quantized ? std::string(kind.name) : "q_" + std::string(kind.name);
    const bool has_quantized = space::find_kind(quantized) != nullptr;
    std::string fix =
        has_quantized ? quantized + " with a whole q (such as q: 1)" : "int_uniform with whole min and max";
    if (kind.uses_min_max) fix += has_quantized ? " and whole min and max" : "";
    if (kind.kind == DistributionKind::uniform) fix = "whole min and max (int_uniform), or " + fix;
    const std::string drawn = kind.uses_min_max || kind.uses_a_b ? "real numbers" : "real numbers without bounds";
    const YAML::Node node = spec_["distribution"] ? spec_["distribution"] : spec_["min"];
    reader_.fail(
        node ? node : name_node_, node ? key(spec_["distribution"] ? "distribution" : "min") : path_,
        std::string(kind.name) + " draws " + drawn + ", but " + parameter.name + " takes whole numbers; use " + fix);
  }

  // Every value a trial can get must be valid for the setting: each constant and listed choice, and
  // the bounds of a range unless only the bound itself is out (lr from 0: every draw above 0 is fine).
  void check_values(const ParameterSpec& parameter) const {
    const Distribution& distribution = parameter.distribution;
    if (distribution.kind == DistributionKind::constant)
      check_value(parameter.name, distribution.values[0], spec_["value"]);
    if (distribution.kind == DistributionKind::categorical) {
      std::size_t index = 0;
      for (const auto& choice : spec_["values"]) check_value(parameter.name, distribution.values[index++], choice);
    }
    if (const auto range = space::natural_range(distribution)) {
      check_bound(parameter.name, distribution, range->first, range->second, "min");
      check_bound(parameter.name, distribution, range->second, range->first, "max");
    }
  }

  void check_value(const std::string& name, const ParamValue& value, const YAML::Node& node) const {
    try {
      check_parameter_value(name, value);
    } catch (const SettingError& error) {
      reader_.fail(node, path_, error.requirement());
    }
  }

  // `bound` is one end of the range, `other` the other end. An integer range draws its bounds; a
  // continuous one draws values next to them, so a bound is refused only when its neighbour inside
  // the range is refused too.
  void check_bound(const std::string& name, const Distribution& distribution, double bound, double other,
                   std::string_view key_name) const {
    const auto as_value = [&](double value) -> ParamValue {
      constexpr double kBeyondInt64 = 9.2e18;  // such a bound stays a double: its cast would be undefined
      if (distribution.integer && std::abs(value) < kBeyondInt64) return static_cast<std::int64_t>(value);
      return value;
    };
    try {
      check_parameter_value(name, as_value(bound));
      return;
    } catch (const SettingError& error) {
      if (!distribution.integer) {
        try {
          check_parameter_value(name, std::nextafter(bound, other));
          return;
        } catch (const SettingError&) {
        }
      }
      const YAML::Node node = spec_[std::string(key_name)];
      reader_.fail(node ? node : name_node_, node ? key(key_name) : path_,
                   error.requirement() + " at the " + std::string(key_name) +
                       " end of the range; narrow the range to valid values");
    }
  }

  const Reader& reader_;
  const YAML::Node& name_node_;
  const YAML::Node& spec_;
  std::string path_;
};

// The YAML node and key that give a parameter's largest value: its max, values or value.
std::pair<YAML::Node, std::string> largest_value_node(const YAML::Node& parameters, const std::string& name) {
  const YAML::Node spec = parameters[name];
  for (const char* key : {"max", "values", "value"})
    if (spec[key]) return {spec[key], "parameters." + name + "." + key};
  return {spec, "parameters." + name};
}

}  // namespace

void check_largest_model(const Reader& reader, const YAML::Node& parameters, const SearchSpace& space) {
  const ParameterSpec* depth = space.find("depth");
  const ParameterSpec* width = space.find("width");
  if (depth == nullptr && width == nullptr) return;
  const std::vector<int>& base = model_defaults().hidden;
  const auto largest = [](const ParameterSpec* parameter, int base_value) -> std::optional<double> {
    if (parameter == nullptr) return double(base_value);
    return space::largest_number(parameter->distribution);
  };
  const auto layers = largest(depth, int(base.size()));
  const auto units = largest(width, base.front());
  if (!layers || !units || *layers < 0.0 || *units < 1.0) return;  // unbounded: each drawn model is checked
  // The values were checked one by one already (depth at most kMaxHiddenLayers, width an int).
  const auto depth_count = std::int64_t(std::min(*layers, double(kMaxHiddenLayers)));
  const auto width_count = std::int64_t(std::min(*units, double(std::numeric_limits<int>::max())));
  const std::int64_t count = layered_parameter_count(1, depth_count, width_count, 1);
  if (count <= kMaxParameters) return;
  const auto describe = [](const ParameterSpec* parameter, const char* name, std::int64_t value) {
    return (parameter != nullptr ? std::string(name) + " up to " : "the default " + std::string(name) + " ") +
           std::to_string(value);
  };
  const auto [node, key] = largest_value_node(parameters, depth != nullptr ? "depth" : "width");
  reader.fail(node, key,
              describe(depth, "depth", depth_count) + " with " + describe(width, "width", width_count) +
                  " makes models of up to " + saturated_count_text(count) +
                  " parameters (on data of one feature and one output); at most " + std::to_string(kMaxParameters) +
                  " are supported: lower the largest depth or width");
}

ParameterSpec parse_parameter(const Reader& reader, const YAML::Node& name_node, const YAML::Node& spec) {
  return ParameterParser(reader, name_node, spec).parse();
}

}  // namespace mlptune::tune::config_yaml
