// What the program's command line answers before any command runs: the version, and unknown
// commands or flags named first, with the nearest known name.
#pragma once

#include <CLI/CLI.hpp>
#include <optional>
#include <string>

#include "cli/commands.hpp"

namespace mlptune::cli {

// The width of --help's column of flag names: the longest, "--lr,--learning-rate FLOAT=0.001",
// keeps its help on its own line.
inline constexpr std::size_t kHelpNameColumns = 40;

// `mlptune --version` and `mlptune version`: "mlptune 0.1.0", the CMake project version.
void add_version_flag(CLI::App& app);
Command add_version_command(CLI::App& app);

// The first argument that names no command, or no flag of the chosen command, as a message with
// the nearest known name ("unknown flag --hiden for mlptune train (did you mean '--hidden'?)");
// nullopt when every name is known. Values are not checked: the command's own parsing does that.
std::optional<std::string> unknown_argument(const CLI::App& app, int argc, const char* const* argv);

}  // namespace mlptune::cli
