// Error types: every failure a user can cause carries a message that names the problem and the fix.
#pragma once

#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>

namespace mlptune {

// A problem with user input (flags, config files, data files). The message is shown as is.
class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// A data file that cannot be read: the message starts with the path.
class DataError : public Error {
 public:
  using Error::Error;
};

// A hyperparameter or model setting out of range.
class ConfigError : public Error {
 public:
  using Error::Error;
};

// The command-line flag of a setting's canonical name: "batch_size" -> "--batch-size".
inline std::string flag_for(std::string_view setting) {
  std::string flag = "--";
  for (const char c : setting) flag += c == '_' ? '-' : c;
  return flag;
}

// One setting, named by its canonical name (lr, batch_size, validation_fraction), that breaks a
// requirement. what() names it as `mlptune train` spells it, "--lr must be > 0 and finite (got -1)";
// a study config names the same requirement at its YAML key, "study.yaml:4: parameters.lr: must be
// > 0 and finite (got -1)".
class SettingError : public ConfigError {
 public:
  SettingError(std::string setting, std::string requirement)
      : ConfigError(flag_for(setting) + " " + requirement),
        setting_(std::move(setting)),
        requirement_(std::move(requirement)) {}

  const std::string& setting() const noexcept { return setting_; }
  const std::string& requirement() const noexcept { return requirement_; }

 private:
  std::string setting_;
  std::string requirement_;
};

// A device (GPU) failure: out of memory, a failed launch. Fails one trial, not the program.
class DeviceError : public Error {
 public:
  using Error::Error;
};

}  // namespace mlptune
