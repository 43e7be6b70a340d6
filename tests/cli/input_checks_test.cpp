// Bad input to the mlptune program: exit status 2 and a message that names what the user wrote
// (the flag, or FILE:LINE: key in a study) and the fix; never an internal name, never a silent change.
#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <string>

#include "cli/cli_test_support.hpp"
#include "cpu/blas_kernels.hpp"

namespace {

using namespace mlptune::testing;

bool contains(const std::string& text, const std::string& piece) {
  return text.find(piece) != std::string::npos;
}

// --- Data splits ---------------------------------------------------------------------------------

TEST_F(Cli, ASplitFractionOutOfRangeNamesTheFlagWithTheRangeHelpStates) {
  const ProgramRun run = run_mlptune(kSmallRun + " --validation-fraction nan");
  EXPECT_EQ(run.status, 2) << run.output;
  EXPECT_TRUE(contains(run.output, "mlptune: --validation-fraction must be in [0, 0.5] (got nan)")) << run.output;
  EXPECT_FALSE(contains(run.output, "validation_fraction")) << run.output;
  const ProgramRun help = run_mlptune("train --help");
  EXPECT_TRUE(contains(help.output, "held out for validation, in [0, 0.5]")) << help.output;
  EXPECT_TRUE(contains(help.output, "without a test split, in [0, 1)")) << help.output;
  const ProgramRun test = run_mlptune(kSmallRun + " --test-fraction 1");
  EXPECT_EQ(test.status, 2) << test.output;
  EXPECT_TRUE(contains(test.output, "mlptune: --test-fraction must be in [0, 1) (got 1)")) << test.output;
}

TEST_F(Cli, FractionsThatLeaveAFewTrainingRowsAreRefusedWithTheCounts) {
  const ProgramRun run = run_mlptune(kSmallRun + " --validation-fraction 0.9 --test-fraction 0.9");
  EXPECT_EQ(run.status, 2) << run.output;
  EXPECT_TRUE(contains(run.output,
                       "--validation-fraction must be in [0, 0.5] (got 0.9, which would split digits "
                       "into 18 train, 162 validation and 1617 test rows)"))
      << run.output;
  EXPECT_TRUE(contains(run.output, "lower it (the default is 0.1)")) << run.output;
  EXPECT_FALSE(contains(run.output, "result:")) << "nothing trained";
}

// --- A split that is not there ----------------------------------------------------------------------

TEST_F(Cli, AMissingSplitIsSaidOnceInsteadOfNanMetrics) {
  // Each epoch used to end "val loss nan  rmse nan" and the result "test loss nan  rmse nan".
  const ProgramRun run = run_mlptune(
      "train --dataset digits --hidden 16 --lr 0.01 --epochs 2 --backend cpu "
      "--validation-fraction 0 --test-fraction 0");
  ASSERT_EQ(run.status, 0) << run.output;
  EXPECT_TRUE(contains(run.output,
                       "no validation split (--validation-fraction 0): each epoch shows the training "
                       "loss only\nepoch 1/2  train loss "))
      << run.output;
  EXPECT_TRUE(contains(run.output, "; no test split (--test-fraction 0)\n")) << run.output;
  EXPECT_FALSE(contains(run.output, "nan")) << run.output;
  EXPECT_FALSE(contains(run.output, "val loss")) << run.output;
}

TEST_F(Cli, EarlyStoppingWithoutAValidationSplitIsRefused) {
  const ProgramRun run = run_mlptune(kSmallRun + " --early-stopping 3 --validation-fraction 0");
  EXPECT_EQ(run.status, 2) << run.output;
  EXPECT_TRUE(contains(run.output,
                       "mlptune: --early-stopping 3 watches the validation loss, but there is no "
                       "validation split (--validation-fraction 0): give --validation-fraction above 0, "
                       "or leave --early-stopping out"))
      << run.output;
}

// --- Numbers on the command line -------------------------------------------------------------------

// Runs `mlptune train` on digits with `flags` and expects exit status 2 with `message` in the output.
void expect_refused(const std::string& flags, const std::string& message) {
  const ProgramRun run = run_mlptune("train --dataset digits --backend cpu --quiet " + flags);
  EXPECT_EQ(run.status, 2) << flags << "\n" << run.output;
  EXPECT_TRUE(contains(run.output, message)) << flags << "\n" << run.output << "lacks: " << message;
  EXPECT_FALSE(contains(run.output, "Could not convert")) << run.output;
}

TEST_F(Cli, AnIntegerBeyondItsTypeNamesTheFlagTheValueAndTheRange) {
  expect_refused("--epochs 2147483648", "--epochs: must be a whole number in [1, 2147483647] (got 2147483648)");
  expect_refused("--batch-size 99999999999",
                 "--batch-size: must be a whole number in [1, 2147483647] (got 99999999999)");
  expect_refused("--step-epochs -2147483649", "--step-epochs: must be a whole number in [1, 2147483647]");
  expect_refused("--early-stopping 1e3", "--early-stopping: must be a whole number in [0, 2147483647] (got 1e3)");
  expect_refused("--device 99999999999", "--device: must be a whole number in [0, 2147483647]");
  expect_refused("--depth 1 --width 4294967296", "--width: must be a whole number in [1, 2147483647]");
}

TEST_F(Cli, ANonNumberForARealFlagSaysWhatANumberLooksLike) {
  expect_refused("--lr fast", "--lr: must be a number that a double holds, e.g. 0.001 or 1e-3 (got fast)");
  expect_refused("--weight-decay 1e999", "--weight-decay: must be a number that a double holds");
}

TEST_F(Cli, ASeedOutsideSixtyFourBitsIsRefusedNotWrapped) {
  // Both used to become 2^64 - 1 without a word.
  expect_refused("--seed -1", "--seed: must be a whole number in [0, 18446744073709551615] (got -1)");
  expect_refused("--seed 99999999999999999999999",
                 "--seed: must be a whole number in [0, 18446744073709551615] (got 99999999999999999999999)");
  expect_refused("--split-seed -1", "--split-seed: must be a whole number in [0, 18446744073709551615] (got -1)");
  EXPECT_EQ(run_mlptune(kSmallRun + " --seed 18446744073709551615").status, 0);
}

// mlptune starts itself again with OpenBLAS's AVX-512 kernels where the library chose others on an
// AVX-512 CPU (cpu/blas_kernels.hpp), names the kernels it runs, and keeps a user's OPENBLAS_CORETYPE.
TEST_F(Cli, TheCpuBackendNamesItsBlasKernelsAndKeepsTheUsersChoice) {
  const std::string run = "train --dataset digits --hidden 16 --epochs 1 --backend cpu";
  const mlptune::cpu::BlasChoice here = mlptune::cpu::current_blas_choice();
  if (!here.user_chose) {
    const std::string kernels = mlptune::cpu::better_openblas_coretype(here).value_or(std::string(here.loaded_core));
    EXPECT_NE(run_mlptune(run).output.find("cpu (OpenBLAS " + kernels + " kernels"), std::string::npos) << kernels;
  }
  const char* before = std::getenv("OPENBLAS_CORETYPE");
  const std::string saved = before != nullptr ? before : "";
  setenv("OPENBLAS_CORETYPE", "Haswell", 1);
  const ProgramRun chosen = run_mlptune(run);
  if (before != nullptr)
    setenv("OPENBLAS_CORETYPE", saved.c_str(), 1);
  else
    unsetenv("OPENBLAS_CORETYPE");
  EXPECT_EQ(chosen.status, 0) << chosen.output;
  EXPECT_NE(chosen.output.find("cpu (OpenBLAS Haswell kernels"), std::string::npos) << chosen.output;
}

TEST_F(Cli, ThreadsBeyondWhatOpenBlasRunsAreRefusedWithTheLimit) {
  // OpenBLAS would quietly run its build's limit (MAX_THREADS) instead.
  const ProgramRun help = run_mlptune("train --help");
  const std::string before = "else 1), at most ";
  const std::size_t at = help.output.find(before);
  ASSERT_NE(at, std::string::npos) << help.output;
  const std::size_t first = at + before.size();
  const std::string limit = help.output.substr(first, help.output.find(' ', first) - first);
  ASSERT_GT(std::stoll(limit), 0) << limit;
  expect_refused("--threads 100000", "--threads: must be a whole number in [0, " + limit + "] (got 100000)");
  EXPECT_EQ(run_mlptune(kSmallRun + " --threads " + limit).status, 0);
}

TEST_F(Cli, PrecisionSuggestsOnlyWhatRuns) {
  // fp16 used to suggest bf16, which was then "not supported yet".
  expect_refused("--precision fp16", "mlptune: unknown precision 'fp16': use fp32 or tf32\n");
  expect_refused("--precision bf16", "mlptune: precision bf16 is not supported yet: use fp32 or tf32\n");
}

// --- The model's shape -----------------------------------------------------------------------------

TEST_F(Cli, HiddenTogetherWithDepthAndWidthIsRefusedNamingBothForms) {
  // --hidden 16 used to be ignored: the layers were --depth 2 --width 10.
  expect_refused("--hidden 16 --depth 2 --width 10",
                 "mlptune: --hidden 16 and --depth 2 --width 10 both give the hidden layers; write the layers either "
                 "as --depth 2 --width 10 or as --hidden 10,10, not both");
  const ProgramRun depth_only =
      run_mlptune("train --dataset digits --epochs 1 --backend cpu --quiet --depth 2 --width 10");
  EXPECT_EQ(depth_only.status, 0) << "--hidden's default is no choice of the user's\n" << depth_only.output;
}

// --- Study configs ---------------------------------------------------------------------------------

constexpr const char* kStudyHead = "method: random\nrun_cap: 1\nmlptune: {dataset: iris, backend: cpu}\nparameters:\n";

TEST_F(Cli, AStudyNameThatIsNotUtf8IsRefusedBeforeAnyTrialRuns) {
  // It used to fail as "internal error: [json.exception.type_error.316] ..." once the trial had run.
  std::ofstream(path("study.yaml")) << kStudyHead << "  epochs: {value: 1}\n  \"l\xB2r\": {value: 0.1}\n";
  const ProgramRun run = run_mlptune("tune " + path("study.yaml") + " --storage " + path("study.db") + " --quiet");
  EXPECT_EQ(run.status, 2) << run.output;
  EXPECT_TRUE(contains(run.output, "study.yaml:6: parameters.l\\xB2r: the key 'l\\xB2r' is not UTF-8 text"))
      << run.output;
  EXPECT_FALSE(contains(run.output, "internal error")) << run.output;
  EXPECT_FALSE(fs::exists(path("study.db"))) << "nothing stored";
}

TEST_F(Cli, AStudyConstantOutOfRangeNamesTheFileLineAndKey) {
  std::ofstream(path("study.yaml")) << kStudyHead << "  epochs: {value: 1}\n  lr: {value: -1}\n";
  const ProgramRun run = run_mlptune("tune " + path("study.yaml") + " --storage " + path("study.db") + " --quiet");
  EXPECT_EQ(run.status, 2) << run.output;
  EXPECT_TRUE(
      contains(run.output, "mlptune: " + path("study.yaml") + ":6: parameters.lr: must be > 0 and finite (got -1)"))
      << run.output;
  EXPECT_FALSE(contains(run.output, "--lr")) << run.output;
}

TEST_F(Cli, ASampledValueOutOfRangeNamesTheParameterNotAFlag) {
  // A normal distribution has no bounds to check when the config is read; this one draws below 0.
  std::ofstream(path("study.yaml")) << kStudyHead
                                    << "  epochs: {value: 1}\n  lr: {distribution: normal, mu: -5, sigma: 0.1}\n";
  const ProgramRun run = run_mlptune("tune " + path("study.yaml") + " --storage " + path("study.db") + " --quiet");
  EXPECT_EQ(run.status, 2) << run.output;
  EXPECT_TRUE(contains(run.output, "parameters.lr: must be > 0 and finite (got -")) << run.output;
  EXPECT_TRUE(contains(run.output, "narrow the distribution")) << run.output;
  EXPECT_FALSE(contains(run.output, "--lr")) << run.output;
}

}  // namespace
