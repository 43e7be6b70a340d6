// Typed access to YAML nodes for the study config parser, with located error messages.
#include "tune/study_config_yaml.hpp"

#include <charconv>
#include <cstdint>
#include <regex>
#include <string_view>

#include "common/closest_name.hpp"
#include "common/text_list.hpp"
#include "mlptune/error.hpp"

namespace mlptune::tune::config_yaml {
namespace {

const std::regex kIntegerPattern(R"([-+]?[0-9]+)");
const std::regex kRealPattern(R"([-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?)");

std::string_view type_name(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Map:
      return "a mapping";
    case YAML::NodeType::Sequence:
      return "a list";
    case YAML::NodeType::Null:
      return "empty";
    default:
      return "a scalar";
  }
}

// The length of the well-formed UTF-8 sequence at the start of `text`, or 0 if there is none.
std::size_t utf8_sequence_length(std::string_view text) {
  const auto lead = static_cast<unsigned char>(text[0]);
  if (lead < 0x80) return 1;
  std::size_t length = 0;
  std::uint32_t code = 0;
  std::uint32_t smallest = 0;  // below it the sequence is an overlong form of a shorter one
  if ((lead & 0xE0) == 0xC0) {
    length = 2, code = lead & 0x1F, smallest = 0x80;
  } else if ((lead & 0xF0) == 0xE0) {
    length = 3, code = lead & 0x0F, smallest = 0x800;
  } else if ((lead & 0xF8) == 0xF0) {
    length = 4, code = lead & 0x07, smallest = 0x10000;
  } else {
    return 0;
  }
  if (text.size() < length) return 0;
  for (std::size_t i = 1; i < length; ++i) {
    const auto next = static_cast<unsigned char>(text[i]);
    if ((next & 0xC0) != 0x80) return 0;
    code = (code << 6) | (next & 0x3F);
  }
  const bool surrogate = code >= 0xD800 && code <= 0xDFFF;
  return code < smallest || code > 0x10FFFF || surrogate ? 0 : length;
}

std::string hex_byte(char byte) {
  constexpr char kDigits[] = "0123456789ABCDEF";
  const auto value = static_cast<unsigned char>(byte);
  return std::string("0x") + kDigits[value >> 4] + kDigits[value & 0xF];
}

}  // namespace

std::optional<std::size_t> first_invalid_utf8(std::string_view text) {
  for (std::size_t at = 0; at < text.size();) {
    const std::size_t length = utf8_sequence_length(text.substr(at));
    if (length == 0) return at;
    at += length;
  }
  return std::nullopt;
}

std::string printable(std::string_view text) {
  std::string shown;
  for (std::size_t at = 0; at < text.size();) {
    const std::size_t length = utf8_sequence_length(text.substr(at));
    if (length == 0) {
      shown += "\\x" + hex_byte(text[at]).substr(2);
      ++at;
    } else {
      shown += text.substr(at, length);
      at += length;
    }
  }
  return shown;
}

ScalarType classify(const YAML::Node& scalar) {
  if (scalar.Tag() == "!") return ScalarType::text;  // quoted
  const std::string& text = scalar.Scalar();
  if (std::regex_match(text, kIntegerPattern)) return ScalarType::integer;
  if (std::regex_match(text, kRealPattern)) return ScalarType::real;
  return ScalarType::text;
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

void Reader::require_utf8(const YAML::Node& node, const std::string& path) const {
  const auto require = [this](const YAML::Node& scalar, const std::string& key, std::string_view what) {
    const std::string& text = scalar.Scalar();
    if (const auto at = first_invalid_utf8(text))
      fail(scalar, key,
           std::string(what) + " '" + printable(text) + "' is not UTF-8 text (byte " + hex_byte(text[*at]) +
               " at position " + std::to_string(*at + 1) + "); write it in UTF-8, e.g. save the file as UTF-8");
  };
  if (node.IsScalar()) require(node, path.empty() ? "(document)" : path, "the value");
  if (node.IsSequence())
    for (const auto& item : node) require_utf8(item, path);
  if (node.IsMap()) {
    for (const auto& entry : node) {
      const std::string key = entry.first.IsScalar() ? entry.first.Scalar() : "?";
      const std::string key_path = (path.empty() ? "" : path + ".") + printable(key);
      if (entry.first.IsScalar()) require(entry.first, key_path, "the key");
      require_utf8(entry.second, key_path);
    }
  }
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
      fail(entry.first, full,
           "unknown key" + did_you_mean(key, allowed) + "; allowed keys here: " + join(allowed, ", "));
    }
  }
}

double Reader::real(const YAML::Node& node, std::string_view key) const {
  if (!node.IsScalar() || classify(node) == ScalarType::text)
    fail(node, key,
         "must be a number (e.g. 0.001 or 1e-3), got " +
             (node.IsScalar() ? "'" + node.Scalar() + "'" : std::string(type_name(node))));
  return node.as<double>();
}

std::int64_t Reader::integer(const YAML::Node& node, std::string_view key) const {
  if (!node.IsScalar() || classify(node) != ScalarType::integer)
    fail(node, key,
         "must be a whole number (e.g. 50), got " +
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
    case ScalarType::integer:
      return integer(node, key);
    case ScalarType::real:
      return real(node, key);
    case ScalarType::text:
      return node.Scalar();
  }
  return node.Scalar();
}

}  // namespace mlptune::tune::config_yaml
