// TrainConfig: validation by the settings table, the learning-rate schedule, enum names.
#include "mlptune/train_config.hpp"

#include <algorithm>
#include <cmath>
#include <numbers>
#include <stdexcept>
#include <string>

#include "nn/enum_names.hpp"
#include "nn/settings.hpp"

namespace mlptune {

void TrainConfig::validate() const {
  for (const TrainSetting& setting : train_settings()) setting.check_in(*this);
}

int smallest_count(std::string_view setting) {
  const TrainSetting* count = find_setting(train_settings(), setting);
  if (count == nullptr || count->kind != SettingKind::count)
    throw std::invalid_argument("smallest_count: '" + std::string(setting) + "' is no count setting of TrainConfig");
  return count->minimum;
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
  return detail::kOptimizerNames.name_of(optimizer);
}
std::string_view to_string(Schedule schedule) {
  return detail::kScheduleNames.name_of(schedule);
}
std::string_view to_string(Precision precision) {
  return detail::kPrecisionNames.name_of(precision);
}

Optimizer parse_optimizer(std::string_view text) {
  return detail::kOptimizerNames.parse(text);
}
Schedule parse_schedule(std::string_view text) {
  return detail::kScheduleNames.parse(text);
}
Precision parse_precision(std::string_view text) {
  return detail::kPrecisionNames.parse(text);
}

}  // namespace mlptune
