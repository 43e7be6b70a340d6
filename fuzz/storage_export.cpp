// Fuzzes what the SQLite study storage reads back from a trial row (its params and attributes JSON,
// its message, the study name) and the writers that take it from there: the report and the export
// (trials.csv, trials.json, intermediate.csv, the Optuna journal).
#include <sqlite3.h>

#include <array>
#include <nlohmann/json.hpp>
#include <vector>

#include "fixed_clock.hpp"
#include "fuzz_support.hpp"
#include "mlptune/tune/report.hpp"
#include "mlptune/tune/storage.hpp"

using namespace mlptune;
using namespace mlptune::tune;

namespace {

// One study with two trials, made once through the storage itself; every input then rewrites
// trial 0's row behind the storage's back, as another program (or another version) could.
struct FuzzStudy {
  fuzz::fs::path database = fuzz::scratch().path() / "study.db";
  std::unique_ptr<Storage> storage = open_sqlite_storage(database);
  StudyInfo study = storage->open_or_create_study({0, "fuzz", Goal::minimize, "method: random\n", 7, 0.0});
  sqlite3* raw = nullptr;

  FuzzStudy() {
    const TrialOwner owner = fuzz::fixed_owner();
    std::vector<TrialClaim> claims;
    for (int number = 0; number < 2; ++number) {
      const auto claimed = storage->claim_trial(study.id, owner, 0, [](std::span<const FrozenTrial>, int n) {
        SampledTrial sampled;
        sampled.params = {{"lr", 0.01 * (n + 1)}, {"activation", std::string("relu")}, {"depth", std::int64_t(2)}};
        sampled.distributions["lr"] = Distribution{.kind = DistributionKind::log_uniform_values, .min = 1e-4, .max = 1};
        sampled.attributes = {{"command", "mlptune train --lr 0.01"}};
        return sampled;
      });
      claims.push_back(claimed->claim(study.id));
      storage->record_intermediate(claims.back(), 1, 0.5 / (number + 1));
    }
    storage->finish_trial(claims[1], RunState::complete, 0.25, "");
    fuzz::require(sqlite3_open(database.c_str(), &raw) == SQLITE_OK, "cannot open the study database");
  }

  void execute(const char* sql, std::initializer_list<std::string_view> texts) const {
    sqlite3_stmt* statement = nullptr;
    fuzz::require(sqlite3_prepare_v2(raw, sql, -1, &statement, nullptr) == SQLITE_OK, sqlite3_errmsg(raw));
    int index = 0;
    for (const auto text : texts)  // an empty view may have no data pointer, which would bind NULL
      sqlite3_bind_text(statement, ++index, text.data() ? text.data() : "", int(text.size()), SQLITE_TRANSIENT);
    fuzz::require(sqlite3_step(statement) == SQLITE_DONE, sqlite3_errmsg(raw));
    sqlite3_finalize(statement);
  }

  // The texts go where the storage keeps them: trial 0's columns and the study's name.
  void rewrite(const std::array<std::string_view, 4>& texts) const {
    execute("UPDATE trials SET params_json = ?, attributes_json = ?, message = ? WHERE number = 0",
            {texts[0], texts[1], texts[2]});
    execute("UPDATE studies SET name = ?", {texts[3]});
  }
};

// Every export file that is JSON must parse as JSON again: the journal one object per line.
void check_export(const fuzz::fs::path& folder) {
  std::ifstream trials(folder / "trials.json");
  fuzz::require(nlohmann::json::accept(trials), "trials.json is not valid JSON");
  std::ifstream journal(folder / "journal.log");
  for (std::string line; std::getline(journal, line);)
    fuzz::require(nlohmann::json::accept(line), "a journal.log line is not valid JSON");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const FuzzStudy fuzz_study;
  const auto files = fuzz::split_files(data, size);
  if (files.size() > 4) return -1;
  // params JSON, attributes JSON, message, study name; missing ones keep a valid value.
  std::array<std::string_view, 4> texts{"{}", "{}", "", "fuzz"};
  for (std::size_t i = 0; i < files.size(); ++i) texts[i] = files[i];
  fuzz_study.rewrite(texts);

  Storage& storage = *fuzz_study.storage;
  fuzz::expected_errors([&] {
    format_report(make_report(storage, "", 10));
    const auto folder = fuzz::scratch().path() / "export";
    export_study(storage, "", folder);
    check_export(folder);
    return true;
  });
  return 0;
}
