// A fresh folder per test under the system temp folder, removed with everything in it when the
// test ends; every suite uses this one.
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <string>

namespace mlptune::testing {

class TempFolder {
 public:
  TempFolder() {
    static std::atomic<int> counter{0};
    const auto* test = ::testing::UnitTest::GetInstance()->current_test_info();
    std::string name = std::string("mlptune-") +
                       (test ? std::string(test->test_suite_name()) + "-" + test->name() : "none") + "-" +
                       std::to_string(::getpid()) + "-" + std::to_string(counter++);
    for (char& c : name)
      if (c == '/') c = '_';  // parameterised test names hold slashes
    path_ = std::filesystem::temp_directory_path() / name;
    std::filesystem::remove_all(path_);
    std::filesystem::create_directories(path_);
  }
  ~TempFolder() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  TempFolder(const TempFolder&) = delete;
  TempFolder& operator=(const TempFolder&) = delete;

  std::filesystem::path file(const std::string& name) const { return path_ / name; }

  // Writes `bytes` to file(name) and returns its path.
  std::filesystem::path write(const std::string& name, const std::string& bytes) const {
    std::ofstream out(file(name), std::ios::binary);
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    EXPECT_TRUE(out.good()) << "cannot write " << file(name);
    return file(name);
  }

 private:
  std::filesystem::path path_;
};

}  // namespace mlptune::testing
