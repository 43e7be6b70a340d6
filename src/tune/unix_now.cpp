// The present as the storages record it (see unix_now.hpp): nothing else may live in this file.
#include "tune/unix_now.hpp"

#include <chrono>

namespace mlptune::tune {

double unix_now() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

}  // namespace mlptune::tune
