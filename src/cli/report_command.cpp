// `mlptune report STORAGE` (leaderboard, best configuration, optional plots),
// `mlptune export STORAGE` (CSV, JSON, an Optuna journal file, the best weights),
// `mlptune studies STORAGE` (the studies a storage holds) and `mlptune copy SRC DST` (studies
// between storages: SQLite and PostgreSQL).
#include <cstdlib>
#include <filesystem>
#include <iostream>

#include "cli/commands.hpp"
#include "cli/options.hpp"
#include "cli/study_file.hpp"
#include "cli/text.hpp"
#include "common/count_text.hpp"
#include "common/shell_quote.hpp"
#include "io/output_file.hpp"
#include "mlptune/error.hpp"
#include "mlptune/tune/report.hpp"
#include "mlptune_source_dir.hpp"
#include "tune/export_time.hpp"

namespace mlptune::cli {
namespace {

namespace fs = std::filesystem;

struct ReportCommandOptions {
  std::string study_path;
  std::string study_name;
  int top = 10;
  std::string plots_dir;
  std::string out_dir;       // export
  std::string best_weights;  // export
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

void make_plots(tune::Storage& storage, const std::string& study_name, const fs::path& folder) {
  const fs::path data = folder / "data";
  tune::export_study(storage, study_name, data);
  const std::string command = "python3 " + shell_quoted(plot_script().string()) + " " + shell_quoted(data.string()) +
                              " --out " + shell_quoted(folder.string());
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

// The best trial's weights, from the storage (any machine reaches a PostgreSQL study's), written
// whole or not at all.
void write_best_weights(tune::Storage& storage, const std::string& study_name, const fs::path& file) {
  const tune::StudyInfo study = tune::find_report_study(storage, study_name);
  const auto best = storage.best_weights(study.id);
  if (!best)
    throw tune::StorageError(storage.location() + ": study '" + study.name +
                             "' has no best weights stored yet: no trial has completed (a study of an mlptune before "
                             "version 3 of the storage keeps them beside its file, in .best.safetensors)");
  io::AtomicFile out(io::checked_output_path(file, "the best weights"));
  out.write(best->model);
  out.commit();
  std::cout << file.string() << " (trial " << best->number << ")\n";
}

int run_export(const ReportCommandOptions& options) {
  if (options.out_dir.empty() && options.best_weights.empty())
    throw ConfigError("export needs --out DIR (trials and journal) or --best-weights FILE, or both");
  auto storage = open_existing_study(options.study_path);
  if (!options.out_dir.empty()) {
    tune::export_study(*storage, options.study_name, options.out_dir);
    const fs::path out(options.out_dir);
    for (const char* name : {"trials.csv", "trials.json", "intermediate.csv", "journal.log"})
      std::cout << (out / name).string() << "\n";
    std::cout << "open the journal with: optuna-dashboard " << (out / "journal.log").string() << "\n";
  }
  if (!options.best_weights.empty()) write_best_weights(*storage, options.study_name, options.best_weights);
  return kExitOk;
}

int run_studies(const std::string& location) {
  auto storage = open_existing_study(location);
  const std::vector<tune::StudyInfo> studies = storage->studies();
  if (studies.empty()) {
    std::cout << storage->location() << " holds no study yet\n";
    return kExitOk;
  }
  std::cout << format("%-32s %-9s %7s %9s %8s  %s\n", "study", "direction", "trials", "complete", "running",
                      "created (UTC)");
  for (const tune::StudyInfo& study : studies) {
    int complete = 0, running = 0;
    const std::vector<tune::FrozenTrial> trials = storage->trials(study.id);
    for (const tune::FrozenTrial& trial : trials) {
      complete += trial.state == tune::RunState::complete;
      running += trial.state == tune::RunState::running;
    }
    std::cout << format("%-32s %-9s %7zu %9d %8d  %s\n", study.name.c_str(),
                        std::string(tune::to_string(study.direction)).c_str(), trials.size(), complete, running,
                        tune::iso8601_utc(study.created_at, /*for_table=*/true).substr(0, 19).c_str());
  }
  return kExitOk;
}

// Every study of `from` (or the one named), checked first, so that a name the destination has
// already stops the copy before anything is written.
int run_copy(const std::string& from, const std::string& to, const std::string& study_name) {
  auto source = open_existing_study(from);
  std::vector<std::string> names;
  if (!study_name.empty())
    names.push_back(tune::find_report_study(*source, study_name).name);
  else
    for (const tune::StudyInfo& study : source->studies()) names.push_back(study.name);
  if (names.empty()) throw tune::StorageError(source->location() + ": holds no study to copy");
  auto destination = tune::open_storage(to);
  for (const std::string& name : names)
    if (destination->find_study(name))
      throw tune::StorageError(destination->location() + ": already has a study named '" + name +
                               "'; copy into another database, or give --study-name for the others");
  for (const std::string& name : names) {
    const tune::StudyDump dump = source->dump_study(name);
    destination->import_study(dump);
    std::cout << "copied study " << name << " (" << count_text(std::int64_t(dump.trials.size()), "trial") << ") from "
              << source->location() << " to " << destination->location() << "\n";
  }
  return kExitOk;
}

constexpr const char* kStorageHelp =
    "the study's storage: the SQLite file `mlptune tune` wrote, or a postgresql://user@host:port/dbname URL";

void add_study_arguments(CLI::App& command, ReportCommandOptions& options) {
  command.add_option("storage", options.study_path, kStorageHelp)->required();
  command.add_option("--study-name", options.study_name, "which study, when the storage holds several");
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
  command->add_option("--out", options->out_dir, "folder for trials.csv, trials.json, intermediate.csv, journal.log");
  command->add_option("--best-weights", options->best_weights,
                      "write the best trial's weights (safetensors, for mlptune predict) to FILE");
  return [options] { return run_export(*options); };
}

Command add_studies_command(CLI::App& app) {
  auto location = std::make_shared<std::string>();
  CLI::App* command = app.add_subcommand("studies", "List the studies a storage holds");
  command->add_option("storage", *location, kStorageHelp)->required();
  return [location] { return run_studies(*location); };
}

Command add_copy_command(CLI::App& app) {
  struct CopyOptions {
    std::string from, to, study_name;
  };
  auto options = std::make_shared<CopyOptions>();
  CLI::App* command = app.add_subcommand(
      "copy", "Copy studies from one storage to another (SQLite file to PostgreSQL, and back), with every trial");
  command->add_option("from", options->from, kStorageHelp)->required();
  command->add_option("to", options->to, "where the copy goes: an SQLite file (created) or a postgresql:// URL")
      ->required();
  command->add_option("--study-name", options->study_name, "copy only this study (default: every study)");
  return [options] { return run_copy(options->from, options->to, options->study_name); };
}

}  // namespace mlptune::cli
