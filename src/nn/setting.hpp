// One hyperparameter described once: its names, kind, help, range, who sets it, and how to read
// and write its field. The flags, --help, validation, study parameters, the reproducing command
// line and JSON are all derived from such descriptions; the tables are in nn/settings.cpp.
#pragma once

#include <cstdint>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/text_list.hpp"
#include "common/value_range.hpp"
#include "mlptune/error.hpp"
#include "nn/name_table.hpp"

namespace mlptune {

// The kind of value decides its text, its JSON and the checks on it.
enum class SettingKind {
  real,    // double within `range`
  count,   // int from `minimum` up to int's largest
  seed,    // std::uint64_t, every value
  on_off,  // bool, on by default: its flag, --no-NAME, turns it off
  choice,  // an enum, by the names of its NameTable
  widths,  // std::vector<int> of widths >= 1, written "256,128" ("" for none)
};

// Who sets a setting, which decides where it appears. JSON holds every setting.
enum class StudyRole {
  searched,      // a flag and a study parameter (parameters.NAME); the reproducing line writes it
  per_trial,     // a flag; a study gives each trial its own (the seed), so the line writes it
  not_searched,  // a flag only: every trial keeps its base's value, so the line leaves it out
  data_shape,    // the data decides it (input and output widths): no flag, no parameter
};

// When a setting acts: always (no `setting`), or only while another setting of the same table
// holds one of `values` (momentum acts only with optimizer momentum or nesterov). A study warns of a
// searched parameter that no trial can use; conditional parameters read the same field.
struct ActiveWhen {
  std::string_view setting;              // the deciding setting's canonical name: "optimizer"
  std::vector<std::string_view> values;  // its canonical value names under which this setting acts

  bool always() const { return setting.empty(); }
};

// What a setting is, apart from its field: everything the front ends print and check.
struct SettingInfo {
  std::string_view name;  // canonical: the study parameter and the JSON key; the flag is --name with dashes
  SettingKind kind = SettingKind::real;
  std::string help;  // --help text
  StudyRole role = StudyRole::searched;
  std::vector<std::string_view> aliases;  // other names a study config may use (learning_rate for lr)
  Range range{0.0, true};                 // real: the accepted values
  int minimum = 0;                        // count: the smallest accepted value
  std::vector<std::string_view> names;    // choice: the accepted values' canonical names
  std::string choices;  // choice: the accepted names as text, "sgd, momentum, nesterov, adam or adamw"
  std::vector<std::string_view> reserved;  // choice: names that are refused as not supported yet
  std::string_view unset;  // a flag value that leaves the value to the caller ("auto": the loss from the task)
  ActiveWhen active_when;  // always, or only under some values of another setting

  std::string flag() const;  // "--lr", "--batch-size"; an on_off setting's "--no-shuffle"
  bool has_flag() const { return role != StudyRole::data_shape; }
  bool is_parameter() const { return role == StudyRole::searched; }
  bool in_command_line() const { return role == StudyRole::searched || role == StudyRole::per_trial; }
  bool answers_to(std::string_view text) const;  // its name or an alias

  // The text of a value as a flag takes it and reads it back exactly: "0.001", "256,128", "adam".
  std::string text(const nlohmann::json& value) const;
  // Throws SettingError when `value` (as `get` gives it) is out of range or reserved.
  void check(const nlohmann::json& value) const;
};

// A setting of `Owner` (TrainConfig or ModelSpec): get and set reach its field.
template <class Owner>
struct Setting : SettingInfo {
  std::function<nlohmann::json(const Owner&)> get;
  // Reads a JSON value, or the text of a flag or a study's string as a JSON string. Throws
  // SettingError naming the setting, or a NameTable's ConfigError listing the names.
  std::function<void(Owner&, const nlohmann::json&)> set;

  // Modifiers, for writing a table entry on one line: real(...).also("learning_rate").
  Setting also(std::string_view alias) && {
    aliases.push_back(alias);
    return std::move(*this);
  }
  Setting set_by(StudyRole who) && {
    role = who;
    return std::move(*this);
  }
  Setting unset_as(std::string_view word) && {
    unset = word;
    return std::move(*this);
  }
  Setting only_when(std::string_view deciding_setting, std::vector<std::string_view> deciding_values) && {
    active_when = {deciding_setting, std::move(deciding_values)};
    return std::move(*this);
  }

  std::string text_of(const Owner& owner) const { return text(get(owner)); }
  void check_in(const Owner& owner) const { check(get(owner)); }
};

// Readers of one value from JSON or from text (a JSON string): each throws SettingError naming `setting`.
namespace setting_value {
double real(std::string_view setting, const nlohmann::json& value);  // a number, or its text ("1e-3")
int count(std::string_view setting, const nlohmann::json& value);    // a whole number in int's range
std::uint64_t seed(std::string_view setting, const nlohmann::json& value);
bool on_off(std::string_view setting, const nlohmann::json& value);              // true or false, or their text
std::string name(std::string_view setting, const nlohmann::json& value);         // text, or an integer's digits
std::vector<int> widths(std::string_view setting, const nlohmann::json& value);  // "256,128", 512 or [256, 128]
}  // namespace setting_value

// --- Table entries, one factory per kind --------------------------------------------------------

namespace setting_entry {

// The entry's description with get and set reaching `field` through `read`.
template <class Owner, class Value>
Setting<Owner> bound(std::string_view name, SettingKind kind, std::string help, Value Owner::*field,
                     Value (*read)(std::string_view, const nlohmann::json&)) {
  Setting<Owner> setting;
  setting.name = name;
  setting.kind = kind;
  setting.help = std::move(help);
  setting.get = [field](const Owner& owner) { return nlohmann::json(owner.*field); };
  setting.set = [field, read, name](Owner& owner, const nlohmann::json& value) { owner.*field = read(name, value); };
  return setting;
}

template <class Owner>
Setting<Owner> real(std::string_view name, double Owner::*field, Range range, std::string help) {
  Setting<Owner> setting = bound(name, SettingKind::real, std::move(help), field, &setting_value::real);
  setting.range = range;
  return setting;
}

template <class Owner>
Setting<Owner> count(std::string_view name, int Owner::*field, int minimum, std::string help) {
  Setting<Owner> setting = bound(name, SettingKind::count, std::move(help), field, &setting_value::count);
  setting.minimum = minimum;
  return setting;
}

template <class Owner>
Setting<Owner> seed(std::string_view name, std::uint64_t Owner::*field, std::string help) {
  return bound(name, SettingKind::seed, std::move(help), field, &setting_value::seed);
}

template <class Owner>
Setting<Owner> on_off(std::string_view name, bool Owner::*field, std::string help) {
  return bound(name, SettingKind::on_off, std::move(help), field, &setting_value::on_off);
}

template <class Owner>
Setting<Owner> widths(std::string_view name, std::vector<int> Owner::*field, std::string help) {
  return bound(name, SettingKind::widths, std::move(help), field, &setting_value::widths);
}

// The help shows the accepted names between `help` and `note`: "update rule: sgd, ... or adamw".
template <class Owner, class Enum, std::size_t N>
Setting<Owner> choice(std::string_view name, Enum Owner::*field, const detail::NameTable<Enum, N>& names,
                      std::string help, std::string_view note = "") {
  Setting<Owner> setting;
  setting.name = name;
  setting.kind = SettingKind::choice;
  setting.help = help + names.accepted_names() + std::string(note);
  setting.names = names.canonical_names();
  setting.choices = names.accepted_names();
  setting.reserved = names.reserved_names();
  setting.get = [field, &names](const Owner& owner) { return nlohmann::json(names.name_of(owner.*field)); };
  setting.set = [field, &names, name](Owner& owner, const nlohmann::json& value) {
    owner.*field = names.parse(setting_value::name(name, value));
  };
  return setting;
}

}  // namespace setting_entry

// --- Whole tables ---------------------------------------------------------------------------------

// The entry `text` names (canonical name or alias); nullptr for none.
template <class Owner>
const Setting<Owner>* find_setting(const std::vector<Setting<Owner>>& table, std::string_view text) {
  for (const auto& setting : table)
    if (setting.answers_to(text)) return &setting;
  return nullptr;
}

// The entry a study parameter `name` sets (canonical name or alias); nullptr for none, or for an
// entry that is no study parameter.
template <class Owner>
const Setting<Owner>* find_parameter(const std::vector<Setting<Owner>>& table, std::string_view name) {
  const Setting<Owner>* setting = find_setting(table, name);
  return setting != nullptr && setting->is_parameter() ? setting : nullptr;
}

// Every entry by its canonical name, in table order.
template <class Owner>
nlohmann::ordered_json settings_to_json(const std::vector<Setting<Owner>>& table, const Owner& owner) {
  nlohmann::ordered_json json = nlohmann::ordered_json::object();
  for (const auto& setting : table) json[std::string(setting.name)] = setting.get(owner);
  return json;
}

// The keys of `json` over `owner`'s values (a missing key keeps its value: a file written before a
// setting existed reads as it trained). Throws ConfigError "KEY: requirement" for a bad value and
// for a key no entry has; an unknown name keeps its NameTable's message, which names the setting.
template <class Owner>
void settings_from_json(const std::vector<Setting<Owner>>& table, const nlohmann::json& json, Owner& owner) {
  if (!json.is_object()) throw ConfigError("must be a JSON object of settings (got " + json.dump() + ")");
  for (const auto& [key, value] : json.items()) {
    const Setting<Owner>* setting = find_setting(table, key);
    if (setting == nullptr)
      throw ConfigError(key + ": unknown setting; known: " + join(table, ", ", &SettingInfo::name));
    try {
      setting->set(owner, value);
    } catch (const SettingError& error) {
      throw ConfigError(key + ": " + error.requirement());
    }
  }
}

}  // namespace mlptune
