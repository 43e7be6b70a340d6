// The CUDA trainer: one trial's arena and step graphs on a slot (stream, cuBLAS handle, pinned
// buffers) lent by its device's context; the training step (gather, forward, loss, backward,
// update) as a sequence of stream-ordered launches.
#include "cuda/cuda_trainer.hpp"

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdio>
#include <cstring>
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
#include "cuda/device_scope.hpp"
#include "cuda/device_trial.hpp"
#include "cuda/gemm.hpp"
#include "cuda/trial_arena.hpp"
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
constexpr std::size_t kEvaluationRows = 1024;
constexpr double kMiB = 1024.0 * 1024.0;

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

// The arena's sizes, from the spec and the data (the shuffle's scratch size is CUB's answer).
ArenaShape arena_shape(const TrialSpec& spec, const DataSplits& data, std::int64_t steps_per_epoch) {
  ArenaShape shape;
  shape.layers = spec.model.layers();
  shape.input_width = spec.model.input_width;
  shape.output_width = spec.model.output_width;
  shape.optimizer_slots = optimizer_slot_count(spec.train.optimizer);
  shape.train_rows = data.train.rows;
  shape.train_batch = std::min<std::size_t>(std::size_t(spec.train.batch_size), shape.train_rows);
  shape.rows_capacity = std::max(shape.train_batch, kEvaluationRows);
  shape.steps_per_epoch = std::size_t(steps_per_epoch);
  shape.gradient_partials = spec.train.clip_norm > 0 ? std::size_t(kernels::kGradientNormBlocks) : 0;
  shape.shuffle_workspace_bytes = spec.train.shuffle ? kernels::shuffle_workspace_bytes(shape.train_rows) : 0;
  return shape;
}

// The arena, stream-ordered from the device's pool. Tried rather than compared with cudaMemGetInfo
// first: the pool may hold memory freed by finished trials that it reuses but cudaMemGetInfo does
// not count as free. When it fails, the pool's unused memory goes back to the device (it may be in
// blocks of other sizes) and it is tried once more.
DeviceBuffer allocate_arena(DeviceContext& context, cudaStream_t stream, std::size_t bytes) {
  try {
    return DeviceBuffer(bytes, context.memory(), stream);
  } catch (const DeviceError&) {
    context.release_unused_memory();
  }
  try {
    return DeviceBuffer(bytes, context.memory(), stream);
  } catch (const DeviceError& error) {
    std::size_t free_bytes = 0;
    std::size_t total_bytes = 0;
    MLPTUNE_CUDA_CHECK(cudaMemGetInfo(&free_bytes, &total_bytes));
    throw DeviceError("out of GPU memory: trial needs " + mib(bytes) + " MiB, " + mib(free_bytes) + " MiB free on " +
                      device_label(context.ordinal()) + " (" + error.what() + ")");
  }
}

// Ends a capture that an exception interrupted, if one is still open, and clears what it left.
void abandon_capture(cudaStream_t stream) noexcept {
  cudaStreamCaptureStatus status = cudaStreamCaptureStatusNone;
  if (cudaStreamIsCapturing(stream, &status) == cudaSuccess && status != cudaStreamCaptureStatusNone) {
    cudaGraph_t broken = nullptr;
    // An invalidated capture ends with cudaErrorStreamCaptureInvalidated and no graph: expected here.
    if (cudaStreamEndCapture(stream, &broken) == cudaSuccess && broken != nullptr)
      MLPTUNE_CUDA_LOG(cudaGraphDestroy(broken));
  }
  cudaGetLastError();  // the abandoned capture's error is not the next call's
}

class CudaTrainer final : public TrainerCore {
 public:
  CudaTrainer(const TrialSpec& spec, std::shared_ptr<const DataSplits> host_data,
              std::shared_ptr<DeviceContext> context, const TrainerOptions& options);
  CudaTrainer(const CudaTrainer&) = delete;
  CudaTrainer& operator=(const CudaTrainer&) = delete;

  // The core's epoch inside the trial's and the epoch's NVTX ranges, on the trial's device; a
  // fall-back to eager launches is reported once, in the epoch's message and on stderr.
  EpochReport train_epoch() override;

 private:
  // The trial's share of the device: its slot, the shared data it reads and its arena, made and
  // destroyed on the trial's device (OnDevice). Destroying it waits for the slot's stream, destroys
  // the graphs with the device held exclusively, frees the arena on the stream, releases the data
  // and gives the slot back, in that order: the next trainer on the slot finds it idle.
  struct Resources {
    Resources(DeviceContext& context, std::shared_ptr<const DeviceSplits> data, std::size_t arena_bytes);
    ~Resources();
    Resources(const Resources&) = delete;
    Resources& operator=(const Resources&) = delete;

    DeviceContext& context;
    SlotPool<TrialSlot>::Lease slot;  // before the arena: given back after the arena's free
    std::shared_ptr<const DeviceSplits> data;
    DeviceBuffer arena;
    StepGraph<GraphExec> full_step;
    StepGraph<GraphExec> last_step;
  };

  // Passes whose first run holds the device exclusively (see first_run).
  struct FirstRuns {
    bool epoch_start = false;
    bool epoch_end = false;
    bool evaluation = false;
    bool prediction = false;
  };

  // One step's launches for the StepLauncher.
  struct TrainingSteps {
    CudaTrainer& trainer;
    int batch;
    void issue_first();
    void issue() { trainer.issue_step(batch); }
    GraphExec capture() { return trainer.capture_step(batch); }
    void replay(const GraphExec& graph) { graph.launch(trainer.stream()); }
  };

  // Whether the trial has diverged so far, for issue_until_diverged: the record's flag, copied to
  // the slot's page-locked staging behind the steps issued so far.
  struct DivergenceCheck {
    TrialSlot& slot;
    const std::int32_t* nonfinite;  // device: the record's train.nonfinite
    void request() const;
    bool diverged() const;
  };

  EpochSteps train_steps(int epoch, std::int64_t first_step) override;
  MetricSums sum_metrics(const Dataset& split) override;
  std::vector<float> compute_outputs(const Dataset& data) override;
  FlatParameters read_parameters() const override;
  void write_parameters(const FlatParameters& flat) override;

  Resources& resources() { return resources_->get(); }
  const Resources& resources() const { return resources_->get(); }
  TrialSlot& slot() const { return *resources().slot; }
  cudaStream_t stream() const { return slot().stream(); }

  template <class Issue>
  void first_run(bool& done, Issue&& issue);
  void initialize_parameters();
  DeviceTrial make_record(std::int64_t steps_taken) const;
  void start_epoch(int epoch, std::int64_t first_step);
  void finish_epoch();

  void run_step(StepGraph<GraphExec>& step, int batch, std::int64_t global_step);
  GraphExec capture_step(int batch);
  void issue_step(int batch);
  void gather_batch(const DeviceDataset& data, kernels::RowSelection rows, int batch);
  // Training applies dropout (the record's rate, seed and step); evaluation none.
  enum class Pass { training, evaluation };
  void forward(int batch, Pass pass);
  void loss(int batch, float* grad);
  void backward(int batch);

  void issue_evaluation(const DeviceDataset& data);
  void issue_prediction(const DeviceDataset& data, std::vector<float>& outputs);
  const DeviceDataset* resident(const Dataset& split) const;
  void copy_to_host(std::span<const float> device, std::vector<float>& host) const;
  void copy_to_device(const std::vector<float>& host, std::span<float> device) const;

  TrainerOptions options_;
  std::shared_ptr<DeviceContext> context_;  // declared before resources_: outlives them
  ArenaShape shape_;
  int full_steps_ = 0;  // full batches per epoch
  int last_batch_ = 0;  // rows of the final partial batch, 0 when batches divide the split
  ArenaViews views_;
  double* learning_rates_ = nullptr;  // the slot's page-locked table (steps_per_epoch)
  StepLauncher<GraphExec> launcher_;
  FirstRuns first_runs_;
  // Last: destroyed first, on the trial's device, while everything above still stands.
  std::optional<OnDevice<RuntimeDevices, Resources>> resources_;
};

CudaTrainer::Resources::Resources(DeviceContext& context, std::shared_ptr<const DeviceSplits> data,
                                  std::size_t arena_bytes)
    : context(context),
      slot(context.acquire_slot()),
      data(std::move(data)),
      arena(allocate_arena(context, slot->stream(), arena_bytes)) {
  // Cleared once: memory only cuBLAS or CUB write (pre-activations, input gradients, sorted keys)
  // never reads as uninitialised to compute-sanitizer's initcheck, which checks only our kernels,
  // and the padding between tensors is zero from the start.
  arena.clear(slot->stream());
}

CudaTrainer::Resources::~Resources() {
  // Work in flight reads the arena, the shared data and the slot's staging: finish it first.
  MLPTUNE_CUDA_LOG(cudaStreamSynchronize(slot->stream()));
  auto exclusive = context.capture_lock().synchronising();
  full_step.graph = GraphExec();
  last_step.graph = GraphExec();
}

CudaTrainer::CudaTrainer(const TrialSpec& spec, std::shared_ptr<const DataSplits> host_data,
                         std::shared_ptr<DeviceContext> context, const TrainerOptions& options)
    : TrainerCore(spec, host_data, kParameterAlignment),
      options_(options),
      context_(std::move(context)),
      launcher_(options.launch) {
  compute_type(spec.train.precision);  // rejects bf16 with the fix in the message
  DeviceGuard device(options_.device);
  {
    // CUB's size query may launch (and so load) a kernel of its own.
    auto exclusive = context_->capture_lock().synchronising();
    shape_ = arena_shape(spec, data(), steps_per_epoch());
  }
  full_steps_ = int(shape_.train_rows / shape_.train_batch);
  last_batch_ = int(shape_.train_rows % shape_.train_batch);
  ArenaPlan measure;
  lay_out_arena(shape_, layout(), measure);
  resources_.emplace(options_.device, RuntimeDevices{}, *context_, context_->resident(host_data), measure.bytes());
  ArenaPlan bind(resources().arena.as<unsigned char>());
  views_ = lay_out_arena(shape_, layout(), bind);
  MLPTUNE_CUDA_CHECK(cublasSetMathMode(
      slot().cublas(), spec.train.precision == Precision::tf32 ? CUBLAS_TF32_TENSOR_OP_MATH : CUBLAS_DEFAULT_MATH));
  learning_rates_ = slot().learning_rates(std::size_t(steps_per_epoch()), context_->capture_lock());
  {
    auto exclusive = context_->capture_lock().synchronising();  // the initialisation's kernels load here
    initialize_parameters();
    if (!spec.train.shuffle) kernels::identity_permutation(views_.order, shape_.train_rows, stream());
  }
  slot().synchronize();  // report any failure here, as this trial's, not at its first epoch
}

// Runs `issue` with the device held exclusively the first time (`done` false), then plainly. CUDA
// loads a kernel on its first launch, and loading may synchronise the device, which would break
// another trainer's capture; after a pass's first run its kernels are loaded.
template <class Issue>
void CudaTrainer::first_run(bool& done, Issue&& issue) {
  if (done) {
    issue();
    return;
  }
  auto exclusive = context_->capture_lock().synchronising();
  issue();
  done = true;
}

// Every flat array zero first: the padding between tensors stays zero for good (nothing writes it,
// so its gradients are zero and every optimizer leaves it), then the weights drawn from the seed.
void CudaTrainer::initialize_parameters() {
  const cudaStream_t stream = this->stream();
  for (const std::span<float> flat : {views_.parameters, views_.gradients, views_.first, views_.second})
    if (!flat.empty()) MLPTUNE_CUDA_CHECK(cudaMemsetAsync(flat.data(), 0, flat.size_bytes(), stream));
  for (std::size_t l = 0; l < shape_.layers.size(); ++l)
    kernels::initialize_weights(spec().model.init, spec().train.seed, int(l), shape_.layers[l].in, shape_.layers[l].out,
                                views_.layers[l].weight.data(), stream);
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
  record.batch_size = int(shape_.train_batch);
  record.seed = train.seed;
  record.dropout = float(train.dropout);
  record.clip_norm = train.clip_norm;
  record.epoch_first_step = steps_taken;
  record.step = steps_taken;
  return record;
}

// --- the training step ----------------------------------------------------------------------------

void CudaTrainer::gather_batch(const DeviceDataset& data, kernels::RowSelection rows, int batch) {
  const cudaStream_t stream = this->stream();
  data.gather_features(rows, batch, views_.x, stream);
  if (data.task() == Task::classification) {
    kernels::gather_labels(data.labels(), rows, batch, views_.labels, stream);
  } else {
    kernels::gather_rows(data.targets(), std::size_t(shape_.output_width), rows, batch, views_.targets, stream);
  }
}

// x (B, in) → per layer pre (B, out) = input·Wᵀ + b and, on hidden layers, out (B, out) = f(pre),
// dropped out in place in training (the next layer's input is what it saw).
void CudaTrainer::forward(int batch, Pass pass) {
  const cudaStream_t stream = this->stream();
  const float* input = views_.x;
  for (std::size_t l = 0; l < shape_.layers.size(); ++l) {
    const LayerShape& layer = shape_.layers[l];
    const LayerViews& views = views_.layers[l];
    linear_forward_product(slot().cublas(), spec().train.precision, input, views.weight.data(), views.pre, batch,
                           layer.in, layer.out);
    const bool hidden = l + 1 < shape_.layers.size();
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
    kernels::softmax_cross_entropy(logits, views_.labels, views_.sample_loss, grad, batch, shape_.output_width,
                                   stream());
  else
    kernels::mean_squared_error(logits, views_.targets, views_.sample_loss, grad, batch, shape_.output_width, stream());
}

// grad_a holds ∂L/∂logits (B, output_width); fills every parameter's gradient.
void CudaTrainer::backward(int batch) {
  const cudaStream_t stream = this->stream();
  float* grad_y = views_.grad_a;
  float* grad_x = views_.grad_b;
  for (std::size_t l = shape_.layers.size(); l-- > 0;) {
    const LayerShape& layer = shape_.layers[l];
    const LayerViews& views = views_.layers[l];
    const float* input = l == 0 ? views_.x : views_.layers[l - 1].out;
    linear_weight_gradient(slot().cublas(), spec().train.precision, input, grad_y, views.weight_gradient.data(), batch,
                           layer.in, layer.out);
    kernels::bias_gradient(grad_y, views.bias_gradient.data(), batch, layer.out, stream);
    if (l == 0) break;
    linear_input_gradient(slot().cublas(), spec().train.precision, views.weight.data(), grad_y, grad_x, batch, layer.in,
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
  const cudaStream_t stream = this->stream();
  kernels::begin_step(views_.trial, views_.learning_rates, int(steps_per_epoch()), stream);
  {
    Range range{"forward"};
    gather_batch(resources().data->train, kernels::RowSelection{views_.order, views_.trial_batch_first_row, 0}, batch);
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

void CudaTrainer::TrainingSteps::issue_first() {
  auto exclusive = trainer.context_->capture_lock().synchronising();  // the step's kernels load here
  trainer.issue_step(batch);
}

void CudaTrainer::run_step(StepGraph<GraphExec>& step, int batch, std::int64_t global_step) {
  const std::string name = "step " + std::to_string(global_step);
  Range range{name};
  TrainingSteps steps{*this, batch};
  launcher_.run(step, steps);
}

// The step's launches captured (thread-local mode: other threads' trainers go on meanwhile) and
// instantiated. The capture holds the device's capture lock shared, so nothing that synchronises
// the device runs meanwhile; instantiating and uploading the graph hold it exclusively. On any
// failure the capture is closed and DeviceError thrown: nothing ran, the caller issues the step.
GraphExec CudaTrainer::capture_step(int batch) {
  const cudaStream_t stream = this->stream();
  cudaGraph_t graph = nullptr;
  {
    auto capturing = context_->capture_lock().capturing();
    MLPTUNE_CUDA_CHECK(cudaStreamBeginCapture(stream, cudaStreamCaptureModeThreadLocal));
    try {
      issue_step(batch);
    } catch (...) {
      abandon_capture(stream);
      throw;
    }
    const cudaError_t status = cudaStreamEndCapture(stream, &graph);
    if (status != cudaSuccess) {
      if (graph != nullptr) MLPTUNE_CUDA_LOG(cudaGraphDestroy(graph));
      cudaGetLastError();
      MLPTUNE_CUDA_CHECK(status);
    }
  }
  auto exclusive = context_->capture_lock().synchronising();
  GraphExec exec(graph);
  exec.upload(stream);
  return exec;
}

EpochReport CudaTrainer::train_epoch() {
  DeviceGuard device(options_.device);
  const std::string trial_name = "trial " + std::to_string(spec().trial_number);
  const std::string epoch_name = "epoch " + std::to_string(epochs_done() + 1);
  Range trial_range{trial_name};
  Range epoch_range{epoch_name};
  EpochReport report = TrainerCore::train_epoch();
  if (const std::optional<std::string> notice = launcher_.take_notice()) {
    std::fprintf(stderr, "mlptune: trial %d: %s\n", spec().trial_number, notice->c_str());
    report.message = report.message.empty() ? *notice : report.message + "; " + *notice;
  }
  return report;
}

// The epoch's learning rates, its row order and the trial record, to the device.
void CudaTrainer::start_epoch(int epoch, std::int64_t first_step) {
  const cudaStream_t stream = this->stream();
  const std::int64_t steps = steps_per_epoch();
  for (std::int64_t i = 0; i < steps; ++i) learning_rates_[i] = learning_rate(first_step + i);
  MLPTUNE_CUDA_CHECK(cudaMemcpyAsync(views_.learning_rates, learning_rates_, std::size_t(steps) * sizeof(double),
                                     cudaMemcpyHostToDevice, stream));
  if (spec().train.shuffle)
    kernels::epoch_permutation(spec().train.seed, epoch, shape_.train_rows, views_.order,
                               views_.shuffle_workspace.data(), views_.shuffle_workspace.size(), stream);
  DeviceTrial& record = slot().staging().record;
  record = make_record(first_step);
  MLPTUNE_CUDA_CHECK(cudaMemcpyAsync(views_.trial, &record, sizeof(DeviceTrial), cudaMemcpyHostToDevice, stream));
}

// Every step's loss was checked before its update; the epoch's last update itself may overflow.
// Then the record back to the host.
void CudaTrainer::finish_epoch() {
  const cudaStream_t stream = this->stream();
  kernels::flag_nonfinite_values(views_.parameters.data(), views_.parameters.size(), views_.trial_train,
                                 views_.trial_step, stream);
  MLPTUNE_CUDA_CHECK(
      cudaMemcpyAsync(&slot().staging().record, views_.trial, sizeof(DeviceTrial), cudaMemcpyDeviceToHost, stream));
}

void CudaTrainer::DivergenceCheck::request() const {
  MLPTUNE_CUDA_CHECK(cudaMemcpyAsync(&slot.staging().nonfinite, nonfinite, sizeof(std::int32_t), cudaMemcpyDeviceToHost,
                                     slot.stream()));
  slot.checked().record(slot.stream());
}

bool CudaTrainer::DivergenceCheck::diverged() const {
  slot.checked().synchronize();
  return slot.staging().nonfinite != 0;
}

// The epoch's steps, issued ahead of the device and stopped soon after a loss turns non-finite
// (the kernels skip every update after it, so the steps issued past it change nothing).
EpochSteps CudaTrainer::train_steps(int epoch, std::int64_t first_step) {
  DeviceGuard device(options_.device);
  launcher_.start_epoch();
  first_run(first_runs_.epoch_start, [&] { start_epoch(epoch, first_step); });
  Resources& owned = resources();
  const DivergenceCheck check{slot(), views_.trial_nonfinite};
  issue_until_diverged(
      steps_per_epoch(), kStepsPerDivergenceCheck,
      [&](std::int64_t i) {
        if (i < full_steps_)
          run_step(owned.full_step, int(shape_.train_batch), first_step + i + 1);
        else
          run_step(owned.last_step, last_batch_, first_step + i + 1);
      },
      check);
  first_run(first_runs_.epoch_end, [&] { finish_epoch(); });
  slot().synchronize();
  const DeviceTrial& record = slot().staging().record;
  return EpochSteps{record.train, record.step};
}

// --- evaluation and prediction --------------------------------------------------------------------

// A split that is not resident is uploaded for the call, stream-ordered on the trial's stream.
MetricSums CudaTrainer::sum_metrics(const Dataset& split) {
  DeviceGuard device(options_.device);
  Range range{"evaluate"};
  std::optional<DeviceDataset> uploaded;
  const DeviceDataset* data = resident(split);
  if (data == nullptr) data = &uploaded.emplace(split, context_->memory(), stream());
  first_run(first_runs_.evaluation, [&] { issue_evaluation(*data); });
  slot().synchronize();
  return slot().staging().metrics;
}

// The sums over `data` into the slot's staging (valid once the stream is synchronised).
void CudaTrainer::issue_evaluation(const DeviceDataset& data) {
  const cudaStream_t stream = this->stream();
  const int output_width = shape_.output_width;
  MLPTUNE_CUDA_CHECK(cudaMemsetAsync(views_.evaluation, 0, sizeof(MetricSums), stream));
  for (std::size_t first = 0; first < data.rows(); first += shape_.rows_capacity) {
    const int rows = int(std::min(shape_.rows_capacity, data.rows() - first));
    gather_batch(data, kernels::RowSelection{nullptr, nullptr, std::int64_t(first)}, rows);
    forward(rows, Pass::evaluation);
    loss(rows, nullptr);
    if (data.task() == Task::classification)
      kernels::count_correct(views_.layers.back().pre, views_.labels, views_.correct, rows, output_width, stream);
    kernels::accumulate_metrics(views_.sample_loss, data.task() == Task::classification ? views_.correct : nullptr,
                                rows, views_.evaluation, nullptr, stream);
  }
  MLPTUNE_CUDA_CHECK(cudaMemcpyAsync(&slot().staging().metrics, views_.evaluation, sizeof(MetricSums),
                                     cudaMemcpyDeviceToHost, stream));
}

const DeviceDataset* CudaTrainer::resident(const Dataset& split) const {
  const DeviceSplits& device = *resources().data;
  if (&split == &data().train) return &device.train;
  if (&split == &data().validation) return &device.validation;
  if (&split == &data().test) return &device.test;
  return nullptr;
}

std::vector<float> CudaTrainer::compute_outputs(const Dataset& data) {
  DeviceGuard device(options_.device);
  Range range{"predict"};
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
    source = &uploaded.emplace(features_only, context_->memory(), stream());
  }
  std::vector<float> outputs(data.rows * std::size_t(shape_.output_width));
  first_run(first_runs_.prediction, [&] { issue_prediction(*source, outputs); });
  slot().synchronize();
  return outputs;
}

// outputs (rows, output_width) = the network's outputs for `data` (valid once the stream is
// synchronised).
void CudaTrainer::issue_prediction(const DeviceDataset& data, std::vector<float>& outputs) {
  const cudaStream_t stream = this->stream();
  const std::size_t width = std::size_t(shape_.output_width);
  for (std::size_t first = 0; first < data.rows(); first += shape_.rows_capacity) {
    const int rows = int(std::min(shape_.rows_capacity, data.rows() - first));
    data.gather_features(kernels::RowSelection{nullptr, nullptr, std::int64_t(first)}, rows, views_.x, stream);
    forward(rows, Pass::evaluation);
    MLPTUNE_CUDA_CHECK(cudaMemcpyAsync(outputs.data() + first * width, views_.layers.back().pre,
                                       std::size_t(rows) * width * sizeof(float), cudaMemcpyDeviceToHost, stream));
  }
}

// --- state -------------------------------------------------------------------------------------

// host = device (the caller synchronizes the stream before reading host).
void CudaTrainer::copy_to_host(std::span<const float> device, std::vector<float>& host) const {
  host.resize(device.size());
  if (device.empty()) return;
  MLPTUNE_CUDA_CHECK(
      cudaMemcpyAsync(host.data(), device.data(), device.size_bytes(), cudaMemcpyDeviceToHost, stream()));
}

// device = host, or zeros when host is empty (a slot the saved optimizer did not keep). Both are in
// the trial's aligned layout, so the padding copied is zero.
void CudaTrainer::copy_to_device(const std::vector<float>& host, std::span<float> device) const {
  if (device.empty()) return;
  if (host.empty()) {
    MLPTUNE_CUDA_CHECK(cudaMemsetAsync(device.data(), 0, device.size_bytes(), stream()));
    return;
  }
  if (host.size() != device.size())
    throw Error("a trial state holds " + std::to_string(host.size()) + " values for a GPU array of " +
                std::to_string(device.size()));
  MLPTUNE_CUDA_CHECK(
      cudaMemcpyAsync(device.data(), host.data(), device.size_bytes(), cudaMemcpyHostToDevice, stream()));
}

FlatParameters CudaTrainer::read_parameters() const {
  DeviceGuard device(options_.device);
  FlatParameters flat;
  copy_to_host(views_.parameters, flat.parameters);
  copy_to_host(views_.first, flat.first_moment);
  copy_to_host(views_.second, flat.second_moment);
  slot().synchronize();
  return flat;
}

void CudaTrainer::write_parameters(const FlatParameters& flat) {
  DeviceGuard device(options_.device);
  // Pageable sources: wait for work reading the parameters, copy, then wait for the copies.
  slot().synchronize();
  copy_to_device(flat.parameters, views_.parameters);
  copy_to_device(flat.first_moment, views_.first);
  copy_to_device(flat.second_moment, views_.second);
  slot().synchronize();
}

}  // namespace

std::unique_ptr<Trainer> make_cuda_trainer(const TrialSpec& spec, std::shared_ptr<const DataSplits> host_data,
                                           std::shared_ptr<DeviceContext> context, const TrainerOptions& options) {
  if (!host_data || !context) throw ConfigError("a trainer needs its data: none was given");
  return std::make_unique<CudaTrainer>(spec, std::move(host_data), std::move(context), options);
}

}  // namespace mlptune::cuda
