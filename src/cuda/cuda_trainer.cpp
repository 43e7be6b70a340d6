// The CUDA trainer: one trial's arena, stream, cuBLAS handle and step graphs; the training step
// (gather, forward, loss, backward, update) as a sequence of stream-ordered launches.
#include "cuda/cuda_trainer.hpp"

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstring>
#include <limits>
#include <nvtx3/nvtx3.hpp>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "activation.cuh"
#include "bias_gradient.cuh"
#include "cuda/cuda_check.hpp"
#include "cuda/device_resources.hpp"
#include "cuda/device_trial.hpp"
#include "cuda/gemm.hpp"
#include "dropout.cuh"
#include "gather.cuh"
#include "gradient_clip.cuh"
#include "init.cuh"
#include "loss.cuh"
#include "metrics.cuh"
#include "mlptune/error.hpp"
#include "nn/trainer_core.hpp"
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

std::size_t align_up(std::size_t bytes) {
  return (bytes + kArenaAlignment - 1) / kArenaAlignment * kArenaAlignment;
}

// Sub-buffers of one device allocation, each 256-byte aligned, handed out in the order reserved.
// Without a base it only measures (every view it returns is empty); over the allocation's base
// the same sequence of reservations gives the views.
class ArenaPlan {
 public:
  explicit ArenaPlan(unsigned char* base = nullptr) : base_(base) {}

  template <class T>
  std::span<T> reserve(std::size_t count) {
    const std::size_t offset = bytes_;
    bytes_ += align_up(count * sizeof(T));
    if (base_ == nullptr || count == 0) return {};
    return {reinterpret_cast<T*>(base_ + offset), count};
  }
  std::size_t bytes() const { return bytes_; }

 private:
  unsigned char* base_;
  std::size_t bytes_ = 0;
};

// A field of a device-side record, by address (offsetof: the record itself is not on the host).
template <class Field, class Record>
Field* field_at(Record* record, std::size_t offset) {
  return reinterpret_cast<Field*>(reinterpret_cast<unsigned char*>(record) + offset);
}

// One tensor of a flat parameter-shaped array; empty while the arena is only measured.
std::span<float> slice(std::span<float> flat, const TensorSlot& tensor) {
  return flat.empty() ? std::span<float>() : flat.subspan(tensor.offset, tensor.count);
}

DeviceOptimizer device_optimizer(Optimizer optimizer) {
  switch (optimizer) {
    case Optimizer::sgd:
      return DeviceOptimizer::sgd;
    case Optimizer::momentum:
      return DeviceOptimizer::momentum;
    case Optimizer::nesterov:
      return DeviceOptimizer::nesterov;
    case Optimizer::adam:
      return DeviceOptimizer::adam;
    case Optimizer::adamw:
      return DeviceOptimizer::adamw;
  }
  throw ConfigError("unknown optimizer");
}

std::string mib(std::size_t bytes) {
  return std::to_string(static_cast<long long>(std::ceil(double(bytes) / kMiB)));
}

class CudaTrainer final : public TrainerCore {
 public:
  CudaTrainer(const TrialSpec& spec, std::shared_ptr<const DataSplits> host_data,
              std::shared_ptr<const DeviceSplits> device_data, const TrainerOptions& options);
  ~CudaTrainer() override;
  CudaTrainer(const CudaTrainer&) = delete;
  CudaTrainer& operator=(const CudaTrainer&) = delete;

  // The core's epoch inside the trial's and the epoch's NVTX ranges, on the trial's device.
  EpochReport train_epoch() override;

 private:
  // One layer's tensors in the arena. weight, bias and their gradients lie inside the flat
  // parameters and gradients, where the ParameterLayout puts them.
  struct LayerViews {
    std::span<float> weight;           // (out, in)
    std::span<float> bias;             // (out)
    std::span<float> weight_gradient;  // (out, in)
    std::span<float> bias_gradient;    // (out)
    float* pre = nullptr;              // (rows_capacity, out): pre-activations (logits for the last layer)
    float* out = nullptr;              // (rows_capacity, out): activations; null on the output layer
  };

  // Where each buffer lives in the arena (lay_out_arena is the one function that knows it).
  struct Views {
    std::span<float> parameters;  // P, in ParameterLayout order
    std::span<float> gradients;   // P, same layout
    std::span<float> first;       // P, or empty: optimizer slot 1
    std::span<float> second;      // P, or empty: optimizer slot 2
    float* x = nullptr;           // (rows_capacity, input_width)
    float* grad_a = nullptr;      // (train_batch, widest layer output): backward ping-pong
    float* grad_b = nullptr;
    std::int32_t* labels = nullptr;   // (rows_capacity)
    float* targets = nullptr;         // (rows_capacity, output_width): regression
    float* sample_loss = nullptr;     // (rows_capacity)
    std::int32_t* correct = nullptr;  // (rows_capacity)
    DeviceTrial* trial = nullptr;
    MetricSums* evaluation = nullptr;
    double* learning_rates = nullptr;            // (steps_per_epoch): this epoch's schedule
    double* gradient_partials = nullptr;         // (kGradientNormBlocks), where clip_norm > 0: the norm's first pass
    std::uint32_t* order = nullptr;              // (train rows): this epoch's permutation
    std::span<unsigned char> shuffle_workspace;  // empty when shuffle is off
    std::span<unsigned char> cublas_workspace;
    // Fields of *trial that kernels address directly.
    std::int64_t* trial_batch_first_row = nullptr;
    std::int64_t* trial_step = nullptr;
    MetricSums* trial_train = nullptr;
    std::vector<LayerViews> layers;
  };

  struct StepGraph {
    GraphExec exec;
    bool warmed_up = false;  // one eager run first: lazy module loading happens outside capture
  };

  EpochSteps train_steps(int epoch, std::int64_t first_step) override;
  MetricSums sum_metrics(const Dataset& split) override;
  std::vector<float> compute_outputs(const Dataset& data) override;
  FlatParameters read_parameters() const override;
  void write_parameters(const FlatParameters& flat) override;

  Views lay_out_arena(ArenaPlan& plan) const;
  void allocate_arena();
  void initialize_parameters();
  DeviceTrial make_record(std::int64_t steps_taken) const;

  void run_step(StepGraph& graph, int batch, std::int64_t global_step);
  void issue_step(int batch);
  void gather_batch(const DeviceDataset& data, kernels::RowSelection rows, int batch);
  // Training applies dropout (the record's rate, seed and step); evaluation none.
  enum class Pass { training, evaluation };
  void forward(int batch, Pass pass);
  void loss(int batch, float* grad);
  void backward(int batch);

  MetricSums sum_resident(const DeviceDataset& data);
  const DeviceDataset* resident(const Dataset& split) const;
  void copy_to_host(std::span<const float> device, std::vector<float>& host) const;
  void copy_to_device(const std::vector<float>& host, std::span<float> device) const;

  TrainerOptions options_;
  std::shared_ptr<const DeviceSplits> device_data_;
  std::vector<LayerShape> layers_;
  int output_width_ = 0;
  int train_batch_ = 0;    // rows of a full training batch (batch_size, at most the split's rows)
  int rows_capacity_ = 0;  // rows of the forward buffers: max(train_batch, kEvaluationRows)
  int widest_output_ = 0;  // widest layer output: the backward buffers' width
  std::size_t train_rows_ = 0;
  int full_steps_ = 0;
  int last_batch_ = 0;  // rows of the final partial batch, 0 when batches divide the split

  // Declared before what uses it: destroyed after the arena's stream-ordered free.
  Stream stream_;
  DeviceBuffer arena_;
  Views views_;
  std::optional<CublasHandle> cublas_;
  PinnedBuffer host_record_;          // DeviceTrial
  PinnedBuffer host_metrics_;         // MetricSums
  PinnedBuffer host_learning_rates_;  // double (steps_per_epoch)
  StepGraph full_step_;
  StepGraph last_step_;
};

CudaTrainer::CudaTrainer(const TrialSpec& spec, std::shared_ptr<const DataSplits> host_data,
                         std::shared_ptr<const DeviceSplits> device_data, const TrainerOptions& options)
    : TrainerCore(spec, std::move(host_data)), options_(options), device_data_(std::move(device_data)) {
  compute_type(spec.train.precision);  // rejects bf16 with the fix in the message
  layers_ = spec.model.layers();
  output_width_ = spec.model.output_width;
  train_rows_ = data().train.rows;
  train_batch_ = int(std::min<std::size_t>(std::size_t(spec.train.batch_size), train_rows_));
  rows_capacity_ = std::max(train_batch_, kEvaluationRows);
  full_steps_ = int(train_rows_ / std::size_t(train_batch_));
  last_batch_ = int(train_rows_ % std::size_t(train_batch_));
  for (const LayerShape& layer : layers_) widest_output_ = std::max(widest_output_, layer.out);

  DeviceGuard device(options_.device);
  allocate_arena();
  cublas_.emplace(stream_.get(), views_.cublas_workspace.data(), views_.cublas_workspace.size());
  MLPTUNE_CUDA_CHECK(cublasSetMathMode(
      cublas_->get(), spec.train.precision == Precision::tf32 ? CUBLAS_TF32_TENSOR_OP_MATH : CUBLAS_DEFAULT_MATH));
  host_record_ = PinnedBuffer(sizeof(DeviceTrial));
  host_metrics_ = PinnedBuffer(sizeof(MetricSums));
  host_learning_rates_ = PinnedBuffer(std::size_t(steps_per_epoch()) * sizeof(double));
  initialize_parameters();
  if (!spec.train.shuffle) kernels::identity_permutation(views_.order, train_rows_, stream_.get());
  stream_.synchronize();  // report any failure here, as this trial's, not at its first epoch
}

CudaTrainer::~CudaTrainer() {
  // Work in flight reads the arena and the shared data: finish it before anything is freed.
  MLPTUNE_CUDA_LOG(cudaSetDevice(options_.device));
  MLPTUNE_CUDA_LOG(cudaStreamSynchronize(stream_.get()));
}

// The arena's layout, in one place: allocate_arena runs it once to measure (no base) and once
// over the allocation to bind the views. The order of the reservations is the memory layout.
CudaTrainer::Views CudaTrainer::lay_out_arena(ArenaPlan& plan) const {
  const std::size_t capacity = std::size_t(rows_capacity_);
  const std::size_t parameters = layout().parameter_count();
  Views views;
  views.parameters = plan.reserve<float>(parameters);
  views.gradients = plan.reserve<float>(parameters);
  views.first = plan.reserve<float>(slot_count() >= 1 ? parameters : 0);
  views.second = plan.reserve<float>(slot_count() >= 2 ? parameters : 0);
  views.x = plan.reserve<float>(capacity * std::size_t(spec().model.input_width)).data();
  const std::size_t grad_count = std::size_t(train_batch_) * std::size_t(widest_output_);
  views.grad_a = plan.reserve<float>(grad_count).data();
  views.grad_b = plan.reserve<float>(grad_count).data();
  views.labels = plan.reserve<std::int32_t>(capacity).data();
  views.targets = plan.reserve<float>(capacity * std::size_t(output_width_)).data();
  views.sample_loss = plan.reserve<float>(capacity).data();
  views.correct = plan.reserve<std::int32_t>(capacity).data();
  views.trial = plan.reserve<DeviceTrial>(1).data();
  views.evaluation = plan.reserve<MetricSums>(1).data();
  views.learning_rates = plan.reserve<double>(std::size_t(steps_per_epoch())).data();
  views.gradient_partials =
      plan.reserve<double>(spec().train.clip_norm > 0 ? std::size_t(kernels::kGradientNormBlocks) : 0).data();
  views.order = plan.reserve<std::uint32_t>(train_rows_).data();
  views.shuffle_workspace =
      plan.reserve<unsigned char>(spec().train.shuffle ? kernels::shuffle_workspace_bytes(train_rows_) : 0);
  views.cublas_workspace = plan.reserve<unsigned char>(kCublasWorkspaceBytes);
  for (std::size_t l = 0; l < layers_.size(); ++l) {
    const std::size_t activations = capacity * std::size_t(layers_[l].out);
    const bool hidden = l + 1 < layers_.size();
    LayerViews layer;
    layer.pre = plan.reserve<float>(activations).data();
    layer.out = plan.reserve<float>(hidden ? activations : 0).data();
    layer.weight = slice(views.parameters, layout().weight(l));
    layer.bias = slice(views.parameters, layout().bias(l));
    layer.weight_gradient = slice(views.gradients, layout().weight(l));
    layer.bias_gradient = slice(views.gradients, layout().bias(l));
    views.layers.push_back(layer);
  }
  if (views.trial != nullptr) {
    views.trial_batch_first_row = field_at<std::int64_t>(views.trial, offsetof(DeviceTrial, batch_first_row));
    views.trial_step = field_at<std::int64_t>(views.trial, offsetof(DeviceTrial, step));
    views.trial_train = field_at<MetricSums>(views.trial, offsetof(DeviceTrial, train));
  }
  return views;
}

void CudaTrainer::allocate_arena() {
  ArenaPlan measure;
  lay_out_arena(measure);
  // Try the allocation itself rather than comparing with cudaMemGetInfo first: the stream-ordered
  // pool may hold freed memory that it reuses but that cudaMemGetInfo does not count as free.
  try {
    arena_ = DeviceBuffer(measure.bytes(), stream_.get(), /*stream_ordered=*/true);
  } catch (const DeviceError& error) {
    std::size_t free_bytes = 0;
    std::size_t total_bytes = 0;
    MLPTUNE_CUDA_CHECK(cudaMemGetInfo(&free_bytes, &total_bytes));
    throw DeviceError("out of GPU memory: trial needs " + mib(measure.bytes()) + " MiB, " + mib(free_bytes) +
                      " MiB free on " + device_label(options_.device) + " (" + error.what() + ")");
  }

  ArenaPlan bind(arena_.as<unsigned char>());
  views_ = lay_out_arena(bind);
}

void CudaTrainer::initialize_parameters() {
  const cudaStream_t stream = stream_.get();
  for (std::size_t l = 0; l < layers_.size(); ++l) {
    const LayerViews& layer = views_.layers[l];
    kernels::initialize_weights(spec().model.init, spec().train.seed, int(l), layers_[l].in, layers_[l].out,
                                layer.weight.data(), stream);
    MLPTUNE_CUDA_CHECK(cudaMemsetAsync(layer.bias.data(), 0, layer.bias.size_bytes(), stream));
  }
  for (const std::span<float> slot : {views_.first, views_.second})
    if (!slot.empty()) MLPTUNE_CUDA_CHECK(cudaMemsetAsync(slot.data(), 0, slot.size_bytes(), stream));
}

DeviceTrial CudaTrainer::make_record(std::int64_t steps_taken) const {
  const TrainConfig& train = spec().train;
  DeviceTrial record;
  record.momentum = train.momentum;
  record.beta1 = train.beta1;
  record.beta2 = train.beta2;
  record.epsilon = train.epsilon;
  record.weight_decay = train.weight_decay;
  record.optimizer = static_cast<std::int32_t>(device_optimizer(train.optimizer));
  record.batch_size = train_batch_;
  record.seed = train.seed;
  record.dropout = float(train.dropout);
  record.clip_norm = train.clip_norm;
  record.epoch_first_step = steps_taken;
  record.step = steps_taken;
  return record;
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

// x (B, in) → per layer pre (B, out) = input·Wᵀ + b and, on hidden layers, out (B, out) = f(pre),
// dropped out in place in training (the next layer's input is what it saw).
void CudaTrainer::forward(int batch, Pass pass) {
  const cudaStream_t stream = stream_.get();
  const float* input = views_.x;
  for (std::size_t l = 0; l < layers_.size(); ++l) {
    const LayerShape& layer = layers_[l];
    const LayerViews& views = views_.layers[l];
    linear_forward_product(cublas_->get(), spec().train.precision, input, views.weight.data(), views.pre, batch,
                           layer.in, layer.out);
    const bool hidden = l + 1 < layers_.size();
    kernels::bias_activation_forward(hidden ? spec().model.activation : Activation::identity, views.pre,
                                     views.bias.data(), views.out, batch, layer.out, stream);
    if (hidden && pass == Pass::training && spec().train.dropout > 0)
      kernels::dropout_forward(views_.trial, int(l), views.out, views.out, std::size_t(batch) * layer.out, stream);
    input = views.out;
  }
}

// logits (B, output_width) → sample_loss (B) and, when grad is not null, ∂(batch-mean loss)/∂logits.
void CudaTrainer::loss(int batch, float* grad) {
  const float* logits = views_.layers.back().pre;
  if (spec().model.loss == Loss::softmax_cross_entropy)
    kernels::softmax_cross_entropy(logits, views_.labels, views_.sample_loss, grad, batch, output_width_,
                                   stream_.get());
  else
    kernels::mean_squared_error(logits, views_.targets, views_.sample_loss, grad, batch, output_width_, stream_.get());
}

// grad_a holds ∂L/∂logits (B, output_width); fills every parameter's gradient.
void CudaTrainer::backward(int batch) {
  const cudaStream_t stream = stream_.get();
  float* grad_y = views_.grad_a;
  float* grad_x = views_.grad_b;
  for (std::size_t l = layers_.size(); l-- > 0;) {
    const LayerShape& layer = layers_[l];
    const LayerViews& views = views_.layers[l];
    const float* input = l == 0 ? views_.x : views_.layers[l - 1].out;
    linear_weight_gradient(cublas_->get(), spec().train.precision, input, grad_y, views.weight_gradient.data(), batch,
                           layer.in, layer.out);
    kernels::bias_gradient(grad_y, views.bias_gradient.data(), batch, layer.out, stream);
    if (l == 0) break;
    linear_input_gradient(cublas_->get(), spec().train.precision, views.weight.data(), grad_y, grad_x, batch, layer.in,
                          layer.out);
    if (spec().train.dropout > 0)  // the step's mask gates the deltas as it gated the activations
      kernels::dropout_backward(views_.trial, int(l - 1), grad_x, grad_x, std::size_t(batch) * layer.in, stream);
    kernels::activation_backward(spec().model.activation, views_.layers[l - 1].pre, grad_x,
                                 std::size_t(batch) * std::size_t(layer.in), stream);
    std::swap(grad_y, grad_x);
  }
}

// One training step, every launch on the trial's stream and every varying value read from the
// trial record, so the same launches captured once replay for every step of every epoch.
void CudaTrainer::issue_step(int batch) {
  const cudaStream_t stream = stream_.get();
  kernels::begin_step(views_.trial, views_.learning_rates, int(steps_per_epoch()), stream);
  {
    Range range{"forward"};
    gather_batch(device_data_->train, kernels::RowSelection{views_.order, views_.trial_batch_first_row, 0}, batch);
    forward(batch, Pass::training);
    loss(batch, views_.grad_a);
    kernels::accumulate_metrics(views_.sample_loss, nullptr, batch, views_.trial_train, views_.trial_step, stream);
  }
  {
    Range range{"backward"};
    backward(batch);
    if (spec().train.clip_norm > 0)
      kernels::clip_gradient_norm(views_.trial, views_.gradients.data(), views_.gradients.size(),
                                  views_.gradient_partials, stream);
  }
  {
    Range range{"update"};
    kernels::optimizer_update(views_.trial, views_.parameters.data(), views_.gradients.data(), views_.first.data(),
                              views_.second.data(), views_.parameters.size(), stream);
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
  DeviceGuard device(options_.device);
  const std::string trial_name = "trial " + std::to_string(spec().trial_number);
  const std::string epoch_name = "epoch " + std::to_string(epochs_done() + 1);
  Range trial_range{trial_name};
  Range epoch_range{epoch_name};
  return TrainerCore::train_epoch();
}

EpochSteps CudaTrainer::train_steps(int epoch, std::int64_t first_step) {
  DeviceGuard device(options_.device);
  const cudaStream_t stream = stream_.get();
  const int steps = int(steps_per_epoch());
  auto* rates = host_learning_rates_.as<double>();
  for (int i = 0; i < steps; ++i) rates[i] = learning_rate(first_step + i);
  MLPTUNE_CUDA_CHECK(cudaMemcpyAsync(views_.learning_rates, rates, std::size_t(steps) * sizeof(double),
                                     cudaMemcpyHostToDevice, stream));
  if (spec().train.shuffle)
    kernels::epoch_permutation(spec().train.seed, epoch, train_rows_, views_.order, views_.shuffle_workspace.data(),
                               views_.shuffle_workspace.size(), stream);
  auto* record = host_record_.as<DeviceTrial>();
  *record = make_record(first_step);
  MLPTUNE_CUDA_CHECK(cudaMemcpyAsync(views_.trial, record, sizeof(DeviceTrial), cudaMemcpyHostToDevice, stream));
  for (int i = 0; i < full_steps_; ++i) run_step(full_step_, train_batch_, first_step + i + 1);
  if (last_batch_ > 0) run_step(last_step_, last_batch_, first_step + full_steps_ + 1);
  // Every step's loss was checked before its update; the epoch's last update itself may overflow.
  kernels::flag_nonfinite_values(views_.parameters.data(), views_.parameters.size(), views_.trial_train,
                                 views_.trial_step, stream);
  MLPTUNE_CUDA_CHECK(cudaMemcpyAsync(record, views_.trial, sizeof(DeviceTrial), cudaMemcpyDeviceToHost, stream));
  stream_.synchronize();
  return EpochSteps{record->train, record->step};
}

// --- evaluation and prediction --------------------------------------------------------------------

MetricSums CudaTrainer::sum_metrics(const Dataset& split) {
  DeviceGuard device(options_.device);
  Range range{"evaluate"};
  if (const DeviceDataset* data = resident(split)) return sum_resident(*data);
  const DeviceDataset uploaded(split, stream_.get());
  return sum_resident(uploaded);
}

MetricSums CudaTrainer::sum_resident(const DeviceDataset& data) {
  const cudaStream_t stream = stream_.get();
  MLPTUNE_CUDA_CHECK(cudaMemsetAsync(views_.evaluation, 0, sizeof(MetricSums), stream));
  for (std::size_t first = 0; first < data.rows(); first += std::size_t(rows_capacity_)) {
    const int rows = int(std::min<std::size_t>(std::size_t(rows_capacity_), data.rows() - first));
    gather_batch(data, kernels::RowSelection{nullptr, nullptr, std::int64_t(first)}, rows);
    forward(rows, Pass::evaluation);
    loss(rows, nullptr);
    if (data.task() == Task::classification)
      kernels::count_correct(views_.layers.back().pre, views_.labels, views_.correct, rows, output_width_, stream);
    kernels::accumulate_metrics(views_.sample_loss, data.task() == Task::classification ? views_.correct : nullptr,
                                rows, views_.evaluation, nullptr, stream);
  }
  auto* result = host_metrics_.as<MetricSums>();
  MLPTUNE_CUDA_CHECK(cudaMemcpyAsync(result, views_.evaluation, sizeof(MetricSums), cudaMemcpyDeviceToHost, stream));
  stream_.synchronize();
  return *result;
}

const DeviceDataset* CudaTrainer::resident(const Dataset& split) const {
  if (&split == &data().train) return &device_data_->train;
  if (&split == &data().validation) return &device_data_->validation;
  if (&split == &data().test) return &device_data_->test;
  return nullptr;
}

std::vector<float> CudaTrainer::compute_outputs(const Dataset& data) {
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
    forward(rows, Pass::evaluation);
    MLPTUNE_CUDA_CHECK(cudaMemcpyAsync(outputs.data() + first * std::size_t(output_width_), views_.layers.back().pre,
                                       std::size_t(rows) * std::size_t(output_width_) * sizeof(float),
                                       cudaMemcpyDeviceToHost, stream));
  }
  stream_.synchronize();
  return outputs;
}

// --- state -------------------------------------------------------------------------------------

// host = device (the caller synchronizes the stream before reading host).
void CudaTrainer::copy_to_host(std::span<const float> device, std::vector<float>& host) const {
  host.resize(device.size());
  if (device.empty()) return;
  MLPTUNE_CUDA_CHECK(
      cudaMemcpyAsync(host.data(), device.data(), device.size_bytes(), cudaMemcpyDeviceToHost, stream_.get()));
}

// device = host, or zeros when host is empty (a slot the saved optimizer did not keep).
void CudaTrainer::copy_to_device(const std::vector<float>& host, std::span<float> device) const {
  if (device.empty()) return;
  if (host.empty()) {
    MLPTUNE_CUDA_CHECK(cudaMemsetAsync(device.data(), 0, device.size_bytes(), stream_.get()));
    return;
  }
  MLPTUNE_CUDA_CHECK(
      cudaMemcpyAsync(device.data(), host.data(), device.size_bytes(), cudaMemcpyHostToDevice, stream_.get()));
}

FlatParameters CudaTrainer::read_parameters() const {
  DeviceGuard device(options_.device);
  FlatParameters flat;
  copy_to_host(views_.parameters, flat.parameters);
  copy_to_host(views_.first, flat.first_moment);
  copy_to_host(views_.second, flat.second_moment);
  stream_.synchronize();
  return flat;
}

void CudaTrainer::write_parameters(const FlatParameters& flat) {
  DeviceGuard device(options_.device);
  // Pageable sources: wait for work reading the parameters, copy, then wait for the copies.
  stream_.synchronize();
  copy_to_device(flat.parameters, views_.parameters);
  copy_to_device(flat.first_moment, views_.first);
  copy_to_device(flat.second_moment, views_.second);
  stream_.synchronize();
}

}  // namespace

std::unique_ptr<Trainer> make_cuda_trainer(const TrialSpec& spec, std::shared_ptr<const DataSplits> host_data,
                                           std::shared_ptr<const DeviceSplits> device_data,
                                           const TrainerOptions& options) {
  if (!host_data || !device_data) throw ConfigError("make_trainer: no data given");
  return std::make_unique<CudaTrainer>(spec, std::move(host_data), std::move(device_data), options);
}

}  // namespace mlptune::cuda
