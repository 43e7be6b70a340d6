// Bad input to the mlptune program: exit status 2 and a message that names what the user wrote
// (the flag, or FILE:LINE: key in a study) and the fix; never an internal name, never a silent change.
#include <gtest/gtest.h>

#include <fstream>
#include <string>

#include "cli/cli_test_support.hpp"

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

}  // namespace
