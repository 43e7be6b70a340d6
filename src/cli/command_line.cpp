// The version, and unknown commands and flags named with the nearest known name.
#include "cli/command_line.hpp"

#include <algorithm>
#include <iostream>
#include <string_view>
#include <vector>

#include "common/closest_name.hpp"
#include "common/text_list.hpp"
#include "mlptune_version.hpp"

namespace mlptune::cli {
namespace {

constexpr std::string_view kVersionText = "mlptune " MLPTUNE_VERSION;

// The flags `app` takes, its option groups' included: "--hidden", "-q".
void collect_flags(const CLI::App& app, std::vector<std::string>& flags) {
  for (const CLI::Option* option : app.get_options()) {
    for (const auto& name : option->get_lnames()) flags.push_back("--" + name);
    for (const auto& name : option->get_snames()) flags.push_back("-" + name);
  }
  for (const CLI::App* group : app.get_subcommands([](const CLI::App* child) { return child->get_name().empty(); }))
    collect_flags(*group, flags);
}

std::vector<std::string> flags_of(const CLI::App& app) {
  std::vector<std::string> flags;
  collect_flags(app, flags);
  return flags;
}

std::vector<std::string> command_names(const CLI::App& app) {
  std::vector<std::string> names;
  for (const CLI::App* command : app.get_subcommands([](const CLI::App* child) { return !child->get_name().empty(); }))
    names.push_back(command->get_name());
  return names;
}

// A long flag's name without its value ("--hiden=32" -> "--hiden"); "" for anything else: values,
// positionals, short flags (a value may be "-1"), and "--" itself.
std::string_view long_flag_name(std::string_view argument) {
  if (!argument.starts_with("--") || argument.size() == 2) return {};
  return argument.substr(0, argument.find('='));
}

std::string unknown_flag_message(std::string_view flag, const std::string& where,
                                 const std::vector<std::string>& known) {
  return "unknown flag " + std::string(flag) + " for " + where + did_you_mean(flag, known) + "; see " + where +
         " --help";
}

}  // namespace

void add_version_flag(CLI::App& app) {
  app.set_version_flag("--version", std::string(kVersionText), "print the version and exit");
}

Command add_version_command(CLI::App& app) {
  app.add_subcommand("version", "Print the version");
  return [] {
    std::cout << kVersionText << "\n";
    return kExitOk;
  };
}

std::optional<std::string> unknown_argument(const CLI::App& app, int argc, const char* const* argv) {
  const std::vector<std::string> commands = command_names(app);
  const CLI::App* command = nullptr;
  for (int index = 1; index < argc; ++index) {
    const std::string_view argument = argv[index];
    if (argument == "--") break;
    if (command == nullptr && !argument.starts_with('-')) {
      const auto named = std::find(commands.begin(), commands.end(), argument);
      if (named == commands.end())
        return "unknown command '" + std::string(argument) + "'" + did_you_mean(argument, commands) +
               "; the commands are " + join_or(commands);
      command = app.get_subcommand(*named);
      continue;
    }
    const std::string_view flag = long_flag_name(argument);
    if (flag.empty()) continue;
    const CLI::App& owner = command != nullptr ? *command : app;
    const std::vector<std::string> known = flags_of(owner);
    if (std::find(known.begin(), known.end(), flag) == known.end())
      return unknown_flag_message(flag, command != nullptr ? "mlptune " + command->get_name() : "mlptune", known);
  }
  return std::nullopt;
}

}  // namespace mlptune::cli
