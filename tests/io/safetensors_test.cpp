// Tests of the safetensors reader and writer: round trips, byte layout, malformed files, and
// interchange with Python's safetensors package where it is installed.
#include "mlptune/safetensors.hpp"

#include <gtest/gtest.h>

#include <bit>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "mlptune/error.hpp"
#include "temp_folder.hpp"

namespace mlptune {
namespace {

using testing::TempFolder;

// Sanitized builds run many times slower, and unevenly: there the tests of a large file's cost
// check its values only.
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
constexpr bool kTimed = false;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
constexpr bool kTimed = false;
#else
constexpr bool kTimed = true;
#endif
#else
constexpr bool kTimed = true;
#endif

std::vector<float> random_values(std::size_t count, std::uint32_t seed) {
  std::mt19937 generator(seed);
  std::normal_distribution<float> normal(0.0f, 3.0f);
  std::vector<float> values(count);
  for (float& value : values) value = normal(generator);
  return values;
}

// Odd shapes, an empty tensor, a scalar, and values that text formats lose (-0, inf, NaN, denormal).
std::vector<Tensor> sample_tensors() {
  std::vector<float> special = {-0.0f,
                                std::numeric_limits<float>::infinity(),
                                -std::numeric_limits<float>::infinity(),
                                std::numeric_limits<float>::quiet_NaN(),
                                std::numeric_limits<float>::denorm_min(),
                                1.0f / 3.0f,
                                -1e30f};
  return {{"layers.0.weight", {3, 5}, random_values(15, 1)},
          {"layers.0.bias", {3}, random_values(3, 2)},
          {"special", {7}, special},
          {"empty", {0, 4}, {}},
          {"scalar", {}, {42.5f}},
          {"cube", {2, 3, 5}, random_values(30, 3)}};
}

// Bitwise, so NaN and -0 count as equal only to themselves.
void expect_same_tensors(const std::vector<Tensor>& actual, const std::vector<Tensor>& expected) {
  ASSERT_EQ(actual.size(), expected.size());
  for (std::size_t i = 0; i < expected.size(); ++i) {
    SCOPED_TRACE(expected[i].name);
    EXPECT_EQ(actual[i].name, expected[i].name);
    EXPECT_EQ(actual[i].shape, expected[i].shape);
    ASSERT_EQ(actual[i].data.size(), expected[i].data.size());
    for (std::size_t j = 0; j < expected[i].data.size(); ++j)
      EXPECT_EQ(std::bit_cast<std::uint32_t>(actual[i].data[j]), std::bit_cast<std::uint32_t>(expected[i].data[j]))
          << "element " << j;
  }
}

std::string file_bytes(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

std::uint64_t little_endian_u64(const std::string& bytes) {
  std::uint64_t value = 0;
  for (int i = 7; i >= 0; --i) value = (value << 8) | std::uint8_t(bytes[std::size_t(i)]);
  return value;
}

TEST(Safetensors, TensorsAndMetadataRoundTrip) {
  TempFolder dir;
  std::vector<Tensor> tensors = sample_tensors();
  std::map<std::string, std::string> metadata = {{"note", "quotes \" and \\ and unicode \u00e9"}, {"empty", ""}};
  write_safetensors(dir.file("model.safetensors"), tensors, metadata);
  SafetensorsFile file = read_safetensors(dir.file("model.safetensors"));
  expect_same_tensors(file.tensors, tensors);
  EXPECT_EQ(file.metadata, metadata);
}

TEST(Safetensors, NoTensorsNoMetadataRoundTrips) {
  TempFolder dir;
  write_safetensors(dir.file("empty.safetensors"), {});
  SafetensorsFile file = read_safetensors(dir.file("empty.safetensors"));
  EXPECT_TRUE(file.tensors.empty());
  EXPECT_TRUE(file.metadata.empty());
}

TEST(Safetensors, LayoutIsLengthThenPaddedHeaderThenLittleEndianData) {
  TempFolder dir;
  write_safetensors(dir.file("one.safetensors"), {{"x", {2}, {1.0f, -2.0f}}});
  std::string bytes = file_bytes(dir.file("one.safetensors"));
  std::uint64_t header_length = little_endian_u64(bytes.substr(0, 8));
  EXPECT_EQ(header_length % 8, 0u) << "the data section must start 8-aligned";
  ASSERT_EQ(bytes.size(), 8 + header_length + 8);
  std::string header = bytes.substr(8, header_length);
  EXPECT_EQ(header.front(), '{');
  EXPECT_NE(header.find("\"data_offsets\":[0,8]"), std::string::npos) << header;
  // 1.0f is 0x3F800000 and -2.0f is 0xC0000000, stored least significant byte first.
  EXPECT_EQ(bytes.substr(8 + header_length), std::string("\x00\x00\x80\x3F\x00\x00\x00\xC0", 8));
}

// The exact header safetensors and PyTorch read: the metadata first, then every tensor in the order
// written, compact JSON, spaces up to a multiple of 8 bytes.
TEST(Safetensors, HeaderIsCompactJsonOfMetadataThenTensorsInOrder) {
  const std::string bytes = safetensors_bytes({{"z \"quoted\"", {2, 1}, {1.0f, 2.0f}}, {"a", {}, {3.0f}}},
                                              {{"note", "caf\u00e9\n"}, {"mlptune.epoch", "3"}}, "m.safetensors");
  const std::string expected = R"({"__metadata__":{"mlptune.epoch":"3","note":"caf)"
                               "\u00e9"
                               R"(\n"},"z \"quoted\"":{"dtype":"F32","shape":[2,1],"data_offsets":[0,8]},)"
                               R"("a":{"dtype":"F32","shape":[],"data_offsets":[8,12]}})";
  const std::uint64_t header_length = little_endian_u64(bytes.substr(0, 8));
  ASSERT_EQ(header_length, expected.size() + (8 - expected.size() % 8) % 8);
  EXPECT_EQ(bytes.substr(8, header_length), expected + std::string(header_length - expected.size(), ' '));
}

// A model 40,000 layers deep has 80,000 tensors: its header is written and read in time proportional
// to their count (a fraction of a second here), where lookups in an insertion-ordered object cost
// minutes. The bound is loose: well above the linear cost, far below the quadratic one.
TEST(Safetensors, HeaderOfEightyThousandTensorsIsWrittenAndReadInSeconds) {
  std::vector<Tensor> tensors;
  for (int layer = 0; layer < 40000; ++layer) {
    tensors.push_back({"layers." + std::to_string(layer) + ".weight", {1, 1}, {float(layer)}});
    tensors.push_back({"layers." + std::to_string(layer) + ".bias", {1}, {-float(layer)}});
  }
  const auto start = std::chrono::steady_clock::now();
  const SafetensorsFile file = read_safetensors_bytes(safetensors_bytes(tensors, {}, "deep"), "deep");
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (kTimed) EXPECT_LT(seconds, 20.0);
  expect_same_tensors(file.tensors, tensors);
}

TEST(Safetensors, EmptyTensorsComeBackInTheirPlace) {
  // An empty tensor shares its offset with the next one: it still reads back before it.
  const std::vector<Tensor> tensors = {{"z.empty", {0}, {}}, {"a", {1}, {1.0f}}, {"m.empty", {2, 0}, {}}};
  expect_same_tensors(read_safetensors_bytes(safetensors_bytes(tensors, {}, "e"), "e").tensors, tensors);
}

TEST(Safetensors, WritingReplacesAnExistingFile) {
  TempFolder dir;
  write_safetensors(dir.file("m.safetensors"), sample_tensors());
  write_safetensors(dir.file("m.safetensors"), {{"only", {1}, {5.0f}}});
  expect_same_tensors(read_safetensors(dir.file("m.safetensors")).tensors, {{"only", {1}, {5.0f}}});
  EXPECT_FALSE(std::filesystem::exists(dir.file("m.safetensors.partial")));
}

TEST(Safetensors, WritingRejectsShapeThatDisagreesWithData) {
  TempFolder dir;
  try {
    write_safetensors(dir.file("bad.safetensors"), {{"w", {2, 3}, {1, 2, 3, 4, 5}}});
    FAIL() << "expected DataError";
  } catch (const DataError& error) {
    EXPECT_NE(std::string(error.what()).find("tensor 'w' has shape [2, 3] but holds 5 values"), std::string::npos)
        << error.what();
  }
}

TEST(Safetensors, WritingRejectsDuplicateNames) {
  TempFolder dir;
  EXPECT_THROW(write_safetensors(dir.file("dup.safetensors"), {{"w", {1}, {1}}, {"w", {1}, {2}}}), DataError);
}

TEST(Safetensors, MissingFileIsNamed) {
  TempFolder dir;
  try {
    read_safetensors(dir.file("absent.safetensors"));
    FAIL() << "expected DataError";
  } catch (const DataError& error) {
    EXPECT_NE(std::string(error.what()).find("absent.safetensors: cannot open"), std::string::npos) << error.what();
  }
}

TEST(Safetensors, FileShorterThanItsLengthFieldIsRejected) {
  TempFolder dir;
  std::ofstream(dir.file("short.safetensors"), std::ios::binary) << std::string("\x10\x00\x00\x00\x00", 5);
  try {
    read_safetensors(dir.file("short.safetensors"));
    FAIL() << "expected DataError";
  } catch (const DataError& error) {
    EXPECT_NE(std::string(error.what()).find("short.safetensors: is not a safetensors file: it is 5 bytes"),
              std::string::npos)
        << error.what();
  }
}

// ---- Malformed files: each is rejected with a message that names the file and the problem ------

struct MalformedCase {
  std::string name;
  std::string header;               // the JSON text
  std::size_t data_bytes = 0;       // bytes of data after the header
  std::int64_t header_length = -1;  // written in the first 8 bytes; -1: the header's real length
  std::string expected_message;
};

std::string raw_file(const MalformedCase& test) {
  std::uint64_t length = test.header_length < 0 ? test.header.size() : std::uint64_t(test.header_length);
  std::string bytes;
  for (int i = 0; i < 8; ++i) bytes += char((length >> (8 * i)) & 0xFF);
  return bytes + test.header + std::string(test.data_bytes, '\x01');
}

class MalformedSafetensors : public ::testing::TestWithParam<MalformedCase> {};

TEST_P(MalformedSafetensors, IsRejectedWithItsMessage) {
  TempFolder dir;
  std::filesystem::path path = dir.file("model.safetensors");
  std::ofstream(path, std::ios::binary) << raw_file(GetParam());
  try {
    read_safetensors(path);
    FAIL() << "expected DataError";
  } catch (const DataError& error) {
    std::string message = error.what();
    EXPECT_EQ(message.rfind(path.string() + ": ", 0), 0u) << "message must start with the path: " << message;
    EXPECT_NE(message.find(GetParam().expected_message), std::string::npos) << message;
  }
}

const std::string kGoodEntry = R"("w": {"dtype": "F32", "shape": [2, 3], "data_offsets": [0, 24]})";

INSTANTIATE_TEST_SUITE_P(
    Safetensors, MalformedSafetensors,
    ::testing::Values(
        MalformedCase{"header_too_big", "{" + kGoodEntry + "}", 24, 9999999,
                      "is truncated: its header is 9999999 bytes but only"},
        MalformedCase{"bad_json", R"({"w": {"dtype": "F32", )", 24, -1, "header is not valid JSON"},
        MalformedCase{"not_an_object", "[1, 2]", 0, -1, "is not a safetensors file"},
        MalformedCase{"truncated", "{" + kGoodEntry + "}", 20, -1,
                      "data_offsets [0, 24] exceed the 20 bytes of data after the header (file truncated?)"},
        MalformedCase{"unknown_dtype", R"({"w": {"dtype": "I32", "shape": [2], "data_offsets": [0, 8]}})", 8, -1,
                      "tensor 'w' has dtype I32; mlptune reads F32, F16, BF16 and F64 tensors"},
        MalformedCase{"half_size_mismatch", R"({"w": {"dtype": "F16", "shape": [3], "data_offsets": [0, 4]}})", 4, -1,
                      "tensor 'w' shape [3] needs 6 bytes but data_offsets [0, 4] hold 4"},

        MalformedCase{"offsets_out_of_range", R"({"w": {"dtype": "F32", "shape": [2], "data_offsets": [400, 408]}})", 8,
                      -1, "data_offsets [400, 408] exceed the 8 bytes of data"},
        MalformedCase{"offsets_reversed", R"({"w": {"dtype": "F32", "shape": [0], "data_offsets": [8, 4]}})", 8, -1,
                      "data_offsets [8, 4] end before they begin"},
        MalformedCase{"shape_offset_mismatch", R"({"w": {"dtype": "F32", "shape": [2, 3], "data_offsets": [0, 20]}})",
                      24, -1, "tensor 'w' shape [2, 3] needs 24 bytes but data_offsets [0, 20] hold 20"},
        MalformedCase{"overlap",
                      R"({"a": {"dtype": "F32", "shape": [4], "data_offsets": [0, 16]},)"
                      R"( "b": {"dtype": "F32", "shape": [4], "data_offsets": [8, 24]}})",
                      24, -1, "tensors 'a' and 'b' overlap"},
        MalformedCase{"negative_dimension", R"({"w": {"dtype": "F32", "shape": [-2], "data_offsets": [0, 8]}})", 8, -1,
                      "tensor 'w' shape holds -2, not a non-negative integer"},
        MalformedCase{"huge_shape",
                      R"({"w": {"dtype": "F32", "shape": [4294967296, 4294967296], "data_offsets": [0, 8]}})", 8, -1,
                      "shape [4294967296, 4294967296] is too large"},
        MalformedCase{"missing_fields", R"({"w": {"dtype": "F32", "shape": [2]}})", 8, -1,
                      "tensor 'w' needs dtype, shape and data_offsets"},
        MalformedCase{"offsets_not_a_pair", R"({"w": {"dtype": "F32", "shape": [2], "data_offsets": [0]}})", 8, -1,
                      "tensor 'w': data_offsets must be [begin, end]"},
        MalformedCase{"metadata_not_strings", R"({"__metadata__": {"epoch": 3}})", 0, -1,
                      "__metadata__ entry 'epoch' is not a string"}),
    [](const ::testing::TestParamInfo<MalformedCase>& info) { return info.param.name; });

// ---- Other dtypes: converted to float32 exactly where float32 holds the value -------------------

// A file of one tensor "w" of `count` elements of `dtype`, from their raw little-endian bytes.
std::filesystem::path one_tensor_file(const TempFolder& dir, const std::string& dtype, std::size_t count,
                                      const std::string& data) {
  const std::string header = R"({"w": {"dtype": ")" + dtype + R"(", "shape": [)" + std::to_string(count) +
                             R"(], "data_offsets": [0, )" + std::to_string(data.size()) + "]}}";
  std::string bytes;
  for (int i = 0; i < 8; ++i) bytes += char((std::uint64_t(header.size()) >> (8 * i)) & 0xFF);
  return dir.write(dtype + ".safetensors", bytes + header + data);
}

template <class Word>
std::string little_endian(const std::vector<Word>& words) {
  std::string bytes(words.size() * sizeof(Word), '\0');
  std::memcpy(bytes.data(), words.data(), bytes.size());
  return bytes;
}

TEST(Safetensors, ReadsHalfBfloatAndDoubleTensorsAsFloat32) {
  TempFolder dir;
  // binary16: 1, -2, 0.5, the largest (65504), the smallest subnormal (2^-24), -0, inf.
  const std::vector<std::uint16_t> half = {0x3C00, 0xC000, 0x3800, 0x7BFF, 0x0001, 0x8000, 0x7C00};
  const std::vector<float> half_values = {
      1.0f, -2.0f, 0.5f, 65504.0f, std::ldexp(1.0f, -24), -0.0f, std::numeric_limits<float>::infinity()};
  const Tensor from_half = read_safetensors(one_tensor_file(dir, "F16", half.size(), little_endian(half))).tensors[0];
  ASSERT_EQ(from_half.data.size(), half_values.size());
  for (std::size_t i = 0; i < half.size(); ++i) {
    EXPECT_EQ(from_half.data[i], half_values[i]) << "F16 element " << i;
    EXPECT_EQ(std::signbit(from_half.data[i]), std::signbit(half_values[i])) << "F16 element " << i;
  }
  // bfloat16 is the upper half of a float32.
  const std::vector<float> bfloat_values = {1.0f, -3.5f, 1.0e30f, 0.0078125f};
  std::vector<std::uint16_t> bfloat;
  for (float value : bfloat_values) bfloat.push_back(std::uint16_t(std::bit_cast<std::uint32_t>(value) >> 16));
  EXPECT_EQ(read_safetensors(one_tensor_file(dir, "BF16", bfloat.size(), little_endian(bfloat))).tensors[0].data,
            (std::vector<float>{1.0f, -3.5f, std::bit_cast<float>(std::bit_cast<std::uint32_t>(1.0e30f) & 0xFFFF0000u),
                                0.0078125f}));
  const std::vector<double> doubles = {0.1, -1.0e-30, 3.0e38};
  EXPECT_EQ(read_safetensors(one_tensor_file(dir, "F64", doubles.size(), little_endian(doubles))).tensors[0].data,
            (std::vector<float>{0.1f, -1.0e-30f, 3.0e38f}));
  const std::vector<double> too_large = {1.0e39};
  const auto path = one_tensor_file(dir, "F64", 1, little_endian(too_large));
  try {
    read_safetensors(path);
    ADD_FAILURE() << "no error";
  } catch (const DataError& error) {
    EXPECT_NE(std::string(error.what()).find("tensor 'w' holds 1e+39 at index 0, beyond float32's range"),
              std::string::npos)
        << error.what();
  }
}

// ---- Parameters of a model from any file of layers.N tensors ------------------------------------

ModelSpec small_model() {
  ModelSpec model;
  model.input_width = 3;
  model.hidden = {4};
  model.output_width = 2;
  return model;
}

std::vector<Tensor> layers_of(const ModelSpec& model, std::uint32_t seed) {
  std::vector<Tensor> tensors;
  const auto layers = model.layers();
  for (std::size_t i = 0; i < layers.size(); ++i) {
    const std::string prefix = "layers." + std::to_string(i);
    tensors.push_back({prefix + ".weight",
                       {layers[i].out, layers[i].in},
                       random_values(std::size_t(layers[i].weight_count()), seed + std::uint32_t(i))});
    tensors.push_back({prefix + ".bias", {layers[i].out}, random_values(std::size_t(layers[i].out), seed + 9)});
  }
  return tensors;
}

TEST(LoadParameters, TakesAPlainFileOfLayersWithoutMetadata) {
  TempFolder dir;
  const std::vector<Tensor> tensors = layers_of(small_model(), 4);
  write_safetensors(dir.file("torch.safetensors"), {tensors[2], tensors[0], tensors[3], tensors[1]});
  expect_same_tensors(load_parameters(dir.file("torch.safetensors"), small_model()), tensors);
}

// The deepest model, 100,000 hidden layers of one unit: 200,002 tensors, matched to the model's by
// name in a second or two. Compared name by name with every layer, they take over a minute. The
// bound is loose: well above the linear cost, far below the quadratic one.
TEST(LoadParameters, TakesTheTensorsOfTheDeepestModelInSeconds) {
  TempFolder dir;
  ModelSpec deep;
  deep.input_width = 1;
  deep.hidden.assign(100000, 1);
  deep.output_width = 1;
  const std::vector<Tensor> tensors = layers_of(deep, 5);
  write_safetensors(dir.file("deep.safetensors"), tensors);
  const auto start = std::chrono::steady_clock::now();
  const std::vector<Tensor> parameters = load_parameters(dir.file("deep.safetensors"), deep);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (kTimed) EXPECT_LT(seconds, 20.0);
  expect_same_tensors(parameters, tensors);
}

TEST(LoadParameters, ListsTheTensorsExpectedAndFoundWhenTheyDoNotFit) {
  TempFolder dir;
  ModelSpec wider = small_model();
  wider.hidden = {5};
  write_safetensors(dir.file("wider.safetensors"), layers_of(wider, 4));
  const auto path = dir.file("wider.safetensors");
  try {
    load_parameters(path, small_model());
    ADD_FAILURE() << "no error";
  } catch (const DataError& error) {
    EXPECT_EQ(std::string(error.what()),
              path.string() +
                  ": its tensors do not fit the model (3 inputs, hidden 4, 2 outputs): the first that differs is "
                  "'layers.0.weight' [5, 3], where the model's layers.0.weight is [4, 3]; expected layers.0.weight "
                  "[4, 3], layers.0.bias [4], layers.1.weight [2, 4], layers.1.bias [2] (float32, float16, bfloat16 "
                  "or float64); found layers.0.weight [5, 3], layers.0.bias [5], layers.1.weight [2, 5], "
                  "layers.1.bias [2]; give --hidden the file's hidden widths (the input and output widths come from "
                  "the data)");
  }
}

// PyTorch's nn.Sequential(Linear, ReLU, Linear) names its Linear layers by module index: 0 and 2.
std::vector<Tensor> as_sequential(std::vector<Tensor> tensors, const std::string& prefix) {
  for (Tensor& tensor : tensors) {
    const std::size_t layer = std::size_t(tensor.name[std::string("layers.").size()] - '0');
    tensor.name = prefix + std::to_string(2 * layer) + tensor.name.substr(std::string("layers.0").size());
  }
  return tensors;
}

TEST(LoadParameters, TakesAnNnSequentialStateDictWhoseLayersSitAtEvenIndices) {
  TempFolder dir;
  const std::vector<Tensor> tensors = layers_of(small_model(), 4);
  for (const std::string prefix : {"", "net."}) {
    const std::vector<Tensor> sequential = as_sequential(tensors, prefix);
    ASSERT_EQ(sequential[2].name, prefix + "2.weight");
    write_safetensors(dir.file("sequential.safetensors"), {sequential[3], sequential[0], sequential[2], sequential[1]});
    expect_same_tensors(load_parameters(dir.file("sequential.safetensors"), small_model()), tensors);
  }
}

TEST(LoadParameters, NamesTheFirstNnSequentialTensorThatDiffers) {
  TempFolder dir;
  ModelSpec two_layers = small_model();
  two_layers.hidden = {4, 4};
  std::vector<Tensor> sequential = as_sequential(layers_of(small_model(), 4), "");
  sequential[2].shape = {2, 5};  // 2.weight: the second Linear layer takes 5 inputs
  sequential[2].data.resize(10);
  write_safetensors(dir.file("wrong.safetensors"), sequential);
  for (const auto& [model, difference] :
       {std::pair{small_model(), std::string("the first that differs is '2.weight' [2, 5], where the model's "
                                             "layers.1.weight is [2, 4]")},
        std::pair{two_layers, std::string("the first that differs is '2.weight' [2, 5], where the model's "
                                          "layers.1.weight is [4, 4]")}}) {
    try {
      load_parameters(dir.file("wrong.safetensors"), model);
      ADD_FAILURE() << "no error";
    } catch (const DataError& error) {
      EXPECT_NE(std::string(error.what()).find(difference), std::string::npos) << error.what();
      EXPECT_NE(std::string(error.what()).find("found 0.weight [4, 3], 0.bias [4], 2.weight [2, 5], 2.bias [2]"),
                std::string::npos)
          << error.what();
    }
  }
}

// ---- Python's safetensors reads what we write, and we read what it writes -----------------------

bool python_has_safetensors() {
  return std::system("python3 -c 'import safetensors.numpy, numpy' >/dev/null 2>&1") == 0;
}

// Loads our file with safetensors.numpy.load_file, checks dtype and shapes, and writes the same
// tensors (and metadata) back with save_file, so the C++ side can compare every value.
constexpr const char* kPythonRoundTrip = R"(import sys
import numpy as np
from safetensors import safe_open
from safetensors.numpy import load_file, save_file
tensors = load_file(sys.argv[1])
with safe_open(sys.argv[1], framework="np") as f:
    metadata = f.metadata()
assert all(t.dtype == np.float32 for t in tensors.values()), {k: t.dtype for k, t in tensors.items()}
assert tensors["cube"].shape == (2, 3, 5) and tensors["scalar"].shape == () and tensors["empty"].shape == (0, 4)
assert float(tensors["scalar"]) == 42.5
save_file(tensors, sys.argv[2], metadata=metadata)
)";

TEST(Safetensors, PythonSafetensorsReadsTheSameValues) {
  if (!python_has_safetensors()) GTEST_SKIP() << "python3 with the safetensors and numpy packages is not installed";
  TempFolder dir;
  std::vector<Tensor> tensors = sample_tensors();
  std::map<std::string, std::string> metadata = {{"mlptune.epoch", "3"}};
  write_safetensors(dir.file("ours.safetensors"), tensors, metadata);
  std::ofstream(dir.file("roundtrip.py")) << kPythonRoundTrip;
  std::string command = "python3 '" + dir.file("roundtrip.py").string() + "' '" +
                        dir.file("ours.safetensors").string() + "' '" + dir.file("theirs.safetensors").string() + "'";
  ASSERT_EQ(std::system(command.c_str()), 0) << command;

  SafetensorsFile theirs = read_safetensors(dir.file("theirs.safetensors"));
  EXPECT_EQ(theirs.metadata, metadata);
  // Python orders tensors its own way; compare by name.
  std::map<std::string, Tensor> by_name;
  for (Tensor& tensor : theirs.tensors) by_name[tensor.name] = tensor;
  std::vector<Tensor> reordered;
  for (const Tensor& tensor : tensors) reordered.push_back(by_name[tensor.name]);
  expect_same_tensors(reordered, tensors);
}

}  // namespace
}  // namespace mlptune
