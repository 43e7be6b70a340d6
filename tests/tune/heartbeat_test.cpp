// The heartbeat thread: another host's trial stays claimed while its heartbeat beats, however long
// its epoch, and is abandoned once the beats stop; a study refreshes its trials' heartbeat during an
// epoch; a storage that fails a refresh is retried and reported once.
#include "tune/heartbeat.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <future>
#include <stdexcept>
#include <thread>

#include "mlptune/error.hpp"
#include "tune/study_test_support.hpp"

namespace mlptune::tune {
namespace {

using namespace std::chrono_literals;
using testing::TempFolder;

SampleTrialFn any_trial() {
  return [](std::span<const FrozenTrial>, int) {
    SampledTrial sampled;
    sampled.params = {{"lr", 0.01}};
    return sampled;
  };
}

TEST(Heartbeat, KeepsAnotherHostsTrialClaimedUntilItStops) {
  TempFolder folder;
  auto storage = open_sqlite_storage(folder.file("study.db"));
  const int study = storage->open_or_create_study({0, "study", Goal::minimize, "method: random\n", 1, 0.0}).id;
  const TrialOwner remote{"another-host", 1, "remote"};
  ASSERT_TRUE(storage->claim_trial(study, remote, 0, any_trial()).has_value());
  const TrialOwner me = current_owner();
  // Beats 20 times a grace period: the trial looks abandoned only if the beating thread gets no
  // time for a whole second, which even a loaded machine under a sanitizer does not do.
  constexpr double kGrace = 1.0;
  {
    const Heartbeat beating(*storage, remote, 0.05, nullptr);
    // Three grace periods with no epoch report: only the heartbeat says the trial is alive.
    for (int i = 0; i < 10; ++i) {
      std::this_thread::sleep_for(300ms);
      EXPECT_TRUE(storage->requeue_abandoned_trials(study, me, kGrace, 3).requeued.empty())
          << "after " << (i + 1) * 300 << " ms";
    }
  }
  std::this_thread::sleep_for(std::chrono::duration<double>(kGrace + 0.1));
  EXPECT_EQ(storage->requeue_abandoned_trials(study, me, kGrace, 3).requeued, std::vector<int>{0})
      << "the beats stopped";
}

// A storage whose heartbeat fails the first `failures` times.
class FlakyHeartbeatStorage final : public testing::ForwardingStorage {
 public:
  FlakyHeartbeatStorage(std::unique_ptr<Storage> inner, int failures)
      : ForwardingStorage(std::move(inner)), failures_(failures) {}
  void heartbeat(const TrialOwner& owner) override {
    ++calls;
    if (failures_-- > 0) throw StorageError("database is locked");
    ForwardingStorage::heartbeat(owner);
  }
  std::atomic<int> calls = 0;

 private:
  std::atomic<int> failures_;
};

TEST(Heartbeat, AFailedRefreshIsReportedOnceAndRetried) {
  TempFolder folder;
  FlakyHeartbeatStorage storage(open_sqlite_storage(folder.file("study.db")), 3);
  std::atomic<int> warnings = 0;
  std::string warning;
  {
    const Heartbeat beating(storage, current_owner(), 0.02, [&](const std::string& text) {
      warning = text;
      ++warnings;
    });
    while (storage.calls < 6) std::this_thread::sleep_for(5ms);
  }
  EXPECT_EQ(warnings, 1) << "three failures in a row are one problem";
  EXPECT_NE(warning.find("database is locked"), std::string::npos) << warning;
  EXPECT_NE(warning.find("retried"), std::string::npos) << warning;
}

TEST(Heartbeat, AStudyRefreshesItsRunningTrialsDuringAnEpoch) {
  TempFolder folder;
  StudyOptions options;
  options.storage_path = folder.file("study.db");
  options.heartbeat_interval_seconds = 0.05;
  // One trial of one epoch that takes 3 s: no epoch report refreshes the heartbeat meanwhile.
  auto study = std::async(std::launch::async, [&] {
    return run_study(testing::fake_study_config(1, 1), options, testing::fake_parts(1, 3000, 1));
  });
  auto reader = open_sqlite_storage(folder.file("study.db"));
  const auto running = [&]() -> std::optional<TrialRecord> {
    const auto found = reader->find_study("fake");
    if (!found) return std::nullopt;
    for (const TrialRecord& record : reader->trial_records(found->id))
      if (record.trial.state == RunState::running) return record;
    return std::nullopt;
  };
  // Waits for the trial to run, then for its heartbeat to be refreshed; the epoch outlasts both by
  // far, and the loops end when it does.
  std::optional<TrialRecord> first;
  while (!first && study.wait_for(0ms) != std::future_status::ready) {
    first = running();
    if (!first) std::this_thread::sleep_for(5ms);
  }
  ASSERT_TRUE(first.has_value()) << "the trial never ran";
  std::optional<TrialRecord> later = first;
  while (later && later->trial.intermediate.empty() && later->heartbeat <= first->heartbeat + 0.2) {
    std::this_thread::sleep_for(5ms);
    later = running();
  }
  ASSERT_TRUE(later.has_value()) << "the epoch ended before a refresh";
  EXPECT_TRUE(later->trial.intermediate.empty()) << "still in its first epoch";
  EXPECT_GT(later->heartbeat, first->heartbeat + 0.2) << "refreshed during the epoch";
  EXPECT_EQ(study.get().progress.complete, 1);
}

TEST(Heartbeat, AnIntervalOfNoTimeIsRefused) {
  TempFolder folder;
  StudyOptions options;
  options.storage_path = folder.file("study.db");
  options.heartbeat_interval_seconds = 0;
  EXPECT_THROW(run_study(testing::fake_study_config(1, 1), options, testing::fake_parts(1)), ConfigError);
}

}  // namespace
}  // namespace mlptune::tune
