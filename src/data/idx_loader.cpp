// load_idx: IDX files as MNIST ships them (unsigned-byte images 3-D, labels 1-D), gzip or plain.
#include <algorithm>
#include <array>
#include <cstdio>
#include <limits>

#include "data/input_file.hpp"
#include "data/numeric_table.hpp"
#include "data/text_table.hpp"
#include "mlptune/data.hpp"

namespace mlptune {

namespace {

// The magic word is 0x0000 (2 bytes), the element type (0x08 = unsigned byte), the dimension count.
constexpr std::uint32_t kImagesMagic = 0x00000803;
constexpr std::uint32_t kLabelsMagic = 0x00000801;
constexpr std::size_t kBodyChunkBytes = std::size_t{64} << 20;
constexpr std::size_t kFirstBodyChunkBytes = std::size_t{1} << 20;

std::string hex_word(std::uint32_t word) {
  char text[11];
  std::snprintf(text, sizeof text, "0x%08x", word);
  return text;
}

std::string after_decompression(const data::InputFile& file) {
  return file.is_compressed() ? " after decompression" : "";
}

std::uint32_t read_big_endian_word(data::InputFile& file, const std::string& header_name, std::size_t header_bytes) {
  unsigned char bytes[4] = {};
  const std::size_t got = file.read(bytes, sizeof bytes);
  if (got < sizeof bytes) {
    data::throw_data_error(file.path(), "truncated at byte " + std::to_string(file.position()) + " of the " +
                                            std::to_string(header_bytes) + "-byte IDX " + header_name + " header" +
                                            after_decompression(file));
  }
  return std::uint32_t(bytes[0]) << 24 | std::uint32_t(bytes[1]) << 16 | std::uint32_t(bytes[2]) << 8 | bytes[3];
}

// The magic word, checked first (a wrong file is told as such, not as a short header), then the
// dimensions, all big-endian 32-bit words.
template <std::size_t dimensions>
std::array<std::uint32_t, dimensions> read_header(data::InputFile& file, std::uint32_t magic,
                                                  const std::string& header_name, const std::string& meaning) {
  const std::size_t header_bytes = 4 * (1 + dimensions);
  const std::uint32_t found = read_big_endian_word(file, header_name, header_bytes);
  if (found != magic) {
    data::throw_data_error(file.path(), "byte 0: magic number " + hex_word(found) + " is not " + hex_word(magic) +
                                            " (" + meaning + ")" + after_decompression(file) +
                                            "; is this the right file?");
  }
  std::array<std::uint32_t, dimensions> extents{};
  for (auto& extent : extents) {
    extent = read_big_endian_word(file, header_name, header_bytes);
  }
  return extents;
}

// Reads exactly `body_bytes` after the header, growing the buffer chunk by chunk so that a header
// claiming more than the file holds cannot force a huge allocation. `contents` completes
// "expected N bytes for ...".
std::vector<std::uint8_t> read_body(data::InputFile& file, std::size_t body_bytes, const std::string& contents) {
  const std::uint64_t header_bytes = file.position();
  const std::string total = std::to_string(header_bytes + body_bytes);
  std::vector<std::uint8_t> body;
  std::size_t next_chunk = kFirstBodyChunkBytes;  // doubling: a false claim costs about what the file holds
  while (body.size() < body_bytes) {
    const std::size_t filled = body.size();
    const std::size_t chunk = std::min(body_bytes - filled, next_chunk);
    next_chunk = std::min(next_chunk * 2, kBodyChunkBytes);
    body.resize(filled + chunk);
    if (file.read(body.data() + filled, chunk) < chunk) {
      data::throw_data_error(file.path(), "truncated at byte " + std::to_string(file.position()) + " of " + total +
                                              after_decompression(file) + " (expected " + total + " bytes for " +
                                              contents + ")");
    }
  }
  unsigned char extra = 0;
  if (file.read(&extra, 1) > 0) {
    data::throw_data_error(file.path(), "byte " + total + ": unexpected data after the " + total + " bytes" +
                                            after_decompression(file) + " that " + contents + " take");
  }
  return body;
}

struct IdxImages {
  std::size_t count = 0;
  std::size_t image_rows = 0;
  std::size_t image_cols = 0;
  std::vector<std::uint8_t> pixels;  // count x image_rows x image_cols
};

IdxImages read_images(const std::filesystem::path& path) {
  data::InputFile file(path);
  const auto extents = read_header<3>(file, kImagesMagic, "images", "IDX unsigned-byte images, 3 dimensions");
  IdxImages images{extents[0], extents[1], extents[2], {}};
  const std::string contents = std::to_string(images.count) + " images of " + std::to_string(images.image_rows) + "x" +
                               std::to_string(images.image_cols);
  if (images.count == 0 || images.image_rows == 0 || images.image_cols == 0) {
    data::throw_data_error(path, "bytes 4-15: the header declares " + contents + ", which holds no pixels");
  }
  // The extents are untrusted: their product must not wrap around (it could then look small).
  // rows x cols cannot overflow, each being below 2^32.
  if (images.count > std::numeric_limits<std::size_t>::max() / (images.image_rows * images.image_cols)) {
    data::throw_data_error(path, "bytes 4-15: the header declares " + contents + ", more pixels than a file can hold");
  }
  // One row per image, one column per pixel: checked before the body is read.
  data::check_table_size(path, "bytes 4-15: the header declares " + contents, images.count,
                         std::uint64_t(images.image_rows) * images.image_cols);
  images.pixels = read_body(file, images.count * images.image_rows * images.image_cols, contents);
  return images;
}

std::vector<std::uint8_t> read_labels(const std::filesystem::path& path) {
  data::InputFile file(path);
  const auto extents = read_header<1>(file, kLabelsMagic, "labels", "IDX unsigned-byte labels, 1 dimension");
  data::check_table_size(path, "bytes 4-7: the header declares " + std::to_string(extents[0]) + " labels", extents[0],
                         1);
  return read_body(file, extents[0], std::to_string(extents[0]) + " labels");
}

}  // namespace

Dataset load_idx(const std::filesystem::path& images_path, const std::filesystem::path& labels_path) {
  IdxImages images = read_images(images_path);
  const std::vector<std::uint8_t> labels = read_labels(labels_path);
  if (labels.size() != images.count) {
    data::throw_data_error(images_path, "holds " + std::to_string(images.count) + " images but " +
                                            labels_path.string() + " holds " + std::to_string(labels.size()) +
                                            " labels; are they from the same set?");
  }
  Dataset dataset;
  dataset.name = data::dataset_name_from_path(images_path);
  dataset.task = Task::classification;
  dataset.rows = images.count;
  dataset.cols = images.image_rows * images.image_cols;
  dataset.features.assign(images.pixels.begin(), images.pixels.end());
  dataset.raw_bytes = std::move(images.pixels);
  dataset.labels.assign(labels.begin(), labels.end());
  dataset.num_classes = *std::max_element(labels.begin(), labels.end()) + 1;
  data::set_identity_scaling(dataset);
  return dataset;
}

}  // namespace mlptune
