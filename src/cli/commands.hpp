// The subcommands of the mlptune program. Each adds itself to the app and runs when chosen.
#pragma once

#include <CLI/CLI.hpp>
#include <functional>

namespace mlptune::cli {

// A chosen subcommand's body; returns the process exit code.
using Command = std::function<int()>;

// Exit codes.
inline constexpr int kExitOk = 0;
inline constexpr int kExitError = 2;     // bad input: flags, config, data
inline constexpr int kExitDiverged = 3;  // training ran and diverged (a result, reported as such)
inline constexpr int kExitDeviceError = 4;

Command add_train_command(CLI::App& app);
Command add_summary_command(CLI::App& app);
Command add_devices_command(CLI::App& app);
Command add_tune_command(CLI::App& app);
Command add_report_command(CLI::App& app);
Command add_export_command(CLI::App& app);
Command add_studies_command(CLI::App& app);
Command add_copy_command(CLI::App& app);
Command add_predict_command(CLI::App& app);

}  // namespace mlptune::cli
