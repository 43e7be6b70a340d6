// Names of trial statuses, as reports and storage write them.
#include "mlptune/trial.hpp"

#include <string>

#include "nn/name_table.hpp"

namespace mlptune {
namespace {

constexpr detail::NameTable<TrialStatus, 5> kTrialStatusNames{"trial status",
                                                              {{{TrialStatus::running, "running"},
                                                                {TrialStatus::completed, "completed"},
                                                                {TrialStatus::stopped_early, "stopped_early"},
                                                                {TrialStatus::diverged, "diverged"},
                                                                {TrialStatus::failed, "failed"}}}};

}  // namespace

std::string to_string(TrialStatus status) {
  return std::string(kTrialStatusNames.name_of(status));
}

}  // namespace mlptune
