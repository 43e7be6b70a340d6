// The CUDA trainer: one trial's arena, stream, cuBLAS handle and step graphs; the training step
// (gather, forward, loss, backward, update) as a sequence of stream-ordered launches.
#include "cuda/cuda_trainer.hpp"

#include <nvtx3/nvtx3.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstddef>
#include <cstring>
#include <limits>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "activation.cuh"
#include "bias_gradient.cuh"
#include "cuda/cuda_check.hpp"
#include "cuda/device_resources.hpp"
#include "cuda/device_trial.hpp"
#include "cuda/gemm.hpp"
#include "gather.cuh"
#include "init.cuh"
#include "loss.cuh"
#include "metrics.cuh"
#include "mlptune/error.hpp"
#include "nn/early_stopping.hpp"
#include "nn/spec_check.hpp"
#include "optimizer.cuh"
#include "shuffle.cuh"

namespace mlptune::cuda {
namespace {

// NVTX ranges of the backend live in their own domain, so a timeline filters on "mlptune".
struct NvtxDomain {
  static constexpr const char* name{"mlptune"};
};
using Range = nvtx3::scoped_range_in<NvtxDomain>;

// Rows evaluated per forward pass in evaluate/predict (the forward buffers hold this many rows).
constexpr int kEvaluationRows = 1024;
// cuBLAS scratch per trainer. The products here are small (K ≤ a few thousand); 4 MiB covers
// cuBLAS's split-K choices for them, and 64 trainers then hold 256 MiB, not the 2 GiB that the
// 32 MiB recommended for large Hopper GEMMs would take.
constexpr std::size_t kCublasWorkspaceBytes = std::size_t(4) << 20;
constexpr std::size_t kArenaAlignment = 256;
constexpr double kMiB = 1024.0 * 1024.0;

std::size_t align_up(std::size_t bytes) { return (bytes + kArenaAlignment - 1) / kArenaAlignment * kArenaAlignment; }

// Offsets of sub-buffers in one device allocation, each 256-byte aligned.
class ArenaPlan {
 public:
  template <class T>
  std::size_t reserve(std::size_t count) {
    const std::size_t offset = bytes_;
    bytes_ += align_up(count * sizeof(T));
    return offset;
  }
  std::size_t bytes() const { return bytes_; }

 private:
  std::size_t bytes_ = 0;
};

DeviceOptimizer device_optimizer(Optimizer optimizer) {
  switch (optimizer) {
    case Optimizer::sgd: return DeviceOptimizer::sgd;
    case Optimizer::momentum: return DeviceOptimizer::momentum;
    case Optimizer::nesterov: return DeviceOptimizer::nesterov;
    case Optimizer::adam: return DeviceOptimizer::adam;
    case Optimizer::adamw: return DeviceOptimizer::adamw;
  }
  throw ConfigError("unknown optimizer");
}

int slot_count(Optimizer optimizer) {
  switch (optimizer) {
    case Optimizer::sgd: return 0;
    case Optimizer::momentum:
    case Optimizer::nesterov: return 1;
    case Optimizer::adam:
    case Optimizer::adamw: return 2;
  }
  throw ConfigError("unknown optimizer");
}

std::string mib(std::size_t bytes) { return std::to_string(static_cast<long long>(std::ceil(double(bytes) / kMiB))); }

// The checks every backend makes (nn/spec_check.hpp), then the CUDA backend's own.
void check_spec(const TrialSpec& spec, const DataSplits& data) {
  check_trial_fits_data(spec, data);
  compute_type(spec.train.precision);  // rejects bf16 with the fix in the message
}

std::string layer_name(std::size_t layer, const char* what) {
  return "layers." + std::to_string(layer) + "." + what;
}

class CudaTrainer final : public Trainer {
 public:
  CudaTrainer(const TrialSpec& spec, std::shared_ptr<const DataSplits> host_data,
              std::shared_ptr<const DeviceSplits> device_data, const TrainerOptions& options);
  ~CudaTrainer() override;
  CudaTrainer(const CudaTrainer&) = delete;
  CudaTrainer& operator=(const CudaTrainer&) = delete;

  EpochReport train_epoch() override;
  Metrics evaluate(const Dataset& split) override;
  std::vector<float> predict(const Dataset& data) override;
  TrialState state() const override;
  void load_state(const TrialState& state) override;
  void extend_epochs(int epochs) override;
  const TrialSpec& spec() const override { return spec_; }

 private:
  // Where each tensor lives in the arena.
  struct Views {
    float* parameters = nullptr;  // P: layer 0 weight (out, in), layer 0 bias (out), layer 1 weight, ...
    float* gradients = nullptr;   // P, same layout
    float* first = nullptr;       // P or null (optimizer slot 1)
    float* second = nullptr;      // P or null (optimizer slot 2)
    float* x = nullptr;           // (rows_capacity, input_width)
    std::vector<float*> pre;      // per layer (rows_capacity, out): pre-activations (logits for the last)
    std::vector<float*> out;      // per hidden layer (rows_capacity, out): activations
    float* grad_a = nullptr;      // (train_batch, widest layer output): backward ping-pong
    float* grad_b = nullptr;
    std::int32_t* labels = nullptr;  // (rows_capacity)
    float* targets = nullptr;        // (rows_capacity, output_width): regression
    float* sample_loss = nullptr;    // (rows_capacity)
    std::int32_t* correct = nullptr; // (rows_capacity)
    DeviceTrial* trial = nullptr;
    MetricSums* evaluation = nullptr;
    double* learning_rates = nullptr;  // (steps_per_epoch): this epoch's schedule
    std::uint32_t* order = nullptr;   // (train rows): this epoch's permutation
    void* shuffle_workspace = nullptr;
    std::size_t shuffle_workspace_bytes = 0;
    void* cublas_workspace = nullptr;
  };

  struct StepGraph {
    GraphExec exec;
    bool warmed_up = false;  // one eager run first: lazy module loading happens outside capture
  };

  std::size_t plan_arena(ArenaPlan& plan, std::vector<std::size_t>& offsets) const;
  void allocate_arena();
  void initialize_parameters();
  DeviceTrial make_record() const;

  void run_step(StepGraph& graph, int batch, std::int64_t global_step);
  void issue_step(int batch);
  void gather_batch(const DeviceDataset& data, kernels::RowSelection rows, int batch);
  void forward(int batch);
  void loss(int batch, float* grad);
  void backward(int batch);

  void end_of_epoch(EpochReport& report);
  Metrics evaluate_resident(const DeviceDataset& data, double target_scale);
  const DeviceDataset* resident(const Dataset& split) const;
  void check_inputs(const Dataset& data, bool needs_outputs) const;
  void copy_tensors_to_host(const float* device, std::vector<Tensor>& tensors) const;
  void copy_tensors_to_device(const std::vector<Tensor>* tensors, float* device) const;
  void check_tensors(const std::vector<Tensor>& tensors, const char* what) const;

  float* weight(std::size_t layer) const { return views_.parameters + weight_offset_[layer]; }
  float* bias(std::size_t layer) const { return views_.parameters + bias_offset_[layer]; }
  float* weight_gradient(std::size_t layer) const { return views_.gradients + weight_offset_[layer]; }
  float* bias_gradient(std::size_t layer) const { return views_.gradients + bias_offset_[layer]; }
  std::int64_t* trial_field_batch_first_row() const;
  std::int64_t* trial_field_step() const;
  MetricSums* trial_field_train() const;

  TrialSpec spec_;
  TrainerOptions options_;
  std::shared_ptr<const DataSplits> host_data_;
  std::shared_ptr<const DeviceSplits> device_data_;
  std::vector<LayerShape> layers_;
  std::vector<std::size_t> weight_offset_;
  std::vector<std::size_t> bias_offset_;
  std::size_t parameter_count_ = 0;
  int slots_ = 0;
  bool classification_ = true;
  int output_width_ = 0;
  int train_batch_ = 0;     // rows of a full training batch (batch_size, at most the split's rows)
  int rows_capacity_ = 0;   // rows of the forward buffers: max(train_batch, kEvaluationRows)
  int widest_output_ = 0;   // widest layer output: the backward buffers' width
  std::size_t train_rows_ = 0;
  int steps_per_epoch_ = 0;
  int full_steps_ = 0;
  int last_batch_ = 0;      // rows of the final partial batch, 0 when batches divide the split

  // Declared before what uses it: destroyed after the arena's stream-ordered free.
  Stream stream_;
  DeviceBuffer arena_;
  Views views_;
  std::optional<CublasHandle> cublas_;
  PinnedBuffer host_record_;       // DeviceTrial
  PinnedBuffer host_metrics_;      // MetricSums
  PinnedBuffer host_learning_rates_;  // double (steps_per_epoch)
  StepGraph full_step_;
  StepGraph last_step_;

  TrainConfig schedule_;  // the configuration the trial started with: extend_epochs keeps its horizon
  int epoch_ = 0;
  std::int64_t step_ = 0;
  EarlyStopping early_stopping_;
  TrialStatus status_ = TrialStatus::running;
};

CudaTrainer::CudaTrainer(const TrialSpec& spec, std::shared_ptr<const DataSplits> host_data,
                         std::shared_ptr<const DeviceSplits> device_data, const TrainerOptions& options)
    : spec_(spec), options_(options), host_data_(std::move(host_data)), device_data_(std::move(device_data)) {
  check_spec(spec_, *host_data_);
  layers_ = spec_.model.layers();
  slots_ = slot_count(spec_.train.optimizer);
  classification_ = host_data_->train.task == Task::classification;
  output_width_ = spec_.model.output_width;
  train_rows_ = host_data_->train.rows;
  train_batch_ = int(std::min<std::size_t>(std::size_t(spec_.train.batch_size), train_rows_));
  rows_capacity_ = std::max(train_batch_, kEvaluationRows);
  full_steps_ = int(train_rows_ / std::size_t(train_batch_));
  last_batch_ = int(train_rows_ % std::size_t(train_batch_));
  steps_per_epoch_ = full_steps_ + (last_batch_ > 0 ? 1 : 0);
  for (const LayerShape& layer : layers_) widest_output_ = std::max(widest_output_, layer.out);
  schedule_ = spec_.train;

  DeviceGuard device(options_.device);
  allocate_arena();
  cublas_.emplace(stream_.get(), views_.cublas_workspace, kCublasWorkspaceBytes);
  MLPTUNE_CUDA_CHECK(cublasSetMathMode(cublas_->get(), spec_.train.precision == Precision::tf32
                                                           ? CUBLAS_TF32_TENSOR_OP_MATH
                                                           : CUBLAS_DEFAULT_MATH));
  host_record_ = PinnedBuffer(sizeof(DeviceTrial));
  host_metrics_ = PinnedBuffer(sizeof(MetricSums));
  host_learning_rates_ = PinnedBuffer(std::size_t(steps_per_epoch_) * sizeof(double));
  initialize_parameters();
  if (!spec_.train.shuffle) kernels::identity_permutation(views_.order, train_rows_, stream_.get());
  stream_.synchronize();  // report any failure here, as this trial's, not at its first epoch
}

CudaTrainer::~CudaTrainer() {
  // Work in flight reads the arena and the shared data: finish it before anything is freed.
  MLPTUNE_CUDA_LOG(cudaSetDevice(options_.device));
  MLPTUNE_CUDA_LOG(cudaStreamSynchronize(stream_.get()));
}

std::size_t CudaTrainer::plan_arena(ArenaPlan& plan, std::vector<std::size_t>& offsets) const {
  const std::size_t capacity = std::size_t(rows_capacity_);
  const std::size_t parameters = parameter_count_;
  offsets.push_back(plan.reserve<float>(parameters));                              // 0 parameters
  offsets.push_back(plan.reserve<float>(parameters));                              // 1 gradients
  offsets.push_back(plan.reserve<float>(slots_ >= 1 ? parameters : 0));            // 2 first
  offsets.push_back(plan.reserve<float>(slots_ >= 2 ? parameters : 0));            // 3 second
  offsets.push_back(plan.reserve<float>(capacity * std::size_t(spec_.model.input_width)));  // 4 x
  const std::size_t grad_count = std::size_t(train_batch_) * std::size_t(widest_output_);
  offsets.push_back(plan.reserve<float>(grad_count));                              // 5 grad_a
  offsets.push_back(plan.reserve<float>(grad_count));                              // 6 grad_b
  offsets.push_back(plan.reserve<std::int32_t>(capacity));                         // 7 labels
  offsets.push_back(plan.reserve<float>(capacity * std::size_t(output_width_)));   // 8 targets
  offsets.push_back(plan.reserve<float>(capacity));                                // 9 sample_loss
  offsets.push_back(plan.reserve<std::int32_t>(capacity));                         // 10 correct
  offsets.push_back(plan.reserve<DeviceTrial>(1));                                 // 11 trial
  offsets.push_back(plan.reserve<MetricSums>(1));                                  // 12 evaluation
  offsets.push_back(plan.reserve<double>(std::size_t(steps_per_epoch_)));          // 13 learning rates
  offsets.push_back(plan.reserve<std::uint32_t>(train_rows_));                     // 14 order
  const std::size_t shuffle_bytes = spec_.train.shuffle ? kernels::shuffle_workspace_bytes(train_rows_) : 0;
  offsets.push_back(plan.reserve<unsigned char>(shuffle_bytes));                   // 15 shuffle
  offsets.push_back(plan.reserve<unsigned char>(kCublasWorkspaceBytes));           // 16 cuBLAS
  for (std::size_t l = 0; l < layers_.size(); ++l) {
    offsets.push_back(plan.reserve<float>(capacity * std::size_t(layers_[l].out)));  // pre
    const bool hidden = l + 1 < layers_.size();
    offsets.push_back(plan.reserve<float>(hidden ? capacity * std::size_t(layers_[l].out) : 0));  // out
  }
  return shuffle_bytes;
}

void CudaTrainer::allocate_arena() {
  for (const LayerShape& layer : layers_) {
    weight_offset_.push_back(parameter_count_);
    parameter_count_ += std::size_t(layer.weight_count());
    bias_offset_.push_back(parameter_count_);
    parameter_count_ += std::size_t(layer.bias_count());
  }
  ArenaPlan plan;
  std::vector<std::size_t> offsets;
  const std::size_t shuffle_bytes = plan_arena(plan, offsets);

  // Try the allocation itself rather than comparing with cudaMemGetInfo first: the stream-ordered
  // pool may hold freed memory that it reuses but that cudaMemGetInfo does not count as free.
  try {
    arena_ = DeviceBuffer(plan.bytes(), stream_.get(), /*stream_ordered=*/true);
  } catch (const DeviceError& error) {
    std::size_t free_bytes = 0;
    std::size_t total_bytes = 0;
    MLPTUNE_CUDA_CHECK(cudaMemGetInfo(&free_bytes, &total_bytes));
    throw DeviceError("out of GPU memory: trial needs " + mib(plan.bytes()) + " MiB, " + mib(free_bytes) +
                      " MiB free on " + device_label(options_.device) + " (" + error.what() + ")");
  }

  auto* base = arena_.as<unsigned char>();
  const auto at = [&](std::size_t index) { return static_cast<void*>(base + offsets[index]); };
  views_.parameters = static_cast<float*>(at(0));
  views_.gradients = static_cast<float*>(at(1));
  views_.first = slots_ >= 1 ? static_cast<float*>(at(2)) : nullptr;
  views_.second = slots_ >= 2 ? static_cast<float*>(at(3)) : nullptr;
  views_.x = static_cast<float*>(at(4));
  views_.grad_a = static_cast<float*>(at(5));
  views_.grad_b = static_cast<float*>(at(6));
  views_.labels = static_cast<std::int32_t*>(at(7));
  views_.targets = static_cast<float*>(at(8));
  views_.sample_loss = static_cast<float*>(at(9));
  views_.correct = static_cast<std::int32_t*>(at(10));
  views_.trial = static_cast<DeviceTrial*>(at(11));
  views_.evaluation = static_cast<MetricSums*>(at(12));
  views_.learning_rates = static_cast<double*>(at(13));
  views_.order = static_cast<std::uint32_t*>(at(14));
  views_.shuffle_workspace = at(15);
  views_.shuffle_workspace_bytes = shuffle_bytes;
  views_.cublas_workspace = at(16);
  for (std::size_t l = 0; l < layers_.size(); ++l) {
    views_.pre.push_back(static_cast<float*>(at(17 + 2 * l)));
    views_.out.push_back(l + 1 < layers_.size() ? static_cast<float*>(at(18 + 2 * l)) : nullptr);
  }
}

void CudaTrainer::initialize_parameters() {
  const cudaStream_t stream = stream_.get();
  for (std::size_t l = 0; l < layers_.size(); ++l) {
    kernels::initialize_weights(spec_.model.init, spec_.train.seed, int(l), layers_[l].in, layers_[l].out, weight(l),
                                stream);
    MLPTUNE_CUDA_CHECK(cudaMemsetAsync(bias(l), 0, std::size_t(layers_[l].out) * sizeof(float), stream));
  }
  if (views_.first != nullptr)
    MLPTUNE_CUDA_CHECK(cudaMemsetAsync(views_.first, 0, parameter_count_ * sizeof(float), stream));
  if (views_.second != nullptr)
    MLPTUNE_CUDA_CHECK(cudaMemsetAsync(views_.second, 0, parameter_count_ * sizeof(float), stream));
}

DeviceTrial CudaTrainer::make_record() const {
  const TrainConfig& train = spec_.train;
  DeviceTrial record;
  record.momentum = train.momentum;
  record.beta1 = train.beta1;
  record.beta2 = train.beta2;
  record.epsilon = train.epsilon;
  record.weight_decay = train.weight_decay;
  record.optimizer = static_cast<std::int32_t>(device_optimizer(train.optimizer));
  record.batch_size = train_batch_;
  record.epoch_first_step = step_;
  record.step = step_;
  return record;
}

std::int64_t* CudaTrainer::trial_field_batch_first_row() const {
  return reinterpret_cast<std::int64_t*>(reinterpret_cast<unsigned char*>(views_.trial) +
                                         offsetof(DeviceTrial, batch_first_row));
}

std::int64_t* CudaTrainer::trial_field_step() const {
  return reinterpret_cast<std::int64_t*>(reinterpret_cast<unsigned char*>(views_.trial) + offsetof(DeviceTrial, step));
}

MetricSums* CudaTrainer::trial_field_train() const {
  return reinterpret_cast<MetricSums*>(reinterpret_cast<unsigned char*>(views_.trial) + offsetof(DeviceTrial, train));
}

// --- the training step ----------------------------------------------------------------------------

void CudaTrainer::gather_batch(const DeviceDataset& data, kernels::RowSelection rows, int batch) {
  const cudaStream_t stream = stream_.get();
  data.gather_features(rows, batch, views_.x, stream);
  if (data.task() == Task::classification) {
    kernels::gather_labels(data.labels(), rows, batch, views_.labels, stream);
  } else {
    kernels::gather_rows(data.targets(), std::size_t(output_width_), rows, batch, views_.targets, stream);
  }
}

// x (B, in) → per layer pre (B, out) = input·Wᵀ + b and, on hidden layers, out (B, out) = f(pre).
void CudaTrainer::forward(int batch) {
  const cudaStream_t stream = stream_.get();
  const float* input = views_.x;
  for (std::size_t l = 0; l < layers_.size(); ++l) {
    const LayerShape& layer = layers_[l];
    linear_forward_product(cublas_->get(), spec_.train.precision, input, weight(l), views_.pre[l], batch, layer.in,
                           layer.out);
    const bool hidden = l + 1 < layers_.size();
    kernels::bias_activation_forward(hidden ? spec_.model.activation : Activation::identity, views_.pre[l], bias(l),
                                     views_.out[l], batch, layer.out, stream);
    input = views_.out[l];
  }
}

// logits (B, output_width) → sample_loss (B) and, when grad is not null, ∂(batch-mean loss)/∂logits.
void CudaTrainer::loss(int batch, float* grad) {
  const float* logits = views_.pre.back();
  if (spec_.model.loss == Loss::softmax_cross_entropy)
    kernels::softmax_cross_entropy(logits, views_.labels, views_.sample_loss, grad, batch, output_width_,
                                   stream_.get());
  else
    kernels::mean_squared_error(logits, views_.targets, views_.sample_loss, grad, batch, output_width_,
                                stream_.get());
}

// grad_a holds ∂L/∂logits (B, output_width); fills every parameter's gradient.
void CudaTrainer::backward(int batch) {
  const cudaStream_t stream = stream_.get();
  float* grad_y = views_.grad_a;
  float* grad_x = views_.grad_b;
  for (std::size_t l = layers_.size(); l-- > 0;) {
    const LayerShape& layer = layers_[l];
    const float* input = l == 0 ? views_.x : views_.out[l - 1];
    linear_weight_gradient(cublas_->get(), spec_.train.precision, input, grad_y, weight_gradient(l), batch, layer.in,
                           layer.out);
    kernels::bias_gradient(grad_y, bias_gradient(l), batch, layer.out, stream);
    if (l == 0) break;
    linear_input_gradient(cublas_->get(), spec_.train.precision, weight(l), grad_y, grad_x, batch, layer.in,
                          layer.out);
    kernels::activation_backward(spec_.model.activation, views_.pre[l - 1], grad_x,
                                 std::size_t(batch) * std::size_t(layer.in), stream);
    std::swap(grad_y, grad_x);
  }
}

// One training step, every launch on the trial's stream and every varying value read from the
// trial record, so the same launches captured once replay for every step of every epoch.
void CudaTrainer::issue_step(int batch) {
  const cudaStream_t stream = stream_.get();
  kernels::begin_step(views_.trial, views_.learning_rates, steps_per_epoch_, stream);
  {
    Range range{"forward"};
    gather_batch(device_data_->train, kernels::RowSelection{views_.order, trial_field_batch_first_row(), 0}, batch);
    forward(batch);
    loss(batch, views_.grad_a);
    kernels::accumulate_metrics(views_.sample_loss, nullptr, batch, trial_field_train(), trial_field_step(), stream);
  }
  {
    Range range{"backward"};
    backward(batch);
  }
  {
    Range range{"update"};
    kernels::optimizer_update(views_.trial, views_.parameters, views_.gradients, views_.first, views_.second,
                              parameter_count_, stream);
    kernels::end_step(views_.trial, stream);
  }
}

void CudaTrainer::run_step(StepGraph& graph, int batch, std::int64_t global_step) {
  const std::string name = "step " + std::to_string(global_step);
  Range range{name};
  const cudaStream_t stream = stream_.get();
  if (!options_.use_graphs) return issue_step(batch);
  if (!graph.exec && graph.warmed_up) {
    // Thread-local capture: other threads' trainers may allocate or sync while this one captures.
    MLPTUNE_CUDA_CHECK(cudaStreamBeginCapture(stream, cudaStreamCaptureModeThreadLocal));
    try {
      issue_step(batch);
    } catch (...) {
      cudaGraph_t broken = nullptr;
      MLPTUNE_CUDA_LOG(cudaStreamEndCapture(stream, &broken));
      if (broken != nullptr) MLPTUNE_CUDA_LOG(cudaGraphDestroy(broken));
      throw;
    }
    cudaGraph_t captured = nullptr;
    MLPTUNE_CUDA_CHECK(cudaStreamEndCapture(stream, &captured));
    graph.exec = GraphExec(captured);
  }
  if (graph.exec) {
    graph.exec.launch(stream);
  } else {
    issue_step(batch);
    graph.warmed_up = true;
  }
}

EpochReport CudaTrainer::train_epoch() {
  if (status_ != TrialStatus::running)
    throw Error("trial " + std::to_string(spec_.trial_number) + " has ended (" + to_string(status_) +
                "); train_epoch cannot continue it" +
                (status_ == TrialStatus::completed ? " (raise its budget with extend_epochs first)" : ""));
  DeviceGuard device(options_.device);
  const std::string trial_name = "trial " + std::to_string(spec_.trial_number);
  const std::string epoch_name = "epoch " + std::to_string(epoch_ + 1);
  Range trial_range{trial_name};
  Range epoch_range{epoch_name};
  const auto start = std::chrono::steady_clock::now();
  const cudaStream_t stream = stream_.get();
  const std::int64_t first_step = step_;
  EpochReport report;
  try {
    auto* rates = host_learning_rates_.as<double>();
    for (int i = 0; i < steps_per_epoch_; ++i) rates[i] = learning_rate_at(schedule_, first_step + i, steps_per_epoch_);
    MLPTUNE_CUDA_CHECK(cudaMemcpyAsync(views_.learning_rates, rates, std::size_t(steps_per_epoch_) * sizeof(double),
                                       cudaMemcpyHostToDevice, stream));
    if (spec_.train.shuffle)
      kernels::epoch_permutation(spec_.train.seed, epoch_, train_rows_, views_.order, views_.shuffle_workspace,
                                 views_.shuffle_workspace_bytes, stream);
    auto* record = host_record_.as<DeviceTrial>();
    *record = make_record();
    MLPTUNE_CUDA_CHECK(cudaMemcpyAsync(views_.trial, record, sizeof(DeviceTrial), cudaMemcpyHostToDevice, stream));
    for (int i = 0; i < full_steps_; ++i) run_step(full_step_, train_batch_, first_step + i + 1);
    if (last_batch_ > 0) run_step(last_step_, last_batch_, first_step + full_steps_ + 1);
    // Every step's loss was checked before its update; the epoch's last update itself may overflow.
    kernels::flag_nonfinite_values(views_.parameters, parameter_count_, trial_field_train(), trial_field_step(), stream);
    MLPTUNE_CUDA_CHECK(cudaMemcpyAsync(record, views_.trial, sizeof(DeviceTrial), cudaMemcpyDeviceToHost, stream));
    stream_.synchronize();
    const double train_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();

    const DeviceTrial& result = *record;
    const bool diverged = result.train.nonfinite != 0;
    step_ = result.step;
    report.epoch = epoch_ + 1;
    report.step = step_;
    report.samples_per_second = train_seconds > 0.0 ? double(train_rows_) / train_seconds : 0.0;
    if (diverged) {
      // As on the CPU backend, no validation, and the two cases it reports apart. A non-finite loss
      // is flagged with the step it would have been (step + 1; the counter stopped before it): the
      // epoch does not count and the rate is that step's. An epoch-end update that made parameters
      // non-finite is flagged with the step that made it: the epoch counts, its loss is finite.
      status_ = TrialStatus::diverged;
      const bool by_update = result.train.first_nonfinite_step == result.step;
      report.message = "diverged at epoch " + std::to_string(report.epoch) + ", step " +
                       std::to_string(result.train.first_nonfinite_step) +
                       (by_update ? " (the update made parameters non-finite)" : "");
      report.train_loss = result.train.loss_sum / double(train_rows_);
      report.learning_rate = learning_rate_at(schedule_, by_update ? step_ - 1 : step_, steps_per_epoch_);
      if (by_update) ++epoch_;
    } else {
      report.train_loss = result.train.loss_sum / double(train_rows_);
      report.learning_rate = learning_rate_at(schedule_, step_ - 1, steps_per_epoch_);
      end_of_epoch(report);
    }
  } catch (...) {
    status_ = TrialStatus::failed;
    throw;
  }
  report.status = status_;
  report.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return report;
}

// Validation, early-stopping bookkeeping and the status after a finished epoch (as on the CPU backend).
void CudaTrainer::end_of_epoch(EpochReport& report) {
  ++epoch_;
  std::optional<double> validation_loss;
  if (host_data_->validation.rows > 0) {
    Range range{"evaluate"};
    report.validation = evaluate_resident(device_data_->validation, host_data_->validation.target_scale);
    validation_loss = report.validation.loss;
  }
  status_ = early_stopping_.after_epoch(spec_.train, epoch_, validation_loss, report.message);
}

// --- evaluation and prediction --------------------------------------------------------------------

Metrics CudaTrainer::evaluate_resident(const DeviceDataset& data, double target_scale) {
  const cudaStream_t stream = stream_.get();
  MLPTUNE_CUDA_CHECK(cudaMemsetAsync(views_.evaluation, 0, sizeof(MetricSums), stream));
  for (std::size_t first = 0; first < data.rows(); first += std::size_t(rows_capacity_)) {
    const int rows = int(std::min<std::size_t>(std::size_t(rows_capacity_), data.rows() - first));
    gather_batch(data, kernels::RowSelection{nullptr, nullptr, std::int64_t(first)}, rows);
    forward(rows);
    loss(rows, nullptr);
    if (data.task() == Task::classification)
      kernels::count_correct(views_.pre.back(), views_.labels, views_.correct, rows, output_width_, stream);
    kernels::accumulate_metrics(views_.sample_loss, data.task() == Task::classification ? views_.correct : nullptr,
                                rows, views_.evaluation, nullptr, stream);
  }
  auto* result = host_metrics_.as<MetricSums>();
  MLPTUNE_CUDA_CHECK(cudaMemcpyAsync(result, views_.evaluation, sizeof(MetricSums), cudaMemcpyDeviceToHost, stream));
  stream_.synchronize();
  Metrics metrics;
  metrics.samples = result->samples;
  if (result->samples == 0) return metrics;
  const double samples = double(result->samples);
  metrics.loss = result->loss_sum / samples;
  if (data.task() == Task::classification)
    metrics.accuracy = double(result->correct) / samples;
  else
    metrics.rmse = std::sqrt(result->loss_sum / samples) * target_scale;
  return metrics;
}

const DeviceDataset* CudaTrainer::resident(const Dataset& split) const {
  if (&split == &host_data_->train) return &device_data_->train;
  if (&split == &host_data_->validation) return &device_data_->validation;
  if (&split == &host_data_->test) return &device_data_->test;
  return nullptr;
}

void CudaTrainer::check_inputs(const Dataset& data, bool needs_outputs) const {
  if (data.cols != std::size_t(spec_.model.input_width))
    throw ConfigError("dataset '" + data.name + "' has " + std::to_string(data.cols) + " features; the model takes " +
                      std::to_string(spec_.model.input_width));
  if (needs_outputs && (data.output_width() != output_width_ || data.task != host_data_->train.task))
    throw ConfigError("dataset '" + data.name + "' does not have the " + std::to_string(output_width_) +
                      " outputs of the training set");
}

Metrics CudaTrainer::evaluate(const Dataset& split) {
  if (status_ == TrialStatus::failed) throw Error("trial " + std::to_string(spec_.trial_number) + " has failed");
  check_inputs(split, /*needs_outputs=*/true);
  DeviceGuard device(options_.device);
  Range range{"evaluate"};
  if (const DeviceDataset* data = resident(split)) return evaluate_resident(*data, split.target_scale);
  const DeviceDataset uploaded(split, stream_.get());
  return evaluate_resident(uploaded, split.target_scale);
}

std::vector<float> CudaTrainer::predict(const Dataset& data) {
  if (status_ == TrialStatus::failed) throw Error("trial " + std::to_string(spec_.trial_number) + " has failed");
  check_inputs(data, /*needs_outputs=*/false);
  DeviceGuard device(options_.device);
  Range range{"predict"};
  const cudaStream_t stream = stream_.get();
  std::optional<DeviceDataset> uploaded;
  const DeviceDataset* source = resident(data);
  if (source == nullptr) {
    // Features only: predict needs no labels, so upload a copy whose outputs are unused.
    Dataset features_only;
    features_only.name = data.name;
    features_only.task = Task::regression;
    features_only.rows = data.rows;
    features_only.cols = data.cols;
    features_only.features = data.features;
    features_only.raw_bytes = data.raw_bytes;
    features_only.column_scale = data.column_scale;
    features_only.column_offset = data.column_offset;
    uploaded.emplace(features_only, stream);
    source = &*uploaded;
  }
  std::vector<float> outputs(data.rows * std::size_t(output_width_));
  for (std::size_t first = 0; first < data.rows; first += std::size_t(rows_capacity_)) {
    const int rows = int(std::min<std::size_t>(std::size_t(rows_capacity_), data.rows - first));
    source->gather_features(kernels::RowSelection{nullptr, nullptr, std::int64_t(first)}, rows, views_.x, stream);
    forward(rows);
    MLPTUNE_CUDA_CHECK(cudaMemcpyAsync(outputs.data() + first * std::size_t(output_width_), views_.pre.back(),
                                       std::size_t(rows) * std::size_t(output_width_) * sizeof(float),
                                       cudaMemcpyDeviceToHost, stream));
  }
  stream_.synchronize();
  return outputs;
}

// --- state -------------------------------------------------------------------------------------

void CudaTrainer::copy_tensors_to_host(const float* device, std::vector<Tensor>& tensors) const {
  const cudaStream_t stream = stream_.get();
  for (std::size_t l = 0; l < layers_.size(); ++l) {
    const LayerShape& layer = layers_[l];
    Tensor weight_tensor{layer_name(l, "weight"), {layer.out, layer.in}, std::vector<float>(std::size_t(layer.weight_count()))};
    Tensor bias_tensor{layer_name(l, "bias"), {layer.out}, std::vector<float>(std::size_t(layer.bias_count()))};
    MLPTUNE_CUDA_CHECK(cudaMemcpyAsync(weight_tensor.data.data(), device + weight_offset_[l],
                                       weight_tensor.data.size() * sizeof(float), cudaMemcpyDeviceToHost, stream));
    MLPTUNE_CUDA_CHECK(cudaMemcpyAsync(bias_tensor.data.data(), device + bias_offset_[l],
                                       bias_tensor.data.size() * sizeof(float), cudaMemcpyDeviceToHost, stream));
    tensors.push_back(std::move(weight_tensor));
    tensors.push_back(std::move(bias_tensor));
  }
}

TrialState CudaTrainer::state() const {
  DeviceGuard device(options_.device);
  TrialState state;
  state.model = spec_.model;
  copy_tensors_to_host(views_.parameters, state.parameters);
  if (views_.first != nullptr) copy_tensors_to_host(views_.first, state.first_moment);
  if (views_.second != nullptr) copy_tensors_to_host(views_.second, state.second_moment);
  stream_.synchronize();
  state.step = step_;
  state.epoch = epoch_;
  state.best_validation_loss = early_stopping_.best_validation_loss;
  state.epochs_since_best = early_stopping_.epochs_since_best;
  return state;
}

void CudaTrainer::check_tensors(const std::vector<Tensor>& tensors, const char* what) const {
  if (tensors.size() != 2 * layers_.size())
    throw ConfigError(std::string("load_state: ") + what + " holds " + std::to_string(tensors.size()) +
                      " tensors; this model has " + std::to_string(2 * layers_.size()));
  for (std::size_t l = 0; l < layers_.size(); ++l) {
    const LayerShape& layer = layers_[l];
    const std::vector<std::int64_t> weight_shape{layer.out, layer.in};
    const std::vector<std::int64_t> bias_shape{layer.out};
    const Tensor& w = tensors[2 * l];
    const Tensor& b = tensors[2 * l + 1];
    if (w.name != layer_name(l, "weight") || b.name != layer_name(l, "bias") || w.shape != weight_shape || w.data.size() != std::size_t(layer.weight_count()) || b.shape != bias_shape ||
        b.data.size() != std::size_t(layer.bias_count()))
      throw ConfigError(std::string("load_state: ") + what + " of layer " + std::to_string(l) +
                        " is not " + layer_name(l, "weight") + " (" + std::to_string(layer.out) + ", " +
                        std::to_string(layer.in) + ") and " + layer_name(l, "bias") + " (" + std::to_string(layer.out) +
                        ")");
  }
}

// tensors null or empty: zeros (a slot the saved optimizer did not keep).
void CudaTrainer::copy_tensors_to_device(const std::vector<Tensor>* tensors, float* device) const {
  const cudaStream_t stream = stream_.get();
  if (tensors == nullptr || tensors->empty()) {
    MLPTUNE_CUDA_CHECK(cudaMemsetAsync(device, 0, parameter_count_ * sizeof(float), stream));
    return;
  }
  for (std::size_t l = 0; l < layers_.size(); ++l) {
    const Tensor& w = (*tensors)[2 * l];
    const Tensor& b = (*tensors)[2 * l + 1];
    MLPTUNE_CUDA_CHECK(cudaMemcpyAsync(device + weight_offset_[l], w.data.data(), w.data.size() * sizeof(float),
                                       cudaMemcpyHostToDevice, stream));
    MLPTUNE_CUDA_CHECK(cudaMemcpyAsync(device + bias_offset_[l], b.data.data(), b.data.size() * sizeof(float),
                                       cudaMemcpyHostToDevice, stream));
  }
}

void CudaTrainer::load_state(const TrialState& state) {
  if (state.model.input_width != spec_.model.input_width || state.model.hidden != spec_.model.hidden ||
      state.model.output_width != spec_.model.output_width)
    throw ConfigError("load_state: the state's model widths differ from this trial's model");
  check_tensors(state.parameters, "parameters");
  if (slots_ >= 1 && !state.first_moment.empty()) check_tensors(state.first_moment, "first_moment");
  if (slots_ >= 2 && !state.second_moment.empty()) check_tensors(state.second_moment, "second_moment");
  if (state.step < 0 || state.epoch < 0) throw ConfigError("load_state: negative step or epoch");
  DeviceGuard device(options_.device);
  // Pageable sources: wait for work reading the parameters, copy, then wait for the copies.
  stream_.synchronize();
  copy_tensors_to_device(&state.parameters, views_.parameters);
  if (views_.first != nullptr) copy_tensors_to_device(&state.first_moment, views_.first);
  if (views_.second != nullptr) copy_tensors_to_device(&state.second_moment, views_.second);
  stream_.synchronize();
  step_ = state.step;
  epoch_ = state.epoch;
  early_stopping_ = {state.best_validation_loss, state.epochs_since_best};
  status_ = epoch_ < spec_.train.epochs ? TrialStatus::running : TrialStatus::completed;
}

void CudaTrainer::extend_epochs(int epochs) {
  if (epochs < spec_.train.epochs)
    throw ConfigError("extend_epochs: " + std::to_string(epochs) + " is below the current budget of " +
                      std::to_string(spec_.train.epochs) + " epochs");
  spec_.train.epochs = epochs;
  if (status_ == TrialStatus::completed && epoch_ < spec_.train.epochs) status_ = TrialStatus::running;
}

}  // namespace

std::unique_ptr<Trainer> make_cuda_trainer(const TrialSpec& spec, std::shared_ptr<const DataSplits> host_data,
                                           std::shared_ptr<const DeviceSplits> device_data,
                                           const TrainerOptions& options) {
  if (!host_data || !device_data) throw ConfigError("make_trainer: no data given");
  return std::make_unique<CudaTrainer>(spec, std::move(host_data), std::move(device_data), options);
}

}  // namespace mlptune::cuda
