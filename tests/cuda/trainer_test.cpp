// Whole-model tests of the CUDA backend: CUDA against the CPU backend from the same state, graphs
// against eager launches, concurrent trainers against lone ones, tf32, divergence, state, memory;
// and what many trials at once need: slots reused, captures that trials starting and ending never
// break (and the fall-back when something else does), the process set up for many streams.
#include <gtest/gtest.h>

#include <atomic>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <iostream>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "cpu/cpu_backend.hpp"
#include "cuda/cuda_backend.hpp"
#include "cuda/cuda_trainer.hpp"
#include "cuda/device_context.hpp"
#include "cuda/step_plan.hpp"
#include "gpu_test_support.hpp"
#include "mlptune/backend.hpp"
#include "mlptune/error.hpp"

namespace mlptune {
namespace {

using test::all_close;
using test::GpuTest;

constexpr int kFeatures = 37;
constexpr int kClasses = 5;
constexpr int kBatch = 32;
// 49 full batches of 32 and one of 22: one epoch is 50 steps, the last one partial.
constexpr std::size_t kTrainRows = 49 * kBatch + 22;

// A learnable classification set: labels are the argmax of a fixed random linear map of the
// features. With `bytes`, features come from uint8 values through a per-column affine map,
// computed with the exact expression Dataset documents.
Dataset make_classification(std::size_t rows, std::uint32_t seed, bool bytes, int features = kFeatures) {
  Dataset data;
  data.name = "synthetic-classification";
  data.task = Task::classification;
  data.rows = rows;
  data.cols = features;
  data.num_classes = kClasses;
  std::mt19937 engine(seed);
  std::uniform_int_distribution<int> byte(0, 255);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  data.features.resize(rows * features);
  if (bytes) {
    data.raw_bytes.resize(rows * features);
    data.column_scale.assign(features, 1.0f / 255.0f);
    data.column_offset.assign(features, -0.5f);
    for (std::size_t i = 0; i < data.raw_bytes.size(); ++i) {
      data.raw_bytes[i] = std::uint8_t(byte(engine));
      data.features[i] =
          std::fma(float(data.raw_bytes[i]), data.column_scale[i % features], data.column_offset[i % features]);
    }
  } else {
    for (float& value : data.features) value = normal(engine);
  }
  std::mt19937 map_engine(1234);  // the same map for every split
  std::vector<float> map(std::size_t(features) * kClasses);
  for (float& value : map) value = normal(map_engine);
  data.labels.resize(rows);
  for (std::size_t r = 0; r < rows; ++r) {
    int best = 0;
    float best_score = -INFINITY;
    for (int c = 0; c < kClasses; ++c) {
      float score = 0.0f;
      for (int f = 0; f < features; ++f)
        score += data.features[r * features + f] * map[static_cast<std::size_t>(f) * kClasses + c];
      if (score > best_score) best_score = score, best = c;
    }
    data.labels[r] = best;
  }
  return data;
}

Dataset make_regression(std::size_t rows, std::uint32_t seed) {
  Dataset data;
  data.name = "synthetic-regression";
  data.task = Task::regression;
  data.rows = rows;
  data.cols = kFeatures;
  data.target_width = 2;
  data.target_scale = 3.0;
  std::mt19937 engine(seed);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  data.features.resize(rows * kFeatures);
  for (float& value : data.features) value = normal(engine);
  data.targets.resize(rows * 2);
  for (std::size_t r = 0; r < rows; ++r) {
    float sum = 0.0f;
    for (int f = 0; f < kFeatures; ++f) sum += data.features[r * kFeatures + f] * float((f % 7) - 3) * 0.1f;
    data.targets[2 * r] = sum;
    data.targets[2 * r + 1] = std::tanh(sum) + 0.1f * normal(engine);
  }
  return data;
}

std::shared_ptr<const DataSplits> classification_splits(bool bytes = false, int features = kFeatures) {
  auto splits = std::make_shared<DataSplits>();
  splits->train = make_classification(kTrainRows, 1, bytes, features);
  splits->validation = make_classification(211, 2, bytes, features);
  splits->test = make_classification(97, 3, bytes, features);
  return splits;
}

std::shared_ptr<const DataSplits> regression_splits() {
  auto splits = std::make_shared<DataSplits>();
  splits->train = make_regression(kTrainRows, 4);
  splits->validation = make_regression(211, 5);
  splits->test = make_regression(97, 6);
  return splits;
}

TrialSpec make_spec(Optimizer optimizer, Activation activation, Task task = Task::classification) {
  TrialSpec spec;
  spec.model.input_width = kFeatures;
  spec.model.hidden = {64, 33};
  spec.model.output_width = task == Task::classification ? kClasses : 2;
  spec.model.activation = activation;
  spec.model.loss = task == Task::classification ? Loss::softmax_cross_entropy : Loss::mse;
  spec.train.optimizer = optimizer;
  spec.train.learning_rate = optimizer == Optimizer::adam || optimizer == Optimizer::adamw ? 1e-3 : 2e-2;
  spec.train.weight_decay = 1e-3;
  spec.train.batch_size = kBatch;
  spec.train.epochs = 3;
  spec.train.seed = 17;
  return spec;
}

std::vector<float> flatten(const std::vector<Tensor>& tensors) {
  std::vector<float> flat;
  for (const Tensor& tensor : tensors) flat.insert(flat.end(), tensor.data.begin(), tensor.data.end());
  return flat;
}

std::unique_ptr<Backend> cuda_backend(bool use_graphs = true) {
  CudaBackendOptions options;
  options.use_graphs = use_graphs;
  return make_cuda_backend(options);
}

class CudaTrainerTest : public GpuTest {};

TEST_F(CudaTrainerTest, BackendDescribesTheDevice) {
  const auto backend = cuda_backend();
  EXPECT_EQ(backend->name().rfind("cuda:0 (", 0), 0u) << backend->name();
  EXPECT_GE(backend->recommended_concurrency(), 1);
  EXPECT_TRUE(cuda_backend_built());
  ASSERT_FALSE(cuda_devices().empty());
  EXPECT_GT(cuda_devices()[0].total_memory, 0u);
}

// Device initialisation equals ref::initialize_weights (what the CPU backend starts from) within the
// 1e-6 relative that host and device libm allow.
TEST_F(CudaTrainerTest, InitialParametersMatchTheCpuBackend) {
  const auto data = classification_splits();
  for (const Init init : {Init::he, Init::xavier}) {
    TrialSpec spec = make_spec(Optimizer::adam, Activation::relu);
    spec.model.init = init;
    const auto cpu = make_cpu_backend(1)->make_trainer(spec, data);
    const auto gpu = cuda_backend()->make_trainer(spec, data);
    EXPECT_TRUE(all_close(flatten(gpu->state().parameters), flatten(cpu->state().parameters), 1e-7, 1e-6))
        << to_string(init);
  }
}

struct AgreementCase {
  Optimizer optimizer;
  Activation activation;
  Task task;
  double dropout = 0.0;    // the same mask on both backends (rng::dropout_keeps)
  double clip_norm = 0.0;  // the norm summed in double on both
  bool wide = false;       // hidden widths 256 and 128: ReLU layers take cuBLASLt's epilogues
};

class CudaMatchesCpuTest : public GpuTest, public ::testing::WithParamInterface<AgreementCase> {};

// 50 steps (one epoch, the last batch partial) from the same state on both backends. Per step the
// two differ by float rounding only (summation order in the products, libm ulps): ~1e-6 relative in
// the gradients. 50 steps of SGD-type updates carry that into ~1e-5 of the parameters: 1e-4
// absolute + 1e-3 relative. Adam divides by √v: a gradient element within rounding of zero can take
// an update of ±lr on one backend and ∓lr on the other, so its bound is 2·lr absolute. The mean
// losses average those differences: 1e-4 relative.
TEST_P(CudaMatchesCpuTest, FiftyStepsAgree) {
  const AgreementCase c = GetParam();
  const auto data = c.task == Task::classification ? classification_splits() : regression_splits();
  TrialSpec spec = make_spec(c.optimizer, c.activation, c.task);
  spec.train.dropout = c.dropout;
  spec.train.clip_norm = c.clip_norm;
  if (c.wide) spec.model.hidden = {256, 128};
  const auto cpu = make_cpu_backend(1)->make_trainer(spec, data);
  const auto backend = cuda_backend();
  const auto gpu = backend->make_trainer(spec, data);
  gpu->load_state(cpu->state());  // the same initial state, bit for bit

  const EpochReport cpu_report = cpu->train_epoch();
  const EpochReport gpu_report = gpu->train_epoch();
  ASSERT_EQ(gpu_report.status, cpu_report.status) << gpu_report.message;
  EXPECT_EQ(gpu_report.step, 50);
  EXPECT_EQ(gpu_report.step, cpu_report.step);
  EXPECT_NEAR(gpu_report.train_loss, cpu_report.train_loss, 1e-4 * std::abs(cpu_report.train_loss));
  EXPECT_NEAR(gpu_report.validation.loss, cpu_report.validation.loss, 1e-4 * std::abs(cpu_report.validation.loss));
  EXPECT_DOUBLE_EQ(gpu_report.learning_rate, cpu_report.learning_rate);
  if (c.task == Task::classification)
    EXPECT_NEAR(gpu_report.validation.accuracy, cpu_report.validation.accuracy, 2.0 / 211.0);  // a sample or two
  else
    EXPECT_NEAR(gpu_report.validation.rmse, cpu_report.validation.rmse, 1e-4 * cpu_report.validation.rmse);

  const bool adam = c.optimizer == Optimizer::adam || c.optimizer == Optimizer::adamw;
  const double atol = adam ? 2.0 * spec.train.learning_rate : 1e-4;
  const TrialState cpu_state = cpu->state();
  const TrialState gpu_state = gpu->state();
  EXPECT_TRUE(all_close(flatten(gpu_state.parameters), flatten(cpu_state.parameters), atol, 1e-3));
  EXPECT_TRUE(all_close(flatten(gpu_state.first_moment), flatten(cpu_state.first_moment), 1e-4, 1e-3));
  EXPECT_EQ(gpu_state.step, cpu_state.step);

  // Predictions and test metrics from the trained parameters agree as the parameters do.
  const std::vector<float> cpu_predictions = cpu->predict(data->test);
  const std::vector<float> gpu_predictions = gpu->predict(data->test);
  EXPECT_TRUE(all_close(gpu_predictions, cpu_predictions, adam ? 0.05 : 1e-3, 1e-2));
}

INSTANTIATE_TEST_SUITE_P(
    OptimizersAndActivations, CudaMatchesCpuTest,
    ::testing::Values(AgreementCase{Optimizer::sgd, Activation::relu, Task::classification},
                      AgreementCase{Optimizer::momentum, Activation::tanh, Task::classification},
                      AgreementCase{Optimizer::nesterov, Activation::sigmoid, Task::classification},
                      AgreementCase{Optimizer::adam, Activation::gelu, Task::classification},
                      AgreementCase{Optimizer::adamw, Activation::tanh, Task::classification},
                      AgreementCase{Optimizer::adam, Activation::relu, Task::regression},
                      AgreementCase{Optimizer::sgd, Activation::identity, Task::regression},
                      AgreementCase{Optimizer::momentum, Activation::relu, Task::classification, 0.3, 0.5},
                      AgreementCase{Optimizer::adam, Activation::tanh, Task::regression, 0.2, 0.1},
                      AgreementCase{Optimizer::adam, Activation::relu, Task::classification, 0.0, 0.0, true},
                      AgreementCase{Optimizer::sgd, Activation::relu, Task::regression, 0.0, 0.5, true}),
    [](const ::testing::TestParamInfo<AgreementCase>& info) {
      return std::string(to_string(info.param.optimizer)) + "_" + std::string(to_string(info.param.activation)) +
             (info.param.task == Task::classification ? "_classification" : "_regression") +
             (info.param.dropout > 0 || info.param.clip_norm > 0 ? "_dropout_clip" : "") +
             (info.param.wide ? "_wide" : "");
    });

// TF32 rounds every product input to 11 significant bits (2^-11 ≈ 4.9e-4 relative), so each
// step's gradients differ from fp32's by ~1e-3 relative; over 50 Adam steps the parameters stay
// within 5e-3 absolute + 5e-2 relative of the CPU's fp32 and the mean losses within 2%. Hidden
// widths 64-33 and 256-128: the second takes the ReLU epilogues (cuBLASLt, FAST_TF32).
TEST_F(CudaTrainerTest, Tf32StaysWithinItsTolerance) {
  const auto data = classification_splits();
  for (const std::vector<int>& hidden : {std::vector<int>{64, 33}, std::vector<int>{256, 128}}) {
    SCOPED_TRACE(std::to_string(hidden[0]) + "-" + std::to_string(hidden[1]));
    TrialSpec spec = make_spec(Optimizer::adam, Activation::relu);
    spec.model.hidden = hidden;
    const auto cpu = make_cpu_backend(1)->make_trainer(spec, data);
    spec.train.precision = Precision::tf32;
    const auto gpu = cuda_backend()->make_trainer(spec, data);
    gpu->load_state(cpu->state());
    const EpochReport cpu_report = cpu->train_epoch();
    const EpochReport gpu_report = gpu->train_epoch();
    EXPECT_NEAR(gpu_report.train_loss, cpu_report.train_loss, 2e-2 * cpu_report.train_loss);
    EXPECT_NEAR(gpu_report.validation.loss, cpu_report.validation.loss, 2e-2 * cpu_report.validation.loss);
    EXPECT_TRUE(all_close(flatten(gpu->state().parameters), flatten(cpu->state().parameters), 5e-3, 5e-2));
  }
}

// The captured graphs replay exactly the launches of the eager path: bit-identical results. GELU
// with our kernels, and ReLU at widths 256-128 in cuBLASLt's epilogues (each trainer chooses their
// algorithms once, before any capture, by the same query).
TEST_F(CudaTrainerTest, GraphReplayEqualsEagerLaunches) {
  const auto data = classification_splits();
  for (const Activation activation : {Activation::gelu, Activation::relu}) {
    SCOPED_TRACE(to_string(activation));
    TrialSpec spec = make_spec(Optimizer::nesterov, activation);
    if (activation == Activation::relu) spec.model.hidden = {256, 128};
    const auto graphs = cuda_backend(true)->make_trainer(spec, data);
    const auto eager = cuda_backend(false)->make_trainer(spec, data);
    for (int epoch = 0; epoch < 3; ++epoch) {
      const EpochReport a = graphs->train_epoch();
      const EpochReport b = eager->train_epoch();
      EXPECT_EQ(a.train_loss, b.train_loss);
      EXPECT_EQ(a.validation.loss, b.validation.loss);
      EXPECT_EQ(a.step, b.step);
    }
    EXPECT_EQ(flatten(graphs->state().parameters), flatten(eager->state().parameters));
    EXPECT_EQ(flatten(graphs->state().first_moment), flatten(eager->state().first_moment));
  }
}

// A captured step holds the plan's launches and nothing else, as cudaGraphGetNodes counts its
// nodes: the plan's count (tests/cuda_host/step_plan_test.cpp) is the graph's. MNIST's 784-256-256
// (to 5 classes), with ReLU alone (in the products' epilogues: 11 nodes, at most the 12 budgeted),
// and with dropout and clipping (the kernels again).
TEST_F(CudaTrainerTest, TheCapturedStepHasThePlansNodes) {
  const auto data = classification_splits(false, 784);
  for (const bool regularized : {false, true}) {
    SCOPED_TRACE(regularized ? "dropout and clipping" : "relu");
    TrialSpec spec = make_spec(Optimizer::adam, Activation::relu);
    spec.model.input_width = 784;
    spec.model.hidden = {256, 256};
    if (regularized) {
      spec.train.dropout = 0.2;
      spec.train.clip_norm = 1.0;
    }
    const auto trainer = cuda_backend(true)->make_trainer(spec, data);
    EXPECT_EQ(cuda::step_graph_nodes(*trainer), 0u) << "nothing is captured before the first epoch";
    trainer->train_epoch();
    const std::size_t planned =
        cuda::graph_nodes(cuda::plan_training_step(cuda::StepShape{3, regularized, regularized, true}));
    EXPECT_EQ(planned, regularized ? 17u : 11u);  // clipping's two passes
    EXPECT_EQ(cuda::step_graph_nodes(*trainer), planned);
  }
}

// Bytes scaled in the gather give exactly the floats the host computed: same training, bit for bit.
TEST_F(CudaTrainerTest, ByteFeaturesTrainLikeFloatFeatures) {
  const auto bytes = classification_splits(true);
  auto floats = std::make_shared<DataSplits>(*bytes);
  for (Dataset* split : {&floats->train, &floats->validation, &floats->test}) {
    split->raw_bytes.clear();
    split->column_scale.clear();
    split->column_offset.clear();
  }
  const auto backend = cuda_backend();
  const TrialSpec spec = make_spec(Optimizer::adam, Activation::relu);
  const auto from_bytes = backend->make_trainer(spec, bytes);
  const auto from_floats = backend->make_trainer(spec, floats);
  const EpochReport a = from_bytes->train_epoch();
  const EpochReport b = from_floats->train_epoch();
  EXPECT_EQ(a.train_loss, b.train_loss);
  EXPECT_EQ(flatten(from_bytes->state().parameters), flatten(from_floats->state().parameters));
}

struct Outcome {
  std::vector<double> train_losses;
  std::vector<double> validation_losses;
  std::vector<float> parameters;
};

Outcome train_for(Backend& backend, const TrialSpec& spec, std::shared_ptr<const DataSplits> data, int epochs) {
  const auto trainer = backend.make_trainer(spec, std::move(data));
  Outcome outcome;
  for (int e = 0; e < epochs; ++e) {
    const EpochReport report = trainer->train_epoch();
    outcome.train_losses.push_back(report.train_loss);
    outcome.validation_losses.push_back(report.validation.loss);
  }
  outcome.parameters = flatten(trainer->state().parameters);
  return outcome;
}

// K = 4 trainers on 4 threads (4 streams, one shared data upload) give each exactly what it gives
// alone: no shared mutable state, deterministic kernels and cuBLAS without atomics.
TEST_F(CudaTrainerTest, ConcurrentTrainersMatchLoneOnes) {
  const auto data = classification_splits();
  std::vector<TrialSpec> specs;
  const Optimizer optimizers[] = {Optimizer::adam, Optimizer::sgd, Optimizer::adamw, Optimizer::momentum};
  for (int k = 0; k < 4; ++k) {
    TrialSpec spec = make_spec(optimizers[k], k % 2 == 0 ? Activation::relu : Activation::tanh);
    spec.train.seed = 100 + std::uint64_t(k);
    spec.train.batch_size = 16 + 15 * k;  // 16, 31, 46, 61: different graphs and partial batches
    spec.trial_number = k;
    specs.push_back(spec);
  }
  const auto backend = cuda_backend();
  std::vector<Outcome> alone;
  for (const TrialSpec& spec : specs) alone.push_back(train_for(*backend, spec, data, 2));

  std::vector<Outcome> together(specs.size());
  std::vector<std::string> errors(specs.size());
  std::vector<std::thread> threads;
  for (std::size_t k = 0; k < specs.size(); ++k) {
    threads.emplace_back([&, k] {
      try {
        together[k] = train_for(*backend, specs[k], data, 2);
      } catch (const std::exception& error) {
        errors[k] = error.what();
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  for (std::size_t k = 0; k < specs.size(); ++k) {
    SCOPED_TRACE("trainer " + std::to_string(k));
    ASSERT_EQ(errors[k], "");
    EXPECT_EQ(together[k].train_losses, alone[k].train_losses);
    EXPECT_EQ(together[k].validation_losses, alone[k].validation_losses);
    EXPECT_EQ(together[k].parameters, alone[k].parameters);
  }
}

// A learning rate far too high: the loss overflows at the same step as on the CPU, the status and
// message say so, and the parameters are those of the last finite step (no update after it).
TEST_F(CudaTrainerTest, DivergenceStopsAtTheSameStepAsTheCpu) {
  const auto data = regression_splits();
  TrialSpec spec = make_spec(Optimizer::sgd, Activation::identity, Task::regression);
  spec.train.learning_rate = 1e10;  // step 1 makes weights ~1e10: step 2's outputs ~1e33 overflow their square
  spec.train.weight_decay = 0.0;
  const auto cpu = make_cpu_backend(1)->make_trainer(spec, data);
  const auto gpu = cuda_backend()->make_trainer(spec, data);
  gpu->load_state(cpu->state());
  const EpochReport cpu_report = cpu->train_epoch();
  const EpochReport gpu_report = gpu->train_epoch();
  ASSERT_EQ(cpu_report.status, TrialStatus::diverged) << "the test's learning rate no longer diverges on the CPU";
  EXPECT_EQ(gpu_report.status, TrialStatus::diverged);
  EXPECT_EQ(gpu_report.message, cpu_report.message);
  EXPECT_EQ(gpu_report.step, cpu_report.step);
  EXPECT_DOUBLE_EQ(gpu_report.learning_rate, cpu_report.learning_rate);  // the diverging step's rate
  EXPECT_FALSE(std::isfinite(gpu_report.train_loss));
  EXPECT_EQ(gpu->state().step, cpu->state().step);
  EXPECT_EQ(gpu->state().epoch, 0);
  // Finite parameters of the last good step (huge after a 1e10 learning rate: relative tolerance).
  EXPECT_TRUE(all_close(flatten(gpu->state().parameters), flatten(cpu->state().parameters), 1e-3, 1e-3));
  EXPECT_THROW(gpu->train_epoch(), Error);
}

// Pausing (state), resuming in a new trainer (load_state) and training on equals training straight
// through, bit for bit; the budget grows with extend_epochs.
TEST_F(CudaTrainerTest, StateRoundTripContinuesExactly) {
  const auto data = classification_splits();
  TrialSpec spec = make_spec(Optimizer::adam, Activation::tanh);
  spec.train.epochs = 2;
  spec.train.schedule = Schedule::cosine;
  const auto backend = cuda_backend();
  const auto straight = backend->make_trainer(spec, data);
  straight->train_epoch();
  const EpochReport straight_second = straight->train_epoch();
  EXPECT_EQ(straight_second.status, TrialStatus::completed);

  const auto first = backend->make_trainer(spec, data);
  first->train_epoch();
  const auto resumed = backend->make_trainer(spec, data);
  resumed->load_state(first->state());
  const EpochReport resumed_second = resumed->train_epoch();
  EXPECT_EQ(resumed_second.train_loss, straight_second.train_loss);
  EXPECT_EQ(resumed_second.step, straight_second.step);
  EXPECT_EQ(flatten(resumed->state().parameters), flatten(straight->state().parameters));
  EXPECT_EQ(flatten(resumed->state().second_moment), flatten(straight->state().second_moment));

  EXPECT_THROW(straight->train_epoch(), Error);
  straight->extend_epochs(3);
  EXPECT_EQ(straight->train_epoch().status, TrialStatus::completed);
}

// A split that is not resident (a copy) is uploaded for the call and evaluates identically.
TEST_F(CudaTrainerTest, EvaluateUploadsOtherDatasets) {
  const auto data = classification_splits(true);
  const auto trainer = cuda_backend()->make_trainer(make_spec(Optimizer::adam, Activation::relu), data);
  trainer->train_epoch();
  const Dataset copy = data->test;
  const Metrics resident = trainer->evaluate(data->test);
  const Metrics uploaded = trainer->evaluate(copy);
  EXPECT_EQ(resident.loss, uploaded.loss);
  EXPECT_EQ(resident.accuracy, uploaded.accuracy);
  EXPECT_EQ(resident.samples, 97);
  EXPECT_EQ(trainer->predict(copy), trainer->predict(data->test));
}

// Trials that cannot fit fail alone with a message giving their size and the free memory; the
// trials already made keep working, and memory freed by finished trials is used again.
TEST_F(CudaTrainerTest, OutOfMemoryFailsOnlyThatTrial) {
  const auto data = classification_splits();
  const auto backend = cuda_backend();
  // 2.1e9 parameters (just under ModelSpec's 2^31 limit) x parameters, gradients, m and v: 34 GB
  // each, so a few fill any current GPU.
  TrialSpec big = make_spec(Optimizer::adam, Activation::relu);
  big.model.hidden = {46000, 46000};
  std::vector<std::unique_ptr<Trainer>> held;
  std::string message;
  for (int i = 0; i < 16 && message.empty(); ++i) {
    try {
      held.push_back(backend->make_trainer(big, data));
    } catch (const DeviceError& error) {
      message = error.what();
    }
  }
  ASSERT_FALSE(message.empty()) << held.size() << " trials of 34 GB all fit";
  EXPECT_EQ(message.rfind("out of GPU memory: trial needs ", 0), 0u) << message;
  EXPECT_NE(message.find(" MiB free on cuda:0 ("), std::string::npos) << message;
  if (!held.empty()) EXPECT_EQ(held.front()->evaluate(data->test).samples, 97);
  held.clear();
  const auto small = backend->make_trainer(make_spec(Optimizer::adam, Activation::relu), data);
  EXPECT_EQ(small->train_epoch().status, TrialStatus::running);
  // Memory of the released trials is there again.
  EXPECT_NO_THROW(backend->make_trainer(big, data));
}

TEST_F(CudaTrainerTest, RejectsSpecsThatDoNotFitTheData) {
  const auto data = classification_splits();
  const auto backend = cuda_backend();
  TrialSpec wrong_input = make_spec(Optimizer::adam, Activation::relu);
  wrong_input.model.input_width = kFeatures + 1;
  EXPECT_THROW(backend->make_trainer(wrong_input, data), ConfigError);
  TrialSpec wrong_loss = make_spec(Optimizer::adam, Activation::relu);
  wrong_loss.model.loss = Loss::mse;
  EXPECT_THROW(backend->make_trainer(wrong_loss, data), ConfigError);
  TrialSpec bf16 = make_spec(Optimizer::adam, Activation::relu);
  bf16.train.precision = Precision::bf16;
  EXPECT_THROW(backend->make_trainer(bf16, data), ConfigError);
}

// The backend sets the process up for many concurrent trials: CUDA_DEVICE_MAX_CONNECTIONS (set by
// the test program's first CUDA call, as the backend would) allows the recommended concurrency, and
// a thread waiting for the device blocks rather than spins.
TEST_F(CudaTrainerTest, TheProcessIsSetUpForManyStreams) {
  const auto backend = cuda_backend();
  const char* connections = std::getenv("CUDA_DEVICE_MAX_CONNECTIONS");
  ASSERT_NE(connections, nullptr);
  EXPECT_LE(backend->recommended_concurrency(), cuda::connections_for(connections));
  unsigned int flags = 0;
  MLPTUNE_CUDA_CHECK(cudaGetDeviceFlags(&flags));
  EXPECT_EQ(flags & cudaDeviceScheduleMask, unsigned(cudaDeviceScheduleBlockingSync)) << "flags " << flags;
}

// Trials one after another take the same slot (one stream, one cuBLAS handle, one set of pinned
// buffers); two at once take two. A slot's previous trial leaves nothing behind: an fp32 trial after
// a tf32 one on the same slot trains exactly as on a fresh context.
TEST_F(CudaTrainerTest, TrialsReuseTheirSlots) {
  const auto data = classification_splits();
  const auto context = cuda::make_device_context(0);
  const cuda::TrainerOptions options{0, cuda::StepLaunch::graphs};
  TrialSpec spec = make_spec(Optimizer::adam, Activation::relu);
  spec.train.epochs = 1;
  TrialSpec tf32 = spec;
  tf32.train.precision = Precision::tf32;
  tf32.train.batch_size = 61;
  EXPECT_EQ(cuda::make_cuda_trainer(tf32, data, context, options)->train_epoch().status, TrialStatus::completed);
  const auto reused = cuda::make_cuda_trainer(spec, data, context, options);
  const EpochReport reused_report = reused->train_epoch();
  const std::vector<float> reused_parameters = flatten(reused->state().parameters);
  EXPECT_EQ(context->slots().made(), 1u);
  {
    const auto second = cuda::make_cuda_trainer(spec, data, context, options);
    EXPECT_EQ(context->slots().made(), 2u);
    EXPECT_EQ(context->slots().lent(), 2u);
  }
  EXPECT_EQ(context->slots().lent(), 1u);
  EXPECT_EQ(context->slots().free(), 1u);

  const auto fresh = cuda::make_cuda_trainer(spec, data, cuda::make_device_context(0), options);
  const EpochReport fresh_report = fresh->train_epoch();
  EXPECT_EQ(reused_report.train_loss, fresh_report.train_loss);
  EXPECT_EQ(reused_report.validation.loss, fresh_report.validation.loss);
  EXPECT_EQ(reused_parameters, flatten(fresh->state().parameters));
}

// A trainer may outlive its backend (the context is shared): it trains, and is destroyed, after.
TEST_F(CudaTrainerTest, ATrainerOutlivesItsBackend) {
  const auto data = classification_splits();
  TrialSpec spec = make_spec(Optimizer::sgd, Activation::tanh);
  const auto trainer = cuda_backend()->make_trainer(spec, data);
  EXPECT_EQ(trainer->train_epoch().status, TrialStatus::running);
  EXPECT_EQ(trainer->evaluate(data->test).samples, 97);
}

// What `mlptune tune` does: 8 slots, each running one-epoch trials of different shapes back to
// back, so trials end and start while others capture their step graphs. Nothing a trial does at
// its start or end synchronises the device, so every capture succeeds (no trial reports a fall-back
// to eager launches) and every trial trains exactly as it does alone.
TEST_F(CudaTrainerTest, TrialsEndingAndStartingNeverBreakAnothersCapture) {
  const auto data = classification_splits();
  constexpr int kSlots = 8;
  constexpr int kTrialsPerSlot = 4;
  std::vector<TrialSpec> specs;
  const Optimizer optimizers[] = {Optimizer::adam, Optimizer::sgd, Optimizer::adamw, Optimizer::nesterov};
  for (int k = 0; k < kSlots * kTrialsPerSlot; ++k) {
    TrialSpec spec = make_spec(optimizers[k % 4], k % 3 == 0 ? Activation::gelu : Activation::relu);
    spec.model.hidden = {17 + 13 * (k % 5), 33};
    spec.train.batch_size = 16 + 9 * (k % 7);
    spec.train.epochs = 1;
    spec.train.seed = 200 + std::uint64_t(k);
    spec.trial_number = k;
    specs.push_back(spec);
  }
  const auto backend = cuda_backend();
  std::vector<Outcome> alone;
  for (const TrialSpec& spec : specs) alone.push_back(train_for(*backend, spec, data, 1));

  std::vector<Outcome> together(specs.size());
  std::vector<std::string> messages(specs.size());
  std::vector<std::thread> slots;
  for (int slot = 0; slot < kSlots; ++slot) {
    slots.emplace_back([&, slot] {
      for (int t = 0; t < kTrialsPerSlot; ++t) {
        const std::size_t k = std::size_t(slot * kTrialsPerSlot + t);
        try {
          const auto trainer = backend->make_trainer(specs[k], data);
          const EpochReport report = trainer->train_epoch();
          messages[k] = report.message;
          together[k].train_losses.push_back(report.train_loss);
          together[k].validation_losses.push_back(report.validation.loss);
          together[k].parameters = flatten(trainer->state().parameters);
        } catch (const std::exception& error) {
          messages[k] = std::string("failed: ") + error.what();
        }
      }
    });
  }
  for (std::thread& thread : slots) thread.join();
  for (std::size_t k = 0; k < specs.size(); ++k) {
    SCOPED_TRACE("trial " + std::to_string(k));
    EXPECT_EQ(messages[k], "");  // neither failed nor fell back
    EXPECT_EQ(together[k].train_losses, alone[k].train_losses);
    EXPECT_EQ(together[k].validation_losses, alone[k].validation_losses);
    EXPECT_EQ(together[k].parameters, alone[k].parameters);
  }
}

// Another thread synchronises the whole device over and over while trainers capture (what the
// backend itself never does once trials run): a capture it breaks falls back to eager launches, so
// every trial still trains exactly as eager launches do, and says so at most once.
TEST_F(CudaTrainerTest, ABrokenCaptureFallsBackToEagerLaunches) {
  const auto data = classification_splits();
  const auto eager_backend = cuda_backend(false);
  const auto backend = cuda_backend(true);
  std::atomic<bool> stop{false};
  std::thread synchronizer([&] {
    if (cudaSetDevice(0) != cudaSuccess) return;
    while (!stop) {
      cudaDeviceSynchronize();
      cudaGetLastError();  // whatever it met is not this test's to report
    }
  });
  int fell_back = 0;
  for (int k = 0; k < 6; ++k) {
    SCOPED_TRACE("trainer " + std::to_string(k));
    TrialSpec spec = make_spec(k % 2 == 0 ? Optimizer::adam : Optimizer::momentum, Activation::relu);
    spec.train.batch_size = 16 + 15 * k;
    spec.train.epochs = 2;
    const auto trainer = backend->make_trainer(spec, data);
    const auto eager = eager_backend->make_trainer(spec, data);
    int notices = 0;
    for (int epoch = 0; epoch < 2; ++epoch) {
      const EpochReport a = trainer->train_epoch();
      const EpochReport b = eager->train_epoch();
      EXPECT_EQ(a.train_loss, b.train_loss);
      EXPECT_EQ(a.validation.loss, b.validation.loss);
      EXPECT_EQ(a.step, b.step);
      if (!a.message.empty()) {
        EXPECT_NE(a.message.find("run eagerly"), std::string::npos) << a.message;
        ++notices;
      }
    }
    EXPECT_LE(notices, 1);
    fell_back += notices;
    EXPECT_EQ(flatten(trainer->state().parameters), flatten(eager->state().parameters));
  }
  stop = true;
  synchronizer.join();
  std::cout << fell_back << " of 6 trainers fell back to eager launches\n";
}

// A trial that diverges at its first steps ends its epoch there instead of issuing its 20000 steps
// (batches of 1): it takes a small part of the time the same epoch takes when it stays finite. It
// issues at most 2 + 2·32 steps, so a quarter of the finite epoch's time leaves a wide margin.
TEST_F(CudaTrainerTest, ADivergedEpochEndsAtOnce) {
  auto data = std::make_shared<DataSplits>();
  data->train = make_regression(20000, 7);
  data->validation = make_regression(211, 8);
  TrialSpec spec = make_spec(Optimizer::sgd, Activation::identity, Task::regression);
  spec.train.batch_size = 1;
  spec.train.weight_decay = 0.0;
  spec.train.epochs = 1;
  spec.train.learning_rate = 1e-4;
  const auto backend = cuda_backend();
  const EpochReport finite = backend->make_trainer(spec, data)->train_epoch();
  ASSERT_EQ(finite.status, TrialStatus::completed);
  spec.train.learning_rate = 1e10;
  const EpochReport diverged = backend->make_trainer(spec, data)->train_epoch();
  ASSERT_EQ(diverged.status, TrialStatus::diverged) << "the test's learning rate no longer diverges";
  EXPECT_LT(diverged.step, 10);
  EXPECT_LT(diverged.seconds, 0.25 * finite.seconds) << diverged.seconds << " s against " << finite.seconds << " s";
}

// With two devices: a trainer on device 1 made, trained and destroyed from a thread whose device is
// 0 leaves device 0 current after each call.
TEST_F(CudaTrainerTest, TrainersLeaveTheCallersDeviceCurrent) {
  int count = 0;
  MLPTUNE_CUDA_CHECK(cudaGetDeviceCount(&count));
  if (count < 2) GTEST_SKIP() << "needs two CUDA devices";
  const auto current = [] {
    int device = -1;
    MLPTUNE_CUDA_CHECK(cudaGetDevice(&device));
    return device;
  };
  MLPTUNE_CUDA_CHECK(cudaSetDevice(0));
  const auto data = classification_splits();
  CudaBackendOptions options;
  options.device = 1;
  {
    const auto backend = make_cuda_backend(options);
    EXPECT_EQ(current(), 0);
    const auto trainer = backend->make_trainer(make_spec(Optimizer::adam, Activation::relu), data);
    EXPECT_EQ(current(), 0);
    trainer->train_epoch();
    EXPECT_EQ(current(), 0);
    trainer->state();
    EXPECT_EQ(current(), 0);
  }
  EXPECT_EQ(current(), 0);
}

}  // namespace
}  // namespace mlptune
