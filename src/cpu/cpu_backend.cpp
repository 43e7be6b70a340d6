// The CPU reference backend: a Trainer that runs one trial with OpenBLAS matrix products and the
// reference elementwise functions, every buffer sized once for the batch.
#include "cpu/cpu_backend.hpp"

#include <cblas.h>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cmath>
#include <limits>
#include <numeric>
#include <string>
#include <string_view>
#include <thread>
#include <utility>

#include "cpu/reference.hpp"
#include "mlptune/error.hpp"
#include "nn/early_stopping.hpp"
#include "nn/parameter_layout.hpp"
#include "nn/spec_check.hpp"

namespace mlptune {
namespace {

using Clock = std::chrono::steady_clock;

std::vector<TensorSlot> tensor_layout(const std::vector<LayerShape>& layers) {
  std::vector<TensorSlot> slots;
  std::size_t offset = 0;
  for (std::size_t i = 0; i < layers.size(); ++i) {
    const auto weights = static_cast<std::size_t>(layers[i].weight_count());
    const auto biases = static_cast<std::size_t>(layers[i].bias_count());
    slots.push_back({"layers." + std::to_string(i) + ".weight", {layers[i].out, layers[i].in}, offset, weights});
    offset += weights;
    slots.push_back({"layers." + std::to_string(i) + ".bias", {layers[i].out}, offset, biases});
    offset += biases;
  }
  return slots;
}

std::string shape_text(const std::vector<std::int64_t>& shape) {
  std::string text = "(";
  for (std::size_t i = 0; i < shape.size(); ++i) text += (i ? ", " : "") + std::to_string(shape[i]);
  return text + ")";
}

// The split's arrays agree with its row and column counts, and labels are valid class indices.
void check_split(const Dataset& split, const char* role) {
  const std::string where = std::string(role) + " split '" + split.name + "'";
  if (split.features.size() != split.rows * split.cols)
    throw DataError(where + ": " + std::to_string(split.features.size()) + " feature values for " +
                    std::to_string(split.rows) + " rows x " + std::to_string(split.cols) + " columns");
  if (split.task == Task::regression) {
    if (split.targets.size() != split.rows * std::size_t(std::max(split.target_width, 0)))
      throw DataError(where + ": " + std::to_string(split.targets.size()) + " target values for " +
                      std::to_string(split.rows) + " rows x " + std::to_string(split.target_width) + " targets");
    return;
  }
  if (split.labels.size() != split.rows)
    throw DataError(where + ": " + std::to_string(split.labels.size()) + " labels for " + std::to_string(split.rows) +
                    " rows");
  for (std::size_t r = 0; r < split.rows; ++r)
    if (split.labels[r] < 0 || split.labels[r] >= split.num_classes)
      throw DataError(where + ": label " + std::to_string(split.labels[r]) + " at row " + std::to_string(r) +
                      " is outside [0, " + std::to_string(split.num_classes) + ")");
}

void check_spec_fits_data(const TrialSpec& spec, const DataSplits& data) {
  check_trial_fits_data(spec, data);
  const Dataset& train = data.train;
  // The epoch permutation holds 32-bit row indices.
  if (train.rows > std::size_t(UINT32_MAX))
    throw ConfigError("the training split has " + std::to_string(train.rows) + " rows; at most 2^32 - 1 fit");
  check_split(train, "training");
  check_split(data.validation, "validation");
  check_split(data.test, "test");
}

class CpuTrainer final : public Trainer {
 public:
  CpuTrainer(const TrialSpec& spec, std::shared_ptr<const DataSplits> data)
      : spec_(spec),
        schedule_(spec.train),
        data_(std::move(data)),
        layers_(spec.model.layers()),
        slots_(tensor_layout(layers_)),
        batch_size_(spec.train.batch_size),
        steps_per_epoch_((static_cast<std::int64_t>(data_->train.rows) + batch_size_ - 1) / batch_size_) {
    allocate_buffers();
    const std::vector<Tensor> initial = ref::initialize_weights(spec_.model, spec_.train.seed);
    for (std::size_t t = 0; t < slots_.size(); ++t)
      std::copy(initial[t].data.begin(), initial[t].data.end(), parameters_.begin() + slots_[t].offset);
    if (!spec_.train.shuffle) std::iota(order_.begin(), order_.end(), 0u);
  }

  EpochReport train_epoch() override;
  Metrics evaluate(const Dataset& split) override;
  std::vector<float> predict(const Dataset& data) override;
  TrialState state() const override;
  void load_state(const TrialState& state) override;
  void extend_epochs(int epochs) override;
  const TrialSpec& spec() const override { return spec_; }

 private:
  void allocate_buffers();
  const float* forward(const float* input, int batch);
  double loss_and_gradient(const float* outputs, const std::int32_t* labels, const float* targets, int batch);
  void backward(const float* input, int batch);
  void gather_batch(std::size_t first, int batch);
  void end_of_epoch(EpochReport& report);
  template <class PerChunk>
  void for_each_chunk(const Dataset& split, PerChunk&& per_chunk);
  void check_input_width(const Dataset& split) const;

  float* weight(std::size_t layer) { return parameters_.data() + slots_[2 * layer].offset; }
  float* bias(std::size_t layer) { return parameters_.data() + slots_[2 * layer + 1].offset; }

  TrialSpec spec_;
  const TrainConfig schedule_;  // the configuration the run started with: the schedule's horizon
  std::shared_ptr<const DataSplits> data_;
  std::vector<LayerShape> layers_;
  std::vector<TensorSlot> slots_;
  int batch_size_;
  std::int64_t steps_per_epoch_;

  // Flat parameter-shaped arrays in the order of slots_.
  std::vector<float> parameters_, gradients_, first_moment_, second_moment_;
  // Scratch for one batch B.
  std::vector<float> batch_features_;               // (B, input_width)
  std::vector<std::int32_t> batch_labels_;          // (B)
  std::vector<float> batch_targets_;                // (B, output_width)
  std::vector<std::vector<float>> pre_activation_;  // per layer (B, out): x·Wᵀ + b
  std::vector<std::vector<float>> activation_;      // per hidden layer (B, out): f(pre)
  std::vector<std::vector<float>> delta_;           // per layer (B, out): d loss / d pre
  std::vector<float> sample_loss_;                  // (B)
  std::vector<std::uint32_t> order_;                // (rows) this epoch's row order

  std::int64_t step_ = 0;
  int epoch_ = 0;
  EarlyStopping early_stopping_;
  TrialStatus status_ = TrialStatus::running;
};

void CpuTrainer::allocate_buffers() {
  const std::size_t parameter_count = static_cast<std::size_t>(spec_.model.parameter_count());
  const std::size_t batch = static_cast<std::size_t>(batch_size_);
  parameters_.assign(parameter_count, 0.0f);
  gradients_.assign(parameter_count, 0.0f);
  const int slot_count = optimizer_slot_count(spec_.train.optimizer);
  first_moment_.assign(slot_count >= 1 ? parameter_count : 0, 0.0f);
  second_moment_.assign(slot_count >= 2 ? parameter_count : 0, 0.0f);
  batch_features_.assign(batch * spec_.model.input_width, 0.0f);
  batch_labels_.assign(batch, 0);
  batch_targets_.assign(batch * spec_.model.output_width, 0.0f);
  for (const LayerShape& layer : layers_) {
    pre_activation_.emplace_back(batch * layer.out, 0.0f);
    delta_.emplace_back(batch * layer.out, 0.0f);
    activation_.emplace_back(&layer == &layers_.back() ? 0 : batch * layer.out, 0.0f);
  }
  sample_loss_.assign(batch, 0.0f);
  order_.assign(data_->train.rows, 0u);
}

// input (B, input_width) → outputs (B, output_width): logits or regression values.
const float* CpuTrainer::forward(const float* input, int batch) {
  const float* x = input;
  for (std::size_t i = 0; i < layers_.size(); ++i) {
    const LayerShape& layer = layers_[i];
    float* pre = pre_activation_[i].data();  // (B, out)
    // pre = x (B, in) · Wᵀ with W (out, in)
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, batch, layer.out, layer.in, 1.0f, x, layer.in, weight(i),
                layer.in, 0.0f, pre, layer.out);
    const bool output_layer = i + 1 == layers_.size();
    float* out = output_layer ? pre : activation_[i].data();
    ref::bias_activation_forward(output_layer ? Activation::identity : spec_.model.activation, pre, bias(i), pre, out,
                                 batch, layer.out);
    x = out;
  }
  return x;
}

// Writes d(mean loss)/d outputs into the last delta and returns the sum of the batch's sample losses.
double CpuTrainer::loss_and_gradient(const float* outputs, const std::int32_t* labels, const float* targets,
                                     int batch) {
  float* grad = delta_.back().data();  // (B, output_width)
  if (spec_.model.loss == Loss::softmax_cross_entropy)
    ref::softmax_cross_entropy(outputs, labels, sample_loss_.data(), grad, batch, spec_.model.output_width);
  else
    ref::mean_squared_error(outputs, targets, sample_loss_.data(), grad, batch, spec_.model.output_width);
  double sum = 0.0;
  for (int b = 0; b < batch; ++b) sum += sample_loss_[b];
  return sum;
}

// From the output delta to every parameter gradient; input (B, input_width) is layer 0's x.
void CpuTrainer::backward(const float* input, int batch) {
  for (std::size_t i = layers_.size(); i-- > 0;) {
    const LayerShape& layer = layers_[i];
    const float* x = i == 0 ? input : activation_[i - 1].data();    // (B, in)
    const float* delta = delta_[i].data();                          // (B, out)
    float* grad_weight = gradients_.data() + slots_[2 * i].offset;  // (out, in)
    float* grad_bias = gradients_.data() + slots_[2 * i + 1].offset;
    // grad_weight (out, in) = deltaᵀ (out, B) · x (B, in)
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, layer.out, layer.in, batch, 1.0f, delta, layer.out, x,
                layer.in, 0.0f, grad_weight, layer.in);
    ref::bias_gradient(delta, grad_bias, batch, layer.out);
    if (i == 0) break;
    // previous delta (B, in) = delta (B, out) · W (out, in), then through the activation's derivative
    float* previous = delta_[i - 1].data();
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, batch, layer.in, layer.out, 1.0f, delta, layer.out,
                weight(i), layer.in, 0.0f, previous, layer.in);
    ref::activation_backward(spec_.model.activation, pre_activation_[i - 1].data(), previous, previous,
                             std::size_t(batch) * layer.in);
  }
}

void CpuTrainer::gather_batch(std::size_t first, int batch) {
  const Dataset& train = data_->train;
  ref::gather_rows(train.features.data(), order_.data(), first, batch, train.cols, batch_features_.data());
  if (train.task == Task::classification) {
    for (int b = 0; b < batch; ++b) batch_labels_[b] = train.labels[order_[first + b]];
    return;
  }
  const std::size_t width = static_cast<std::size_t>(train.target_width);
  for (int b = 0; b < batch; ++b)
    std::copy_n(train.targets.data() + order_[first + b] * width, width, batch_targets_.data() + b * width);
}

EpochReport CpuTrainer::train_epoch() {
  if (status_ != TrialStatus::running)
    throw Error("trial " + std::to_string(spec_.trial_number) + ": train_epoch called after the trial ended (" +
                to_string(status_) + ")");
  const Dataset& train = data_->train;
  if (spec_.train.shuffle) order_ = ref::epoch_permutation(spec_.train.seed, epoch_, train.rows);

  EpochReport report;
  report.epoch = epoch_ + 1;
  const auto start = Clock::now();
  double loss_sum = 0.0;
  for (std::size_t first = 0; first < train.rows; first += std::size_t(batch_size_)) {
    const int batch = static_cast<int>(std::min<std::size_t>(batch_size_, train.rows - first));
    gather_batch(first, batch);
    const float* outputs = forward(batch_features_.data(), batch);
    const double batch_loss = loss_and_gradient(outputs, batch_labels_.data(), batch_targets_.data(), batch);
    loss_sum += batch_loss;
    report.learning_rate = learning_rate_at(schedule_, step_, steps_per_epoch_);
    if (!std::isfinite(batch_loss)) {
      // Stop before this step's update: the parameters stay those of the last finite step.
      status_ = TrialStatus::diverged;
      report.message = "diverged at epoch " + std::to_string(report.epoch) + ", step " + std::to_string(step_ + 1);
      break;
    }
    backward(batch_features_.data(), batch);
    ++step_;
    ref::optimizer_update(ref::optimizer_step(spec_.train, report.learning_rate, step_), parameters_.data(),
                          gradients_.data(), first_moment_.data(), second_moment_.data(), parameters_.size());
  }
  report.seconds = std::chrono::duration<double>(Clock::now() - start).count();
  report.samples_per_second = report.seconds > 0 ? double(train.rows) / report.seconds : 0.0;
  report.train_loss = loss_sum / double(train.rows);
  report.step = step_;
  if (status_ == TrialStatus::diverged) {
    report.status = status_;
    return report;
  }
  end_of_epoch(report);
  return report;
}

// Validation, early-stopping bookkeeping and the trial's status after a finished epoch.
void CpuTrainer::end_of_epoch(EpochReport& report) {
  ++epoch_;
  // The loss before every step was finite, but the last update itself may have overflowed: a
  // trial must not go on (or be saved as complete) with non-finite parameters.
  if (!std::all_of(parameters_.begin(), parameters_.end(), [](float value) { return std::isfinite(value); })) {
    status_ = TrialStatus::diverged;
    report.status = status_;
    report.message = "diverged at epoch " + std::to_string(report.epoch) + ", step " + std::to_string(step_) +
                     " (the update made parameters non-finite)";
    return;
  }
  std::optional<double> validation_loss;
  if (data_->validation.rows > 0) {
    report.validation = evaluate(data_->validation);
    validation_loss = report.validation.loss;
  }
  status_ = early_stopping_.after_epoch(spec_.train, epoch_, validation_loss, report.message);
  report.status = status_;
}

void CpuTrainer::check_input_width(const Dataset& split) const {
  if (split.cols != std::size_t(spec_.model.input_width))
    throw ConfigError("split '" + split.name + "' has " + std::to_string(split.cols) +
                      " feature columns; the model takes " + std::to_string(spec_.model.input_width));
}

// Runs the forward pass over `split` in chunks of the batch size; per_chunk(first_row, batch, outputs).
template <class PerChunk>
void CpuTrainer::for_each_chunk(const Dataset& split, PerChunk&& per_chunk) {
  check_input_width(split);
  for (std::size_t first = 0; first < split.rows; first += std::size_t(batch_size_)) {
    const int batch = static_cast<int>(std::min<std::size_t>(batch_size_, split.rows - first));
    per_chunk(first, batch, forward(split.features.data() + first * split.cols, batch));
  }
}

Metrics CpuTrainer::evaluate(const Dataset& split) {
  Metrics metrics;
  metrics.samples = static_cast<std::int64_t>(split.rows);
  if (split.rows == 0) return metrics;
  check_split(split, "evaluated");
  if (loss_for(split.task) != spec_.model.loss || split.output_width() != spec_.model.output_width)
    throw ConfigError("split '" + split.name + "' has " + std::to_string(split.output_width()) + " " +
                      (split.task == Task::classification ? "classes" : "targets") + "; the model has " +
                      std::to_string(spec_.model.output_width) + " outputs with loss " +
                      std::string(to_string(spec_.model.loss)));
  const int width = spec_.model.output_width;
  double loss_sum = 0.0;
  std::int64_t correct = 0;
  for_each_chunk(split, [&](std::size_t first, int batch, const float* outputs) {
    const std::int32_t* labels = split.labels.empty() ? nullptr : split.labels.data() + first;
    const float* targets = split.targets.empty() ? nullptr : split.targets.data() + first * width;
    loss_sum += loss_and_gradient(outputs, labels, targets, batch);
    if (split.task != Task::classification) return;
    for (int b = 0; b < batch; ++b) {
      const float* row = outputs + std::size_t(b) * width;
      correct += (std::max_element(row, row + width) - row) == labels[b];
    }
  });
  metrics.loss = loss_sum / double(split.rows);
  if (split.task == Task::classification)
    metrics.accuracy = double(correct) / double(split.rows);
  else
    metrics.rmse = std::sqrt(metrics.loss) * split.target_scale;  // mse's sample loss is the mean over targets
  return metrics;
}

std::vector<float> CpuTrainer::predict(const Dataset& data) {
  const std::size_t width = std::size_t(spec_.model.output_width);
  std::vector<float> predictions(data.rows * width);  // (rows, output_width)
  for_each_chunk(data, [&](std::size_t first, int batch, const float* outputs) {
    std::copy_n(outputs, std::size_t(batch) * width, predictions.data() + first * width);
  });
  return predictions;
}

TrialState CpuTrainer::state() const {
  TrialState state;
  state.model = spec_.model;
  const int slot_count = optimizer_slot_count(spec_.train.optimizer);
  auto tensor_at = [](const TensorSlot& slot, const std::vector<float>& flat) {
    return Tensor{slot.name, slot.shape,
                  std::vector<float>(flat.begin() + slot.offset, flat.begin() + slot.offset + slot.count)};
  };
  for (const TensorSlot& slot : slots_) {
    state.parameters.push_back(tensor_at(slot, parameters_));
    if (slot_count >= 1) state.first_moment.push_back(tensor_at(slot, first_moment_));
    if (slot_count >= 2) state.second_moment.push_back(tensor_at(slot, second_moment_));
  }
  state.step = step_;
  state.epoch = epoch_;
  state.best_validation_loss = early_stopping_.best_validation_loss;
  state.epochs_since_best = early_stopping_.epochs_since_best;
  return state;
}

// Copies `tensors` into `flat` after checking names and shapes; an empty list leaves zeros when
// `may_be_empty` (an optimizer slot that the saved run's optimizer did not keep).
void load_tensors(const std::vector<TensorSlot>& slots, const std::vector<Tensor>& tensors, const char* what,
                  bool may_be_empty, std::vector<float>& flat) {
  if (tensors.empty() && may_be_empty) {
    std::fill(flat.begin(), flat.end(), 0.0f);
    return;
  }
  if (tensors.size() != slots.size())
    throw ConfigError(std::string("trial state: ") + what + " has " + std::to_string(tensors.size()) +
                      " tensors; the model has " + std::to_string(slots.size()));
  for (std::size_t t = 0; t < slots.size(); ++t) {
    const Tensor& tensor = tensors[t];
    if (tensor.name != slots[t].name || tensor.shape != slots[t].shape || tensor.data.size() != slots[t].count)
      throw ConfigError(std::string("trial state: ") + what + " tensor " + std::to_string(t) + " is '" + tensor.name +
                        "' " + shape_text(tensor.shape) + " with " + std::to_string(tensor.data.size()) +
                        " values; expected '" + slots[t].name + "' " + shape_text(slots[t].shape));
    std::copy(tensor.data.begin(), tensor.data.end(), flat.begin() + slots[t].offset);
  }
}

void CpuTrainer::load_state(const TrialState& state) {
  if (state.model.layers().size() != layers_.size())
    throw ConfigError("trial state: the saved model has " + std::to_string(state.model.layers().size()) +
                      " layers; this trial's has " + std::to_string(layers_.size()));
  if (state.step < 0 || state.epoch < 0) throw ConfigError("trial state: negative step or epoch counter");
  const int slot_count = optimizer_slot_count(spec_.train.optimizer);
  load_tensors(slots_, state.parameters, "parameters", false, parameters_);
  if (slot_count >= 1) load_tensors(slots_, state.first_moment, "first_moment", true, first_moment_);
  if (slot_count >= 2) load_tensors(slots_, state.second_moment, "second_moment", true, second_moment_);
  step_ = state.step;
  epoch_ = state.epoch;
  early_stopping_ = {state.best_validation_loss, state.epochs_since_best};
  status_ = epoch_ < spec_.train.epochs ? TrialStatus::running : TrialStatus::completed;
}

void CpuTrainer::extend_epochs(int epochs) {
  if (epochs < spec_.train.epochs)
    throw ConfigError("extend_epochs: the new budget " + std::to_string(epochs) + " is below the current " +
                      std::to_string(spec_.train.epochs) + " epochs");
  spec_.train.epochs = epochs;
  if (status_ == TrialStatus::completed && epoch_ < epochs) status_ = TrialStatus::running;
}

class CpuBackend final : public Backend {
 public:
  explicit CpuBackend(int threads_per_trial) : threads_per_trial_(threads_per_trial) {
    if (threads_per_trial > 0) openblas_set_num_threads(threads_per_trial);  // process-wide
  }

  BackendKind kind() const override { return BackendKind::cpu; }
  std::string name() const override {
    const int threads = openblas_get_num_threads();
    return "cpu (OpenBLAS, " + std::to_string(threads) + (threads == 1 ? " thread" : " threads") + " per trial)";
  }

  std::unique_ptr<Trainer> make_trainer(const TrialSpec& spec, std::shared_ptr<const DataSplits> data) override {
    if (!data) throw ConfigError("make_trainer: no data given");
    check_spec_fits_data(spec, *data);
    return std::make_unique<CpuTrainer>(spec, std::move(data));
  }

  // One trial per group of threads_per_trial cores (0: each trial may use all cores).
  int recommended_concurrency() const override {
    const int cores = std::max(1, static_cast<int>(std::thread::hardware_concurrency()));
    return std::max(1, cores / std::max(1, threads_per_trial_));
  }

 private:
  int threads_per_trial_;
};

}  // namespace

int max_cpu_threads_per_trial() {
  // openblas_get_config() reads like "OpenBLAS 0.3.21 NO_LAPACKE DYNAMIC_ARCH NO_AFFINITY SkylakeX MAX_THREADS=64".
  const std::string_view config = openblas_get_config();
  constexpr std::string_view kKey = "MAX_THREADS=";
  const std::size_t at = config.find(kKey);
  int most = 0;
  if (at != std::string_view::npos) {
    const char* begin = config.data() + at + kKey.size();
    std::from_chars(begin, config.data() + config.size(), most);
  }
  return most > 0 ? most : std::numeric_limits<int>::max();
}

std::unique_ptr<Backend> make_cpu_backend(int threads_per_trial) {
  if (threads_per_trial < 0)
    throw SettingError("threads", "must be >= 0 (got " + std::to_string(threads_per_trial) + ")");
  return std::make_unique<CpuBackend>(threads_per_trial);
}

}  // namespace mlptune
