// Whether a process runs: for owners of trials and of temporary files left by a killed run.
#pragma once

#include <signal.h>

#include <cerrno>
#include <fstream>
#include <string>

namespace mlptune {

// A process that exists and is not a zombie (killed, but not yet reaped by its parent).
inline bool process_alive(int pid) {
  if (pid <= 0 || (::kill(pid, 0) != 0 && errno != EPERM)) return false;
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  if (!std::getline(stat, line)) return true;        // no /proc: kill() is all there is to go by
  const std::size_t end_of_name = line.rfind(") ");  // "pid (name) state ..."
  return end_of_name == std::string::npos || end_of_name + 2 >= line.size() || line[end_of_name + 2] != 'Z';
}

}  // namespace mlptune
