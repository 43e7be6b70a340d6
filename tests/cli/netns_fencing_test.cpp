// Fencing across hosts. Linux network namespaces the test creates stand for three machines: the
// database in one, a worker in each of two others (each with a host name of its own). One worker's
// link is cut for longer than the grace period while it trains a trial: the other worker takes the
// trial over and finishes it. When the link comes back, the first worker's late writes are refused
// (it says it lost the trial and moves on) and count nowhere. Needs root for `ip netns` (CI runs as
// root); without it, the test skips and says why.
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <string>

#include "cli/cli_test_support.hpp"
#include "cli/worker_process.hpp"
#include "mlptune/tune/storage.hpp"
#include "tune/postgres_test_support.hpp"

namespace {

using namespace mlptune::testing;
using mlptune::tune::RunState;
using mlptune::tune::TrialRecord;
using namespace std::chrono_literals;

bool shell(const std::string& command) {
  return std::system((command + " >/dev/null 2>&1").c_str()) == 0;
}

// Three namespaces joined to a fourth end in the test's own namespace (for the test to read the
// database): db <-> worker a, db <-> worker b, db <-> the test. Addresses 10.231.N.0/24, only
// inside these namespaces. Everything is removed when this goes.
class TestNetwork {
 public:
  TestNetwork() : suffix_(std::to_string(::getpid() % 100000)) {}
  ~TestNetwork() {
    for (const std::string& space : {db(), worker(0), worker(1)}) shell("ip netns delete " + space);
    shell("ip link delete mlt" + suffix_);
  }

  // Empty when it worked, else why not.
  std::string create() {
    if (::geteuid() != 0) return "creating network namespaces needs root (CI runs as root)";
    if (!shell("ip netns add " + db())) return "`ip netns add` failed: no privilege to create network namespaces here";
    bool ok = shell("ip -n " + db() + " link set lo up");
    for (int link = 0; link < 3; ++link) {
      const std::string db_end = "mld" + std::to_string(link) + suffix_, far_end = link_name(link);
      const std::string subnet = "10.231." + std::to_string(link + 1) + ".";
      ok = ok && shell("ip link add " + db_end + " type veth peer name " + far_end) &&
           shell("ip link set " + db_end + " netns " + db()) &&
           shell("ip -n " + db() + " addr add " + subnet + "1/24 dev " + db_end) &&
           shell("ip -n " + db() + " link set " + db_end + " up");
      if (link < 2) {
        ok = ok && shell("ip netns add " + worker(link)) && shell("ip -n " + worker(link) + " link set lo up") &&
             shell("ip link set " + far_end + " netns " + worker(link)) &&
             shell("ip -n " + worker(link) + " addr add " + subnet + "2/24 dev " + far_end) &&
             shell("ip -n " + worker(link) + " link set " + far_end + " up");
      } else {
        ok = ok && shell("ip addr add " + subnet + "2/24 dev " + far_end) && shell("ip link set " + far_end + " up");
      }
    }
    return ok ? "" : "setting up veth links between the namespaces failed";
  }

  std::string db() const { return "mlt-db-" + suffix_; }
  std::string worker(int index) const { return "mlt-w" + std::to_string(index) + "-" + suffix_; }
  std::string link_name(int link) const { return link == 2 ? "mlt" + suffix_ : "mlw" + std::to_string(link) + suffix_; }
  // The database's address as worker `index` (2: the test) reaches it.
  static std::string db_address(int index) { return "10.231." + std::to_string(index + 1) + ".1"; }

  void set_worker_link(int index, bool up) {
    ASSERT_TRUE(shell("ip -n " + worker(index) + " link set " + link_name(index) + (up ? " up" : " down")));
  }

 private:
  std::string suffix_;
};

class NetnsFencing : public Cli {
 protected:
  void SetUp() override {
    Cli::SetUp();
    if (const std::string why = network_.create(); !why.empty()) GTEST_SKIP() << why;
    // A server of its own, inside the database's namespace, listening on its three addresses.
    const std::string start = "MLPTUNE_PG_LISTEN=" + TestNetwork::db_address(0) + "," + TestNetwork::db_address(1) +
                              "," + TestNetwork::db_address(2) + " ip netns exec " + network_.db() + " " +
                              MLPTUNE_SOURCE_DIR + "/scripts/pg-test-server start " + path("server");
    ASSERT_TRUE(shell(start)) << start;
    server_started_ = true;
    local_url_ = read_file(path("server/url"));
    local_url_.erase(local_url_.find_last_not_of('\n') + 1);
  }
  void TearDown() override {
    if (server_started_)
      shell("ip netns exec " + network_.db() + " " + MLPTUNE_SOURCE_DIR + "/scripts/pg-test-server stop " +
            path("server"));
    Cli::TearDown();
  }

  // The server's URL as seen from worker `index` (2: the test itself).
  std::string url(int index) const {
    mlptune::tune::testing::ServerUrl parts(local_url_);
    parts.address = TestNetwork::db_address(index) + parts.address.substr(parts.address.find(':'));
    return parts.text();
  }

  std::vector<TrialRecord> records() {
    try {
      auto storage = mlptune::tune::open_storage(url(2), mlptune::tune::StorageAccess::read_only);
      const auto study = storage->find_study("fencing");
      return study ? storage->trial_records(study->id) : std::vector<TrialRecord>{};
    } catch (const mlptune::tune::StorageError&) {
      return {};  // before the first worker made the schema
    }
  }

  // Worker `index`, on host "worker-a" or "worker-b", in its namespace.
  pid_t start_worker(int index) {
    const std::string host = index == 0 ? "worker-a" : "worker-b";
    const std::string command = std::string("hostname ") + host + " && exec " + MLPTUNE_BINARY + " tune " +
                                path("fencing.yaml") + " --storage '" + url(index) +
                                "' --quiet --concurrency 1 --heartbeat-interval 0.25 --stale-after 1.5 "
                                "--checkpoint-every 0";
    return spawn({"ip", "netns", "exec", network_.worker(index), "unshare", "--uts", "sh", "-c", command},
                 path(host + ".log"));
  }

  TestNetwork network_;
  bool server_started_ = false;
  std::string local_url_;
};

TEST_F(NetnsFencing, AWorkerCutOffPastTheGracePeriodLosesItsTrialAndItsLateWritesAreRefused) {
  std::ofstream(path("fencing.yaml")) << "method: random\n"
                                         "metric: {name: validation_loss, goal: minimize}\n"
                                         "parameters:\n"
                                         "  lr: {distribution: log_uniform_values, min: 1.0e-3, max: 1.0e-2}\n"
                                         "  width: {value: 128}\n"
                                         "  epochs: {value: 400}\n"
                                         "run_cap: 2\n"
                                         "mlptune: {dataset: digits, backend: cpu, seed: 9, study_name: fencing}\n";
  const pid_t a = start_worker(0);
  // Worker a trains trial 0; then its link goes down.
  ASSERT_TRUE(wait_until(
      [&] {
        const auto trials = records();
        return !trials.empty() && trials[0].owner.host == "worker-a" && trials[0].trial.intermediate.size() >= 3;
      },
      120s))
      << read_file(path("worker-a.log"));
  network_.set_worker_link(0, false);
  const pid_t b = start_worker(1);

  // Past the grace period, worker b finds trial 0 abandoned and takes it over.
  const bool taken_over = wait_until(
      [&] {
        const auto trials = records();
        return !trials.empty() && trials[0].owner.host == "worker-b" && trials[0].trial.state == RunState::running;
      },
      120s);
  network_.set_worker_link(0, true);
  ASSERT_TRUE(taken_over) << read_file(path("worker-b.log"));

  EXPECT_EQ(wait_for(b, 300s), 0) << read_file(path("worker-b.log"));
  EXPECT_EQ(wait_for(a, 120s), 0) << read_file(path("worker-a.log"));
  const std::string log_a = read_file(path("worker-a.log"));
  EXPECT_NE(log_a.find("trial 0 was taken over by another worker"), std::string::npos) << log_a;

  const std::vector<TrialRecord> trials = records();
  ASSERT_EQ(trials.size(), 2u);
  for (const TrialRecord& record : trials) {
    EXPECT_EQ(record.trial.state, RunState::complete) << record.trial.number << ": " << record.trial.message;
    EXPECT_EQ(record.trial.intermediate.size(), 400u) << "trial " << record.trial.number;
  }
  EXPECT_EQ(trials[0].owner.host, "worker-b") << "the trial counts as worker b's, not twice";
  EXPECT_GE(trials[0].claim_token, 2);
}

}  // namespace
