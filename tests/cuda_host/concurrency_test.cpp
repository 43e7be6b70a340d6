// CUDA_DEVICE_MAX_CONNECTIONS and the concurrency it allows: a user's value is kept, an unset one
// becomes 32, and a device is never recommended more trials than it has connections.
#include "cuda/concurrency.hpp"

#include <gtest/gtest.h>

#include <cstdlib>
#include <optional>
#include <string>

namespace mlptune::cuda {
namespace {

TEST(Connections, AWholeNumberInRangeIsTakenAsItIs) {
  EXPECT_EQ(connections_for("1"), 1);
  EXPECT_EQ(connections_for("16"), 16);
  EXPECT_EQ(connections_for("32"), 32);
  EXPECT_EQ(connections_for("64"), 32);  // beyond the documented maximum: 32
}

TEST(Connections, UnsetOrMalformedIsCudasDefault) {
  EXPECT_EQ(connections_for(nullptr), 8);
  EXPECT_EQ(connections_for(""), 8);
  EXPECT_EQ(connections_for("0"), 8);
  EXPECT_EQ(connections_for("-4"), 8);
  EXPECT_EQ(connections_for("16x"), 8);
  EXPECT_EQ(connections_for("many"), 8);
}

TEST(Connections, RecommendedConcurrencyIsOnePerEightSmsAtMostOnePerConnection) {
  EXPECT_EQ(recommended_concurrency(132, 32), 16);  // H100 SXM
  EXPECT_EQ(recommended_concurrency(132, 8), 8);    // CUDA's default connections
  EXPECT_EQ(recommended_concurrency(528, 32), 32);  // never past the 32 connections
  EXPECT_EQ(recommended_concurrency(4, 32), 1);     // at least one
  EXPECT_EQ(recommended_concurrency(132, 0), 1);
}

// Sets and restores the variable around each test: the process's environment is shared.
class PrepareConnections : public ::testing::Test {
 protected:
  void SetUp() override {
    if (const char* value = std::getenv(kName)) saved_ = value;
  }
  void TearDown() override {
    if (saved_)
      setenv(kName, saved_->c_str(), 1);
    else
      unsetenv(kName);
  }
  static constexpr const char* kName = "CUDA_DEVICE_MAX_CONNECTIONS";

 private:
  std::optional<std::string> saved_;
};

TEST_F(PrepareConnections, AnUnsetVariableBecomes32) {
  unsetenv(kName);
  EXPECT_EQ(prepare_connections(), 32);
  ASSERT_NE(std::getenv(kName), nullptr);
  EXPECT_EQ(std::string(std::getenv(kName)), "32");
}

TEST_F(PrepareConnections, AUsersValueIsKept) {
  setenv(kName, "12", 1);
  EXPECT_EQ(prepare_connections(), 12);
  EXPECT_EQ(std::string(std::getenv(kName)), "12");
}

}  // namespace
}  // namespace mlptune::cuda
