// The mlptune program: train MLPs and tune their hyperparameters.
#include <csignal>
#include <iostream>
#include <new>

#include "cli/command_line.hpp"
#include "cli/commands.hpp"
#include "cli/stop_signals.hpp"
#include "cpu/blas_kernels.hpp"
#include "mlptune/error.hpp"

int main(int argc, char** argv) {
  using namespace mlptune::cli;
  mlptune::cpu::restart_with_better_blas_kernels(argv);  // first: nothing has happened yet to do twice
  // A write beyond the file-size limit (ulimit -f) fails with EFBIG, reported like a full disk,
  // instead of killing the program before it can clean up.
  std::signal(SIGXFSZ, SIG_IGN);
  // A closed standard output (`mlptune tune ... | head -1`) does not end a study.
  const ClosedOutputTolerance closed_output_tolerance;
  CLI::App app{"mlptune: train multi-layer perceptrons on NVIDIA GPUs (or the CPU) and tune their hyperparameters"};
  app.require_subcommand(1);
  app.footer("Run `mlptune COMMAND --help` for a command's flags.");
  add_version_flag(app);
  app.get_formatter()->column_width(kHelpNameColumns);
  const std::pair<const char*, Command (*)(CLI::App&)> adders[] = {
      {"train", add_train_command},     {"tune", add_tune_command},       {"report", add_report_command},
      {"export", add_export_command},   {"summary", add_summary_command}, {"devices", add_devices_command},
      {"predict", add_predict_command}, {"studies", add_studies_command}, {"copy", add_copy_command},
      {"version", add_version_command}};
  std::vector<std::pair<CLI::App*, Command>> commands;
  for (const auto& [name, add] : adders) {
    Command command = add(app);
    commands.emplace_back(app.get_subcommand(name), std::move(command));
  }

  if (const auto unknown = unknown_argument(app, argc, argv)) {  // named first, before any value's check
    std::cerr << "mlptune: " << *unknown << "\n";
    return kExitError;
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& error) {
    return app.exit(error) == 0 ? kExitOk : kExitError;
  }
  try {
    for (const auto& [subcommand, command] : commands)
      if (subcommand->parsed()) return command();
  } catch (const mlptune::DeviceError& error) {
    std::cerr << "mlptune: device error: " << error.what() << "\n";
    return kExitDeviceError;
  } catch (const mlptune::Error& error) {
    std::cerr << "mlptune: " << error.what() << "\n";
    return kExitError;
  } catch (const std::bad_alloc&) {
    std::cerr << "mlptune: out of host memory; try a smaller --batch-size, model or dataset\n";
    return kExitError;
  } catch (const std::exception& error) {
    std::cerr << "mlptune: internal error: " << error.what() << "\n";
    return kExitError;
  }
  return kExitError;
}
