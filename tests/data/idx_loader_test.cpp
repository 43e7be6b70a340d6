// load_idx: round trips on small IDX files, plain and gzip, and one test per bad input.
#include <gtest/gtest.h>

#include "data_test_support.hpp"
#include "mlptune/data.hpp"

namespace mlptune {
namespace {

using test::contains;
using test::data_error_message;
using test::starts_with_path;
using test::TempFolder;

std::string big_endian(std::initializer_list<std::uint32_t> words) {
  std::string bytes;
  for (const std::uint32_t word : words) {
    for (const int shift : {24, 16, 8, 0}) {
      bytes += static_cast<char>((word >> shift) & 0xFF);
    }
  }
  return bytes;
}

// 3 images of 2x2 pixels and their labels.
const std::string kPixels = std::string("\x00\x10\x20\xff\x01\x02\x03\x04\x80\x81\x82\x83", 12);
const std::string kImages = big_endian({0x00000803, 3, 2, 2}) + kPixels;
const std::string kLabels = big_endian({0x00000801, 3}) + std::string("\x07\x00\x02", 3);

void expect_small_set(const Dataset& data) {
  ASSERT_EQ(data.rows, 3u);
  ASSERT_EQ(data.cols, 4u);
  EXPECT_EQ(data.task, Task::classification);
  EXPECT_EQ(data.raw_bytes, std::vector<std::uint8_t>(kPixels.begin(), kPixels.end()));
  EXPECT_EQ(data.features, (std::vector<float>{0, 16, 32, 255, 1, 2, 3, 4, 128, 129, 130, 131}));
  EXPECT_EQ(data.labels, (std::vector<std::int32_t>{7, 0, 2}));
  EXPECT_EQ(data.num_classes, 8);
  EXPECT_EQ(data.column_scale, std::vector<float>(4, 1.0f));
  EXPECT_EQ(data.column_offset, std::vector<float>(4, 0.0f));
}

TEST(IdxLoader, ReadsPlainFiles) {
  TempFolder folder;
  expect_small_set(load_idx(folder.write("images-idx3-ubyte", kImages), folder.write("labels-idx1-ubyte", kLabels)));
}

TEST(IdxLoader, ReadsGzipFiles) {
  TempFolder folder;
  const Dataset data =
      load_idx(folder.write_gz("images-idx3-ubyte.gz", kImages), folder.write_gz("labels-idx1-ubyte.gz", kLabels));
  expect_small_set(data);
  EXPECT_EQ(data.name, "images-idx3-ubyte");
}

TEST(IdxLoaderErrors, MissingFile) {
  TempFolder folder;
  const auto images = folder.file("absent-images");
  const std::string message = data_error_message([&] { load_idx(images, folder.write("labels", kLabels)); });
  EXPECT_PRED_FORMAT2(starts_with_path, message, images);
  EXPECT_PRED_FORMAT2(contains, message, "file not found");
}

TEST(IdxLoaderErrors, WrongImagesMagic) {
  TempFolder folder;
  // A labels file given where the images belong.
  const auto images = folder.write("swapped", kLabels);
  const std::string message = data_error_message([&] { load_idx(images, folder.write("labels", kLabels)); });
  EXPECT_PRED_FORMAT2(starts_with_path, message, images);
  EXPECT_PRED_FORMAT2(contains, message, "byte 0: magic number 0x00000801 is not 0x00000803");
}

TEST(IdxLoaderErrors, WrongLabelsMagic) {
  TempFolder folder;
  const auto labels = folder.write("labels", big_endian({0x00000802, 3}) + "abc");
  const std::string message = data_error_message([&] { load_idx(folder.write("images", kImages), labels); });
  EXPECT_PRED_FORMAT2(starts_with_path, message, labels);
  EXPECT_PRED_FORMAT2(contains, message, "byte 0: magic number 0x00000802 is not 0x00000801");
}

TEST(IdxLoaderErrors, TruncatedGzipImages) {
  TempFolder folder;
  const auto images = folder.write_gz("images.gz", kImages.substr(0, kImages.size() - 5));
  const std::string message = data_error_message([&] { load_idx(images, folder.write("labels", kLabels)); });
  EXPECT_PRED_FORMAT2(starts_with_path, message, images);
  EXPECT_PRED_FORMAT2(contains, message,
                      "truncated at byte 23 of 28 after decompression (expected 28 bytes for 3 images of 2x2)");
}

TEST(IdxLoaderErrors, CompressedFileCutShort) {
  // The bundled MNIST test images with the second half of the gzip file missing, as an
  // interrupted download leaves them.
  const auto mnist = datasets_dir() / "mnist";
  std::ifstream in(mnist / "t10k-images-idx3-ubyte.gz", std::ios::binary);
  const std::string compressed((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  TempFolder folder;
  const auto images = folder.write("t10k-images-idx3-ubyte.gz", compressed.substr(0, compressed.size() / 2));
  const std::string message = data_error_message([&] { load_idx(images, mnist / "t10k-labels-idx1-ubyte.gz"); });
  EXPECT_PRED_FORMAT2(starts_with_path, message, images);
  EXPECT_PRED_FORMAT2(contains, message, "truncated at byte ");
  EXPECT_PRED_FORMAT2(contains, message,
                      " of 7840016 after decompression (expected 7840016 bytes for 10000 images of 28x28)");
}

TEST(IdxLoaderErrors, TruncatedPlainLabels) {
  TempFolder folder;
  const auto labels = folder.write("labels", kLabels.substr(0, kLabels.size() - 1));
  const std::string message = data_error_message([&] { load_idx(folder.write("images", kImages), labels); });
  EXPECT_PRED_FORMAT2(starts_with_path, message, labels);
  EXPECT_PRED_FORMAT2(contains, message, "truncated at byte 10 of 11 (expected 11 bytes for 3 labels)");
}

TEST(IdxLoaderErrors, TruncatedHeader) {
  TempFolder folder;
  const auto images = folder.write("images", kImages.substr(0, 3));
  const std::string message = data_error_message([&] { load_idx(images, folder.write("labels", kLabels)); });
  EXPECT_PRED_FORMAT2(starts_with_path, message, images);
  EXPECT_PRED_FORMAT2(contains, message, "truncated at byte 3 of the 16-byte IDX images header");
}

TEST(IdxLoaderErrors, ExtraDataAfterTheImages) {
  TempFolder folder;
  const auto images = folder.write_gz("images.gz", kImages + "zz");
  const std::string message = data_error_message([&] { load_idx(images, folder.write("labels", kLabels)); });
  EXPECT_PRED_FORMAT2(starts_with_path, message, images);
  EXPECT_PRED_FORMAT2(contains, message, "byte 28: unexpected data after the 28 bytes after decompression");
}

TEST(IdxLoaderErrors, EmptyImages) {
  TempFolder folder;
  const auto images = folder.write("images", big_endian({0x00000803, 3, 0, 2}));
  const std::string message = data_error_message([&] { load_idx(images, folder.write("labels", kLabels)); });
  EXPECT_PRED_FORMAT2(starts_with_path, message, images);
  EXPECT_PRED_FORMAT2(contains, message, "the header declares 3 images of 0x2, which holds no pixels");
}

TEST(IdxLoaderErrors, ImageAndLabelCountsDisagree) {
  TempFolder folder;
  const auto images = folder.write("images", kImages);
  const auto labels = folder.write("labels", big_endian({0x00000801, 2}) + "\x01\x02");
  const std::string message = data_error_message([&] { load_idx(images, labels); });
  EXPECT_PRED_FORMAT2(starts_with_path, message, images);
  EXPECT_PRED_FORMAT2(contains, message, "holds 3 images but " + labels.string() + " holds 2 labels");
}

TEST(IdxLoaderErrors, CorruptGzipStream) {
  TempFolder folder;
  std::string pixels;
  for (int i = 0; i < 4096; ++i) {
    pixels += static_cast<char>(i * 37 % 251);
  }
  const auto good = folder.write_gz("good.gz", big_endian({0x00000803, 4, 32, 32}) + pixels);
  std::ifstream in(good, std::ios::binary);
  std::string compressed((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  for (std::size_t i = 20; i < compressed.size() - 8; i += 7) {
    compressed[i] = static_cast<char>(compressed[i] ^ 0x5A);  // damage the deflate data, not the gzip header
  }
  const auto images = folder.write("bad.gz", compressed);
  const std::string message = data_error_message([&] { load_idx(images, folder.write("labels", kLabels)); });
  EXPECT_PRED_FORMAT2(starts_with_path, message, images);
  EXPECT_PRED_FORMAT2(contains, message, "corrupt compressed data at byte");
}

// One image of 65536 x 65536 pixels: 2^32 feature columns. A few compressed bytes can claim them,
// so the header is checked before any of the 4 GiB body is read.
TEST(IdxLoaderErrors, ImagesWiderThanTheColumnLimitAreRefusedFromTheHeader) {
  TempFolder folder;
  const auto images =
      folder.write_gz("wide-images.gz", big_endian({0x00000803, 1, 65536, 65536}) + std::string(1 << 16, '\0'));
  const std::string message = data_error_message([&] { load_idx(images, folder.write("labels", kLabels)); });
  EXPECT_PRED_FORMAT2(starts_with_path, message, images);
  EXPECT_PRED_FORMAT2(contains, message,
                      "bytes 4-15: the header declares 1 images of 65536x65536: 4294967296 columns; at most "
                      "2147483646 are supported");
}

}  // namespace
}  // namespace mlptune
