// A slow database holds up claims and finishes only: while one slot claims or ends a trial (a
// SQLite fsync, a PostgreSQL round trip), the trial running on another slot goes on reporting
// epochs and training.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <thread>

#include "tune/study_test_support.hpp"

namespace mlptune::tune {
namespace {

using testing::fake_study_config;
using testing::TempFolder;

// Trial 0 trains until the study stops; every other trial trains 2 epochs.
class OneLongTrialSampler final : public Sampler {
 public:
  Params sample(const SearchSpace& space, std::span<const FrozenTrial> trials, Goal goal, int number) override {
    Params params = inner_.sample(space, trials, goal, number);
    params["epochs"] = std::int64_t(number == 0 ? kLongEpochs : 2);
    return params;
  }
  static constexpr int kLongEpochs = 1'000'000;

 private:
  testing::FakeSampler inner_;
};

// What the slow storage saw, kept by the test (the study owns, and destroys, the storage).
struct SlowCallLog {
  std::atomic<int> beside_epochs{0};    // claims and finishes during which trial 0 reported and trained on
  std::atomic<int> blocking_epochs{0};  // ... during which it did not, within a bound far above what it needs
};

// Every claim and every finish takes 200 ms, as a slow database would; then, while the call is
// still in progress, it waits for trial 0 (on the other slot) to train two more epochs: one epoch
// report passed through the study and training went on. The first claim (trial 0's own) is not
// judged: nothing else runs yet. When trial 2 has ended, the study is asked to stop, and trial 0
// ends at its next epoch, saved.
class SlowClaimsAndFinishes final : public testing::ForwardingStorage {
 public:
  SlowClaimsAndFinishes(std::unique_ptr<Storage> inner, std::shared_ptr<std::atomic<int>> epochs,
                        std::shared_ptr<StopRequest> stop, std::shared_ptr<SlowCallLog> log)
      : ForwardingStorage(std::move(inner)), epochs_(std::move(epochs)), stop_(std::move(stop)), log_(std::move(log)) {}

  std::optional<TrialRecord> claim_trial(int study_id, const TrialOwner& owner, int run_cap,
                                         const SampleTrialFn& sample) override {
    if (claims_++ > 0) slow_call();
    return ForwardingStorage::claim_trial(study_id, owner, run_cap, sample);
  }
  bool finish_trial(const TrialClaim& claim, RunState state, std::optional<double> value,
                    const std::string& message) override {
    slow_call();
    const bool finished = ForwardingStorage::finish_trial(claim, state, value, message);
    if (claim.number == 2) stop_->request(StopCause::interrupt);
    return finished;
  }

 private:
  void slow_call() {
    const int before = epochs_->load();
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    // Two epochs need a few milliseconds; the bound only keeps a study that holds its epoch reports
    // behind this call from waiting for ever.
    const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (epochs_->load() < before + 2 && std::chrono::steady_clock::now() < give_up)
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    ++(epochs_->load() >= before + 2 ? log_->beside_epochs : log_->blocking_epochs);
  }

  std::shared_ptr<std::atomic<int>> epochs_;
  std::shared_ptr<StopRequest> stop_;
  std::shared_ptr<SlowCallLog> log_;
  std::atomic<int> claims_{0};
};

// Two slots: trial 0 trains on one while trials 1 and 2 are claimed, trained and ended on the
// other. Their two claims and two finishes each let trial 0 train on (held behind the study's lock,
// as before, its epoch reports waited for every one of them).
TEST(StudySlowClaims, AnotherTrialsEpochsGoOnWhileATrialIsClaimedOrEnded) {
  TempFolder folder;
  StudyOptions options;
  options.storage_path = folder.file("study.db");
  options.stop = std::make_shared<StopRequest>();
  StudyParts parts;
  auto backend = std::make_unique<testing::FakeBackend>(/*sleep_ms_per_epoch=*/1, /*concurrency=*/2);
  const std::shared_ptr<std::atomic<int>> epochs = backend->epochs_trained;
  parts.backend = std::move(backend);
  parts.data = testing::tiny_data();
  parts.sampler = std::make_unique<OneLongTrialSampler>();
  const auto log = std::make_shared<SlowCallLog>();
  parts.storage =
      std::make_unique<SlowClaimsAndFinishes>(open_sqlite_storage(options.storage_path), epochs, options.stop, log);

  const StudyResult result =
      run_study(fake_study_config(3, OneLongTrialSampler::kLongEpochs), options, std::move(parts));

  EXPECT_EQ(log->blocking_epochs.load(), 0) << "claims or finishes during which trial 0's epochs stood still";
  EXPECT_EQ(log->beside_epochs.load(), 4) << "the claims of trials 1 and 2 and their finishes";
  EXPECT_EQ(result.progress.complete, 2);
  EXPECT_EQ(result.suspended, std::vector<int>{0});
}

}  // namespace
}  // namespace mlptune::tune
