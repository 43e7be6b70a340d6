// Reading gzip-compressed or plain files in large chunks with zlib, and DataError construction.
#include "data/input_file.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "mlptune/error.hpp"

namespace mlptune::data {

namespace {

// gzread takes an unsigned int count; 64 MiB chunks keep each call well inside it.
constexpr std::size_t kReadChunkBytes = std::size_t{64} << 20;
// zlib's own buffer: large enough that a 47 MB MNIST file decompresses in a few hundred calls.
constexpr unsigned kZlibBufferBytes = 1u << 20;
constexpr std::size_t kFirstTextChunkBytes = std::size_t{1} << 16;

}  // namespace

void throw_data_error(const std::filesystem::path& path, const std::string& problem) {
  throw DataError(path.string() + ": " + problem);
}

InputFile::InputFile(std::filesystem::path path) : path_(std::move(path)) {
  std::error_code status_error;
  const auto status = std::filesystem::status(path_, status_error);
  if (status.type() == std::filesystem::file_type::not_found) {
    throw_data_error(path_, "file not found");
  }
  if (status.type() == std::filesystem::file_type::directory) {
    throw_data_error(path_, "is a folder, not a data file");
  }
  errno = 0;
  file_.reset(gzopen(path_.c_str(), "rb"));
  if (!file_) {
    throw_data_error(path_, std::string("cannot open: ") + (errno ? std::strerror(errno) : "out of memory"));
  }
  gzbuffer(file_.get(), kZlibBufferBytes);
}

std::size_t InputFile::read(void* destination, std::size_t bytes) {
  auto* out = static_cast<unsigned char*>(destination);
  std::size_t total = 0;
  while (total < bytes) {
    const auto request = static_cast<unsigned>(std::min(bytes - total, kReadChunkBytes));
    const int got = gzread(file_.get(), out + total, request);
    if (got < 0) {
      int error_number = Z_OK;
      const char* zlib_message = gzerror(file_.get(), &error_number);
      throw_data_error(path_, "corrupt compressed data at byte " + std::to_string(position_) +
                                  " after decompression: " + zlib_message);
    }
    total += static_cast<std::size_t>(got);
    position_ += static_cast<std::uint64_t>(got);
    if (static_cast<unsigned>(got) < request) {
      break;
    }
  }
  return total;
}

bool InputFile::compressed_stream_ended_early() const {
  int error_number = Z_OK;
  gzerror(file_.get(), &error_number);
  return error_number == Z_BUF_ERROR;
}

std::string InputFile::read_rest() {
  std::string text;
  std::size_t filled = 0;
  // Start small (most text files are kilobytes) and double, so large files take few calls.
  std::size_t chunk = kFirstTextChunkBytes;
  for (;;) {
    text.resize(filled + chunk);
    const std::size_t got = read(text.data() + filled, chunk);
    filled += got;
    if (got < chunk) {
      break;
    }
    chunk = std::min(chunk * 2, kReadChunkBytes);
  }
  text.resize(filled);
  if (compressed_stream_ended_early()) {
    throw_data_error(path_, "truncated: the compressed stream ends at byte " + std::to_string(filled) +
                                " after decompression, before its gzip trailer");
  }
  return text;
}

}  // namespace mlptune::data
