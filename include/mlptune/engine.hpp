// The executor: runs K trials at once on a backend (a thread per slot; on CUDA each trainer
// owns a stream), reports every finished epoch and obeys continue / pause / stop.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "mlptune/backend.hpp"
#include "mlptune/trial.hpp"

namespace mlptune {

// pause: the scheduler holds the trial at a rung; suspend: the run is ending (a time budget, a
// signal) and the trial continues in a later one; stop: pruned. Pause and suspend keep the state.
enum class Decision { proceed, pause, suspend, stop };

struct TrialJob {
  int trial_id = 0;
  TrialSpec spec;
  std::optional<TrialState> resume_from;  // a paused trial continues from here
  int pause_after_epoch = 0;              // 0: run to spec.train.epochs; else pause at this epoch
};

enum class JobOutcome {
  completed,
  stopped_early,
  diverged,
  failed,
  paused,     // paused by the scheduler or pause_after_epoch; `state` holds where it stands
  stopped,    // stopped by the scheduler (pruned)
  suspended,  // the run is ending; `state` holds where the trial continues in a later run
};
std::string_view to_string(JobOutcome);

struct JobResult {
  int trial_id = 0;
  JobOutcome outcome = JobOutcome::completed;
  std::string message;
  // The last epoch reported in this run of the job, if any: every report went to on_epoch when its
  // epoch ended, so a result keeps no history and its memory does not grow with a trial's epochs.
  std::optional<EpochReport> last_epoch;
  std::optional<TrialState> state;  // for paused jobs, and on request for finished ones
  Metrics test;                     // finished jobs: metrics on the test split
  double seconds = 0.0;
};

// What the job source answers when a slot is free.
struct NextJob {
  enum class Kind { run, wait, finished } kind = Kind::finished;
  TrialJob job;
  static NextJob run(TrialJob job) { return {Kind::run, std::move(job)}; }
  static NextJob wait() { return {Kind::wait, {}}; }
  static NextJob finished() { return {Kind::finished, {}}; }
};

struct ExecutorCallbacks {
  // Called when a slot is free; `wait` blocks the slot until another job reports or ends.
  // next_job and on_result are serialised with each other, but run beside epoch reports: a slow
  // claim or finish (a database round trip) holds up no running trial.
  std::function<NextJob()> next_job;
  // Called after each epoch, from the trial's thread and without the executor's lock: reports of
  // different trials may run at the same time, so it must be thread-safe.
  std::function<Decision(int trial_id, const EpochReport&)> on_epoch;
  // Called when a job ends for any reason (serialised with next_job, beside epoch reports).
  std::function<void(JobResult)> on_result;
  // A running job's state after `epoch`, every ExecutorOptions::checkpoint_interval_seconds: the
  // state is copied on the trial's thread, then this runs on a thread of its own while training
  // goes on (so it may run beside the other callbacks). A job's next checkpoint, and its result,
  // wait for its previous checkpoint to return.
  std::function<void(int trial_id, int epoch, TrialState state)> on_checkpoint;
};

struct ExecutorOptions {
  int slots = 1;
  bool keep_final_state = false;  // put the state of finished jobs in JobResult
  // With on_checkpoint: the least time between a job's checkpoints, at epoch ends (0: every epoch).
  double checkpoint_interval_seconds = 60.0;
};

// Runs jobs until next_job says finished and every slot is idle. A failing trial (any exception
// from its trainer) ends as JobOutcome::failed with the message; the others go on.
void run_jobs(Backend& backend, std::shared_ptr<const DataSplits> data, const ExecutorOptions& options,
              const ExecutorCallbacks& callbacks);

}  // namespace mlptune
