// load_npy: round trips for every supported dtype and format version, and one test per bad input.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>

#include "data_test_support.hpp"
#include "mlptune/data.hpp"

namespace mlptune {
namespace {

using test::contains;
using test::data_error_message;
using test::starts_with_path;
using test::TempFolder;

struct NpyLayout {
  std::string descr;
  std::string shape;  // Python tuple text, e.g. "(2, 3)"
  int major_version = 1;
  bool fortran_order = false;
};

// A .npy file as NumPy writes it: magic, version, header length, dict padded to 64 bytes, data.
std::string npy_file(const NpyLayout& layout, const std::string& data) {
  std::string dict = "{'descr': '" + layout.descr + "', 'fortran_order': " + (layout.fortran_order ? "True" : "False") +
                     ", 'shape': " + layout.shape + ", }";
  const std::size_t length_bytes = layout.major_version == 1 ? 2 : 4;
  const std::size_t unpadded = 8 + length_bytes + dict.size() + 1;
  dict += std::string((64 - unpadded % 64) % 64, ' ') + "\n";
  std::string bytes = "\x93NUMPY";
  bytes += static_cast<char>(layout.major_version);
  bytes += '\0';
  for (std::size_t i = 0; i < length_bytes; ++i) {
    bytes += static_cast<char>((dict.size() >> (8 * i)) & 0xFF);
  }
  return bytes + dict + data;
}

template <typename T>
std::string raw_values(std::initializer_list<T> values) {
  std::string bytes(values.size() * sizeof(T), '\0');
  std::memcpy(bytes.data(), values.begin(), bytes.size());
  return bytes;
}

template <typename T, const char* Descr>
struct NpyType {
  using type = T;
  static constexpr const char* descr = Descr;
};
constexpr char kF4[] = "<f4", kF8[] = "<f8", kI4[] = "<i4", kI8[] = "<i8", kU1[] = "|u1", kLittleU1[] = "<u1";
using NpyTypes =
    ::testing::Types<NpyType<float, kF4>, NpyType<double, kF8>, NpyType<std::int32_t, kI4>, NpyType<std::int64_t, kI8>,
                     NpyType<std::uint8_t, kU1>, NpyType<std::uint8_t, kLittleU1>>;

template <typename Type>
class NpyDtypeRoundTrip : public ::testing::Test {};
TYPED_TEST_SUITE(NpyDtypeRoundTrip, NpyTypes);

TYPED_TEST(NpyDtypeRoundTrip, FeaturesAndSeparateLabels) {
  using T = typename TypeParam::type;
  TempFolder folder;
  const auto features =
      folder.write("x.npy", npy_file({TypeParam::descr, "(2, 3)"}, raw_values<T>({7, 1, 2, 3, 4, 250})));
  const auto labels = folder.write("y.npy", npy_file({TypeParam::descr, "(2,)"}, raw_values<T>({1, 0})));
  const Dataset data = load_npy(features, labels);
  EXPECT_EQ(data.name, "x");
  ASSERT_EQ(data.rows, 2u);
  ASSERT_EQ(data.cols, 3u);
  EXPECT_EQ(data.features, (std::vector<float>{7, 1, 2, 3, 4, 250}));
  EXPECT_EQ(data.labels, (std::vector<std::int32_t>{1, 0}));
  EXPECT_EQ(data.num_classes, 2);
  // Byte arrays keep their bytes for compact device storage; wider types do not.
  const bool bytes = sizeof(T) == 1;
  EXPECT_EQ(data.raw_bytes.empty(), !bytes);
  if (bytes) {
    EXPECT_EQ(data.raw_bytes, (std::vector<std::uint8_t>{7, 1, 2, 3, 4, 250}));
  }
}

TYPED_TEST(NpyDtypeRoundTrip, LastColumnIsTheLabelWithoutALabelsFile) {
  using T = typename TypeParam::type;
  TempFolder folder;
  const auto path = folder.write("xy.npy", npy_file({TypeParam::descr, "(3, 2)"}, raw_values<T>({5, 0, 6, 2, 9, 1})));
  const Dataset data = load_npy(path, std::nullopt);
  EXPECT_EQ(data.features, (std::vector<float>{5, 6, 9}));
  EXPECT_EQ(data.labels, (std::vector<std::int32_t>{0, 2, 1}));
  EXPECT_EQ(data.num_classes, 3);
}

TEST(NpyLoader, ReadsFormatVersions2And3) {
  TempFolder folder;
  for (const int version : {2, 3}) {
    const auto path = folder.write("v" + std::to_string(version) + ".npy",
                                   npy_file({"<f8", "(2, 2)", version}, raw_values<double>({0.5, 1, -2.25, 0})));
    const Dataset data = load_npy(path, std::nullopt);
    EXPECT_EQ(data.features, (std::vector<float>{0.5f, -2.25f})) << "version " << version;
    EXPECT_EQ(data.labels, (std::vector<std::int32_t>{1, 0})) << "version " << version;
  }
}

TEST(NpyLoader, ReadsRegressionTargets) {
  TempFolder folder;
  const auto features = folder.write("x.npy", npy_file({"<f4", "(2, 1)"}, raw_values<float>({1, 2})));
  const auto targets = folder.write("t.npy", npy_file({"<f8", "(2,)"}, raw_values<double>({-0.5, 3.25})));
  LoadOptions options;
  options.task = Task::regression;
  const Dataset data = load_npy(features, targets, options);
  EXPECT_EQ(data.task, Task::regression);
  EXPECT_EQ(data.target_width, 1);
  EXPECT_EQ(data.targets, (std::vector<float>{-0.5f, 3.25f}));
}

TEST(NpyLoaderErrors, BadMagic) {
  TempFolder folder;
  const auto path = folder.write("text.npy", "1,2,3\n4,5,6\n");
  const std::string message = data_error_message([&] { load_npy(path, std::nullopt); });
  EXPECT_PRED_FORMAT2(starts_with_path, message, path);
  EXPECT_PRED_FORMAT2(contains, message, "byte 0: not a .npy file");
}

TEST(NpyLoaderErrors, UnsupportedVersion) {
  TempFolder folder;
  std::string bytes = npy_file({"<f4", "(1, 2)"}, raw_values<float>({1, 0}));
  bytes[6] = 4;
  const auto path = folder.write("future.npy", bytes);
  const std::string message = data_error_message([&] { load_npy(path, std::nullopt); });
  EXPECT_PRED_FORMAT2(starts_with_path, message, path);
  EXPECT_PRED_FORMAT2(contains, message, "byte 6: unsupported .npy format version 4.0");
}

TEST(NpyLoaderErrors, TruncatedData) {
  TempFolder folder;
  // 2 x 3 float32 need 24 data bytes after the header; only 20 are there.
  const std::string whole = npy_file({"<f4", "(2, 3)"}, raw_values<float>({1, 2, 3, 4, 5, 0}));
  const auto path = folder.write("cut.npy", whole.substr(0, whole.size() - 4));
  const std::string message = data_error_message([&] { load_npy(path, std::nullopt); });
  EXPECT_PRED_FORMAT2(starts_with_path, message, path);
  EXPECT_PRED_FORMAT2(contains, message,
                      "truncated at byte " + std::to_string(whole.size() - 4) + " of " + std::to_string(whole.size()) +
                          " (expected 24 data bytes for shape (2, 3) of '<f4')");
}

TEST(NpyLoaderErrors, TruncatedHeader) {
  TempFolder folder;
  const std::string whole = npy_file({"<f4", "(2, 3)"}, raw_values<float>({1, 2, 3, 4, 5, 0}));
  const auto path = folder.write("cut_header.npy", whole.substr(0, 30));
  const std::string message = data_error_message([&] { load_npy(path, std::nullopt); });
  EXPECT_PRED_FORMAT2(starts_with_path, message, path);
  EXPECT_PRED_FORMAT2(contains, message,
                      "truncated at byte 30 of a header that ends at byte " + std::to_string(whole.size() - 24));
}

TEST(NpyLoaderErrors, UnsupportedDtype) {
  TempFolder folder;
  for (const std::string descr : {">f4", "<f2", "<c8"}) {
    const auto path = folder.write("odd.npy", npy_file({descr, "(1, 2)"}, std::string(8, '\0')));
    const std::string message = data_error_message([&] { load_npy(path, std::nullopt); });
    EXPECT_PRED_FORMAT2(starts_with_path, message, path);
    EXPECT_PRED_FORMAT2(contains, message, "unsupported dtype '" + descr + "'");
  }
}

TEST(NpyLoaderErrors, FortranOrder) {
  TempFolder folder;
  const auto path = folder.write("columns.npy", npy_file({"<f4", "(2, 2)", 1, true}, raw_values<float>({1, 2, 0, 1})));
  const std::string message = data_error_message([&] { load_npy(path, std::nullopt); });
  EXPECT_PRED_FORMAT2(starts_with_path, message, path);
  EXPECT_PRED_FORMAT2(contains, message, "fortran_order True is not supported");
}

TEST(NpyLoaderErrors, FeaturesNotTwoDimensional) {
  TempFolder folder;
  const auto path = folder.write("flat.npy", npy_file({"<f4", "(4,)"}, raw_values<float>({1, 2, 3, 4})));
  const std::string message = data_error_message([&] { load_npy(path, std::nullopt); });
  EXPECT_PRED_FORMAT2(starts_with_path, message, path);
  EXPECT_PRED_FORMAT2(contains, message, "shape (4,) has 1 dimensions, expected 2");
}

TEST(NpyLoaderErrors, LabelsNotOneDimensional) {
  TempFolder folder;
  const auto features = folder.write("x.npy", npy_file({"<f4", "(2, 1)"}, raw_values<float>({1, 2})));
  const auto labels = folder.write("y.npy", npy_file({"<i8", "(2, 1)"}, raw_values<std::int64_t>({0, 1})));
  const std::string message = data_error_message([&] { load_npy(features, labels); });
  EXPECT_PRED_FORMAT2(starts_with_path, message, labels);
  EXPECT_PRED_FORMAT2(contains, message, "shape (2, 1) has 2 dimensions, expected 1");
}

TEST(NpyLoaderErrors, LabelCountDiffersFromRows) {
  TempFolder folder;
  const auto features = folder.write("x.npy", npy_file({"<f4", "(2, 1)"}, raw_values<float>({1, 2})));
  const auto labels = folder.write("y.npy", npy_file({"<i8", "(3,)"}, raw_values<std::int64_t>({0, 1, 1})));
  const std::string message = data_error_message([&] { load_npy(features, labels); });
  EXPECT_PRED_FORMAT2(starts_with_path, message, features);
  EXPECT_PRED_FORMAT2(contains, message, "holds 2 rows but " + labels.string() + " holds 3 labels");
}

TEST(NpyLoaderErrors, NaNNamesRowColumnAndByte) {
  TempFolder folder;
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const std::string bytes = npy_file({"<f4", "(2, 3)"}, raw_values<float>({1, 2, 0, 4, nan, 1}));
  const auto path = folder.write("nan.npy", bytes);
  const std::string message = data_error_message([&] { load_npy(path, std::nullopt); });
  EXPECT_PRED_FORMAT2(starts_with_path, message, path);
  // Element 4 of the 24 data bytes at the end of the file: 4 * 4 bytes after their start.
  const std::size_t nan_byte = bytes.size() - 24 + 4 * 4;
  EXPECT_PRED_FORMAT2(contains, message, "row 1, column 1 (byte " + std::to_string(nan_byte) + "): NaN is not allowed");
}

TEST(NpyLoaderErrors, LabelNotAnIntegerNamesTheLabelsFile) {
  TempFolder folder;
  const auto features = folder.write("x.npy", npy_file({"<f4", "(2, 1)"}, raw_values<float>({1, 2})));
  const std::string label_bytes = npy_file({"<f4", "(2,)"}, raw_values<float>({0, 0.5f}));
  const auto labels = folder.write("y.npy", label_bytes);
  const std::string message = data_error_message([&] { load_npy(features, labels); });
  EXPECT_PRED_FORMAT2(starts_with_path, message, labels);
  const std::size_t label_byte = label_bytes.size() - 4;
  EXPECT_PRED_FORMAT2(contains, message, "element 1 (byte " + std::to_string(label_byte) + "): label 0.5");
}

// The header's shape is checked against the row and column limits before its data is read.
TEST(NpyLoaderErrors, ColumnsBeyondTheLimitAreRefusedFromTheHeader) {
  TempFolder folder;
  const auto path = folder.write("wide.npy", npy_file({"|u1", "(2, 3000000000)"}, std::string(6, '\0')));
  const std::string message = data_error_message([&] { load_npy(path, std::nullopt); });
  EXPECT_PRED_FORMAT2(starts_with_path, message, path);
  EXPECT_PRED_FORMAT2(contains, message,
                      "byte 10: shape (2, 3000000000): 3000000000 columns; at most 2147483646 are supported");
}

TEST(NpyLoaderErrors, RowsBeyondTheLimitAreRefusedFromTheHeader) {
  TempFolder folder;
  const auto path = folder.write("long.npy", npy_file({"|u1", "(5000000000, 1)"}, std::string(6, '\0')));
  const std::string message = data_error_message([&] { load_npy(path, std::nullopt); });
  EXPECT_PRED_FORMAT2(contains, message, "5000000000 rows; at most 4294967295 are supported");
}

}  // namespace
}  // namespace mlptune
