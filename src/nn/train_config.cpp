// TrainConfig: validation with flag names and ranges, the learning-rate schedule, enum names.
#include "mlptune/train_config.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <limits>
#include <numbers>
#include <string>

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

constexpr detail::NameTable<Precision, 3> kPrecisionNames{
    "precision", {{{Precision::fp32, "fp32"}, {Precision::tf32, "tf32"}, {Precision::bf16, "bf16"}}}};

// Shortest text that reads back as the same double: "0.1", "-1e-05", "inf", "nan".
std::string format_number(double value) {
  char buffer[64];
  const auto result = std::to_chars(buffer, buffer + sizeof buffer, value);
  return std::string(buffer, result.ptr);
}

// An interval of accepted real values; a missing upper bound means "finite".
struct Range {
  double low;
  bool low_inclusive;
  double high = std::numeric_limits<double>::infinity();
  bool high_inclusive = false;

  bool contains(double value) const {
    const bool above_low = low_inclusive ? value >= low : value > low;
    const bool below_high = high_inclusive ? value <= high : value < high;
    return above_low && below_high;  // false for NaN; false for inf since high is exclusive there
  }

  std::string describe() const {
    if (std::isinf(high)) return (low_inclusive ? ">= " : "> ") + format_number(low) + " and finite";
    return "in " + std::string(low_inclusive ? "[" : "(") + format_number(low) + ", " + format_number(high) +
           (high_inclusive ? "]" : ")");
  }
};

constexpr Range kPositive{0.0, false};
constexpr Range kNonNegative{0.0, true};
constexpr Range kFromZeroBelowOne{0.0, true, 1.0, false};
constexpr Range kAboveZeroUpToOne{0.0, false, 1.0, true};

void require_in(std::string_view flag, double value, const Range& range) {
  if (!range.contains(value))
    throw ConfigError(std::string(flag) + " must be " + range.describe() + " (got " + format_number(value) + ")");
}

void require_at_least(std::string_view flag, int value, int minimum) {
  if (value < minimum)
    throw ConfigError(std::string(flag) + " must be >= " + std::to_string(minimum) + " (got " + std::to_string(value) +
                      ")");
}

}  // namespace

void TrainConfig::validate() const {
  require_in("--lr", learning_rate, kPositive);
  require_at_least("--batch-size", batch_size, 1);
  require_at_least("--epochs", epochs, 1);
  require_in("--momentum", momentum, kFromZeroBelowOne);
  require_in("--beta1", beta1, kFromZeroBelowOne);
  require_in("--beta2", beta2, kFromZeroBelowOne);
  require_in("--epsilon", epsilon, kPositive);
  require_in("--weight-decay", weight_decay, kNonNegative);
  require_in("--warmup", warmup_epochs, kNonNegative);
  require_at_least("--step-epochs", step_epochs, 1);
  require_in("--step-gamma", step_gamma, kAboveZeroUpToOne);
  require_at_least("--early-stopping", early_stopping_patience, 0);
  if (precision == Precision::bf16)
    throw ConfigError("--precision bf16 is not supported yet (reserved for a later engine): use fp32 or tf32");
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
