// load_npy: NumPy .npy arrays (format versions 1.0, 2.0, 3.0), features 2-D and optional 1-D labels.
#include <bit>
#include <charconv>
#include <cstring>
#include <string_view>

#include "common/shape_text.hpp"
#include "data/input_file.hpp"
#include "data/numeric_table.hpp"
#include "data/text_table.hpp"
#include "mlptune/data.hpp"
#include "mlptune/error.hpp"

namespace mlptune {

namespace {

// .npy stores little-endian data ('<'); reading it with memcpy needs a little-endian host.
static_assert(std::endian::native == std::endian::little, "the .npy reader assumes a little-endian host");

constexpr std::string_view kNpyMagic = "\x93NUMPY";

template <typename T>
double load_as_double(const char* bytes) {
  T value;
  std::memcpy(&value, bytes, sizeof value);
  return static_cast<double>(value);
}

struct NpyDtype {
  std::string_view descr;
  std::size_t item_bytes;
  double (*load)(const char*);
};

// '|u1' is what NumPy writes for uint8; '<u1' is accepted because some writers emit it.
constexpr NpyDtype kNpyDtypes[] = {
    {"<f4", 4, &load_as_double<float>},        {"<f8", 8, &load_as_double<double>},
    {"<i4", 4, &load_as_double<std::int32_t>}, {"<i8", 8, &load_as_double<std::int64_t>},
    {"|u1", 1, &load_as_double<std::uint8_t>}, {"<u1", 1, &load_as_double<std::uint8_t>},
};

struct NpyHeader {
  std::string descr;
  bool fortran_order = false;
  std::vector<std::size_t> shape;
};

// The header is a Python dict literal, e.g. {'descr': '<f4', 'fortran_order': False, 'shape': (150, 4), }.
// This parser accepts exactly the literals NumPy writes there: strings, True/False and int tuples.
class NpyHeaderParser {
 public:
  NpyHeaderParser(const std::filesystem::path& path, std::string_view text, std::size_t first_byte)
      : path_(path), text_(text), first_byte_(first_byte) {}

  NpyHeader parse() {
    NpyHeader header;
    bool seen_descr = false, seen_order = false, seen_shape = false;
    expect('{');
    while (!accept('}')) {
      const std::string key = parse_string();
      expect(':');
      if (key == "descr") {
        header.descr = parse_string();
        seen_descr = true;
      } else if (key == "fortran_order") {
        header.fortran_order = parse_bool();
        seen_order = true;
      } else if (key == "shape") {
        header.shape = parse_shape();
        seen_shape = true;
      } else {
        fail("unexpected key '" + key + "' in the header");
      }
      if (!accept(',')) {
        expect('}');
        break;
      }
    }
    if (!seen_descr || !seen_order || !seen_shape) {
      fail("the header lacks one of 'descr', 'fortran_order', 'shape'");
    }
    return header;
  }

 private:
  [[noreturn]] void fail(const std::string& problem) const {
    data::throw_data_error(path_, "byte " + std::to_string(first_byte_ + position_) + ": " + problem);
  }

  void skip_spaces() {
    while (position_ < text_.size() && (text_[position_] == ' ' || text_[position_] == '\n')) {
      ++position_;
    }
  }

  bool accept(char expected) {
    skip_spaces();
    if (position_ < text_.size() && text_[position_] == expected) {
      ++position_;
      return true;
    }
    return false;
  }

  void expect(char expected) {
    if (!accept(expected)) {
      fail(std::string("expected '") + expected + "' in the header dict");
    }
  }

  std::string parse_string() {
    skip_spaces();
    const char quote = position_ < text_.size() ? text_[position_] : '\0';
    if (quote != '\'' && quote != '"') {
      fail("expected a quoted string in the header dict");
    }
    const std::size_t end = text_.find(quote, position_ + 1);
    if (end == std::string_view::npos) {
      fail("unterminated string in the header dict");
    }
    std::string value(text_.substr(position_ + 1, end - position_ - 1));
    position_ = end + 1;
    return value;
  }

  bool parse_bool() {
    skip_spaces();
    for (const auto& [word, value] : {std::pair{std::string_view("True"), true}, {"False", false}}) {
      if (text_.substr(position_, word.size()) == word) {
        position_ += word.size();
        return value;
      }
    }
    fail("expected True or False for 'fortran_order'");
  }

  std::vector<std::size_t> parse_shape() {
    std::vector<std::size_t> shape;
    expect('(');
    while (!accept(')')) {
      skip_spaces();
      std::size_t extent = 0;
      const char* begin = text_.data() + position_;
      const auto [stop, error] = std::from_chars(begin, text_.data() + text_.size(), extent);
      if (error != std::errc()) {
        fail("expected a non-negative integer in 'shape'");
      }
      position_ += static_cast<std::size_t>(stop - begin);
      shape.push_back(extent);
      if (!accept(',')) {
        expect(')');
        break;
      }
    }
    return shape;
  }

  const std::filesystem::path& path_;
  std::string_view text_;
  std::size_t first_byte_;
  std::size_t position_ = 0;
};

// One array: its dtype, shape, and where its data start in the file's bytes.
struct NpyArray {
  std::string bytes;  // the whole file
  const NpyDtype* dtype = nullptr;
  std::vector<std::size_t> shape;
  std::size_t data_offset = 0;

  double value(std::size_t element) const {
    return dtype->load(bytes.data() + data_offset + element * dtype->item_bytes);
  }
};

std::size_t read_little_endian(std::string_view bytes, std::size_t offset, std::size_t width) {
  std::size_t value = 0;
  for (std::size_t i = 0; i < width; ++i) {
    value |= std::size_t(static_cast<unsigned char>(bytes[offset + i])) << (8 * i);
  }
  return value;
}

// Checks the magic and version; returns the header text's offset and length.
std::pair<std::size_t, std::size_t> locate_header(const std::filesystem::path& path, std::string_view bytes) {
  if (bytes.size() < 10 || bytes.substr(0, kNpyMagic.size()) != kNpyMagic) {
    data::throw_data_error(path, "byte 0: not a .npy file (the magic string \\x93NUMPY is missing)");
  }
  const int major = static_cast<unsigned char>(bytes[6]);
  const int minor = static_cast<unsigned char>(bytes[7]);
  if (major < 1 || major > 3 || minor != 0) {
    data::throw_data_error(path, "byte 6: unsupported .npy format version " + std::to_string(major) + "." +
                                     std::to_string(minor) + " (supported: 1.0, 2.0, 3.0)");
  }
  // Version 1.0 stores the header length in 2 bytes; 2.0 and 3.0 in 4.
  const std::size_t length_bytes = major == 1 ? 2 : 4;
  const std::size_t header_offset = 8 + length_bytes;
  if (bytes.size() < header_offset) {
    data::throw_data_error(path, "truncated at byte " + std::to_string(bytes.size()) + " inside the preamble");
  }
  const std::size_t header_length = read_little_endian(bytes, 8, length_bytes);
  if (bytes.size() < header_offset + header_length) {
    data::throw_data_error(path, "truncated at byte " + std::to_string(bytes.size()) +
                                     " of a header that ends at byte " + std::to_string(header_offset + header_length));
  }
  return {header_offset, header_length};
}

const NpyDtype& find_dtype(const std::filesystem::path& path, const std::string& descr) {
  for (const auto& dtype : kNpyDtypes) {
    if (dtype.descr == descr) {
      return dtype;
    }
  }
  data::throw_data_error(path, "unsupported dtype '" + descr +
                                   "' (supported: '<f4', '<f8', '<i4', '<i8', '|u1'); convert with "
                                   "array.astype(numpy.float32)");
}

void check_data_size(const std::filesystem::path& path, const NpyArray& array) {
  // The header's shape is untrusted: its byte count must not overflow (it could then look small).
  std::size_t elements = 1;
  for (const auto extent : array.shape) {
    if (extent != 0 && elements > (array.bytes.size() / array.dtype->item_bytes) / extent)
      data::throw_data_error(path, "shape " + tuple_text(array.shape) + " of '" + std::string(array.dtype->descr) +
                                       "' needs more bytes than the file's " + std::to_string(array.bytes.size()));
    elements *= extent;
  }
  const std::size_t expected_end = array.data_offset + elements * array.dtype->item_bytes;
  const std::string what = "expected " + std::to_string(elements * array.dtype->item_bytes) + " data bytes for shape " +
                           tuple_text(array.shape) + " of '" + std::string(array.dtype->descr) + "'";
  if (array.bytes.size() < expected_end) {
    data::throw_data_error(path, "truncated at byte " + std::to_string(array.bytes.size()) + " of " +
                                     std::to_string(expected_end) + " (" + what + ")");
  }
  if (array.bytes.size() > expected_end) {
    data::throw_data_error(path, "byte " + std::to_string(expected_end) + ": " +
                                     std::to_string(array.bytes.size() - expected_end) +
                                     " unexpected bytes after the data (" + what + ")");
  }
}

NpyArray read_npy(const std::filesystem::path& path, std::size_t expected_dimensions) {
  NpyArray array;
  array.bytes = data::InputFile(path).read_rest();
  const auto [header_offset, header_length] = locate_header(path, array.bytes);
  const NpyHeader header =
      NpyHeaderParser(path, std::string_view(array.bytes).substr(header_offset, header_length), header_offset).parse();
  array.dtype = &find_dtype(path, header.descr);
  if (header.fortran_order) {
    data::throw_data_error(path,
                           "fortran_order True is not supported; save a C-ordered array "
                           "(numpy.ascontiguousarray)");
  }
  if (header.shape.size() != expected_dimensions) {
    data::throw_data_error(path, "shape " + tuple_text(header.shape) + " has " + std::to_string(header.shape.size()) +
                                     " dimensions, expected " + std::to_string(expected_dimensions) +
                                     (expected_dimensions == 2 ? " (rows, columns)" : " (one value per row)"));
  }
  array.shape = header.shape;
  array.data_offset = header_offset + header_length;
  data::check_table_size(path, "byte " + std::to_string(header_offset) + ": shape " + tuple_text(header.shape),
                         header.shape[0], expected_dimensions == 2 ? header.shape[1] : 1);
  check_data_size(path, array);
  return array;
}

// Where an element lies in its file, for messages; holds no reference to the file's bytes.
struct ElementLocator {
  std::string path;
  std::size_t data_offset = 0;
  std::size_t item_bytes = 0;

  std::string describe(std::size_t element, const std::string& index) const {
    return path + ": " + index + " (byte " + std::to_string(data_offset + element * item_bytes) + ")";
  }
};

ElementLocator locator_of(const std::filesystem::path& path, const NpyArray& array) {
  return {path.string(), array.data_offset, array.dtype->item_bytes};
}

// Features and, when given, labels become one table whose last column is the label.
data::NumericTable table_from_arrays(const std::filesystem::path& features_path, const NpyArray& features,
                                     const std::optional<std::filesystem::path>& labels_path,
                                     const std::optional<NpyArray>& labels) {
  data::NumericTable table;
  table.source = features_path.string();
  table.rows = features.shape[0];
  const std::size_t feature_cols = features.shape[1];
  table.cols = feature_cols + (labels ? 1 : 0);
  table.values.reserve(table.rows * table.cols);
  for (std::size_t row = 0; row < table.rows; ++row) {
    for (std::size_t col = 0; col < feature_cols; ++col) {
      table.values.push_back(features.value(row * feature_cols + col));
    }
    if (labels) {
      table.values.push_back(labels->value(row));
    }
  }
  table.feature_values_are_bytes = features.dtype->item_bytes == 1;
  const ElementLocator feature_locator = locator_of(features_path, features);
  const ElementLocator label_locator = labels ? locator_of(*labels_path, *labels) : ElementLocator{};
  table.describe_cell = [feature_locator, label_locator, feature_cols](std::size_t row, std::size_t col) {
    if (col == feature_cols) {
      return label_locator.describe(row, "element " + std::to_string(row));
    }
    return feature_locator.describe(row * feature_cols + col,
                                    "row " + std::to_string(row) + ", column " + std::to_string(col));
  };
  return table;
}

}  // namespace

data::NumericTable data::read_npy_table(const std::filesystem::path& path) {
  return table_from_arrays(path, read_npy(path, 2), std::nullopt, std::nullopt);
}

Dataset load_npy(const std::filesystem::path& features_path, const std::optional<std::filesystem::path>& labels_path,
                 const LoadOptions& options) {
  const NpyArray features = read_npy(features_path, 2);
  std::optional<NpyArray> labels;
  if (labels_path) {
    labels = read_npy(*labels_path, 1);
    if (labels->shape[0] != features.shape[0]) {
      data::throw_data_error(features_path, "holds " + std::to_string(features.shape[0]) + " rows but " +
                                                labels_path->string() + " holds " + std::to_string(labels->shape[0]) +
                                                " labels");
    }
  }
  // With a labels file the label column is the one appended after the features; label_column
  // then has nothing to choose.
  LoadOptions table_options = options;
  if (labels_path) {
    table_options.label_column = "-1";
  }
  Dataset dataset =
      data::table_to_dataset(table_from_arrays(features_path, features, labels_path, labels), table_options);
  dataset.name = data::dataset_name_from_path(features_path);
  return dataset;
}

}  // namespace mlptune
