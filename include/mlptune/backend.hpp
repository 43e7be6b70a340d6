// Backends compute training: the CPU reference and CUDA. A Backend makes Trainers; a Trainer is
// one trial's parameters, optimizer state and scratch, and advances one epoch at a time.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "mlptune/data.hpp"
#include "mlptune/trial.hpp"

namespace mlptune {

enum class BackendKind { cpu, cuda, automatic };
std::string_view to_string(BackendKind);
BackendKind parse_backend_kind(std::string_view);

class Trainer {
 public:
  virtual ~Trainer() = default;

  // Trains one more epoch (shuffled from (seed, epoch) unless shuffle is off), then evaluates on
  // the validation split. Status: running, completed (reached spec.train.epochs), stopped_early,
  // diverged (NaN/Inf loss: message "diverged at epoch E, step S"; parameters are not updated
  // past that step) or failed. Calling it after a terminal status throws.
  virtual EpochReport train_epoch() = 0;

  // Loss and accuracy/RMSE on a split, with the current parameters.
  virtual Metrics evaluate(const Dataset& split) = 0;
  // Network outputs (logits, or regression outputs in scaled units): rows x output_width.
  virtual std::vector<float> predict(const Dataset& data) = 0;

  // A host copy of the whole state, and its inverse. load_state checks the shapes.
  virtual TrialState state() const = 0;
  virtual void load_state(const TrialState& state) = 0;

  // Raise the epoch budget (a promoted trial continues where it paused; the schedule keeps
  // the horizon it started with).
  virtual void extend_epochs(int epochs) = 0;

  virtual const TrialSpec& spec() const = 0;
};

class Backend {
 public:
  virtual ~Backend() = default;
  virtual std::string name() const = 0;  // "cpu" or "cuda:0 (NVIDIA H100 ...)"
  virtual BackendKind kind() const = 0;  // cpu or cuda, never automatic
  // Trainers made here share `data`: a device backend uploads it once per backend.
  // Parameters are initialised from spec.train.seed. Throws ConfigError for a spec that does
  // not fit the data (input or output width), DeviceError when the device has no room.
  virtual std::unique_ptr<Trainer> make_trainer(const TrialSpec& spec, std::shared_ptr<const DataSplits> data) = 0;
  // Trials this backend runs well at once (CPU: cores; CUDA: streams worth filling the GPU).
  virtual int recommended_concurrency() const = 0;
};

inline constexpr int kAllDevices = -1;

struct BackendOptions {
  BackendKind kind = BackendKind::automatic;
  int device = 0;             // CUDA device ordinal, or kAllDevices: trials spread over every visible GPU
  int threads_per_trial = 0;  // CPU: BLAS threads per trial; 0 = one trial, threads by its batch size
};

// The most BLAS threads one CPU trial can use: the OpenBLAS build's limit (MAX_THREADS), or int's
// largest where the library does not say. OpenBLAS quietly runs a larger threads_per_trial with
// this many, so the command line refuses more.
int max_cpu_threads_per_trial();

// automatic: CUDA when a device is present and the CUDA backend was built, else CPU.
std::unique_ptr<Backend> make_backend(const BackendOptions& options);

struct DeviceInfo {
  int ordinal = 0;
  std::string name;
  std::size_t total_memory = 0;
  std::size_t free_memory = 0;
  int compute_major = 0;
  int compute_minor = 0;
  int multiprocessors = 0;
};
// Whether the CUDA backend was compiled in.
bool cuda_backend_built();
// The CUDA devices seen (empty without a driver or device, or when not built). Never throws.
std::vector<DeviceInfo> cuda_devices();

}  // namespace mlptune
