// Sizes a user writes, through the program: refused within a second and without a large allocation
// (the child's wall time and peak memory, bounded loosely), and accepted where the model fits.
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <string>
#include <vector>

#include "cli_test_support.hpp"

namespace mlptune::testing {
namespace {

// A run of the program with what it cost: wall time and its peak resident memory.
struct MeasuredRun {
  int status = -1;
  std::string output;  // stdout and stderr together
  double seconds = 0.0;
  double peak_megabytes = 0.0;
};

// Runs `mlptune ARGS...` (no shell) and measures it; the peak is the child's own (wait4's rusage).
MeasuredRun run_measured(const std::vector<std::string>& args) {
  MeasuredRun run;
  int output_pipe[2];
  if (pipe(output_pipe) != 0) return run;
  const auto start = std::chrono::steady_clock::now();
  const pid_t child = fork();
  if (child == 0) {
    dup2(output_pipe[1], STDOUT_FILENO);
    dup2(output_pipe[1], STDERR_FILENO);
    close(output_pipe[0]);
    close(output_pipe[1]);
    std::vector<char*> argv{const_cast<char*>(MLPTUNE_BINARY)};
    for (const std::string& arg : args) argv.push_back(const_cast<char*>(arg.c_str()));
    argv.push_back(nullptr);
    execv(MLPTUNE_BINARY, argv.data());
    _exit(127);
  }
  close(output_pipe[1]);
  char buffer[4096];
  for (ssize_t got; (got = read(output_pipe[0], buffer, sizeof buffer)) > 0;) run.output.append(buffer, size_t(got));
  close(output_pipe[0]);
  int status = 0;
  rusage usage{};
  wait4(child, &status, 0, &usage);
  run.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  run.peak_megabytes = double(usage.ru_maxrss) / 1024.0;  // ru_maxrss is in KiB on Linux
  run.status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return run;
}

bool contains(const std::string& text, const std::string& piece) {
  return text.find(piece) != std::string::npos;
}

// Refusals read a few KB of YAML and do arithmetic; building what the sizes describe took 5 s and
// 1.3 GB (depth 1e8). The bounds are on what a run costs beyond a refusal that builds nothing (the
// program's own start: a CUDA build maps its libraries, about 200 MB), far above what the checks
// need and far below what building cost.
constexpr double kRefusalSeconds = 2.0;
constexpr double kRefusalMegabytes = 100.0;

constexpr const char* kStudyHead = "method: random\nrun_cap: 1\nmlptune: {dataset: iris, backend: cpu}\nparameters:\n";

// What the program costs to start and refuse a study at once (an unknown method), measured beside
// each run it is compared with.
MeasuredRun run_baseline(const fs::path& folder) {
  const std::string yaml = (folder / "baseline.yaml").string();
  std::ofstream(yaml) << "method: nonsense\nparameters:\n  epochs: {value: 1}\n";
  return run_measured({"tune", yaml, "--quiet"});
}

// Expects `run` to have cost at most the bounds above beyond the baseline.
void expect_cheap(const MeasuredRun& run, const MeasuredRun& baseline) {
  EXPECT_EQ(baseline.status, 2) << baseline.output;
  EXPECT_LT(run.seconds - baseline.seconds, kRefusalSeconds) << run.output;
  EXPECT_LT(run.peak_megabytes - baseline.peak_megabytes, kRefusalMegabytes)
      << run.peak_megabytes << " MB against " << baseline.peak_megabytes << " MB to start: " << run.output;
}

TEST_F(Cli, AStudyDepthRangeToAHundredMillionIsRefusedFastAndSmall) {
  std::ofstream(path("deep.yaml")) << kStudyHead << "  width: {value: 8}\n  depth: {min: 1, max: 100000000}\n";
  const MeasuredRun run = run_measured({"tune", path("deep.yaml"), "--quiet"});
  EXPECT_EQ(run.status, 2) << run.output;
  EXPECT_TRUE(
      contains(run.output, "deep.yaml:6: parameters.depth.max: must be a number of hidden layers in [0, 100000]"))
      << run.output;
  expect_cheap(run, run_baseline(folder_));
  EXPECT_FALSE(fs::exists(path("deep.db"))) << "nothing stored";
}

TEST_F(Cli, AStudyWhoseLargestModelIsTooLargeIsRefusedBeforeAnyFile) {
  std::ofstream(path("wide.yaml")) << kStudyHead << "  depth: {min: 1, max: 100000}\n  width: {values: [8, 4096]}\n";
  const MeasuredRun run = run_measured({"tune", path("wide.yaml"), "--quiet"});
  EXPECT_EQ(run.status, 2) << run.output;
  EXPECT_TRUE(contains(run.output,
                       "wide.yaml:5: parameters.depth.max: depth up to 100000 with width up to 4096 makes "
                       "models of up to 1678114430977 parameters"))
      << run.output;
  expect_cheap(run, run_baseline(folder_));
  EXPECT_FALSE(fs::exists(path("wide.db"))) << "nothing stored";
}

TEST_F(Cli, ANormalDistributionOnAWholeNumberSettingIsRefusedBeforeAnyFile) {
  // It used to fail at the first trial ("must be a whole number"), after the study was stored.
  std::ofstream(path("normal.yaml")) << kStudyHead << "  epochs: {distribution: normal, mu: 3, sigma: 1}\n";
  const ProgramRun run = run_mlptune("tune " + path("normal.yaml") + " --quiet");
  EXPECT_EQ(run.status, 2) << run.output;
  EXPECT_TRUE(contains(run.output,
                       "normal.yaml:5: parameters.epochs.distribution: normal draws real numbers without "
                       "bounds, but epochs takes whole numbers; use q_normal with a whole q (such as q: 1)"))
      << run.output;
  EXPECT_EQ(std::distance(fs::directory_iterator(folder_), fs::directory_iterator()), 1) << "only normal.yaml";
}

TEST_F(Cli, AValuesListOfAMillionChoicesIsReadInAFewSeconds) {
  // Compared pairwise, 1e5 choices took 8.7 s and 1e6 over 120 s. The repeat at the end is found
  // after every choice was read, so the refusal times the whole list.
  std::ofstream file(path("values.yaml"));
  file << kStudyHead << "  epochs: {value: 1}\n  batch_size:\n    values: [";
  for (int i = 1; i <= 1000000; ++i) file << i << ", ";
  file << "1]\n";
  file.close();
  const MeasuredRun run = run_measured({"tune", path("values.yaml"), "--quiet"});
  EXPECT_EQ(run.status, 2) << run.output;
  EXPECT_TRUE(contains(run.output, "values.yaml:7: parameters.batch_size.values: choice '1' is listed twice"))
      << run.output;
  // Read in 8 s on a loaded 2-core machine; compared pairwise, 1e6 choices would take about 870 s.
  EXPECT_LT(run.seconds, 300.0);
}

TEST_F(Cli, ConcurrencyBeyondItsLimitIsRefusedBeforeAnyFile) {
  std::ofstream(path("many.yaml")) << "method: random\nmlptune: {dataset: iris, backend: cpu, concurrency: 100000}\n"
                                   << "parameters:\n  epochs: {value: 1}\n";
  const MeasuredRun run = run_measured({"tune", path("many.yaml"), "--quiet"});
  EXPECT_EQ(run.status, 2) << run.output;
  EXPECT_TRUE(contains(run.output, "many.yaml:2: mlptune.concurrency: must be a whole number in [0, 1024], got 100000"))
      << run.output;
  EXPECT_LT(run.seconds, kRefusalSeconds) << run.output;
  EXPECT_FALSE(fs::exists(path("many.db"))) << "nothing stored";

  const ProgramRun flag = run_mlptune("tune " + path("many.yaml") + " --concurrency 100000 --quiet");
  EXPECT_EQ(flag.status, 2) << flag.output;
  EXPECT_TRUE(contains(flag.output, "--concurrency")) << flag.output;
  EXPECT_TRUE(contains(flag.output, "[1, 1024]")) << flag.output;
}

TEST_F(Cli, TrainDepthBeyondTheLayerLimitIsRefusedAtTheFlag) {
  const MeasuredRun run = run_measured({"train", "--dataset", "iris", "--depth", "100000000", "--width", "8"});
  EXPECT_EQ(run.status, 2) << run.output;
  EXPECT_TRUE(contains(run.output, "--depth")) << run.output;
  EXPECT_TRUE(contains(run.output, "[0, 100000]")) << run.output;
  expect_cheap(run, run_baseline(folder_));
}

TEST_F(Cli, TrainDepth40000OfWidth8Trains) {
  // 2,879,995 parameters: the same model a study with depth up to 40000 and width 8 trains.
  const ProgramRun run = run_mlptune("train --dataset iris --depth 40000 --width 8 --epochs 1 --backend cpu");
  EXPECT_EQ(run.status, 0) << run.output;
  EXPECT_TRUE(contains(run.output, "2,879,995")) << run.output;
}

TEST_F(Cli, ABatchSizeBeyondTheRowsSizesBuffersByTheRows) {
  // Buffers sized by the batch size asked for 2^31 rows and failed "out of host memory" on 150.
  const MeasuredRun run =
      run_measured({"train", "--dataset", "iris", "--batch-size", "2147483647", "--epochs", "2", "--backend", "cpu"});
  EXPECT_EQ(run.status, 0) << run.output;
  const MeasuredRun baseline = run_baseline(folder_);
  EXPECT_LT(run.peak_megabytes - baseline.peak_megabytes, kRefusalMegabytes) << run.output;
}

// AddressSanitizer keeps freed memory in quarantine (up to 256 MB), so a child built with it grows
// by what each epoch frees: its peak says nothing about what is kept.
#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define MLPTUNE_ADDRESS_SANITIZER 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__)
#define MLPTUNE_ADDRESS_SANITIZER 1
#endif

TEST_F(Cli, TrainingManyEpochsKeepsNothingPerEpochWithoutMetrics) {
#ifdef MLPTUNE_ADDRESS_SANITIZER
  GTEST_SKIP() << "peak memory under AddressSanitizer includes its quarantine";
#endif
  // A record per epoch grew the run by about 130 B an epoch: 60,000 epochs kept about 8 MB more.
  const auto run_epochs = [](const std::string& epochs) {
    return run_measured({"train", "--dataset", "iris", "--hidden", "1", "--batch-size", "150", "--epochs", epochs,
                         "--backend", "cpu", "--quiet"});
  };
  const MeasuredRun few = run_epochs("1000");
  const MeasuredRun many = run_epochs("60000");
  ASSERT_EQ(few.status, 0) << few.output;
  ASSERT_EQ(many.status, 0) << many.output;
  EXPECT_LT(many.peak_megabytes - few.peak_megabytes, 3.0) << few.peak_megabytes << " MB, then " << many.peak_megabytes;
}

}  // namespace
}  // namespace mlptune::testing
