// The study keeps the database off the trials' path: a slow write of one trial's value holds up no
// trial's training, and values still reach the storage in order before results are recorded.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <thread>

#include "tune/study_test_support.hpp"

namespace mlptune::tune {
namespace {

using testing::fake_parts;
using testing::fake_study_config;
using testing::TempFolder;

// How many epochs every trainer had trained when the slow write began and when it ended (kept
// by the test: the study owns, and destroys, the storage).
struct SlowWriteWindow {
  std::atomic<int> epochs_at_start{-1};
  std::atomic<int> epochs_at_end{-1};
};

// A storage that passes every call to SQLite, but holds trial 0's first value until `epochs`
// reaches `release_at` (at most `limit`, so that a study that stops training fails the test
// rather than hanging it).
class SlowFirstWrite final : public testing::ForwardingStorage {
 public:
  SlowFirstWrite(std::unique_ptr<Storage> inner, std::shared_ptr<std::atomic<int>> epochs, int release_at,
                 std::chrono::seconds limit, std::shared_ptr<SlowWriteWindow> window)
      : ForwardingStorage(std::move(inner)),
        epochs_(std::move(epochs)),
        release_at_(release_at),
        limit_(limit),
        window_(std::move(window)) {}

  bool record_intermediate(const TrialClaim& claim, int epoch, double value) override {
    if (claim.number == 0 && epoch == 1) {
      window_->epochs_at_start = epochs_->load();
      const auto deadline = std::chrono::steady_clock::now() + limit_;
      while (epochs_->load() < release_at_ && std::chrono::steady_clock::now() < deadline)
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
      window_->epochs_at_end = epochs_->load();
    }
    return ForwardingStorage::record_intermediate(claim, epoch, value);
  }

 private:
  std::shared_ptr<std::atomic<int>> epochs_;
  int release_at_;
  std::chrono::seconds limit_;
  std::shared_ptr<SlowWriteWindow> window_;
};

// Two trials of 12 epochs of 10 ms on two slots. Trial 0's first value is written only once
// every one of the 24 epochs has trained: both trials go on training meanwhile. (Reported under
// the executor's lock, as before, the write stopped every slot, and waited out its limit.)
TEST(StudyConcurrency, ASlowStorageWriteHoldsUpNoTrialsTraining) {
  TempFolder folder;
  StudyOptions options;
  options.storage_path = folder.file("study.db");
  std::shared_ptr<std::atomic<int>> epochs;
  StudyParts parts = fake_parts(12, 10, 2, 0.1, &epochs);
  const auto window = std::make_shared<SlowWriteWindow>();
  parts.storage = std::make_unique<SlowFirstWrite>(open_sqlite_storage(options.storage_path), epochs, 24,
                                                   std::chrono::seconds(60), window);
  const StudyResult result = run_study(fake_study_config(2, 12), options, std::move(parts));
  ASSERT_GE(window->epochs_at_start.load(), 1);
  EXPECT_EQ(window->epochs_at_end.load(), 24) << "epochs trained by the end of trial 0's first write";
  EXPECT_EQ(result.progress.complete, 2);
  auto stored = open_sqlite_storage(options.storage_path);
  for (const auto& record : stored->trial_records(stored->find_study("fake")->id))
    EXPECT_EQ(record.trial.intermediate.size(), 12u) << "every value reached the storage";
}

}  // namespace
}  // namespace mlptune::tune
