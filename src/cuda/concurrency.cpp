// The concurrency of a CUDA device and CUDA_DEVICE_MAX_CONNECTIONS.
#include "cuda/concurrency.hpp"

#include <algorithm>
#include <charconv>
#include <cstdlib>
#include <cstring>
#include <string>

namespace mlptune::cuda {

namespace {
constexpr const char* kConnectionsVariable = "CUDA_DEVICE_MAX_CONNECTIONS";
}  // namespace

int connections_for(const char* value) {
  if (value == nullptr) return kDefaultConnections;
  const char* end = value + std::strlen(value);
  long parsed = 0;
  const auto [stop, error] = std::from_chars(value, end, parsed);
  if (error != std::errc() || stop != end || parsed < 1) return kDefaultConnections;
  return int(std::min<long>(parsed, kMaxConnections));
}

int recommended_concurrency(int multiprocessors, int connections) {
  return std::clamp(multiprocessors / kSmsPerTrial, 1, std::clamp(connections, 1, kMaxConnections));
}

int prepare_connections() {
  const std::string ours = std::to_string(kMaxConnections);
  setenv(kConnectionsVariable, ours.c_str(), /*overwrite=*/0);  // POSIX: keeps a value already set
  return connections_for(std::getenv(kConnectionsVariable));
}

}  // namespace mlptune::cuda
