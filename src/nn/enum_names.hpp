// The names of the model's and the training's enums, one table each: to_string and the parsers,
// the setting tables (flags, --help, study values, JSON) all read these.
#pragma once

#include "mlptune/data.hpp"
#include "mlptune/model.hpp"
#include "mlptune/train_config.hpp"
#include "nn/name_table.hpp"

namespace mlptune::detail {

inline constexpr NameTable<Optimizer, 5> kOptimizerNames{"optimizer",
                                                         {{{Optimizer::sgd, "sgd"},
                                                           {Optimizer::momentum, "momentum"},
                                                           {Optimizer::nesterov, "nesterov"},
                                                           {Optimizer::adam, "adam"},
                                                           {Optimizer::adamw, "adamw"}}}};

inline constexpr NameTable<Schedule, 3> kScheduleNames{
    "schedule", {{{Schedule::constant, "constant"}, {Schedule::step, "step"}, {Schedule::cosine, "cosine"}}}};

// bf16 is reserved for a later engine: named, so a spec can say it, but not accepted.
inline constexpr NameTable<Precision, 3> kPrecisionNames{
    "precision",
    {{{Precision::fp32, "fp32"}, {Precision::tf32, "tf32"}, {Precision::bf16, "bf16", NameUse::reserved}}}};

inline constexpr NameTable<Activation, 5> kActivationNames{"activation",
                                                           {{{Activation::relu, "relu"},
                                                             {Activation::tanh, "tanh"},
                                                             {Activation::sigmoid, "sigmoid"},
                                                             {Activation::gelu, "gelu"},
                                                             {Activation::identity, "identity"}}}};

// cross_entropy: the short name `mlptune train --loss` has always taken.
inline constexpr NameTable<Loss, 3> kLossNames{"loss",
                                               {{{Loss::softmax_cross_entropy, "softmax_cross_entropy"},
                                                 {Loss::softmax_cross_entropy, "cross_entropy"},
                                                 {Loss::mse, "mse"}}}};

inline constexpr NameTable<Init, 2> kInitNames{"init", {{{Init::he, "he"}, {Init::xavier, "xavier"}}}};

// What a user's file holds: --task, a study's mlptune.task, a saved model's data entry.
inline constexpr NameTable<Task, 2> kTaskNames{
    "task", {{{Task::classification, "classification"}, {Task::regression, "regression"}}}};

}  // namespace mlptune::detail
