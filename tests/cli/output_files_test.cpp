// The program's output files: paths checked before training, written whole or not at all, never
// over a device, a folder or a link's device; saved models read back with every hyperparameter.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <fstream>
#include <string>
#include <vector>

#include "cli/cli_test_support.hpp"
#include "mlptune/safetensors.hpp"

namespace {

using namespace mlptune::testing;

const std::string kResultLine = "result:";

// Every name in a folder, so a test can see that no temporary or ".partial" file was left.
std::vector<std::string> names_in(const fs::path& folder) {
  std::vector<std::string> names;
  for (const auto& entry : fs::directory_iterator(folder)) names.push_back(entry.path().filename().string());
  std::sort(names.begin(), names.end());
  return names;
}

bool is_character_device(const char* path) {
  struct stat status {};
  return ::stat(path, &status) == 0 && S_ISCHR(status.st_mode);
}

// Runs `script` in a private mount namespace with a 64 KiB tmpfs at `mount_point`, as a full disk.
// False when this process may not make one (not root, or no unshare).
bool run_on_small_tmpfs(const fs::path& mount_point, const std::string& script, ProgramRun& run) {
  if (::geteuid() != 0 || std::system("unshare -m true 2>/dev/null") != 0) return false;
  fs::create_directories(mount_point);
  const std::string command = "unshare -m sh -c 'mount -t tmpfs -o size=64k none " + mount_point.string() + " && " +
                              script + "; echo status=$?; ls -a " + mount_point.string() + "' 2>&1";
  FILE* pipe = popen(command.c_str(), "r");
  if (pipe == nullptr) return false;
  std::array<char, 4096> buffer{};
  while (std::fgets(buffer.data(), buffer.size(), pipe) != nullptr) run.output += buffer.data();
  run.status = pclose(pipe) == 0 ? 0 : -1;
  return true;
}

TEST_F(Cli, SaveRefusesADeviceAndLeavesItADevice) {
  ASSERT_TRUE(is_character_device("/dev/full"));
  const ProgramRun run = run_mlptune(kSmallRun + " --save /dev/full");
  EXPECT_EQ(run.status, 2) << run.output;
  EXPECT_NE(run.output.find("--save /dev/full: is not a regular file"), std::string::npos) << run.output;
  EXPECT_EQ(run.output.find(kResultLine), std::string::npos) << "refused before training:\n" << run.output;
  EXPECT_TRUE(is_character_device("/dev/full"));
}

TEST_F(Cli, MetricsRefusesADevice) {
  const ProgramRun run = run_mlptune(kSmallRun + " --metrics /dev/full");
  EXPECT_EQ(run.status, 2) << run.output;
  EXPECT_NE(run.output.find("--metrics /dev/full: is not a regular file"), std::string::npos) << run.output;
  EXPECT_TRUE(is_character_device("/dev/full"));
}

TEST_F(Cli, SaveRefusesALinkToADeviceAndKeepsTheLink) {
  fs::create_symlink("/dev/full", path("link.safetensors"));
  const ProgramRun run = run_mlptune(kSmallRun + " --save " + path("link.safetensors"));
  EXPECT_EQ(run.status, 2) << run.output;
  EXPECT_NE(run.output.find("a link to /dev/full"), std::string::npos) << run.output;
  EXPECT_TRUE(fs::is_symlink(path("link.safetensors")));
  EXPECT_TRUE(is_character_device("/dev/full"));
}

TEST_F(Cli, SaveThroughALinkToAFileWritesTheFileAndKeepsTheLink) {
  fs::create_directories(path("models"));
  { std::ofstream(path("models/old.safetensors")) << "old"; }
  fs::create_symlink("models/old.safetensors", path("latest.safetensors"));
  const ProgramRun run = run_mlptune(kSmallRun + " --save " + path("latest.safetensors"));
  ASSERT_EQ(run.status, 0) << run.output;
  EXPECT_TRUE(fs::is_symlink(path("latest.safetensors")));
  EXPECT_EQ(mlptune::load_trial_state(path("models/old.safetensors")).model.hidden, std::vector<int>{16});
  EXPECT_EQ(names_in(path("models")), std::vector<std::string>{"old.safetensors"});
}

TEST_F(Cli, SaveToAFolderIsRefusedBeforeTrainingAndLeavesNothing) {
  fs::create_directories(path("out"));
  const ProgramRun run = run_mlptune(kSmallRun + " --save " + path("out"));
  EXPECT_EQ(run.status, 2) << run.output;
  EXPECT_NE(run.output.find("is a folder; give a file name inside it"), std::string::npos) << run.output;
  EXPECT_EQ(run.output.find(kResultLine), std::string::npos) << run.output;
  EXPECT_EQ(names_in(folder_), std::vector<std::string>{"out"});
  EXPECT_TRUE(names_in(path("out")).empty());
}

TEST_F(Cli, MissingOutputFoldersAreFoundBeforeTraining) {
  for (const std::string flag : {"--save", "--metrics"}) {
    const ProgramRun run = run_mlptune(kSmallRun + " " + flag + " " + path("missing/file.json"));
    EXPECT_EQ(run.status, 2) << run.output;
    EXPECT_NE(run.output.find(flag + " " + path("missing/file.json") + ": the folder"), std::string::npos)
        << run.output;
    EXPECT_NE(run.output.find("mkdir -p"), std::string::npos) << run.output;
    EXPECT_EQ(run.output.find(kResultLine), std::string::npos) << "found before training:\n" << run.output;
  }
}

TEST_F(Cli, SaveAndMetricsMustBeDifferentFiles) {
  const ProgramRun run = run_mlptune(kSmallRun + " --save " + path("x") + " --metrics " + path("x"));
  EXPECT_EQ(run.status, 2) << run.output;
  EXPECT_NE(run.output.find("the same file"), std::string::npos) << run.output;
}

// A file-size limit makes every write past it fail (EFBIG), as a disk that fills part-way does:
// the run says so, exits non-zero and leaves neither a truncated file nor a temporary one.
TEST_F(Cli, AWriteThatFailsPartWayLeavesNoFile) {
  const std::string limited = "ulimit -f 8 && " + std::string(MLPTUNE_BINARY) + " ";  // 8 KiB
  const std::string train = "train --dataset digits --backend cpu --quiet ";
  // A model of 64·256 + 256 + 256·10 + 10 floats (76 KB), and 200 epochs of JSON metrics (60 KB).
  for (const std::string run : {"--hidden 256 --epochs 1 --save " + path("model.safetensors"),
                                "--hidden 4 --epochs 200 --metrics " + path("m.json")}) {
    const std::string command = "sh -c '" + limited + train + run + "' 2>&1";
    FILE* pipe = popen(command.c_str(), "r");
    ASSERT_NE(pipe, nullptr);
    std::string output;
    std::array<char, 4096> buffer{};
    while (std::fgets(buffer.data(), buffer.size(), pipe) != nullptr) output += buffer.data();
    const int status = pclose(pipe);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 2) << output;
    EXPECT_NE(output.find("file-size limit"), std::string::npos) << output;
    EXPECT_NE(output.find("nothing was written"), std::string::npos) << output;
    EXPECT_TRUE(names_in(folder_).empty()) << run;
  }
}

TEST_F(Cli, AFullDiskLeavesNoFileAndSaysSo) {
  const fs::path disk = folder_ / "disk";
  const std::string program = std::string(MLPTUNE_BINARY) +
                              " train --dataset digits --hidden 256 --epochs 1 --backend cpu --quiet --save " +
                              (disk / "model.safetensors").string();
  ProgramRun run;
  if (!run_on_small_tmpfs(disk, program, run)) GTEST_SKIP() << "needs root and unshare for a small tmpfs";
  EXPECT_NE(run.output.find("no space left on the device"), std::string::npos) << run.output;
  EXPECT_NE(run.output.find("status=2"), std::string::npos) << run.output;
  EXPECT_EQ(run.output.find("model.safetensors\n"), std::string::npos) << "no file on the full disk:\n" << run.output;
  EXPECT_EQ(run.output.find(".tmp-"), std::string::npos) << "no temporary file either:\n" << run.output;
}

TEST_F(Cli, SummaryOfASavedModelShowsEverySavedHyperparameter) {
  ASSERT_EQ(run_mlptune(kSmallRun + " --save " + path("model.safetensors")).status, 0);
  const ProgramRun run = run_mlptune("summary " + path("model.safetensors"));
  ASSERT_EQ(run.status, 0) << run.output;
  const std::size_t section = run.output.find("Hyperparameters (as saved)");
  ASSERT_NE(section, std::string::npos) << run.output;
  for (const char* line : {"  lr               0.01\n", "  epochs           2\n", "  optimizer        \"adam\"\n",
                           "  batch_size       128\n"})
    EXPECT_NE(run.output.find(line, section), std::string::npos) << line << "\n" << run.output;
}

TEST_F(Cli, ANonSafetensorsFileIsCalledThat) {
  { std::ofstream(path("notes.txt")) << "these are my notes, not a model\n"; }
  for (const std::string command : {"summary " + path("notes.txt"), kSmallRun + " --init-from " + path("notes.txt")}) {
    const ProgramRun run = run_mlptune(command);
    EXPECT_EQ(run.status, 2) << run.output;
    EXPECT_NE(run.output.find("notes.txt: is not a safetensors file"), std::string::npos) << run.output;
    EXPECT_EQ(run.output.find("exceeds the file size"), std::string::npos) << run.output;
  }
}

TEST_F(Cli, InitFromRefusesNonFiniteWeightsNamingTheTensor) {
  ASSERT_EQ(run_mlptune(kSmallRun + " --save " + path("model.safetensors")).status, 0);
  mlptune::TrialState state = mlptune::load_trial_state(path("model.safetensors"));
  state.parameters[2].data[5] = std::nanf("");
  mlptune::save_trial_state(path("nan.safetensors"), state, false);
  const ProgramRun run = run_mlptune(kSmallRun + " --init-from " + path("nan.safetensors"));
  EXPECT_EQ(run.status, 2) << run.output;
  EXPECT_NE(run.output.find("tensor 'layers.1.weight' holds NaN at index 5"), std::string::npos) << run.output;
  EXPECT_EQ(run.output.find("diverged"), std::string::npos) << run.output;
}

TEST_F(Cli, InitFromRefusesWeightsThatWouldOverflowTraining) {
  ASSERT_EQ(run_mlptune(kSmallRun + " --save " + path("model.safetensors")).status, 0);
  mlptune::TrialState state = mlptune::load_trial_state(path("model.safetensors"));
  for (float& weight : state.parameters[0].data) weight *= 1e20f;  // finite, but far beyond a trained model's
  mlptune::save_trial_state(path("huge.safetensors"), state, false);
  const ProgramRun run = run_mlptune(kSmallRun + " --init-from " + path("huge.safetensors"));
  EXPECT_EQ(run.status, 2) << run.output;
  EXPECT_NE(run.output.find("layers.0.weight"), std::string::npos) << run.output;
  EXPECT_NE(run.output.find("beyond the range float32 training handles"), std::string::npos) << run.output;
  EXPECT_EQ(run.output.find("diverged"), std::string::npos) << run.output;

  // A trained model's own parameters pass.
  EXPECT_EQ(run_mlptune(kSmallRun + " --init-from " + path("model.safetensors")).status, 0);
}

}  // namespace
