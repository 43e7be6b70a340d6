// Fuzzes reading an Optuna journal back, as `mlptune tune --journal FILE` does with a file that is
// already there: each line replayed as Optuna replays it, then the records that bring the journal
// level with a small study. Those records must read back, each one line, and leave nothing to add.
#include "fuzz_support.hpp"
#include "tune/optuna_journal.hpp"

using namespace mlptune;
using namespace mlptune::tune;

namespace {

// Three trials, one per state a live journal follows: complete, running, waiting at a rung.
const std::vector<TrialRecord>& study_trials() {
  static const std::vector<TrialRecord> trials = [] {
    std::vector<TrialRecord> records(3);
    for (int number = 0; number < 3; ++number) {
      TrialRecord& record = records[std::size_t(number)];
      record.trial.number = number;
      record.trial.params = {{"lr", 0.01 * (number + 1)},
                             {"batch_size", std::int64_t(32) << number},
                             {"activation", std::string(number % 2 ? "tanh" : "relu")}};
      record.distributions["lr"] = Distribution{.kind = DistributionKind::log_uniform_values, .min = 1e-4, .max = 1};
      record.distributions["activation"] =
          Distribution{.kind = DistributionKind::categorical, .values = {std::string("relu"), std::string("tanh")}};
      record.attributes = {{"command", "mlptune train --lr " + std::to_string(0.01 * (number + 1))}};
      record.trial.seed = std::uint64_t(number) * 7919;
      record.trial.started_at = 1.7e9 + number;
      record.trial.intermediate = {{1, 0.5 / (number + 1)}, {2, 0.25 / (number + 1)}};
    }
    records[0].trial.state = RunState::complete;
    records[0].trial.value = 0.25;
    records[0].trial.finished_at = 1.7e9 + 10;
    records[2].trial.state = RunState::waiting;
    records[2].trial.paused_epoch = 2;
    return records;
  }();
  return trials;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  JournalState journal;
  // The complete lines, as the live journal reads them; it refuses the file at the first bad one.
  for (std::size_t end = text.find('\n'); end != std::string_view::npos; end = text.find('\n')) {
    const std::string_view line = text.substr(0, end);
    text.remove_prefix(end + 1);
    if (!fuzz::expected_errors([&] { return (apply_journal_record(journal, line), true); })) return 0;
  }
  const StudyInfo study{0, "fuzz", Goal::minimize, "", 7, 1.7e9};
  const std::vector<std::string> names = {"validation_loss"};
  for (const std::string& record : journal_records_to_catch_up(journal, study, names, study_trials(), "fuzz")) {
    fuzz::require(!record.empty() && record.find('\n') == record.size() - 1, "a record is not exactly one line");
    apply_journal_record(journal, std::string_view(record).substr(0, record.size() - 1));  // throws: a finding
  }
  fuzz::require(journal_records_to_catch_up(journal, study, names, study_trials(), "fuzz").empty(),
                "a journal brought level with the study still lacks records");
  return 0;
}
