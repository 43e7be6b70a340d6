// Typed access to YAML nodes for the study config parser, with located error messages.
#include "tune/study_config_yaml.hpp"

#include <charconv>
#include <regex>

#include "mlptune/error.hpp"

namespace mlptune::tune::config_yaml {
namespace {

const std::regex kIntegerPattern(R"([-+]?[0-9]+)");
const std::regex kRealPattern(R"([-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?)");

std::string_view type_name(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Map: return "a mapping";
    case YAML::NodeType::Sequence: return "a list";
    case YAML::NodeType::Null: return "empty";
    default: return "a scalar";
  }
}

}  // namespace

ScalarType classify(const YAML::Node& scalar) {
  if (scalar.Tag() == "!") return ScalarType::text;  // quoted
  const std::string& text = scalar.Scalar();
  if (std::regex_match(text, kIntegerPattern)) return ScalarType::integer;
  if (std::regex_match(text, kRealPattern)) return ScalarType::real;
  return ScalarType::text;
}

std::string join(std::initializer_list<std::string_view> names) {
  std::string joined;
  for (const auto name : names) joined += (joined.empty() ? "" : ", ") + std::string(name);
  return joined;
}

int Reader::line(const YAML::Node& node) {
  if (!node.IsDefined() || node.Mark().is_null()) return 0;
  return node.Mark().line + 1;
}

void Reader::fail(const YAML::Node& node, std::string_view key, std::string_view message) const {
  const int at = line(node);
  std::string text = source_ + ":";
  if (at > 0) text += std::to_string(at) + ":";
  text += " " + std::string(key) + ": " + std::string(message);
  throw ConfigError(text);
}

void Reader::require_map(const YAML::Node& node, std::string_view key) const {
  if (!node.IsMap()) fail(node, key, "must be a mapping of keys to values, got " + std::string(type_name(node)));
}

void Reader::check_keys(const YAML::Node& map, std::string_view path,
                        std::initializer_list<std::string_view> allowed) const {
  for (const auto& entry : map) {
    const std::string key = entry.first.as<std::string>();
    bool known = false;
    for (const auto name : allowed) known = known || name == key;
    if (!known) {
      const std::string full = path.empty() ? key : std::string(path) + "." + key;
      fail(entry.first, full, "unknown key; allowed keys here: " + join(allowed));
    }
  }
}

double Reader::real(const YAML::Node& node, std::string_view key) const {
  if (!node.IsScalar() || classify(node) == ScalarType::text)
    fail(node, key, "must be a number (e.g. 0.001 or 1e-3), got " +
                        (node.IsScalar() ? "'" + node.Scalar() + "'" : std::string(type_name(node))));
  return node.as<double>();
}

std::int64_t Reader::integer(const YAML::Node& node, std::string_view key) const {
  if (!node.IsScalar() || classify(node) != ScalarType::integer)
    fail(node, key, "must be a whole number (e.g. 50), got " +
                        (node.IsScalar() ? "'" + node.Scalar() + "'" : std::string(type_name(node))));
  const std::string& text = node.Scalar();
  std::int64_t value = 0;
  const char* begin = text.data() + (text.front() == '+' ? 1 : 0);
  const auto result = std::from_chars(begin, text.data() + text.size(), value);
  if (result.ec != std::errc()) fail(node, key, "'" + text + "' is out of the 64-bit integer range");
  return value;
}

std::string Reader::text(const YAML::Node& node, std::string_view key) const {
  if (!node.IsScalar()) fail(node, key, "must be a single value (text), got " + std::string(type_name(node)));
  return node.Scalar();
}

bool Reader::boolean(const YAML::Node& node, std::string_view key) const {
  const std::string value = text(node, key);
  if (value == "true") return true;
  if (value == "false") return false;
  fail(node, key, "must be true or false, got '" + value + "'");
}

ParamValue Reader::scalar_value(const YAML::Node& node, std::string_view key) const {
  if (!node.IsScalar()) fail(node, key, "must be a single value, got " + std::string(type_name(node)));
  switch (classify(node)) {
    case ScalarType::integer: return integer(node, key);
    case ScalarType::real: return real(node, key);
    case ScalarType::text: return node.Scalar();
  }
  return node.Scalar();
}

}  // namespace mlptune::tune::config_yaml
