// Error types: every failure a user can cause carries a message that names the problem and the fix.
#pragma once

#include <stdexcept>
#include <string>

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

// A device (GPU) failure: out of memory, a failed launch. Fails one trial, not the program.
class DeviceError : public Error {
 public:
  using Error::Error;
};

}  // namespace mlptune
