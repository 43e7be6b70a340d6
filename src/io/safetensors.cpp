// The safetensors file format: an 8-byte little-endian header length, a JSON header, raw tensor
// data (written as F32; read as F32, F16, BF16 or F64, converted to float32).
#include "mlptune/safetensors.hpp"

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

#include "common/number_text.hpp"
#include "common/shape_text.hpp"
#include "io/output_file.hpp"
#include "mlptune/error.hpp"

namespace mlptune {
namespace {

// Tensors are written and read with memcpy, which is the file's byte order only on such hosts.
static_assert(std::endian::native == std::endian::little, "safetensors I/O assumes a little-endian host");

// Headers are read into a plain (sorted) object, as lookups in an insertion-ordered one are linear
// and a model of 80,000 tensors would cost seconds: tensors are put back in file order by offset.
using Json = nlohmann::json;

constexpr std::size_t kHeaderLengthBytes = 8;
constexpr std::size_t kHeaderAlignment = 8;  // the data section starts 8-aligned, as safetensors writes it
constexpr std::int64_t kFloatBytes = 4;
constexpr std::int64_t kLargestElementBytes = 8;  // F64: counts stay small enough to give byte sizes
constexpr const char* kMetadataKey = "__metadata__";

[[noreturn]] void fail(const std::filesystem::path& path, const std::string& problem) {
  throw DataError(path.string() + ": " + problem);
}

// Elements in a shape, or -1 when a dimension is negative or the count overflows.
std::int64_t element_count(const std::vector<std::int64_t>& shape) {
  std::int64_t count = 1;
  for (std::int64_t dimension : shape) {
    if (dimension < 0) return -1;
    if (dimension != 0 && count > std::numeric_limits<std::int64_t>::max() / kLargestElementBytes / dimension)
      return -1;
    count *= dimension;
  }
  return count;
}

// ---- Writing ------------------------------------------------------------------------------------

void check_writable(const std::filesystem::path& path, const std::vector<Tensor>& tensors) {
  std::set<std::string> names;
  for (const Tensor& tensor : tensors) {
    if (tensor.name.empty() || tensor.name == kMetadataKey)
      fail(path, "cannot write a tensor named '" + tensor.name + "'");
    if (!names.insert(tensor.name).second) fail(path, "two tensors are named '" + tensor.name + "'");
    std::int64_t count = element_count(tensor.shape);
    if (count < 0 || std::size_t(count) != tensor.data.size())
      fail(path, "tensor '" + tensor.name + "' has shape " + shape_text(tensor.shape) + " but holds " +
                     std::to_string(tensor.data.size()) + " values");
  }
}

// The JSON header, padded with spaces so the data section starts at a multiple of 8: the metadata,
// then the tensors in the order given (which is their order in the data section). Written as text,
// one entry at a time, so a model of many tensors costs time in proportion to their count; the bytes
// are those `nlohmann::ordered_json::dump` gives for the same object.
std::string make_header(const std::vector<Tensor>& tensors, const std::map<std::string, std::string>& metadata) {
  std::string text = "{";
  if (!metadata.empty()) text += Json(kMetadataKey).dump() + ":" + Json(metadata).dump();
  std::int64_t offset = 0;
  for (const Tensor& tensor : tensors) {
    const std::int64_t bytes = std::int64_t(tensor.data.size()) * kFloatBytes;
    if (text.size() > 1) text += ',';
    text += Json(tensor.name).dump() + R"(:{"dtype":"F32","shape":)" + Json(tensor.shape).dump() +
            R"(,"data_offsets":[)" + std::to_string(offset) + "," + std::to_string(offset + bytes) + "]}";
    offset += bytes;
  }
  text += '}';
  text.append((kHeaderAlignment - text.size() % kHeaderAlignment) % kHeaderAlignment, ' ');
  return text;
}

}  // namespace

void write_safetensors(const std::filesystem::path& path, const std::vector<Tensor>& tensors,
                       const std::map<std::string, std::string>& metadata) {
  const std::string bytes = safetensors_bytes(tensors, metadata, path.string());
  // Nothing appears at `path` until every byte is on disk, so a crash never leaves half a checkpoint.
  io::AtomicFile out(path);
  out.write(bytes);
  out.commit();
}

std::string safetensors_bytes(const std::vector<Tensor>& tensors, const std::map<std::string, std::string>& metadata,
                              const std::string& name) {
  check_writable(name, tensors);
  const std::string header = make_header(tensors, metadata);
  std::size_t size = kHeaderLengthBytes + header.size();
  for (const Tensor& tensor : tensors) size += tensor.data.size() * sizeof(float);
  std::string bytes;
  bytes.reserve(size);
  const std::uint64_t header_length = header.size();
  bytes.append(reinterpret_cast<const char*>(&header_length), sizeof header_length);
  bytes += header;
  for (const Tensor& tensor : tensors)
    bytes.append(reinterpret_cast<const char*>(tensor.data.data()), tensor.data.size() * sizeof(float));
  return bytes;
}

// ---- Reading ------------------------------------------------------------------------------------

namespace {

// The element types read, and how each becomes a float32.
enum class ElementType { f32, f16, bf16, f64 };

struct ElementTypeInfo {
  ElementType type;
  const char* name;  // as the header spells it
  std::int64_t bytes;
};

constexpr ElementTypeInfo kElementTypes[] = {{ElementType::f32, "F32", 4},
                                             {ElementType::f16, "F16", 2},
                                             {ElementType::bf16, "BF16", 2},
                                             {ElementType::f64, "F64", 8}};

// IEEE 754 binary16 to float32, subnormals, infinities and NaN included.
float half_to_float(std::uint16_t half) {
  const std::uint32_t sign = std::uint32_t(half & 0x8000u) << 16;
  const std::uint32_t exponent = (half >> 10) & 0x1Fu;
  const std::uint32_t mantissa = half & 0x3FFu;
  if (exponent == 0x1Fu) return std::bit_cast<float>(sign | 0x7F800000u | (mantissa << 13));
  if (exponent != 0) return std::bit_cast<float>(sign | ((exponent + 112) << 23) | (mantissa << 13));
  const float magnitude = std::ldexp(float(mantissa), -24);  // subnormal: mantissa * 2^-24
  return sign ? -magnitude : magnitude;
}

struct TensorEntry {
  std::string name;
  std::vector<std::int64_t> shape;
  ElementTypeInfo element = kElementTypes[0];
  std::int64_t begin = 0;  // byte offsets in the data section
  std::int64_t end = 0;
};

class SafetensorsReader {
 public:
  // `in` holds the bytes of a safetensors file; `name` names it in messages.
  SafetensorsReader(std::istream& in, std::filesystem::path name) : path_(std::move(name)), in_(in) {
    in_.seekg(0, std::ios::end);
    file_size_ = std::uint64_t(in_.tellg());
    in_.seekg(0);
  }

  SafetensorsFile read() {
    Json header = read_header();
    SafetensorsFile file;
    std::vector<TensorEntry> entries;
    for (const auto& [key, value] : header.items()) {
      if (key == kMetadataKey)
        file.metadata = parse_metadata(value);
      else
        entries.push_back(parse_entry(key, value));
    }
    // File order: an empty tensor comes before the one that starts where it does; empty tensors at
    // the same offset keep the header's (sorted) order of names.
    std::stable_sort(entries.begin(), entries.end(), [](const auto& a, const auto& b) {
      return std::pair(a.begin, a.end) < std::pair(b.begin, b.end);
    });
    check_no_overlap(entries);
    for (const TensorEntry& entry : entries) file.tensors.push_back(read_tensor(entry));
    return file;
  }

 private:
  Json read_header() {
    if (file_size_ < kHeaderLengthBytes + 2)
      fail(path_, "is not a safetensors file: it is " + std::to_string(file_size_) + " bytes, too short for the " +
                      "8-byte header length and a JSON header");
    std::uint64_t header_length = 0;
    in_.read(reinterpret_cast<char*>(&header_length), sizeof header_length);
    if (in_.peek() != '{')
      fail(path_, std::string("is not a safetensors file (one starts with an 8-byte header length and a JSON ") +
                      "header; `mlptune train --save` writes such files)");
    if (header_length > file_size_ - kHeaderLengthBytes)
      fail(path_, "is truncated: its header is " + std::to_string(header_length) + " bytes but only " +
                      std::to_string(file_size_ - kHeaderLengthBytes) + " follow the header length");
    data_start_ = kHeaderLengthBytes + header_length;
    data_size_ = std::int64_t(file_size_ - data_start_);
    std::string text(header_length, '\0');
    in_.read(text.data(), std::streamsize(header_length));
    Json header;
    try {
      header = Json::parse(text);
    } catch (const Json::exception& error) {  // parse_error, and out_of_range for a number like 1e999
      fail(path_, std::string("the header is not valid JSON (") + error.what() +
                      "); the file is damaged or not a safetensors file");
    }
    return header;  // an object: it starts with '{' and parsed whole
  }

  std::map<std::string, std::string> parse_metadata(const Json& value) const {
    if (!value.is_object()) fail(path_, "__metadata__ must be an object of strings");
    std::map<std::string, std::string> metadata;
    for (const auto& [key, entry] : value.items()) {
      if (!entry.is_string()) fail(path_, "__metadata__ entry '" + key + "' is not a string");
      metadata[key] = entry.get<std::string>();
    }
    return metadata;
  }

  TensorEntry parse_entry(const std::string& name, const Json& value) const {
    const std::string where = "tensor '" + name + "'";
    if (!value.is_object() || !value.contains("dtype") || !value.contains("shape") || !value.contains("data_offsets"))
      fail(path_, where + " needs dtype, shape and data_offsets");
    if (!value["dtype"].is_string()) fail(path_, where + ": dtype is not a string");
    const std::string dtype = value["dtype"].get<std::string>();
    const auto* element = std::find_if(std::begin(kElementTypes), std::end(kElementTypes),
                                       [&dtype](const ElementTypeInfo& info) { return dtype == info.name; });
    if (element == std::end(kElementTypes))
      fail(path_, where + " has dtype " + dtype + "; mlptune reads F32, F16, BF16 and F64 tensors (convert it " +
                      "with tensor.float() before saving)");
    TensorEntry entry{name, integer_list(value["shape"], where + " shape"), *element, 0, 0};
    std::vector<std::int64_t> offsets = integer_list(value["data_offsets"], where + " data_offsets");
    if (offsets.size() != 2) fail(path_, where + ": data_offsets must be [begin, end]");
    entry.begin = offsets[0];
    entry.end = offsets[1];
    check_offsets(entry, where);
    return entry;
  }

  std::vector<std::int64_t> integer_list(const Json& value, const std::string& what) const {
    if (!value.is_array()) fail(path_, what + " is not a list of integers");
    std::vector<std::int64_t> numbers;
    for (const Json& number : value) {
      if (!number.is_number_integer() || number.get<std::int64_t>() < 0)
        fail(path_, what + " holds " + number.dump() + ", not a non-negative integer");
      numbers.push_back(number.get<std::int64_t>());
    }
    return numbers;
  }

  void check_offsets(const TensorEntry& entry, const std::string& where) const {
    const std::string offsets = "data_offsets [" + std::to_string(entry.begin) + ", " + std::to_string(entry.end) + "]";
    if (entry.begin > entry.end) fail(path_, where + " " + offsets + " end before they begin");
    if (entry.end > data_size_)
      fail(path_, where + " " + offsets + " exceed the " + std::to_string(data_size_) +
                      " bytes of data after the header (file truncated?)");
    std::int64_t count = element_count(entry.shape);
    if (count < 0) fail(path_, where + " shape " + shape_text(entry.shape) + " is too large");
    if (entry.end - entry.begin != count * entry.element.bytes)
      fail(path_, where + " shape " + shape_text(entry.shape) + " needs " +
                      std::to_string(count * entry.element.bytes) + " bytes but " + offsets + " hold " +
                      std::to_string(entry.end - entry.begin));
  }

  // Entries sorted by begin offset.
  void check_no_overlap(const std::vector<TensorEntry>& entries) const {
    for (std::size_t i = 1; i < entries.size(); ++i)
      if (entries[i].begin < entries[i - 1].end)
        fail(path_, "tensors '" + entries[i - 1].name + "' and '" + entries[i].name + "' overlap in the data section");
  }

  Tensor read_tensor(const TensorEntry& entry) {
    const std::size_t count = std::size_t((entry.end - entry.begin) / entry.element.bytes);
    Tensor tensor{entry.name, entry.shape, std::vector<float>(count)};
    in_.seekg(std::streamoff(data_start_ + std::uint64_t(entry.begin)));
    if (entry.element.type == ElementType::f32) {
      in_.read(reinterpret_cast<char*>(tensor.data.data()), std::streamsize(entry.end - entry.begin));
      if (!in_) fail(path_, "read failed in tensor '" + entry.name + "'");
      return tensor;
    }
    std::vector<char> bytes(std::size_t(entry.end - entry.begin));
    in_.read(bytes.data(), std::streamsize(bytes.size()));
    if (!in_) fail(path_, "read failed in tensor '" + entry.name + "'");
    for (std::size_t i = 0; i < count; ++i)
      tensor.data[i] = converted(entry, bytes.data() + i * entry.element.bytes, i);
    return tensor;
  }

  // One element of another type as float32; an F64 value beyond float32's range is refused.
  float converted(const TensorEntry& entry, const char* bytes, std::size_t index) const {
    switch (entry.element.type) {
      case ElementType::f16: {
        std::uint16_t half = 0;
        std::memcpy(&half, bytes, sizeof half);
        return half_to_float(half);
      }
      case ElementType::bf16: {
        std::uint16_t upper = 0;
        std::memcpy(&upper, bytes, sizeof upper);
        return std::bit_cast<float>(std::uint32_t(upper) << 16);
      }
      case ElementType::f64: {
        double value = 0;
        std::memcpy(&value, bytes, sizeof value);
        if (std::isfinite(value) && std::fabs(value) > double(std::numeric_limits<float>::max()))
          fail(path_, "tensor '" + entry.name + "' holds " + shortest_text(value) + " at index " +
                          std::to_string(index) + ", beyond float32's range");
        return static_cast<float>(value);
      }
      case ElementType::f32:
        break;
    }
    float value = 0;
    std::memcpy(&value, bytes, sizeof value);
    return value;
  }

  std::filesystem::path path_;
  std::istream& in_;
  std::uint64_t file_size_ = 0;
  std::uint64_t data_start_ = 0;
  std::int64_t data_size_ = 0;
};

}  // namespace

SafetensorsFile read_safetensors(const std::filesystem::path& path) {
  std::error_code error;
  if (std::filesystem::is_directory(path, error)) fail(path, "is a folder, not a safetensors file");
  std::ifstream in(path, std::ios::binary);
  if (!in) fail(path, "cannot open: " + std::generic_category().message(errno));
  return SafetensorsReader(in, path).read();
}

SafetensorsFile read_safetensors_bytes(const std::string& bytes, const std::string& name) {
  std::istringstream in(bytes, std::ios::binary);
  return SafetensorsReader(in, name).read();
}

}  // namespace mlptune
