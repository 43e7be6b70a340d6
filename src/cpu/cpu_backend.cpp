// The CPU reference backend: a Trainer that runs one trial with OpenBLAS matrix products and the
// reference elementwise functions, every buffer sized once for the batch.
#include "cpu/cpu_backend.hpp"

#include <cblas.h>

#include <algorithm>
#include <charconv>
#include <limits>
#include <string>
#include <string_view>
#include <utility>

#include "cpu/blas_kernels.hpp"
#include "cpu/reference.hpp"
#include "cpu/subnormals.hpp"
#include "cpu/thread_policy.hpp"
#include "mlptune/error.hpp"
#include "nn/trainer_core.hpp"

namespace mlptune {
namespace {

class CpuTrainer final : public TrainerCore {
 public:
  CpuTrainer(const TrialSpec& spec, std::shared_ptr<const DataSplits> data)
      : TrainerCore(spec, std::move(data)), layers_(spec.model.layers()), batch_size_(batch_rows()) {
    allocate_buffers();
    for (std::size_t l = 0; l < layers_.size(); ++l)
      ref::initialize_weights(spec.model.init, spec.train.seed, int(l), layers_[l].in, layers_[l].out, weight(l));
    if (!spec.train.shuffle) order_ = ref::identity_permutation(this->data().train.rows);
  }

 private:
  EpochSteps train_steps(int epoch, std::int64_t first_step) override;
  MetricSums sum_metrics(const Dataset& split) override;
  std::vector<float> compute_outputs(const Dataset& data) override;
  FlatParameters read_parameters() const override { return learned_; }
  void write_parameters(const FlatParameters& flat) override;

  // Training applies dropout (its mask drawn for the step after `steps_taken` steps); evaluation none.
  enum class Pass { training, evaluation };

  void allocate_buffers();
  const float* forward(const float* input, int batch, Pass pass, std::int64_t steps_taken = 0);
  void loss_and_gradient(const float* outputs, const std::int32_t* labels, const float* targets, int batch);
  void backward(const float* input, int batch, std::int64_t steps_taken);
  bool dropout_on(Pass pass) const { return pass == Pass::training && spec().train.dropout > 0; }
  void gather_batch(std::size_t first, int batch);
  template <class PerChunk>
  void for_each_chunk(const Dataset& split, PerChunk&& per_chunk);

  float* weight(std::size_t layer) { return learned_.parameters.data() + layout().weight(layer).offset; }
  float* bias(std::size_t layer) { return learned_.parameters.data() + layout().bias(layer).offset; }
  float* weight_gradient(std::size_t layer) { return gradients_.data() + layout().weight(layer).offset; }
  float* bias_gradient(std::size_t layer) { return gradients_.data() + layout().bias(layer).offset; }

  std::vector<LayerShape> layers_;
  int batch_size_;

  // Parameters and optimizer slots, flat in ParameterLayout order, and the gradients alike.
  FlatParameters learned_;
  std::vector<float> gradients_;
  // Scratch for one batch B.
  std::vector<float> batch_features_;               // (B, input_width)
  std::vector<std::int32_t> batch_labels_;          // (B)
  std::vector<float> batch_targets_;                // (B, output_width)
  std::vector<std::vector<float>> pre_activation_;  // per layer (B, out): x·Wᵀ + b
  std::vector<std::vector<float>> activation_;      // per hidden layer (B, out): f(pre)
  std::vector<std::vector<float>> delta_;           // per layer (B, out): d loss / d pre
  std::vector<float> sample_loss_;                  // (B)
  std::vector<std::int32_t> correct_;               // (B) evaluation: 1 where the argmax is the label
  std::vector<std::uint32_t> order_;                // (rows) this epoch's row order
};

void CpuTrainer::allocate_buffers() {
  const std::size_t flat_size = layout().flat_size();  // the parameter count: this layout is packed
  const std::size_t batch = static_cast<std::size_t>(batch_size_);
  learned_.parameters.assign(flat_size, 0.0f);
  learned_.first_moment.assign(slot_count() >= 1 ? flat_size : 0, 0.0f);
  learned_.second_moment.assign(slot_count() >= 2 ? flat_size : 0, 0.0f);
  gradients_.assign(flat_size, 0.0f);
  batch_features_.assign(batch * spec().model.input_width, 0.0f);
  batch_labels_.assign(batch, 0);
  batch_targets_.assign(batch * spec().model.output_width, 0.0f);
  for (const LayerShape& layer : layers_) {
    pre_activation_.emplace_back(batch * layer.out, 0.0f);
    delta_.emplace_back(batch * layer.out, 0.0f);
    activation_.emplace_back(&layer == &layers_.back() ? 0 : batch * layer.out, 0.0f);
  }
  sample_loss_.assign(batch, 0.0f);
  correct_.assign(batch, 0);
  order_.assign(data().train.rows, 0u);
}

// input (B, input_width) → outputs (B, output_width): logits or regression values. In training the
// hidden activations (B, out) are dropped out in place: the next layer's input is what it saw.
const float* CpuTrainer::forward(const float* input, int batch, Pass pass, std::int64_t steps_taken) {
  const float* x = input;
  for (std::size_t i = 0; i < layers_.size(); ++i) {
    const LayerShape& layer = layers_[i];
    float* pre = pre_activation_[i].data();  // (B, out)
    // pre = x (B, in) · Wᵀ with W (out, in)
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, batch, layer.out, layer.in, 1.0f, x, layer.in, weight(i),
                layer.in, 0.0f, pre, layer.out);
    const bool output_layer = i + 1 == layers_.size();
    float* out = output_layer ? pre : activation_[i].data();
    ref::bias_activation_forward(output_layer ? Activation::identity : spec().model.activation, pre, bias(i), pre, out,
                                 batch, layer.out);
    if (!output_layer && dropout_on(pass))
      ref::dropout_forward(out, out, std::size_t(batch) * layer.out, float(spec().train.dropout), spec().train.seed,
                           steps_taken, int(i));
    x = out;
  }
  return x;
}

// Per-sample losses into sample_loss_ and d(mean loss)/d outputs into the last delta.
void CpuTrainer::loss_and_gradient(const float* outputs, const std::int32_t* labels, const float* targets, int batch) {
  float* grad = delta_.back().data();  // (B, output_width)
  if (spec().model.loss == Loss::softmax_cross_entropy)
    ref::softmax_cross_entropy(outputs, labels, sample_loss_.data(), grad, batch, spec().model.output_width);
  else
    ref::mean_squared_error(outputs, targets, sample_loss_.data(), grad, batch, spec().model.output_width);
}

// From the output delta to every parameter gradient; input (B, input_width) is layer 0's x. The
// step's dropout mask (after `steps_taken` steps) gates the deltas as it gated the activations.
void CpuTrainer::backward(const float* input, int batch, std::int64_t steps_taken) {
  for (std::size_t i = layers_.size(); i-- > 0;) {
    const LayerShape& layer = layers_[i];
    const float* x = i == 0 ? input : activation_[i - 1].data();  // (B, in)
    const float* delta = delta_[i].data();                        // (B, out)
    // grad_weight (out, in) = deltaᵀ (out, B) · x (B, in)
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, layer.out, layer.in, batch, 1.0f, delta, layer.out, x,
                layer.in, 0.0f, weight_gradient(i), layer.in);
    ref::bias_gradient(delta, bias_gradient(i), batch, layer.out);
    if (i == 0) break;
    // previous delta (B, in) = delta (B, out) · W (out, in), then through the activation's derivative
    float* previous = delta_[i - 1].data();
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, batch, layer.in, layer.out, 1.0f, delta, layer.out,
                weight(i), layer.in, 0.0f, previous, layer.in);
    if (dropout_on(Pass::training))
      ref::dropout_backward(previous, previous, std::size_t(batch) * layer.in, float(spec().train.dropout),
                            spec().train.seed, steps_taken, int(i - 1));
    ref::activation_backward(spec().model.activation, pre_activation_[i - 1].data(), previous, previous,
                             std::size_t(batch) * layer.in);
  }
}

void CpuTrainer::gather_batch(std::size_t first, int batch) {
  const Dataset& train = data().train;
  ref::gather_rows(train.features.data(), order_.data(), first, batch, train.cols, batch_features_.data());
  if (train.task == Task::classification)
    ref::gather_labels(train.labels.data(), order_.data(), first, batch, batch_labels_.data());
  else
    ref::gather_rows(train.targets.data(), order_.data(), first, batch, std::size_t(train.target_width),
                     batch_targets_.data());
}

EpochSteps CpuTrainer::train_steps(int epoch, std::int64_t first_step) {
  const cpu::FlushSubnormals flush;
  const Dataset& train = data().train;
  if (spec().train.shuffle) order_ = ref::epoch_permutation(spec().train.seed, epoch, train.rows);
  EpochSteps result;
  result.steps = first_step;
  for (std::size_t first = 0; first < train.rows; first += std::size_t(batch_size_)) {
    const int batch = static_cast<int>(std::min<std::size_t>(batch_size_, train.rows - first));
    gather_batch(first, batch);
    loss_and_gradient(forward(batch_features_.data(), batch, Pass::training, result.steps), batch_labels_.data(),
                      batch_targets_.data(), batch);
    ref::accumulate_metrics(sample_loss_.data(), nullptr, batch, &result.train, &result.steps);
    // Stop before this step's update: the parameters stay those of the last finite step.
    if (result.train.nonfinite != 0) return result;
    backward(batch_features_.data(), batch, result.steps);
    if (spec().train.clip_norm > 0)
      ref::clip_gradient_norm(gradients_.data(), gradients_.size(), spec().train.clip_norm);
    const double rate = learning_rate(result.steps);
    ++result.steps;
    ref::optimizer_update(ref::optimizer_step(spec().train, rate, result.steps), learned_.parameters.data(),
                          gradients_.data(), learned_.first_moment.data(), learned_.second_moment.data(),
                          learned_.parameters.size());
  }
  // Every loss was finite, but the last update itself may have overflowed.
  ref::flag_nonfinite_values(learned_.parameters.data(), learned_.parameters.size(), &result.train, &result.steps);
  return result;
}

// Runs the forward pass over `split` in chunks of the batch size; per_chunk(first_row, batch, outputs).
template <class PerChunk>
void CpuTrainer::for_each_chunk(const Dataset& split, PerChunk&& per_chunk) {
  const cpu::FlushSubnormals flush;
  for (std::size_t first = 0; first < split.rows; first += std::size_t(batch_size_)) {
    const int batch = static_cast<int>(std::min<std::size_t>(batch_size_, split.rows - first));
    per_chunk(first, batch, forward(split.features.data() + first * split.cols, batch, Pass::evaluation));
  }
}

MetricSums CpuTrainer::sum_metrics(const Dataset& split) {
  const int width = spec().model.output_width;
  const bool classification = split.task == Task::classification;
  MetricSums sums;
  for_each_chunk(split, [&](std::size_t first, int batch, const float* outputs) {
    const std::int32_t* labels = classification ? split.labels.data() + first : nullptr;
    const float* targets = classification ? nullptr : split.targets.data() + first * width;
    loss_and_gradient(outputs, labels, targets, batch);
    if (classification) ref::count_correct(outputs, labels, correct_.data(), batch, width);
    ref::accumulate_metrics(sample_loss_.data(), classification ? correct_.data() : nullptr, batch, &sums, nullptr);
  });
  return sums;
}

std::vector<float> CpuTrainer::compute_outputs(const Dataset& data) {
  const std::size_t width = std::size_t(spec().model.output_width);
  std::vector<float> predictions(data.rows * width);  // (rows, output_width)
  for_each_chunk(data, [&](std::size_t first, int batch, const float* outputs) {
    std::copy_n(outputs, std::size_t(batch) * width, predictions.data() + first * width);
  });
  return predictions;
}

void CpuTrainer::write_parameters(const FlatParameters& flat) {
  learned_.parameters = flat.parameters;
  // A slot the saved run did not keep (an empty array) starts at zero.
  const auto load_slot = [](const std::vector<float>& saved, std::vector<float>& slot) {
    if (saved.empty())
      std::fill(slot.begin(), slot.end(), 0.0f);
    else
      slot = saved;
  };
  if (slot_count() >= 1) load_slot(flat.first_moment, learned_.first_moment);
  if (slot_count() >= 2) load_slot(flat.second_moment, learned_.second_moment);
}

class CpuBackend final : public Backend {
 public:
  explicit CpuBackend(int threads_per_trial) : threads_per_trial_(threads_per_trial), cores_(cpu::usable_cores()) {
    if (threads_per_trial > 0) openblas_set_num_threads(threads_per_trial);  // process-wide
  }

  BackendKind kind() const override { return BackendKind::cpu; }
  std::string name() const override {
    const auto threads = [](int count) { return std::to_string(count) + (count == 1 ? " thread" : " threads"); };
    const std::string kernels = "cpu (OpenBLAS " + cpu::openblas_core() + " kernels, ";
    if (threads_per_trial_ > 0) return kernels + threads(threads_per_trial_) + " per trial)";
    return kernels + threads(cpu::lone_trial_threads(cores_, cpu::kLoneTrialThreadedBatch)) + ", 1 below batch " +
           std::to_string(cpu::kLoneTrialThreadedBatch) + ")";
  }

  // threads_per_trial 0: one trial at a time, on as many threads as its batch gains from.
  std::unique_ptr<Trainer> make_trainer(const TrialSpec& spec, std::shared_ptr<const DataSplits> data) override {
    if (threads_per_trial_ == 0) openblas_set_num_threads(cpu::lone_trial_threads(cores_, spec.train.batch_size));
    return std::make_unique<CpuTrainer>(spec, std::move(data));
  }

  int recommended_concurrency() const override {
    return threads_per_trial_ > 0 ? std::max(1, cores_ / threads_per_trial_) : 1;
  }

 private:
  int threads_per_trial_;
  int cores_;
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
