// Runs a Python script that replays cases in Optuna: the script reads the cases (JSON) from its
// first argument and writes its answers (JSON) to its second. Shared by the tests that hold
// mlptune's pruners to Optuna's.
#pragma once

#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "temp_folder.hpp"

namespace mlptune::testing {

inline bool optuna_installed() {
  return std::system("python3 -c 'import optuna' > /dev/null 2>&1") == 0;
}

// Optuna's answers, or nullopt (with a test failure) where the script failed.
inline std::optional<nlohmann::json> replay_in_optuna(const char* script, const nlohmann::json& cases) {
  TempFolder folder;
  std::ofstream(folder.file("cases.json")) << cases.dump();
  std::ofstream(folder.file("replay.py")) << script;
  const std::string command = "python3 " + folder.file("replay.py").string() + " " +
                              folder.file("cases.json").string() + " " + folder.file("optuna.json").string();
  if (std::system(command.c_str()) != 0) {
    ADD_FAILURE() << "the Optuna replay failed: " << command;
    return std::nullopt;
  }
  std::ifstream in(folder.file("optuna.json"));
  return nlohmann::json::parse(in);
}

}  // namespace mlptune::testing
