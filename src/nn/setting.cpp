// Settings' flags, text forms and checks, and the readers of their values from JSON or text.
#include "nn/setting.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <limits>
#include <optional>

#include "common/number_text.hpp"
#include "common/text_list.hpp"

namespace mlptune {
namespace {

// A value as the user wrote it: text quoted ('x'), numbers in their shortest form.
std::string describe(const nlohmann::json& value) {
  if (value.is_string()) return "'" + value.get<std::string>() + "'";
  if (value.is_number_float()) return shortest_text(value.get<double>());
  return value.dump();
}

// from_chars over the whole text; a leading '+' is allowed, as a flag may carry one.
template <class Number>
std::optional<Number> parse_whole_text(std::string_view text) {
  if (text.starts_with('+')) text.remove_prefix(1);
  Number number{};
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), number);
  if (error != std::errc() || end != text.data() + text.size() || text.empty()) return std::nullopt;
  return number;
}

std::optional<double> number_of(const nlohmann::json& value) {
  if (value.is_number()) return value.get<double>();
  if (value.is_string()) return parse_whole_text<double>(value.get<std::string>());
  return std::nullopt;
}

std::string widths_requirement(const nlohmann::json& value) {
  return "must be widths >= 1 separated by commas, e.g. \"256,128\" (got " + describe(value) + ")";
}

std::vector<int> parse_widths(std::string_view setting, const std::string& text, const nlohmann::json& value) {
  std::vector<int> widths;
  if (text.empty() || text == "none") return widths;
  std::size_t begin = 0;
  while (begin <= text.size()) {
    const std::size_t end = std::min(text.find(',', begin), text.size());
    const auto width = parse_whole_text<int>(std::string_view(text).substr(begin, end - begin));
    if (!width || *width < 1) throw SettingError(std::string(setting), widths_requirement(value));
    widths.push_back(*width);
    begin = end + 1;
  }
  return widths;
}

}  // namespace

std::string SettingInfo::flag() const {
  return kind == SettingKind::on_off ? "--no-" + flag_for(name).substr(2) : flag_for(name);
}

bool SettingInfo::answers_to(std::string_view text) const {
  return name == text || std::find(aliases.begin(), aliases.end(), text) != aliases.end();
}

std::string SettingInfo::text(const nlohmann::json& value) const {
  if (value.is_string()) return value.get<std::string>();
  if (value.is_boolean()) return value.get<bool>() ? "true" : "false";
  if (value.is_number_float()) return shortest_text(value.get<double>());
  if (value.is_array()) return join(value, ",", [this](const nlohmann::json& item) { return text(item); });
  return value.dump();
}

void SettingInfo::check(const nlohmann::json& value) const {
  const std::string setting(name);
  if (kind == SettingKind::real && !range.contains(value.get<double>()))
    throw SettingError(setting, "must be " + range.describe() + " (got " + text(value) + ")");
  if (kind == SettingKind::count && value.get<int>() < minimum)
    throw SettingError(setting, "must be >= " + std::to_string(minimum) + " (got " + text(value) + ")");
  if (kind == SettingKind::choice && std::find(reserved.begin(), reserved.end(), text(value)) != reserved.end())
    throw SettingError(setting, text(value) + " is not supported yet (reserved for a later engine): use " + choices);
}

namespace setting_value {

double real(std::string_view setting, const nlohmann::json& value) {
  if (const auto number = number_of(value)) return *number;
  throw SettingError(std::string(setting), "must be a number (got " + describe(value) + ")");
}

int count(std::string_view setting, const nlohmann::json& value) {
  const auto number = number_of(value);
  if (!number || *number != std::floor(*number))
    throw SettingError(std::string(setting), "must be a whole number (got " + describe(value) + ")");
  // A value outside int's range (a log_normal draw's tail, say) must not reach the conversion.
  constexpr int kLowest = std::numeric_limits<int>::min(), kHighest = std::numeric_limits<int>::max();
  if (*number < double(kLowest) || *number > double(kHighest))
    throw SettingError(std::string(setting), "must be a whole number in [" + std::to_string(kLowest) + ", " +
                                                 std::to_string(kHighest) + "] (got " + describe(value) + ")");
  return int(*number);
}

std::uint64_t seed(std::string_view setting, const nlohmann::json& value) {
  // Whole 64-bit values stay exact: none of them passes through a double.
  if (value.is_number_unsigned()) return value.get<std::uint64_t>();
  if (value.is_number_integer() && value.get<std::int64_t>() >= 0) return std::uint64_t(value.get<std::int64_t>());
  if (value.is_string())
    if (const auto number = parse_whole_text<std::uint64_t>(value.get<std::string>())) return *number;
  throw SettingError(std::string(setting), "must be a whole number in [0, " +
                                               std::to_string(std::numeric_limits<std::uint64_t>::max()) + "] (got " +
                                               describe(value) + ")");
}

bool on_off(std::string_view setting, const nlohmann::json& value) {
  if (value.is_boolean()) return value.get<bool>();
  if (value == "true" || value == "false") return value == "true";
  throw SettingError(std::string(setting), "must be true or false (got " + describe(value) + ")");
}

std::string name(std::string_view setting, const nlohmann::json& value) {
  if (value.is_string()) return value.get<std::string>();
  if (value.is_number_integer()) return value.dump();  // a study's choice written as a number
  throw SettingError(std::string(setting), "must be a name such as relu or adam (got " + describe(value) + ")");
}

std::vector<int> widths(std::string_view setting, const nlohmann::json& value) {
  if (value.is_string()) return parse_widths(setting, value.get<std::string>(), value);
  if (value.is_number_integer()) return parse_widths(setting, value.dump(), value);  // one layer: 512
  if (value.is_array())
    return parse_widths(setting, join(value, ",", [](const auto& item) { return item.dump(); }), value);
  throw SettingError(std::string(setting), widths_requirement(value));
}

}  // namespace setting_value
}  // namespace mlptune
