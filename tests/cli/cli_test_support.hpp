// Running the mlptune program from a test: its exit status and output, and a fresh folder per test.
#pragma once

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "mlptune_binary.hpp"
#include "mlptune_source_dir.hpp"

namespace mlptune::testing {

namespace fs = std::filesystem;

struct ProgramRun {
  int status = -1;
  std::string output;  // stdout and stderr together
};

// Runs `mlptune ARGS` through the shell and captures its output and exit status.
inline ProgramRun run_mlptune(const std::string& args) {
  const std::string command = std::string(MLPTUNE_BINARY) + " " + args + " 2>&1";
  ProgramRun run;
  FILE* pipe = popen(command.c_str(), "r");
  if (pipe == nullptr) return run;
  std::array<char, 4096> buffer{};
  while (std::fgets(buffer.data(), buffer.size(), pipe) != nullptr) run.output += buffer.data();
  const int status = pclose(pipe);
  run.status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return run;
}

inline std::string read_file(const fs::path& path) {
  std::ifstream in(path);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

// A fixture with a fresh folder per test, removed afterwards.
class Cli : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto* test = ::testing::UnitTest::GetInstance()->current_test_info();
    folder_ = fs::temp_directory_path() / ("mlptune-" + std::string(test->test_suite_name()) + "-" + test->name() +
                                           "-" + std::to_string(::getpid()));
    fs::remove_all(folder_);
    fs::create_directories(folder_);
  }
  void TearDown() override { fs::remove_all(folder_); }
  std::string path(const std::string& name) const { return (folder_ / name).string(); }

  fs::path folder_;
};

// A small, fast training run: digits with one hidden layer on the CPU.
inline const std::string kSmallRun = "train --dataset digits --hidden 16 --lr 0.01 --epochs 2 --backend cpu --quiet";

}  // namespace mlptune::testing
