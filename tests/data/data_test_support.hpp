// Helpers shared by the data tests: a temporary folder with file writers, and message checks.
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>
#include <zlib.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <string>

#include "mlptune/error.hpp"
#include "temp_folder.hpp"
#include "thrown_message.hpp"

namespace mlptune::test {

// The shared test folder, and a gzip-compressed file written into it.
class TempFolder : public testing::TempFolder {
 public:
  std::filesystem::path write_gz(const std::string& name, const std::string& bytes) const {
    gzFile out = gzopen(file(name).c_str(), "wb");
    EXPECT_NE(out, nullptr) << "cannot create " << file(name);
    EXPECT_EQ(gzwrite(out, bytes.data(), static_cast<unsigned>(bytes.size())), static_cast<int>(bytes.size()));
    EXPECT_EQ(gzclose(out), Z_OK);
    return file(name);
  }
};

// The message of the DataError that `load` throws; a test failure when it throws none.
template <typename Load>
std::string data_error_message(Load&& load) {
  return testing::thrown_message<DataError>(std::forward<Load>(load));
}

// For EXPECT_PRED_FORMAT2(contains, text, piece): prints both on failure.
inline ::testing::AssertionResult contains(const char* text_expression, const char* piece_expression,
                                           const std::string& text, const std::string& piece) {
  if (text.find(piece) != std::string::npos) {
    return ::testing::AssertionSuccess();
  }
  return ::testing::AssertionFailure() << text_expression << " = \"" << text << "\" does not contain "
                                       << piece_expression << " = \"" << piece << "\"";
}

// The message starts with the file, as every loader's message must.
inline ::testing::AssertionResult starts_with_path(const char* text_expression, const char* path_expression,
                                                   const std::string& text, const std::filesystem::path& path) {
  if (text.rfind(path.string() + ": ", 0) == 0) {
    return ::testing::AssertionSuccess();
  }
  return ::testing::AssertionFailure() << text_expression << " = \"" << text << "\" does not start with "
                                       << path_expression << " = \"" << path.string() << ": \"";
}

}  // namespace mlptune::test
