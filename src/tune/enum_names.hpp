// The names of the tuner's enums, one table each: the study config parser, to_string, the storage
// and the messages that list the choices all read these.
#pragma once

#include "mlptune/tune/frozen_trial.hpp"
#include "mlptune/tune/sampler.hpp"
#include "mlptune/tune/study.hpp"
#include "mlptune/tune/study_config.hpp"
#include "nn/name_table.hpp"

namespace mlptune::tune {

inline constexpr detail::NameTable<Method, 4> kMethodNames{
    "method",
    {{{Method::grid, "grid"}, {Method::random, "random"}, {Method::bayes, "bayes"}, {Method::sobol, "sobol"}}}};

inline constexpr detail::NameTable<Goal, 2> kGoalNames{"goal",
                                                       {{{Goal::minimize, "minimize"}, {Goal::maximize, "maximize"}}}};

// `none` is no type a config names (it leaves early_terminate out); to_string names it.
inline constexpr detail::NameTable<PrunerKind, 3> kPrunerNames{
    "early_terminate type",
    {{{PrunerKind::hyperband, "hyperband"}, {PrunerKind::median, "median"}, {PrunerKind::asha, "asha"}}}};

inline constexpr detail::NameTable<RunState, 5> kRunStateNames{"trial state",
                                                               {{{RunState::running, "running"},
                                                                 {RunState::complete, "complete"},
                                                                 {RunState::pruned, "pruned"},
                                                                 {RunState::failed, "failed"},
                                                                 {RunState::waiting, "waiting"}}}};

// What the engine reports, each with the other names a config may use ("loss" is the validation
// loss, the one a study should watch).
inline constexpr detail::NameTable<MetricKind, 10> kMetricNames{
    "metric",
    {{{MetricKind::validation_loss, "validation_loss"},
      {MetricKind::validation_loss, "val_loss"},
      {MetricKind::validation_loss, "loss"},
      {MetricKind::validation_accuracy, "validation_accuracy"},
      {MetricKind::validation_accuracy, "val_accuracy"},
      {MetricKind::validation_accuracy, "accuracy"},
      {MetricKind::validation_rmse, "validation_rmse"},
      {MetricKind::validation_rmse, "val_rmse"},
      {MetricKind::validation_rmse, "rmse"},
      {MetricKind::train_loss, "train_loss"}}}};

}  // namespace mlptune::tune
