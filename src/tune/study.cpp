// The study driver: feeds the executor new, requeued and promoted trials, records every epoch and
// result in the storage, asks the scheduler after each epoch, and keeps the best trial's weights.
#include "mlptune/tune/study.hpp"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <map>
#include <mutex>
#include <set>
#include <thread>
#include <utility>
#if defined(__GLIBC__)
#include <malloc.h>  // malloc_trim
#endif

#include "common/count_text.hpp"
#include "common/duration_text.hpp"
#include "common/text_list.hpp"
#include "cpu/thread_policy.hpp"
#include "io/output_file.hpp"
#include "mlptune/engine.hpp"
#include "mlptune/error.hpp"
#include "mlptune/safetensors.hpp"
#include "mlptune/tune/scheduler.hpp"
#include "tune/heartbeat.hpp"
#include "tune/inert_parameters.hpp"
#include "tune/intermediate_writer.hpp"
#include "tune/live_journal.hpp"
#include "tune/search_space_math.hpp"
#include "tune/storage_json.hpp"
#include "tune/study_job_thread.hpp"

namespace mlptune::tune {
namespace {

bool reached(double value, double target, Goal goal) {
  return goal == Goal::minimize ? value <= target : value >= target;
}
bool better_value(double a, double b, Goal goal) {
  return goal == Goal::minimize ? a < b : a > b;
}

void check_metric_fits_data(MetricKind metric, const std::string& name, const DataSplits& data) {
  const Task task = data.train.task;
  if (metric == MetricKind::validation_accuracy && task == Task::regression)
    throw ConfigError("metric validation_accuracy needs a classification set; use validation_rmse or validation_loss");
  if (metric == MetricKind::validation_rmse && task == Task::classification)
    throw ConfigError("metric validation_rmse needs a regression set; use validation_accuracy or validation_loss");
  if (metric != MetricKind::train_loss && data.validation.rows == 0)
    throw ConfigError("metric " + name +
                      " needs a validation split, and the data has none; give more rows, or use train_loss");
}

// What a study's trials depend on, as text, for comparing two configurations of one study.
std::map<std::string, std::string> search_terms(const StudyConfig& config) {
  std::map<std::string, std::string> terms;
  for (const ParameterSpec& parameter : config.space.parameters)
    terms["parameters." + parameter.name] = distribution_to_json(parameter.distribution).dump();
  terms["metric"] = config.metric.name + " (" + std::string(to_string(config.metric.goal)) + ")";
  const EarlyTerminate& pruner = config.early_terminate;
  terms["early_terminate"] = std::string(to_string(pruner.type));
  if (pruner.type != PrunerKind::none)
    terms["early_terminate"] += ", min_iter " + std::to_string(pruner.min_iter) + ", max_iter " +
                                std::to_string(pruner.max_iter) + ", s " + std::to_string(pruner.s) + ", eta " +
                                std::to_string(pruner.eta);
  const StudySettings& data = config.settings;
  terms["mlptune data"] = data.data_path.empty() ? "dataset " + data.dataset : "data " + data.data_path;
  if (!data.label_column.empty()) terms["mlptune data"] += ", label_column " + data.label_column;
  if (!data.test_data_path.empty()) terms["mlptune data"] += ", test_data " + data.test_data_path;
  if (data.task != StudySettings{}.task) terms["mlptune data"] += ", task regression";
  return terms;
}

// One line per term that differs: "parameters.lr: BEFORE -> NOW", "(none)" where absent.
std::vector<std::string> search_differences(const StudyConfig& before, const StudyConfig& now) {
  const auto old_terms = search_terms(before), new_terms = search_terms(now);
  std::set<std::string> names;
  for (const auto* terms : {&old_terms, &new_terms})
    for (const auto& [name, text] : *terms) names.insert(name);
  std::vector<std::string> lines;
  for (const std::string& name : names) {
    const auto old_term = old_terms.find(name), new_term = new_terms.find(name);
    const std::string was = old_term == old_terms.end() ? "(none)" : old_term->second;
    const std::string is = new_term == new_terms.end() ? "(none)" : new_term->second;
    if (was != is) lines.push_back(name + ": " + was + " -> " + is);
  }
  return lines;
}

class StudyRunner {
 public:
  // Everything is checked before the storage is opened, so a bad configuration creates no file.
  StudyRunner(const StudyConfig& config, const StudyOptions& options, StudyParts parts,
              const ProgressCallback& progress)
      : config_(config),
        options_(options),
        parts_(std::move(parts)),
        progress_callback_(progress),
        storage_path_(resolve_storage_path(config, options)),
        sqlite_file_(sqlite_file_of(storage_path_.string())),
        owner_(current_owner()),
        metric_(parse_metric(config.metric.name)),
        goal_(config.metric.goal),
        stop_(options.stop ? options.stop : std::make_shared<StopRequest>()) {
    check_tunable(config.space);
    check_metric_fits_data(metric_, config.metric.name, *parts_.data);
    on_cpu_ = parts_.backend->kind() == BackendKind::cpu;
    run_cap_ = decide_run_cap();
    base_spec_ = default_trial_spec(*parts_.data);
    scheduler_ = make_scheduler(capped_early_terminate(), goal_, run_cap_, trial_epochs());
    data_source_ = study_data_spec(config.settings);
    if (sqlite_file_) io::checked_output_path(best_weights_path(*sqlite_file_), "the best trial's weights");
    check_journal_path(config, options);

    if (!kHeartbeatIntervalRange.contains(options.heartbeat_interval_seconds))
      throw ConfigError("the heartbeat interval must be " + kHeartbeatIntervalRange.describe() + " seconds (got " +
                        std::to_string(options.heartbeat_interval_seconds) + ")");
    if (options.stale_after_seconds && !kStaleAfterRange.contains(*options.stale_after_seconds))
      throw ConfigError("the grace period after which a trial without a heartbeat is abandoned must be " +
                        kStaleAfterRange.describe() + " seconds (got " + std::to_string(*options.stale_after_seconds) +
                        ")");
    if (!kMaxRetriesRange.contains(options.max_retries))
      throw ConfigError("the retries of an abandoned trial must be " + kMaxRetriesRange.describe() + " (got " +
                        std::to_string(options.max_retries) + ")");
    // The storage says when it starts riding out an outage, from whichever thread meets it.
    storage_ = parts_.storage ? std::move(parts_.storage)
                              : open_storage(storage_path_.string(), StorageAccess::read_write,
                                             {.notice = [this](const std::string& notice) { report_notice(notice); }});
    study_ = storage_->open_or_create_study(
        {0, resolve_study_name(config), goal_, options.config_yaml, config.settings.seed, 0.0});
    refresh_history();  // the counts every progress report gives
    check_same_search(study_);
    writer_ = std::make_unique<IntermediateWriter>(*storage_);
    journal_ = open_live_journal(config, options, *storage_, study_,
                                 [this](const std::string& warning) { report_progress("warning: " + warning); });
  }

  StudyResult run() {
    const std::vector<int> requeued = requeue_abandoned();
    refresh_history();
    if (sqlite_file_) {
      const std::filesystem::path best = std::filesystem::absolute(best_weights_path(*sqlite_file_));
      io::remove_abandoned_temporaries(best.parent_path(), best.filename().string());  // a run killed mid-write
    }
    ExecutorOptions executor;
    executor.slots = decide_slots();
    executor.keep_final_state = true;
    executor.checkpoint_interval_seconds =
        options_.checkpoint_every_seconds.value_or(config_.settings.checkpoint_every_seconds);
    ExecutorCallbacks callbacks;
    callbacks.next_job = [this] { return job_thread_.run([this] { return next_job(); }); };
    callbacks.on_epoch = [this](int number, const EpochReport& report) { return on_epoch(number, report); };
    callbacks.on_result = [this](JobResult result) {
      job_thread_.run([this, &result] { on_result(std::move(result)); });
    };
    callbacks.on_checkpoint = [this](int number, int epoch, TrialState state) {
      on_checkpoint(number, epoch, std::move(state));
    };
    if (const auto timeout = options_.timeout_seconds ? options_.timeout_seconds : config_.settings.timeout_seconds)
      stop_->stop_after(*timeout);
    report_progress(start_event(requeued) + budget_text());
    if (const std::string caps = caps_text(); !caps.empty()) report_progress(caps);
    for (const std::string& warning : inert_parameter_warnings(config_.space, base_spec_))
      report_progress("warning: " + warning);
    if (!config_.program.empty()) {
      const StudySettings& settings = config_.settings;
      const std::string data =
          settings.data_path.empty() ? "the bundled " + settings.dataset + " set" : settings.data_path;
      report_progress("warning: program " + config_.program + " is not run: mlptune trains its own MLP, here on " +
                      data + " (mlptune.dataset or mlptune.data in the config chooses the data)");
    }
    if (const int needed = scheduler_->trials_for_a_full_run(); run_cap_ > 0 && run_cap_ < needed)
      report_progress("warning: run_cap " + std::to_string(run_cap_) + " is below the " + std::to_string(needed) +
                      " trials " + scheduler_->name() + " needs before any trial trains its full " +
                      std::to_string(scheduler_->max_epochs()) + " epochs: raise run_cap or lower max_iter");
    if (journal_) journal_->follow();
    {
      // Each beat also looks for other workers' abandoned trials, so that one whose worker went
      // silent runs again within an interval of its grace period, while this worker is busy too.
      const Heartbeat heartbeat(
          *storage_, owner_, options_.heartbeat_interval_seconds,
          [this](const std::string& warning) { report_progress("warning: " + warning); },
          [this] { requeue_abandoned(); });
      run_jobs(*parts_.backend, parts_.data, executor, callbacks);
    }
    report_unsaved_checkpoints();
    if (journal_) journal_->stop();
    return result(executor.slots);
  }

 private:
  // A study's trials are comparable only under one search space, metric, pruner and data: a
  // rerun with another is refused (or, when the user allows it, the change is recorded).
  void check_same_search(const StudyInfo& study) {
    if (study.config_yaml.empty() || options_.config_yaml.empty() ||
        study.config_yaml == redacted_urls(options_.config_yaml))
      return;
    StudyConfig stored;
    try {
      stored = parse_study_config(study.config_yaml, storage_->location() + " (stored configuration)");
    } catch (const Error&) {
      return;  // written by a version that read it differently: nothing to compare against
    }
    const std::vector<std::string> differences = search_differences(stored, config_);
    if (differences.empty()) return;
    std::string list;
    for (const std::string& line : differences) list += "\n  " + line;
    if (!options_.allow_config_change)
      throw ConfigError("study '" + study.name + "' in " + storage_->location() +
                        " was started with another configuration; its trials would mix two searches:" + list +
                        "\nuse another study name (mlptune.study_name) or --storage for the new search, or run with "
                        "--allow-config-change to continue this study with the new configuration (the change is "
                        "recorded)");
    storage_->change_study_config(study.id, options_.config_yaml);
    report_progress("warning: study " + study.name + " continues with a changed configuration (recorded):" + list);
  }

  // --- budgets ---
  int decide_run_cap() const {
    int cap = config_.run_cap;
    if (on_cpu_ && config_.settings.cpu_run_cap) cap = *config_.settings.cpu_run_cap;
    if (cap <= 0) cap = int(parts_.sampler->size(config_.space));
    return std::max(cap, 0);  // 0: no cap (W&B runs such a sweep until it is stopped)
  }

  // What decides the trials' count and epochs when it is not run_cap and parameters.epochs alone:
  // "budget on cpu: mlptune.cpu_run_cap 10 replaces run_cap 64; mlptune.cpu_max_epochs 2 caps ...".
  std::string caps_text() const {
    const StudySettings& settings = config_.settings;
    std::vector<std::string> caps;
    if (on_cpu_ && settings.cpu_run_cap)
      caps.push_back("mlptune.cpu_run_cap " + std::to_string(*settings.cpu_run_cap) + " replaces run_cap " +
                     (config_.run_cap > 0 ? std::to_string(config_.run_cap) : std::string("(none)")));
    const std::optional<int> drawn = space::largest_epochs(config_.space);
    const int uncapped = drawn.value_or(base_spec_.train.epochs);
    const std::string cpu_cap =
        on_cpu_ && settings.cpu_max_epochs ? "mlptune.cpu_max_epochs " + std::to_string(*settings.cpu_max_epochs) : "";
    if (const int scheduled = scheduler_->max_epochs(); scheduled > 0) {
      const int max_iter = config_.early_terminate.max_iter > 0 ? config_.early_terminate.max_iter : uncapped;
      std::string cap = "every trial trains up to " + std::to_string(scheduled) + " epochs, as " + scheduler_->name() +
                        " decides (max_iter " + std::to_string(max_iter) +
                        (scheduled < max_iter ? ", capped by " + cpu_cap : std::string()) + ")";
      if (drawn) cap += "; the sampled parameters.epochs is not what trials train";
      caps.push_back(cap);
    } else if (!cpu_cap.empty() && *settings.cpu_max_epochs < uncapped) {
      caps.push_back(cpu_cap + " caps every trial's epochs (" +
                     (drawn ? "parameters.epochs draws up to " : "the default is ") + std::to_string(uncapped) + ")");
    }
    if (caps.empty()) return "";
    return "budget on " + std::string(to_string(parts_.backend->kind())) + ": " + join(caps, "; ") +
           "; each trial's attribute 'epochs', the leaderboard and its mlptune train line give the epochs it trains";
  }

  int trial_epochs() const {
    int epochs = space::largest_epochs(config_.space).value_or(base_spec_.train.epochs);
    if (on_cpu_ && config_.settings.cpu_max_epochs) epochs = std::min(epochs, *config_.settings.cpu_max_epochs);
    return epochs;
  }

  EarlyTerminate capped_early_terminate() const {
    EarlyTerminate settings = config_.early_terminate;
    if (on_cpu_ && config_.settings.cpu_max_epochs && settings.max_iter > *config_.settings.cpu_max_epochs)
      settings.max_iter = *config_.settings.cpu_max_epochs;
    return settings;
  }

  int decide_slots() const {
    int slots = options_.concurrency.value_or(config_.settings.concurrency);
    if (slots <= 0) slots = parts_.backend->recommended_concurrency();
    return std::max(1, run_cap_ > 0 ? std::min(slots, run_cap_) : slots);
  }

  TrialSpec spec_for(const Params& params, std::uint64_t seed, int number) const {
    TrialSpec spec = params_to_spec(params, base_spec_);
    spec.train.seed = seed;
    spec.trial_number = number;
    if (scheduler_->max_epochs() > 0) spec.train.epochs = scheduler_->max_epochs();
    if (on_cpu_ && config_.settings.cpu_max_epochs)
      spec.train.epochs = std::min(spec.train.epochs, *config_.settings.cpu_max_epochs);
    return spec;
  }

  // What `read` returns, called with mutex_ held: for reads and changes in memory only, so that an
  // epoch report waits for it no longer than for another's.
  template <typename Read>
  auto locked(const Read& read) {
    std::lock_guard lock(mutex_);
    return read();
  }

  // --- the job source ---
  // next_job and on_result run on the job thread, one at a time, with their storage calls (claims,
  // finishes, reading the study) outside mutex_, which they take only for the moments they read or
  // change what epoch reports share with them: a slow database holds up no other trial's epoch end.
  NextJob next_job() {
    writer_->flush();  // the values of trials that ended are stored before the study is read
    for (;;) {
      if (stopping()) return NextJob::finished();  // what is paused or waiting stays so, for the next run
      refresh_history();
      for (int number : locked([&] { return scheduler_->never_promoted(history_); }))
        prune_paused(number, "not among the best at its rung");
      if (!target_reached_) {
        if (auto job = resume_job(locked([&] { return scheduler_->promotion(history_); })))
          return start(std::move(*job));
        if (auto job = claimed_job()) return start(std::move(*job));
      }
      if (locked([&] { return !running_.empty(); })) return NextJob::wait();
      if (!locked([&] { return running_elsewhere(); }) || target_reached_) {
        if (auto job = resume_job(final_promotion())) return start(std::move(*job));
        break;
      }
      // Other processes' trials may still promote ours or be abandoned.
      std::this_thread::sleep_for(std::chrono::duration<double>(options_.poll_seconds));
      writer_->flush();
      requeue_abandoned();
    }
    prune_paused_leftovers();
    return NextJob::finished();
  }

  // A job, the claim its trial's writes go under, and the trial as the claim left it.
  struct ClaimedJob {
    TrialJob job;
    TrialClaim claim;
    FrozenTrial trial;
  };

  NextJob start(ClaimedJob claimed) {
    {
      std::lock_guard lock(mutex_);
      running_[claimed.claim.number] = claimed.claim;
      remember(std::move(claimed.trial));
    }
    report_progress("");  // no event, but one more running
    return NextJob::run(std::move(claimed.job));
  }

  // Whether the study is stopping; the first time, it says so.
  bool stopping() {
    if (stopping_) return true;
    if (!stop_->requested() || stopping_.exchange(true)) return stopping_;
    const std::size_t running = locked([&] { return running_.size(); });
    std::string event = "stopping: " + stop_->reason() + "; no trial starts";
    if (running > 0)
      event += ", and the " + std::to_string(running) +
               " running here end after their current epoch, saved to continue in the next run";
    report_progress(event);
    return true;
  }

  // history_ as the storage has it, keeping the values of this process's running trials that the
  // writer has not stored yet (a value is never removed while its trial runs here). The storage is
  // read without mutex_; only the exchange holds it. A finished trial never changes, so the copy
  // history_ holds stays and the one just read is dropped: the memory of a long study's history is
  // allocated once per trial, not once per read, and what each read allocates is freed whole.
  void refresh_history() {
    std::vector<FrozenTrial> fresh = storage_->trials(study_.id);
    std::lock_guard lock(mutex_);
    for (FrozenTrial& trial : fresh) {
      FrozenTrial* old = find_trial(trial.number);
      if (old == nullptr) continue;
      if (is_finished(old->state))
        trial = std::move(*old);
      else if (running_.contains(trial.number))
        trial.intermediate.insert(old->intermediate.begin(), old->intermediate.end());
    }
    history_.swap(fresh);
  }

  // Where the trial of that number is or would be in history_, which is in number order (mutex_
  // held).
  std::vector<FrozenTrial>::iterator place_of(int number) {
    return std::lower_bound(history_.begin(), history_.end(), number,
                            [](const FrozenTrial& trial, int n) { return trial.number < n; });
  }

  // The trial of that number in history_, or null (mutex_ held).
  FrozenTrial* find_trial(int number) {
    const auto found = place_of(number);
    return found != history_.end() && found->number == number ? &*found : nullptr;
  }

  // A trial as the storage has just written it (claimed, ended) takes its place in history_, so
  // that the study need not read every trial again for one that changed (mutex_ held).
  void remember(FrozenTrial trial) {
    const auto place = place_of(trial.number);
    if (place != history_.end() && place->number == trial.number)
      *place = std::move(trial);
    else
      history_.insert(place, std::move(trial));
  }

  // The complete trial with the best value in history_, or null (mutex_ held).
  const FrozenTrial* best_complete_trial() const {
    const FrozenTrial* best = nullptr;
    for (const auto& trial : history_)
      if (trial.state == RunState::complete && trial.value &&
          (!best || better_value(*trial.value, *best->value, goal_)))
        best = &trial;
    return best;
  }

  bool running_elsewhere() const {  // mutex_ held
    return std::any_of(history_.begin(), history_.end(),
                       [](const FrozenTrial& trial) { return trial.state == RunState::running; });
  }

  // The study is about to end with trials paused at rungs but none complete (a budget too small
  // for a scheduler's promotions): the best trial of the highest rung goes on, so the study ends
  // with one trained to its full epochs.
  std::optional<Promotion> final_promotion() {
    if (target_reached_) return std::nullopt;
    std::lock_guard lock(mutex_);
    const FrozenTrial* best = nullptr;
    for (const FrozenTrial& trial : history_) {
      if (trial.state == RunState::complete) return std::nullopt;
      if (!is_paused(trial)) continue;
      const auto& [epoch, value] = *trial.intermediate.rbegin();
      if (best == nullptr || epoch > best->intermediate.rbegin()->first ||
          (epoch == best->intermediate.rbegin()->first &&
           better_value(value, best->intermediate.rbegin()->second, goal_)))
        best = &trial;
    }
    if (best == nullptr) return std::nullopt;
    return Promotion{best->number, best->intermediate.rbegin()->first};
  }

  // A promoted trial continues from its rung's checkpoint; one without a readable checkpoint fails,
  // since continuing from the start would report its rungs' epochs twice.
  std::optional<ClaimedJob> resume_job(const std::optional<Promotion>& promotion) {
    if (!promotion) return std::nullopt;
    auto record = storage_->claim_paused_trial(study_.id, promotion->number, owner_);
    if (!record) return std::nullopt;
    TrialJob job;
    job.trial_id = promotion->number;
    job.spec = spec_for(record->trial.params, record->trial.seed, promotion->number);
    job.resume_from = checkpoint_of(*record);
    if (!job.resume_from) {
      report_event(finish_failed(
          record->claim(study_.id),
          "promoted from epoch " + std::to_string(promotion->from_epoch) + ", but its checkpoint there is missing"));
      return std::nullopt;
    }
    report_progress("trial " + std::to_string(job.trial_id) + " promoted from epoch " +
                    std::to_string(promotion->from_epoch));
    const TrialClaim claim = record->claim(study_.id);
    return ClaimedJob{std::move(job), claim, std::move(record->trial)};
  }

  std::optional<ClaimedJob> claimed_job() {
    sampled_spec_.reset();
    auto record = storage_->claim_trial(
        study_.id, owner_, run_cap_,
        [this](std::span<const FrozenTrial> trials, int number) { return sample(trials, number); });
    if (!record) return std::nullopt;
    TrialJob job;
    job.trial_id = record->trial.number;
    job.spec = sampled_spec_ && sampled_spec_->trial_number == job.trial_id
                   ? std::move(*sampled_spec_)
                   : spec_for(record->trial.params, record->trial.seed, record->trial.number);
    if (record->checkpoint_epoch > 0) job.resume_from = checkpoint_of(*record);
    const TrialClaim claim = record->claim(study_.id);
    return ClaimedJob{std::move(job), claim, std::move(record->trial)};
  }

  // A requeued trial's checkpoint, or nothing (it starts over: same seed, so the epochs it
  // reports again replace the stored ones with the same values).
  std::optional<TrialState> checkpoint_of(const TrialRecord& record) {
    const std::string trial = "trial " + std::to_string(record.trial.number);
    try {
      const std::optional<std::string> bytes = storage_->load_checkpoint(study_.id, record.trial.number);
      if (!bytes) {
        report_progress("warning: " + trial + " starts over: its checkpoint is not in " + storage_->location());
        return std::nullopt;
      }
      TrialState state = trial_state_from_bytes(*bytes, checkpoint_name(record.trial.number));
      if (state.epoch == record.checkpoint_epoch) {
        report_progress(trial + " resumed from its checkpoint after epoch " + std::to_string(state.epoch));
        return state;
      }
      report_progress("warning: " + trial + "'s checkpoint holds epoch " + std::to_string(state.epoch) +
                      ", the study recorded epoch " + std::to_string(record.checkpoint_epoch) + "; it starts over");
    } catch (const Error& error) {
      report_progress("warning: " + trial + " starts over: its checkpoint cannot be read (" + error.what() + ")");
    }
    return std::nullopt;
  }

  SampledTrial sample(std::span<const FrozenTrial> trials, int number) {
    SampledTrial sampled;
    sampled.params = parts_.sampler->sample(config_.space, trials, goal_, number);
    for (const auto& [name, value] : sampled.params)
      if (const ParameterSpec* parameter = config_.space.find(name))
        sampled.distributions[name] = parameter->distribution;
    sampled.seed = trial_seed(study_.seed, number);
    sampled_spec_ = spec_for(sampled.params, sampled.seed, number);
    sampled.attributes["command"] = train_command_line(*sampled_spec_, data_source_, parts_.backend->kind());
    sampled.attributes["epochs"] = std::to_string(sampled_spec_->train.epochs);  // beside params' sampled epochs
    return sampled;
  }

  void prune_paused_leftovers() {
    for (const auto& record : storage_->trial_records(study_.id))
      if (is_paused(record.trial)) prune_paused(record.trial.number, "still paused when the study ended");
  }

  void prune_paused(int number, const std::string& why) {
    const auto record = storage_->trial_record(study_.id, number);
    if (!record || !is_paused(record->trial)) return;
    storage_->prune_paused_trial(study_.id, number,
                                 "pruned at epoch " + std::to_string(record->trial.paused_epoch) + ": " + why);
  }

  // Running trials of workers that are gone run again, or fail when abandoned too often; the numbers
  // that run again. From any thread, holding none of the study's locks.
  std::vector<int> requeue_abandoned() {
    const AbandonedTrials abandoned =
        storage_->requeue_abandoned_trials(study_.id, owner_, stale_after_seconds(), options_.max_retries);
    for (int number : abandoned.failed) {
      const auto record = storage_->trial_record(study_.id, number);
      report_progress("trial " + std::to_string(number) + " failed: " + (record ? record->trial.message : ""));
    }
    return abandoned.requeued;
  }

  std::string checkpoint_name(int number) const {
    return "trial " + std::to_string(number) + "'s checkpoint in " + storage_->location();
  }

  TrialClaim claim_of(int number) {  // mutex_ held
    const auto found = running_.find(number);
    return found == running_.end() ? TrialClaim{study_.id, number, 0} : found->second;
  }

  // A write of a running trial that another worker took over is refused: it says so once (the
  // event; empty after the first time), and the trial counts nowhere here.
  std::string lost_event(int number) {
    if (!locked([&] { return lost_.insert(number).second; })) return "";
    return "warning: trial " + std::to_string(number) +
           " was taken over by another worker while this one was silent past the grace period; this worker's "
           "results for it are dropped";
  }

  bool finish(const TrialClaim& claim, RunState state, std::optional<double> value, const std::string& message) {
    return storage_->finish_trial(claim, state, value, message);
  }

  // --- reports from the executor ---

  // A running trial's state, written while it trains on: a run killed later continues from here.
  // A failed write costs only that checkpoint, so it is a warning.
  void on_checkpoint(int number, int epoch, const TrialState& state) {
    try {
      const std::string bytes = trial_state_bytes(state, /*with_optimizer_state=*/true, {}, checkpoint_name(number));
      writer_->flush();  // a rerun keeps the values up to the checkpoint's epoch: they must be stored
      const TrialClaim claim = locked([&] { return claim_of(number); });
      if (!storage_->checkpoint_trial(claim, epoch, bytes)) report_event(lost_event(number));
      report_unsaved_checkpoints();
    } catch (const Error& error) {
      if (locked([&] { return unsaved_checkpoints_++ == 0; }))
        report_progress("warning: trial " + std::to_string(number) + ": no checkpoint after epoch " +
                        std::to_string(epoch) + ": " + error.what() +
                        " (checkpoints that fail after this one are counted, not each reported)");
    }
  }

  // How many checkpoints failed after the first one that was reported, once they work again or the
  // study ends; a full disk fails every epoch's.
  void report_unsaved_checkpoints() {
    const int unsaved = locked([&] { return std::exchange(unsaved_checkpoints_, 0); });
    if (unsaved > 1)
      report_progress("warning: " + count_text(unsaved - 1, "more checkpoint", "more checkpoints") +
                      " could not be saved");
  }

  // Called from the trial's thread, beside other trials' reports and the job source's storage
  // calls: the value goes to the storage on the writer's thread, and the scheduler judges from the
  // study's history in memory (read from the storage whenever a slot asks for work, and updated
  // here), so no report waits on the database. Only mutex_ is taken, for work in memory.
  Decision on_epoch(int number, const EpochReport& report) {
    writer_->rethrow_failure();  // the database stayed out of reach: the study stops now
    const double value = metric_value(report, metric_);
    if (!std::isfinite(value)) return Decision::proceed;  // a diverged epoch ends the trial anyway
    Decision decision = Decision::proceed;
    {
      std::lock_guard lock(mutex_);
      const TrialClaim claim = claim_of(number);
      if (writer_->lost(claim)) return Decision::stop;  // another worker runs it now: no use training on
      writer_->record(claim, report.epoch, value);
      FrozenTrial* self = find_trial(number);
      if (self == nullptr) return Decision::proceed;
      self->intermediate[report.epoch] = value;
      if (report.status != TrialStatus::running) return Decision::proceed;
      decision = scheduler_->judge(*self, report.epoch, history_);
    }
    // The scheduler judges first: a trial at a rung pauses (or is pruned) there even while the study
    // stops, so that a suspended trial never skips its rung's judgement.
    if (decision == Decision::proceed && stopping()) return Decision::suspend;
    return decision;
  }

  // The outcome goes to the storage without mutex_; then the trial, as stored, replaces its entry
  // in history_ (one trial read back, not the study), before its event is reported.
  void on_result(JobResult result) {
    writer_->flush();  // the trial's last values are read back below
    const int number = result.trial_id;
    const TrialClaim claim = locked([&] { return claim_of(number); });
    const std::string event = writer_->lost(claim) ? lost_event(number) : record_outcome(claim, result);
    auto stored = storage_->trial_record(study_.id, number);
    {
      std::lock_guard lock(mutex_);
      running_.erase(number);
      if (stored) remember(std::move(stored->trial));
    }
    result = {};  // the trial's final state and reports, freed before the memory goes back
    stored.reset();
    return_freed_memory();
    report_event(event);
  }

  // A trial's end frees its reports and state, and the claim before it freed a read of every trial
  // of the study. glibc keeps freed memory in its arenas rather than giving it back, so over a long
  // study of short trials the resident size grew by about twice the live heap (9-10 KiB a trial
  // against 5 KiB with this trim, in a study of 1,000 one-epoch trials on two slots). Trimming the
  // arenas once a trial ends gives the free pages back; it costs well under a millisecond, against
  // a trial's seconds.
  static void return_freed_memory() {
#if defined(__GLIBC__)
    malloc_trim(0);
#endif
  }

  // The event of a trial's end (empty when there is none to report).
  std::string record_outcome(const TrialClaim& claim, const JobResult& result) {
    switch (result.outcome) {
      case JobOutcome::completed:
      case JobOutcome::stopped_early:
        return finish_complete(claim, result);
      case JobOutcome::paused:
        return pause(claim, result);
      case JobOutcome::suspended:
        return suspend(claim, result);
      case JobOutcome::stopped:
        return finish_pruned(claim);
      case JobOutcome::diverged:
      case JobOutcome::failed:
        return finish_failed(claim, result.message);
    }
    return "";
  }

  std::string finish_complete(const TrialClaim& claim, const JobResult& result) {
    const int number = claim.number;
    // A value from an earlier epoch must not stand in for a final one that was NaN or Inf.
    if (result.last_epoch && !std::isfinite(metric_value(*result.last_epoch, metric_)))
      return finish_failed(claim, "metric " + config_.metric.name + " was not finite at epoch " +
                                      std::to_string(result.last_epoch->epoch));
    const auto record = storage_->trial_record(study_.id, number);
    std::optional<double> value;
    if (!record->trial.intermediate.empty()) value = record->trial.intermediate.rbegin()->second;
    if (!value) return finish_failed(claim, "metric " + config_.metric.name + " was never reported as a finite number");
    const std::optional<double> previous_best = best_complete_value();
    if (!finish(claim, RunState::complete, value, "")) return lost_event(number);
    if (!previous_best || better_value(*value, *previous_best, goal_)) save_best(*record, *value, result);
    if (config_.metric.target && reached(*value, *config_.metric.target, goal_)) target_reached_ = true;
    return "trial " + std::to_string(number) + " complete: " + config_.metric.name + " " + std::to_string(*value);
  }

  std::string finish_pruned(const TrialClaim& claim) {
    const int number = claim.number;
    const auto record = storage_->trial_record(study_.id, number);
    std::optional<double> last;
    if (!record->trial.intermediate.empty()) last = record->trial.intermediate.rbegin()->second;
    const int epoch = record->trial.intermediate.empty() ? 0 : record->trial.intermediate.rbegin()->first;
    if (!finish(claim, RunState::pruned, last,
                "pruned at epoch " + std::to_string(epoch) + " by " + scheduler_->name()))
      return lost_event(number);
    return "trial " + std::to_string(number) + " pruned at epoch " + std::to_string(epoch);
  }

  std::string finish_failed(const TrialClaim& claim, const std::string& message) {
    if (!finish(claim, RunState::failed, std::nullopt, message)) return lost_event(claim.number);
    return "trial " + std::to_string(claim.number) + " failed: " + message;
  }

  std::string pause(const TrialClaim& claim, const JobResult& result) {
    const int number = claim.number;
    if (!result.state) return finish_failed(claim, "paused without its state; the executor must return it");
    const std::string bytes =
        trial_state_bytes(*result.state, /*with_optimizer_state=*/true, {}, checkpoint_name(number));
    if (!storage_->pause_trial(claim, result.state->epoch, bytes)) return lost_event(number);
    return "trial " + std::to_string(number) + " paused at epoch " + std::to_string(result.state->epoch);
  }

  // The run is ending: the trial waits, saved after its last epoch, for the next run to continue it.
  // A state that cannot be saved costs only this trial's epochs since its last checkpoint (it is left
  // as a killed run leaves it), so it is a warning and the other trials are still saved.
  std::string suspend(const TrialClaim& claim, const JobResult& result) {
    const int number = claim.number;
    if (!result.state) return finish_failed(claim, "suspended without its state; the executor must return it");
    const std::string trial = "trial " + std::to_string(number);
    const std::string after = " after epoch " + std::to_string(result.state->epoch);
    try {
      const std::string bytes =
          trial_state_bytes(*result.state, /*with_optimizer_state=*/true, {}, checkpoint_name(number));
      if (!storage_->suspend_trial(claim, result.state->epoch, bytes)) return lost_event(number);
    } catch (const Error& error) {
      return "warning: " + trial + ": cannot save its state" + after + " (" + error.what() +
             "); the next run continues it from its last checkpoint";
    }
    suspended_.push_back(number);
    return trial + " saved" + after + ": it continues from there in the next run";
  }

  // The best complete value the study has seen: the storage's save_best_weights has the last word
  // on another process's better trial that history_ does not hold yet.
  std::optional<double> best_complete_value() {
    std::lock_guard lock(mutex_);
    const FrozenTrial* best = best_complete_trial();
    return best ? best->value : std::nullopt;
  }

  void save_best(const TrialRecord& record, double value, const JobResult& result) {
    if (!result.state) return;
    const int number = record.trial.number;
    const std::map<std::string, std::string> metadata = {
        {"study", study_.name},
        {"trial", std::to_string(number)},
        {"metric", config_.metric.name},
        {"value", std::to_string(value)},
        {"command", record.attributes.count("command") ? record.attributes.at("command") : ""},
        {kModelDataKey, model_data_text(model_data_of(parts_.data->train, config_.settings.label_column))}};
    const std::string model =
        trial_state_bytes(*result.state, /*with_optimizer_state=*/false, metadata, "the best trial's weights");
    if (!storage_->save_best_weights(study_.id, number, model)) return;  // another worker's trial is better
    if (sqlite_file_)                                                    // the file beside the database, as ever
      save_trial_state(best_weights_path(*sqlite_file_), *result.state, /*with_optimizer_state=*/false, metadata);
  }

  // --- progress ---

  // "started", or for a study that has trials already, "resumed" with where it stands.
  std::string start_event(const std::vector<int>& requeued) {
    const std::vector<TrialRecord> records = storage_->trial_records(study_.id);
    const std::string where = " on " + parts_.backend->name();
    if (records.empty()) return "study " + study_.name + " started" + where;
    int done = 0, from_checkpoints = 0, saved = 0, paused = 0, elsewhere = 0;
    for (const TrialRecord& record : records) {
      done += is_finished(record.trial.state);
      paused += is_paused(record.trial);
      elsewhere += record.trial.state == RunState::running;
      const bool continues =
          record.trial.state == RunState::waiting && !is_paused(record.trial) && record.checkpoint_epoch > 0;
      const bool was_requeued = std::find(requeued.begin(), requeued.end(), record.trial.number) != requeued.end();
      (was_requeued ? from_checkpoints : saved) += continues;
    }
    std::string event = "study " + study_.name + " resumed" + where + ": " + std::to_string(done) +
                        (run_cap_ > 0 ? " of " + std::to_string(run_cap_) : std::string()) + " trials done";
    if (!requeued.empty())
      event += ", " + std::to_string(requeued.size()) + " interrupted to run again (" +
               std::to_string(from_checkpoints) + " from checkpoints)";
    if (saved > 0) event += ", " + std::to_string(saved) + " saved by a stop to continue";
    if (paused > 0) event += ", " + std::to_string(paused) + " paused at rungs";
    if (elsewhere > 0) event += ", " + std::to_string(elsewhere) + " running in other processes";
    if (run_cap_ > 0) event += ", " + std::to_string(std::max(0, run_cap_ - int(records.size()))) + " not started yet";
    return event;
  }

  // How this run ends, when not by run_cap alone: "; it stops after 10m00s (timeout)".
  std::string budget_text() const {
    if (const auto budget = stop_->budget_seconds())
      return "; no trial starts after " + duration_text(*budget) +
             " (the timeout), and running ones stop at their next epoch end";
    if (run_cap_ > 0) return "";
    return "; no run_cap and no timeout: it runs until stopped (Ctrl-C)";
  }
  // Where the study stands by history_: every trial as last read, with this process's own changes
  // since (claims, values, ends), so that a report reads nothing from the storage. Called under
  // progress_mutex_, or once the trials have stopped.
  StudyProgress progress(const std::string& event) {
    StudyProgress progress;
    progress.study_name = study_.name;
    progress.run_cap = run_cap_;
    progress.event = event;
    {
      std::lock_guard lock(mutex_);
      for (const auto& trial : history_) count_state(progress, trial);
      if (const FrozenTrial* best = best_complete_trial()) {
        progress.best_value = best->value;
        progress.best_number = best->number;
      }
    }
    progress.elapsed_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started_).count();
    if (done_at_start_ < 0) done_at_start_ = progress.done();
    const int done_here = progress.done() - done_at_start_;
    if (done_here > 0 && run_cap_ > 0)
      progress.eta_seconds = progress.elapsed_seconds / done_here * std::max(0, run_cap_ - progress.done());
    progress.seconds_left = stop_->seconds_left();
    progress.stopping = stopping_;
    return progress;
  }

  static void count_state(StudyProgress& progress, const FrozenTrial& trial) {
    switch (trial.state) {
      case RunState::complete:
        ++progress.complete;
        break;
      case RunState::pruned:
        ++progress.pruned;
        break;
      case RunState::failed:
        ++progress.failed;
        break;
      case RunState::running:
        ++progress.running;
        break;
      case RunState::waiting:
        progress.paused += is_paused(trial);
        break;
    }
  }

  // From any thread, never with mutex_ held (it takes it to count).
  void report_progress(const std::string& event) {
    std::lock_guard lock(progress_mutex_);
    last_progress_ = progress(event);
    if (progress_callback_) progress_callback_(last_progress_);
  }

  void report_event(const std::string& event) {
    if (!event.empty()) report_progress(event);
  }

  // A warning from the storage, from any thread, with or without the mutex held: it comes with the
  // counts of the last report.
  void report_notice(const std::string& notice) {
    std::lock_guard lock(progress_mutex_);
    StudyProgress now = last_progress_;
    now.event = "warning: " + notice;
    if (progress_callback_) progress_callback_(now);
  }

  StudyResult result(int slots) {
    refresh_history();  // with the trials pruned at the end, and other processes' news
    StudyResult result;
    result.study = study_;
    result.progress = progress("study " + study_.name + " finished");
    result.storage_path = storage_path_;
    if (sqlite_file_) result.best_weights = best_weights_path(*sqlite_file_);
    result.target_reached = target_reached_;
    if (stopping_) {
      result.stopped_by = stop_->cause();
      result.stop_reason = stop_->reason();
    }
    result.suspended = suspended_;
    result.backend_name = parts_.backend->name();
    result.slots = slots;
    if (result.progress.best_number >= 0) {
      const auto record = storage_->trial_record(study_.id, result.progress.best_number);
      result.best = record->trial;
      if (record->attributes.count("command")) result.best_command = record->attributes.at("command");
    }
    return result;
  }

  const StudyConfig& config_;
  const StudyOptions& options_;
  StudyParts parts_;
  ProgressCallback progress_callback_;
  std::mutex progress_mutex_;    // the progress callback is called by one thread at a time
  StudyProgress last_progress_;  // as last reported (before storage_: its notices use it)
  std::filesystem::path storage_path_;
  std::optional<std::filesystem::path> sqlite_file_;  // when the storage is an SQLite file
  std::unique_ptr<Storage> storage_;
  // Another host's running trial counts as abandoned after this long without a heartbeat.
  double stale_after_seconds() const {
    return options_.stale_after_seconds.value_or(kStaleAfterHeartbeats * options_.heartbeat_interval_seconds);
  }

  TrialOwner owner_;
  MetricKind metric_;
  Goal goal_;
  StudyInfo study_;
  bool on_cpu_ = false;
  int run_cap_ = 0;
  TrialSpec base_spec_;
  std::shared_ptr<StopRequest> stop_;
  std::unique_ptr<Scheduler> scheduler_;
  DataSpec data_source_;
  std::unique_ptr<IntermediateWriter> writer_;  // after storage_: it stops before the storage closes

  // Used by the job source (next_job, on_result) alone, on the job thread:
  // the spec of the trial sample() just drew (inside the claim), so that the trial the claim hands
  // out is not made from its params a second time;
  std::optional<TrialSpec> sampled_spec_;
  bool target_reached_ = false;
  std::vector<int> suspended_;  // trials suspended in this run

  // What epoch reports share with the job source, held for work in memory only: never over a
  // storage call, the progress callback or a wait (progress_mutex_ is taken before it, if at all).
  std::mutex mutex_;
  std::vector<FrozenTrial>
      history_;  // every trial of the study as last read (by number), with this process's news since
  std::map<int, TrialClaim> running_;   // the trials running in this process, by number, with their claims
  std::set<int> lost_;                  // trials taken over by another worker while they ran here
  int unsaved_checkpoints_ = 0;         // failed in a row, the first of them reported
  std::atomic<bool> stopping_ = false;  // the stop was seen: no trial starts, running ones are suspended
  std::chrono::steady_clock::time_point started_ = std::chrono::steady_clock::now();
  int done_at_start_ = -1;
  std::unique_ptr<LiveJournal> journal_;  // it reads the storage and reports until it stops
  StudyJobThread job_thread_;             // last: it stops first
};

}  // namespace

std::filesystem::path resolve_storage_path(const StudyConfig& config, const StudyOptions& options) {
  if (!options.storage_path.empty()) return options.storage_path;
  if (!config.settings.storage.empty()) return config.settings.storage;
  std::filesystem::path source(config.source.empty() ? "study" : config.source);
  return source.replace_extension(".db");
}

std::string resolve_study_name(const StudyConfig& config) {
  if (!config.settings.study_name.empty()) return config.settings.study_name;
  if (!config.name.empty()) return config.name;
  const std::string stem = std::filesystem::path(config.source).stem().string();
  return stem.empty() ? "study" : stem;
}

StudyParts make_study_parts(const StudyConfig& config, const StudyOptions& options) {
  StudyParts parts;
  // The same loading as `mlptune train`'s defaults, so a trial's command line reproduces it.
  parts.data = std::make_shared<const DataSplits>(load_data(study_data_spec(config.settings)));
  BackendOptions backend;
  backend.kind = options.backend.value_or(config.settings.backend);
  // On the CPU, trials run in parallel at the level of whole trials: the cores are shared out
  // among them (one each by default) rather than every trial's BLAS using every core.
  const int requested = options.concurrency.value_or(config.settings.concurrency);
  backend.threads_per_trial = cpu::plan_cpu_trials(cpu::usable_cores(), requested).threads_per_trial;
  backend.device = kAllDevices;  // on GPUs, every visible one
  parts.backend = make_backend(backend);
  SamplerOptions sampler;
  sampler.seed = config.settings.seed;
  sampler.n_startup_trials = config.settings.n_startup_trials;
  parts.sampler = make_sampler(config.method, sampler);
  return parts;
}

StudyResult run_study(const StudyConfig& config, const StudyOptions& options, const ProgressCallback& progress) {
  return run_study(config, options, make_study_parts(config, options), progress);
}

StudyResult run_study(const StudyConfig& config, const StudyOptions& options, StudyParts parts,
                      const ProgressCallback& progress) {
  StudyRunner runner(config, options, std::move(parts), progress);
  return runner.run();
}

}  // namespace mlptune::tune
