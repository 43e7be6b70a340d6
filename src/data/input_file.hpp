// A file read through zlib (gzip-compressed or plain alike) and the helper that raises DataError.
#pragma once

#include <zlib.h>

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>

namespace mlptune::data {

// Throws DataError "<path>: <problem>", the form every loader uses.
[[noreturn]] void throw_data_error(const std::filesystem::path& path, const std::string& problem);

// Sequential reader; counts positions in decompressed bytes, which is what messages report.
class InputFile {
 public:
  // Throws DataError when the file is missing, is a folder or cannot be opened.
  explicit InputFile(std::filesystem::path path);

  // Reads up to `bytes` into `destination`; fewer only at the end of the data. Throws DataError
  // when the compressed stream is corrupt.
  std::size_t read(void* destination, std::size_t bytes);
  // Everything from the current position to the end; a compressed stream cut short is an error.
  std::string read_rest();

  std::uint64_t position() const { return position_; }
  // Whether the file is gzip data (else zlib passes its bytes through unchanged).
  bool is_compressed() const { return gzdirect(file_.get()) == 0; }
  // Whether the last read stopped because the compressed stream ended before its gzip trailer.
  bool compressed_stream_ended_early() const;
  const std::filesystem::path& path() const { return path_; }

 private:
  struct GzCloser {
    void operator()(gzFile file) const { gzclose(file); }
  };
  std::filesystem::path path_;
  std::unique_ptr<gzFile_s, GzCloser> file_;
  std::uint64_t position_ = 0;
};

}  // namespace mlptune::data
