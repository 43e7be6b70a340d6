// TrainConfig: validation with flag names and ranges, the learning-rate schedule, enum names.
#include "mlptune/train_config.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <numbers>
#include <stdexcept>
#include <string>

#include "common/number_text.hpp"
#include "common/value_range.hpp"
#include "mlptune/error.hpp"
#include "nn/name_table.hpp"

namespace mlptune {
namespace {

constexpr detail::NameTable<Optimizer, 5> kOptimizerNames{"optimizer",
                                                          {{{Optimizer::sgd, "sgd"},
                                                            {Optimizer::momentum, "momentum"},
                                                            {Optimizer::nesterov, "nesterov"},
                                                            {Optimizer::adam, "adam"},
                                                            {Optimizer::adamw, "adamw"}}}};

constexpr detail::NameTable<Schedule, 3> kScheduleNames{
    "schedule", {{{Schedule::constant, "constant"}, {Schedule::step, "step"}, {Schedule::cosine, "cosine"}}}};

// bf16 is reserved for a later engine: named, so a spec can say it, but not accepted.
constexpr detail::NameTable<Precision, 3> kPrecisionNames{
    "precision",
    {{{Precision::fp32, "fp32"}, {Precision::tf32, "tf32"}, {Precision::bf16, "bf16", detail::NameUse::reserved}}}};

constexpr Range kPositive{0.0, false};
constexpr Range kNonNegative{0.0, true};
constexpr Range kFromZeroBelowOne{0.0, true, 1.0, false};
constexpr Range kAboveZeroUpToOne{0.0, false, 1.0, true};

// The real-valued settings and their ranges, by canonical name (the flag is --name with dashes).
struct RealSetting {
  std::string_view name;
  double TrainConfig::*field;
  Range range;
};
constexpr std::array<RealSetting, 8> kRealSettings{{
    {"lr", &TrainConfig::learning_rate, kPositive},
    {"momentum", &TrainConfig::momentum, kFromZeroBelowOne},
    {"beta1", &TrainConfig::beta1, kFromZeroBelowOne},
    {"beta2", &TrainConfig::beta2, kFromZeroBelowOne},
    {"epsilon", &TrainConfig::epsilon, kPositive},
    {"weight_decay", &TrainConfig::weight_decay, kNonNegative},
    {"warmup", &TrainConfig::warmup_epochs, kNonNegative},
    {"step_gamma", &TrainConfig::step_gamma, kAboveZeroUpToOne},
}};

// The counts and their smallest values; the largest is int's.
struct CountSetting {
  std::string_view name;
  int TrainConfig::*field;
  int minimum;
};
constexpr std::array<CountSetting, 4> kCountSettings{{
    {"batch_size", &TrainConfig::batch_size, 1},
    {"epochs", &TrainConfig::epochs, 1},
    {"step_epochs", &TrainConfig::step_epochs, 1},
    {"early_stopping", &TrainConfig::early_stopping_patience, 0},
}};

}  // namespace

void TrainConfig::validate() const {
  for (const RealSetting& setting : kRealSettings) {
    const double value = this->*setting.field;
    if (!setting.range.contains(value))
      throw SettingError(std::string(setting.name),
                         "must be " + setting.range.describe() + " (got " + shortest_text(value) + ")");
  }
  for (const CountSetting& setting : kCountSettings) {
    const int value = this->*setting.field;
    if (value < setting.minimum)
      throw SettingError(std::string(setting.name),
                         "must be >= " + std::to_string(setting.minimum) + " (got " + std::to_string(value) + ")");
  }
  if (precision == Precision::bf16)
    throw SettingError("precision", "bf16 is not supported yet (reserved for a later engine): use " +
                                        kPrecisionNames.accepted_names());
}

int smallest_count(std::string_view setting) {
  for (const CountSetting& count : kCountSettings)
    if (count.name == setting) return count.minimum;
  throw std::invalid_argument("smallest_count: '" + std::string(setting) + "' is no count setting of TrainConfig");
}

double learning_rate_at(const TrainConfig& config, std::int64_t step, std::int64_t steps_per_epoch) {
  const double base = config.learning_rate;
  // Warm-up: a linear ramp whose last step reaches the full rate.
  // Clamped to the run's length before the conversion: a warm-up longer than the run ramps over the run.
  const double run_steps = static_cast<double>(std::max(config.epochs, 1)) * static_cast<double>(steps_per_epoch);
  const auto warmup_steps = static_cast<std::int64_t>(
      std::ceil(std::min(config.warmup_epochs * static_cast<double>(steps_per_epoch), run_steps)));
  if (step < warmup_steps) return base * static_cast<double>(step + 1) / static_cast<double>(warmup_steps);

  switch (config.schedule) {
    case Schedule::constant:
      return base;
    case Schedule::step: {
      const std::int64_t epoch = step / std::max<std::int64_t>(steps_per_epoch, 1);
      return base * std::pow(config.step_gamma, static_cast<double>(epoch / config.step_epochs));
    }
    case Schedule::cosine: {
      // From the full rate right after warm-up down to 0 at the end of the run.
      const std::int64_t total_steps = static_cast<std::int64_t>(config.epochs) * steps_per_epoch;
      const std::int64_t decay_steps = std::max<std::int64_t>(total_steps - warmup_steps, 1);
      const double progress = std::clamp(static_cast<double>(step - warmup_steps) / decay_steps, 0.0, 1.0);
      return 0.5 * base * (1.0 + std::cos(std::numbers::pi * progress));
    }
  }
  return base;
}

std::string_view to_string(Optimizer optimizer) {
  return kOptimizerNames.name_of(optimizer);
}
std::string_view to_string(Schedule schedule) {
  return kScheduleNames.name_of(schedule);
}
std::string_view to_string(Precision precision) {
  return kPrecisionNames.name_of(precision);
}

Optimizer parse_optimizer(std::string_view text) {
  return kOptimizerNames.parse(text);
}
Schedule parse_schedule(std::string_view text) {
  return kScheduleNames.parse(text);
}
Precision parse_precision(std::string_view text) {
  return kPrecisionNames.parse(text);
}

}  // namespace mlptune
