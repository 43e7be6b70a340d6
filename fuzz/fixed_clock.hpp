// For the harnesses that store trials: a clock that stands still and an owner that is no process,
// so that the rows they write, and the paths a fixed run takes through them, are the same on every
// run and machine. Include it in exactly one file of a harness: it defines the storages' clock
// (tune/unix_now.hpp), which then replaces the library's own.
#pragma once

#include "mlptune/tune/storage.hpp"
#include "tune/unix_now.hpp"

namespace mlptune::tune {

// A millisecond later at every reading, from 2024-01-01T00:00:00Z.
double unix_now() {
  static double now = 1704067200.0;
  return now += 0.001;
}

}  // namespace mlptune::tune

namespace mlptune::fuzz {

inline tune::TrialOwner fixed_owner() {
  return tune::TrialOwner{"fuzz-host", 1, "fuzz-owner"};
}

}  // namespace mlptune::fuzz
