// `mlptune report STUDY` (leaderboard, best configuration, optional plots) and
// `mlptune export STUDY` (CSV, JSON and an Optuna journal file).
#include <cstdlib>
#include <filesystem>
#include <iostream>

#include "cli/commands.hpp"
#include "cli/options.hpp"
#include "cli/study_file.hpp"
#include "mlptune/error.hpp"
#include "mlptune/tune/report.hpp"

namespace mlptune::cli {
namespace {

namespace fs = std::filesystem;

struct ReportCommandOptions {
  std::string study_path;
  std::string study_name;
  int top = 10;
  std::string plots_dir;
  std::string out_dir;  // export
};

// experiments/plot.py beside the program's source tree: found from the executable's folder
// upwards, else in the source tree the program was built from.
fs::path plot_script() {
  std::error_code error;
  for (fs::path folder = fs::read_symlink("/proc/self/exe", error).parent_path(); !error && !folder.empty();
       folder = folder.parent_path()) {
    if (fs::exists(folder / "experiments/plot.py")) return folder / "experiments/plot.py";
    if (folder == folder.root_path()) break;
  }
  const fs::path source = fs::path(MLPTUNE_SOURCE_DIR) / "experiments/plot.py";
  if (fs::exists(source)) return source;
  throw Error("--plots needs experiments/plot.py from the mlptune source tree, and it was not found");
}

// Shell-quotes one argument.
std::string quoted(const std::string& text) {
  std::string result = "'";
  for (char c : text) result += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return result + "'";
}

void make_plots(tune::Storage& storage, const std::string& study_name, const fs::path& folder) {
  const fs::path data = folder / "data";
  tune::export_study(storage, study_name, data);
  const std::string command =
      "python3 " + quoted(plot_script().string()) + " " + quoted(data.string()) + " --out " + quoted(folder.string());
  if (std::system(command.c_str()) != 0)
    throw Error("making the plots failed (" + command +
                "); the plots need python3 with matplotlib: pip install matplotlib numpy");
  std::cout << "plots written to " << folder.string() << "\n";
}

int run_report(const ReportCommandOptions& options) {
  auto storage = open_existing_study(options.study_path);
  std::cout << tune::format_report(tune::make_report(*storage, options.study_name, options.top));
  if (!options.plots_dir.empty()) make_plots(*storage, options.study_name, options.plots_dir);
  return kExitOk;
}

int run_export(const ReportCommandOptions& options) {
  auto storage = open_existing_study(options.study_path);
  tune::export_study(*storage, options.study_name, options.out_dir);
  const fs::path out(options.out_dir);
  for (const char* name : {"trials.csv", "trials.json", "intermediate.csv", "journal.log"})
    std::cout << (out / name).string() << "\n";
  std::cout << "open the journal with: optuna-dashboard " << (out / "journal.log").string() << "\n";
  return kExitOk;
}

void add_study_arguments(CLI::App& command, ReportCommandOptions& options) {
  command.add_option("study", options.study_path, "the SQLite study file written by `mlptune tune`")->required();
  command.add_option("--study-name", options.study_name, "which study, when the file holds several");
}

}  // namespace

Command add_report_command(CLI::App& app) {
  auto options = std::make_shared<ReportCommandOptions>();
  CLI::App* command = app.add_subcommand("report", "Show a study's leaderboard and its best configuration");
  add_study_arguments(*command, *options);
  command->add_option("--top", options->top, "rows of the leaderboard")->check(whole_number(1))->capture_default_str();
  command->add_option("--plots", options->plots_dir,
                      "also write the standard plots (history, hyperparameters, learning curves, parallel "
                      "coordinates) to DIR");
  return [options] { return run_report(*options); };
}

Command add_export_command(CLI::App& app) {
  auto options = std::make_shared<ReportCommandOptions>();
  CLI::App* command = app.add_subcommand(
      "export", "Write a study's trials as CSV and JSON, and an Optuna journal file for optuna-dashboard");
  add_study_arguments(*command, *options);
  command->add_option("--out", options->out_dir, "folder for trials.csv, trials.json, intermediate.csv, journal.log")
      ->required();
  return [options] { return run_export(*options); };
}

}  // namespace mlptune::cli
