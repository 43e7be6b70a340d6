// Benchmark (not a test): claim + report + finish throughput of a Storage (an SQLite file or a PostgreSQL URL)
// with WORKERS processes, each with its own connection, and the latency of one epoch report.
//   bench_storage_ops LOCATION WORKERS SECONDS EPOCHS   (scripts/bench-storage runs it beside
//   benchmarks/storage_optuna.py, which times Optuna's RDBStorage the same way, and prints the table)
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <span>
#include <stdexcept>
#include <string>
#include <variant>
#include <vector>

#include "mlptune/tune/sampler.hpp"
#include "mlptune/tune/storage.hpp"
#include "mlptune/tune/study.hpp"
#include "mlptune/tune/study_config.hpp"

namespace {

using namespace mlptune::tune;
using Clock = std::chrono::steady_clock;

// What a sampler picks per trial, as benchmarks/storage_optuna.py suggests it.
const char* const kSpaceYaml = R"(method: random
parameters:
  lr: {distribution: log_uniform_values, min: 1.0e-4, max: 1.0e-1}
  batch_size: {values: [64, 128, 256]}
)";

struct Arguments {
  std::string location;
  int workers = 0;
  int seconds = 0;
  int epochs = 0;
};

// What a worker sends back through its pipe.
struct WorkerResult {
  std::int64_t trials = 0;        // finished
  double elapsed_seconds = 0.0;   // from the common start to the end of its last trial
  std::vector<double> report_ms;  // every record_intermediate call
};

int positive_int(const char* text, const char* name) {
  const int value = std::atoi(text);
  if (value <= 0) throw std::invalid_argument(std::string(name) + " must be a positive integer, not \"" + text + "\"");
  return value;
}

Arguments parse_arguments(int argc, char** argv) {
  if (argc != 5) throw std::invalid_argument("usage: bench_storage_ops LOCATION WORKERS SECONDS EPOCHS");
  return {argv[1], positive_int(argv[2], "WORKERS"), positive_int(argv[3], "SECONDS"), positive_int(argv[4], "EPOCHS")};
}

void write_all(int fd, const void* data, std::size_t size) {
  const char* bytes = static_cast<const char*>(data);
  while (size > 0) {
    const ssize_t written = ::write(fd, bytes, size);
    if (written <= 0) throw std::runtime_error("cannot write to the parent's pipe");
    bytes += written;
    size -= std::size_t(written);
  }
}

bool read_all(int fd, void* data, std::size_t size) {  // false: the pipe ended first
  char* bytes = static_cast<char*>(data);
  while (size > 0) {
    const ssize_t got = ::read(fd, bytes, size);
    if (got <= 0) return false;
    bytes += got;
    size -= std::size_t(got);
  }
  return true;
}

// The pipe's layout: trials, elapsed seconds, the number of latencies, the latencies.
void send(int fd, const WorkerResult& result) {
  const std::uint64_t count = result.report_ms.size();
  write_all(fd, &result.trials, sizeof result.trials);
  write_all(fd, &result.elapsed_seconds, sizeof result.elapsed_seconds);
  write_all(fd, &count, sizeof count);
  write_all(fd, result.report_ms.data(), count * sizeof(double));
}

bool receive(int fd, WorkerResult& result) {
  std::uint64_t count = 0;
  if (!read_all(fd, &result.trials, sizeof result.trials) ||
      !read_all(fd, &result.elapsed_seconds, sizeof result.elapsed_seconds) || !read_all(fd, &count, sizeof count))
    return false;
  result.report_ms.resize(count);
  return read_all(fd, result.report_ms.data(), count * sizeof(double));
}

// A loss that falls with the epoch and depends on the trial's lr, as a training run's would.
double synthetic_loss(double lr, int epoch) {
  return std::pow(std::log10(lr) + 2.5, 2) + 1.0 / epoch;
}

// The start barrier: each worker says it is connected ('r') or failed ('f') on `ready`, then
// waits for `go` to close, so that every worker's SECONDS are the same seconds.
struct StartBarrier {
  int ready[2];
  int go[2];
};

// One worker: its own connection, then until the deadline: claim a trial, report EPOCHS values,
// finish it.
WorkerResult run_worker(const Arguments& arguments, const std::string& study_name, const StartBarrier& barrier) {
  auto storage = open_storage(arguments.location);
  const StudyInfo study = storage->find_study(study_name).value();
  const TrialOwner owner = current_owner();
  const StudyConfig config = parse_study_config(kSpaceYaml, "storage_ops");
  auto sampler = make_sampler(Method::random, SamplerOptions{.seed = study.seed});
  const SampleTrialFn sample = [&](std::span<const FrozenTrial> trials, int number) {
    SampledTrial sampled;
    sampled.params = sampler->sample(config.space, trials, study.direction, number);
    for (const ParameterSpec& parameter : config.space.parameters)
      sampled.distributions[parameter.name] = parameter.distribution;
    sampled.seed = trial_seed(study.seed, number);
    return sampled;
  };

  write_all(barrier.ready[1], "r", 1);
  char ignored;
  while (::read(barrier.go[0], &ignored, 1) > 0) {
  }
  const Clock::time_point start = Clock::now();
  const Clock::time_point deadline = start + std::chrono::seconds(arguments.seconds);
  WorkerResult result;
  while (Clock::now() < deadline) {
    const auto record = storage->claim_trial(study.id, owner, 0, sample);
    if (!record) throw std::runtime_error("claim_trial found nothing to run in a study without a run cap");
    const TrialClaim claim = record->claim(study.id);
    const double lr = std::get<double>(record->trial.params.at("lr"));
    for (int epoch = 1; epoch <= arguments.epochs; ++epoch) {
      const Clock::time_point before = Clock::now();
      const bool held = storage->record_intermediate(claim, epoch, synthetic_loss(lr, epoch));
      result.report_ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - before).count());
      if (!held) throw std::runtime_error("trial " + std::to_string(claim.number) + " was taken from its worker");
    }
    if (!storage->finish_trial(claim, RunState::complete, synthetic_loss(lr, arguments.epochs), ""))
      throw std::runtime_error("trial " + std::to_string(claim.number) + " was taken before it finished");
    ++result.trials;
  }
  result.elapsed_seconds = std::chrono::duration<double>(Clock::now() - start).count();
  return result;
}

// A forked worker: sends its result to `result_fd` and exits, never returning to main's code.
[[noreturn]] void worker_process(const Arguments& arguments, const std::string& study_name, const StartBarrier& barrier,
                                 int result_fd) {
  ::close(barrier.ready[0]);
  ::close(barrier.go[1]);  // else the go pipe never closes for anyone
  int status = 0;
  try {
    send(result_fd, run_worker(arguments, study_name, barrier));
  } catch (const std::exception& error) {
    std::fprintf(stderr, "bench_storage_ops: worker %d: %s\n", ::getpid(), error.what());
    [[maybe_unused]] const ssize_t told = ::write(barrier.ready[1], "f", 1);  // a parent waiting for workers stops
    status = 1;
  }
  std::fflush(nullptr);
  ::_exit(status);  // no destructors of the parent's objects, no atexit handlers
}

// The value below which `fraction` of the sorted samples lie (nearest rank, as storage_optuna.py).
double percentile(const std::vector<double>& sorted, double fraction) {
  if (sorted.empty()) return std::nan("");
  const auto rank = std::size_t(std::ceil(fraction * double(sorted.size())));
  return sorted[std::clamp<std::size_t>(rank, 1, sorted.size()) - 1];
}

std::vector<WorkerResult> run_workers(const Arguments& arguments, const std::string& study_name) {
  StartBarrier barrier;
  if (::pipe(barrier.ready) != 0 || ::pipe(barrier.go) != 0) throw std::runtime_error("cannot make a pipe");
  std::vector<pid_t> pids;
  std::vector<int> result_fds;
  for (int worker = 0; worker < arguments.workers; ++worker) {
    int result_pipe[2];
    if (::pipe(result_pipe) != 0) throw std::runtime_error("cannot make a pipe");
    std::fflush(nullptr);
    const pid_t pid = ::fork();
    if (pid < 0) throw std::runtime_error("cannot fork worker " + std::to_string(worker));
    if (pid == 0) {
      ::close(result_pipe[0]);
      worker_process(arguments, study_name, barrier, result_pipe[1]);
    }
    ::close(result_pipe[1]);  // so that later workers do not hold it open
    pids.push_back(pid);
    result_fds.push_back(result_pipe[0]);
  }
  ::close(barrier.ready[1]);
  int connected = 0;
  char answer = 0;
  while (connected < arguments.workers && ::read(barrier.ready[0], &answer, 1) == 1 && answer == 'r') ++connected;
  if (connected < arguments.workers)  // a worker failed: the others stop too
    for (const pid_t pid : pids) ::kill(pid, SIGTERM);
  ::close(barrier.go[1]);  // the start

  std::vector<WorkerResult> results(pids.size());
  bool all_reported = connected == arguments.workers;
  for (std::size_t worker = 0; worker < pids.size(); ++worker) {
    all_reported = receive(result_fds[worker], results[worker]) && all_reported;
    ::close(result_fds[worker]);
    int status = 0;
    ::waitpid(pids[worker], &status, 0);
    all_reported = all_reported && WIFEXITED(status) && WEXITSTATUS(status) == 0;
  }
  ::close(barrier.ready[0]);  // open until now: a late 'f' must not meet a closed pipe (SIGPIPE)
  if (!all_reported) throw std::runtime_error("a worker failed (its message is above)");
  return results;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    const Arguments arguments = parse_arguments(argc, argv);
    const std::string system = is_database_url(arguments.location) ? "postgresql" : "sqlite";
    // A fresh study per run, created before the workers start (as `mlptune tune` does).
    const std::string study_name = "bench-storage-ops-" + std::to_string(::getpid()) + "-" +
                                   std::to_string(std::chrono::system_clock::now().time_since_epoch().count());
    open_storage(arguments.location)->open_or_create_study({0, study_name, Goal::minimize, kSpaceYaml, 42, 0.0});

    std::int64_t trials = 0;
    double elapsed_seconds = 0.0;
    std::vector<double> report_ms;
    for (const WorkerResult& result : run_workers(arguments, study_name)) {
      trials += result.trials;
      elapsed_seconds = std::max(elapsed_seconds, result.elapsed_seconds);
      report_ms.insert(report_ms.end(), result.report_ms.begin(), result.report_ms.end());
    }
    std::sort(report_ms.begin(), report_ms.end());
    std::printf(
        "mlptune %s workers=%d trials=%lld trials_per_s=%.1f report_p50_ms=%.3f report_p99_ms=%.3f seconds=%.2f\n",
        system.c_str(), arguments.workers, static_cast<long long>(trials), double(trials) / elapsed_seconds,
        percentile(report_ms, 0.50), percentile(report_ms, 0.99), elapsed_seconds);
    return 0;
  } catch (const std::exception& error) {
    std::fprintf(stderr, "bench_storage_ops: %s\n", error.what());
    return 1;
  }
}
