// The CUDA trainer: one trial's arena and step graphs on a slot (stream, cuBLAS handle, pinned
// buffers) lent by its device's context; the training step (gather, forward, loss, backward,
// update) as the stream-ordered launches of its plan (step_plan.hpp).
#include "cuda/cuda_trainer.hpp"

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <nvtx3/nvtx3.hpp>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "activation.cuh"
#include "cuda/cuda_check.hpp"
#include "cuda/device_resources.hpp"
#include "cuda/device_scope.hpp"
#include "cuda/device_trial.hpp"
#include "cuda/gemm.hpp"
#include "cuda/step_plan.hpp"
#include "cuda/trial_arena.hpp"
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
  // Hidden ReLU layers without dropout take bias and activation in their products' epilogues.
  shape.relu_masks = spec.model.activation == Activation::relu && spec.train.dropout <= 0 && shape.layers.size() > 1;
  shape.epilogue_workspace_bytes = shape.relu_masks ? kEpilogueWorkspaceBytes : 0;
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

  std::size_t step_graph_nodes() const { return step_graph_nodes_; }

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

  // Passes whose first run holds the device exclusively (see first_run): evaluation and prediction
  // per row count, since each new count brings new matrix shapes.
  struct FirstRuns {
    bool epoch_start = false;
    bool epoch_end = false;
    RowCountsRun evaluation;
    RowCountsRun prediction;
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
  template <class Issue>
  void first_run(RowCountsRun& run, std::size_t rows, Issue&& issue);
  void initialize_parameters();
  DeviceTrial make_record(std::int64_t steps_taken) const;
  void start_epoch(int epoch, std::int64_t first_step);
  void finish_epoch();

  void run_step(StepGraph<GraphExec>& step, int batch, std::int64_t global_step);
  GraphExec capture_step(int batch);
  void issue_step(int batch);
  void issue(const PlannedLaunch& launch, int batch);
  std::optional<EpilogueProduct> epilogue_product(const PlannedLaunch& launch, int batch) const;
  std::uint64_t prepare_epilogues();
  void gather_batch(const DeviceDataset& data, kernels::RowSelection rows, int batch);
  void forward(int batch);
  void loss(int batch, kernels::LossOutputs outputs);
  const float* layer_input(int layer) const;
  float* delta(int layer) const;

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
  double* learning_rates_ = nullptr;           // the slot's page-locked table (steps_per_epoch)
  std::vector<PlannedLaunch> step_plan_;       // one training step's launches
  std::vector<PlannedLaunch> forward_plan_;    // evaluation's and prediction's forward pass (no dropout)
  std::size_t step_graph_nodes_ = 0;           // of the full batch's captured step; 0 before its capture
  std::optional<EpilogueProducts> epilogues_;  // where shape_.relu_masks: the products with ReLU epilogues
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
  StepShape step{int(shape_.layers.size()), spec.train.dropout > 0, spec.train.clip_norm > 0, shape_.relu_masks};
  step_plan_ = plan_training_step(step);
  plan_forward(StepShape{step.layers, false, false, step.relu_epilogues}, forward_plan_);
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
    if (step.relu_epilogues) {
      epilogues_.emplace(slot().cublas(), spec.train.precision, views_.epilogue_workspace);
      step.kernel_layers = prepare_epilogues();
      if (step.kernel_layers != 0) {  // cuBLASLt has no algorithm for some: those layers keep the kernels
        step_plan_ = plan_training_step(step);
        forward_plan_.clear();
        plan_forward(StepShape{step.layers, false, false, true, step.kernel_layers}, forward_plan_);
      }
    }
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

// The same for a pass over `rows` rows in chunks: exclusive while any chunk's row count is new.
template <class Issue>
void CudaTrainer::first_run(RowCountsRun& run, std::size_t rows, Issue&& issue) {
  const std::vector<int> counts = chunk_row_counts(rows, shape_.rows_capacity);
  if (!run.first_use(counts)) {
    issue();
    return;
  }
  auto exclusive = context_->capture_lock().synchronising();
  issue();
  run.record(counts);
}

// Chooses the algorithm of every product with an epilogue in the training step (full and last
// batch) and in a full chunk of evaluation, here, before any step is captured. Returns the hidden
// layers (bit l: layer l) for which cuBLASLt has none, for its forward product or for the input
// gradient of the layer above.
std::uint64_t CudaTrainer::prepare_epilogues() {
  std::vector<int> step_rows{int(shape_.train_batch)};
  if (last_batch_ > 0) step_rows.push_back(last_batch_);
  std::uint64_t kernel_layers = 0;
  for (const auto& [plan, rows] :
       {std::pair{&step_plan_, step_rows}, std::pair{&forward_plan_, std::vector<int>{int(shape_.rows_capacity)}}})
    for (const PlannedLaunch& launch : *plan)
      for (const int batch : rows)
        if (const std::optional<EpilogueProduct> product = epilogue_product(launch, batch))
          if (!epilogues_->prepare(*product)) {
            const int hidden = launch.op == StepOp::linear_bias_relu ? launch.layer : launch.layer - 1;
            kernel_layers |= std::uint64_t(1) << hidden;
          }
  return kernel_layers;
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

// x (B, input_width) and the labels or targets of the rows selected, in one kernel.
void CudaTrainer::gather_batch(const DeviceDataset& data, kernels::RowSelection rows, int batch) {
  kernels::BatchTargets targets;
  if (data.task() == Task::classification) {
    targets.labels = data.labels();
    targets.batch_labels = views_.labels;
  } else {
    targets.targets = data.targets();
    targets.batch_targets = views_.targets;
    targets.target_width = shape_.output_width;
  }
  data.gather_features(rows, batch, views_.x, targets, stream());
}

// x (B, in) → per layer pre (B, out) = input·Wᵀ and, on hidden layers, pre += b, out (B, out) =
// f(pre): the logits' bias is added by the loss, or by prediction.
void CudaTrainer::forward(int batch) {
  for (const PlannedLaunch& launch : forward_plan_) issue(launch, batch);
}

// logits (B, output_width) += the output bias, then sample_loss (B) and what `outputs` asks for.
void CudaTrainer::loss(int batch, kernels::LossOutputs outputs) {
  const LayerViews& output = views_.layers.back();
  outputs.sample_loss = views_.sample_loss;
  if (spec().model.loss == Loss::softmax_cross_entropy)
    kernels::softmax_cross_entropy(output.pre, output.bias.data(), views_.labels, outputs, batch, shape_.output_width,
                                   stream());
  else
    kernels::mean_squared_error(output.pre, output.bias.data(), views_.targets, outputs, batch, shape_.output_width,
                                stream());
}

// Layer l's input (B, in): x, or the previous layer's activations.
const float* CudaTrainer::layer_input(int layer) const {
  return layer == 0 ? views_.x : views_.layers[std::size_t(layer) - 1].out;
}

// Where δ of layer l (B, out) lives in the backward pass: the output layer's in grad_a, and each
// layer below in the other buffer than the layer above it (its input gradient's source).
float* CudaTrainer::delta(int layer) const {
  return (shape_.layers.size() - 1 - std::size_t(layer)) % 2 == 0 ? views_.grad_a : views_.grad_b;
}

// One launch of the training step (see StepOp), on the trial's stream, every varying value read
// from the trial record, so the same launches captured once replay for every step of every epoch.
void CudaTrainer::issue(const PlannedLaunch& launch, int batch) {
  const cudaStream_t stream = this->stream();
  const TrainConfig& train = spec().train;
  const int l = launch.layer;
  const LayerShape& layer = shape_.layers[std::size_t(std::max(l, 0))];
  const LayerViews& views = views_.layers[std::size_t(std::max(l, 0))];
  const kernels::DropoutMask dropout{launch.dropout ? views_.trial : nullptr, l};
  switch (launch.op) {
    case StepOp::gather: {
      const kernels::StepStart start{views_.trial, views_.learning_rates, int(steps_per_epoch())};
      return gather_batch(resources().data->train, kernels::RowSelection{views_.order, 0, start}, batch);
    }
    case StepOp::linear_bias_relu:
    case StepOp::input_gradient_relu:
      return epilogues_->run(*epilogue_product(launch, batch), stream);
    case StepOp::linear_forward:
      return linear_forward_product(slot().cublas(), train.precision, layer_input(l), views.weight.data(), views.pre,
                                    batch, layer.in, layer.out);
    case StepOp::bias_activation:
      return kernels::bias_activation_forward(spec().model.activation, views.pre, views.bias.data(), views.out, batch,
                                              layer.out, stream, dropout);
    case StepOp::loss: {
      kernels::LossOutputs training;
      training.grad = delta(int(shape_.layers.size()) - 1);
      training.bias_grad = views_.layers.back().bias_gradient.data();
      training.metrics = views_.trial_train;
      training.step_counter = views_.trial_step;
      return loss(batch, training);
    }
    case StepOp::weight_gradient:
      return linear_weight_gradient(slot().cublas(), train.precision, layer_input(l), delta(l),
                                    views.weight_gradient.data(), batch, layer.in, layer.out);
    case StepOp::input_gradient:
      return linear_input_gradient(slot().cublas(), train.precision, views.weight.data(), delta(l), delta(l - 1), batch,
                                   layer.in, layer.out);
    case StepOp::activation_bias_grad:  // the step's mask gates the deltas as it gated the activations
      return kernels::activation_bias_gradient(spec().model.activation, views.pre, delta(l), views.bias_gradient.data(),
                                               batch, layer.out, stream, dropout);
    case StepOp::clip_gradient_norm:
      return kernels::clip_gradient_norm(views_.trial, views_.gradients.data(), views_.gradients.size(),
                                         views_.gradient_partials, stream);
    case StepOp::optimizer_update:
      return kernels::optimizer_update(views_.trial, views_.parameters.data(), views_.gradients.data(),
                                       views_.first.data(), views_.second.data(), views_.parameters.size(), stream);
  }
}

// The cuBLASLt product of a launch with a ReLU epilogue; none for the others.
std::optional<EpilogueProduct> CudaTrainer::epilogue_product(const PlannedLaunch& launch, int batch) const {
  const int l = launch.layer;
  switch (launch.op) {
    case StepOp::linear_bias_relu: {
      const LayerShape& layer = shape_.layers[std::size_t(l)];
      const LayerViews& views = views_.layers[std::size_t(l)];
      return linear_bias_relu_product(layer_input(l), views.weight.data(), views.bias.data(), views.out,
                                      launch.mask ? views.relu_mask : nullptr, batch, layer.in, layer.out);
    }
    case StepOp::input_gradient_relu: {
      const LayerShape& layer = shape_.layers[std::size_t(l)];
      const LayerViews& below = views_.layers[std::size_t(l) - 1];
      return linear_input_gradient_relu_product(views_.layers[std::size_t(l)].weight.data(), delta(l), below.relu_mask,
                                                delta(l - 1), below.bias_gradient.data(), batch, layer.in, layer.out);
    }
    default:
      return std::nullopt;
  }
}

// One training step: the plan's launches in order, each phase in its NVTX range.
void CudaTrainer::issue_step(int batch) {
  std::optional<Range> range;
  std::optional<StepPhase> current;
  for (const PlannedLaunch& launch : step_plan_) {
    const StepPhase phase = step_phase(launch.op);
    if (phase != current) {
      range.reset();
      range.emplace(phase_name(phase));
      current = phase;
    }
    issue(launch, batch);
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
  std::size_t nodes = 0;
  if (cudaGraphGetNodes(graph, nullptr, &nodes) == cudaSuccess && std::size_t(batch) == shape_.train_batch)
    step_graph_nodes_ = nodes;
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
  first_run(first_runs_.evaluation, data->rows(), [&] { issue_evaluation(*data); });
  slot().synchronize();
  return slot().staging().metrics;
}

// The sums over `data` into the slot's staging (valid once the stream is synchronised).
void CudaTrainer::issue_evaluation(const DeviceDataset& data) {
  const cudaStream_t stream = this->stream();
  MLPTUNE_CUDA_CHECK(cudaMemsetAsync(views_.evaluation, 0, sizeof(MetricSums), stream));
  kernels::LossOutputs evaluation;
  evaluation.metrics = views_.evaluation;
  evaluation.count_correct = data.task() == Task::classification;
  for (std::size_t first = 0; first < data.rows(); first += shape_.rows_capacity) {
    const int rows = int(std::min(shape_.rows_capacity, data.rows() - first));
    gather_batch(data, kernels::RowSelection{nullptr, std::int64_t(first), {}}, rows);
    forward(rows);
    loss(rows, evaluation);
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
  first_run(first_runs_.prediction, data.rows, [&] { issue_prediction(*source, outputs); });
  slot().synchronize();
  return outputs;
}

// outputs (rows, output_width) = the network's outputs for `data` (valid once the stream is
// synchronised).
void CudaTrainer::issue_prediction(const DeviceDataset& data, std::vector<float>& outputs) {
  const cudaStream_t stream = this->stream();
  const std::size_t width = std::size_t(shape_.output_width);
  const LayerViews& output = views_.layers.back();
  for (std::size_t first = 0; first < data.rows(); first += shape_.rows_capacity) {
    const int rows = int(std::min(shape_.rows_capacity, data.rows() - first));
    data.gather_features(kernels::RowSelection{nullptr, std::int64_t(first), {}}, rows, views_.x, {}, stream);
    forward(rows);
    kernels::bias_activation_forward(Activation::identity, output.pre, output.bias.data(), nullptr, rows,
                                     shape_.output_width, stream);
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

std::size_t step_graph_nodes(const Trainer& trainer) {
  const auto* cuda = dynamic_cast<const CudaTrainer*>(&trainer);
  return cuda != nullptr ? cuda->step_graph_nodes() : 0;
}

std::unique_ptr<Trainer> make_cuda_trainer(const TrialSpec& spec, std::shared_ptr<const DataSplits> host_data,
                                           std::shared_ptr<DeviceContext> context, const TrainerOptions& options) {
  if (!host_data || !context) throw ConfigError("a trainer needs its data: none was given");
  return std::make_unique<CudaTrainer>(spec, std::move(host_data), std::move(context), options);
}

}  // namespace mlptune::cuda
