// What the harnesses share: a scratch folder for the files a loader reads, inputs that hold
// several files, gzip, the one place expected errors are caught, and dataset comparison.
#pragma once

#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "mlptune/data.hpp"
#include "mlptune/error.hpp"

namespace mlptune::fuzz {

namespace fs = std::filesystem;

// Separates the files of an input that holds more than one (IMAGES then LABELS, FEATURES then
// LABELS, JSON columns of a trial). It is in every harness's dictionary, so mutations add it too.
constexpr std::string_view kNextFile = "\n--mlptune-fuzz-next-file--\n";

inline std::vector<std::string_view> split_files(const std::uint8_t* data, std::size_t size) {
  std::string_view rest(reinterpret_cast<const char*>(data), size);
  std::vector<std::string_view> files;
  for (std::size_t at = rest.find(kNextFile); at != std::string_view::npos; at = rest.find(kNextFile)) {
    files.push_back(rest.substr(0, at));
    rest.remove_prefix(at + kNextFile.size());
  }
  files.push_back(rest);
  return files;
}

// One folder per process under $TMPDIR (the fuzz tests run the harness in a scratch folder with
// TMPDIR=.), reused by every run: the loaders take paths, so each input is written to a file first.
class ScratchFolder {
 public:
  // The process id at a fixed width: the paths the loaders see are as long in every run.
  ScratchFolder() : path_(fs::temp_directory_path() / padded_name(::getpid())) {
    fs::remove_all(path_);
    fs::create_directories(path_);
  }
  ~ScratchFolder() {
    std::error_code ignored;
    fs::remove_all(path_, ignored);
  }
  ScratchFolder(const ScratchFolder&) = delete;
  ScratchFolder& operator=(const ScratchFolder&) = delete;

  const fs::path& path() const { return path_; }

  static std::string padded_name(pid_t pid) {
    std::string digits = std::to_string(pid);
    return "mlptune-fuzz-" + std::string(digits.size() < 10 ? 10 - digits.size() : 0, '0') + digits;
  }

  fs::path write(const std::string& name, std::string_view bytes) const {
    const fs::path file = path_ / name;
    std::ofstream out(file, std::ios::binary | std::ios::trunc);
    out.write(bytes.data(), std::streamsize(bytes.size()));
    out.close();
    if (!out) {
      std::fprintf(stderr, "fuzz: cannot write %s\n", file.c_str());
      std::abort();  // not the library's fault, but the run would test nothing
    }
    return file;
  }

 private:
  fs::path path_;
};

inline const ScratchFolder& scratch() {
  static const ScratchFolder folder;
  return folder;
}

// The bytes as a .gz file holds them (one gzip member).
inline std::string gzip(std::string_view bytes) {
  z_stream stream{};
  constexpr int kGzipWindowBits = 15 + 16;  // 16: write a gzip header and trailer, not zlib's
  if (deflateInit2(&stream, Z_DEFAULT_COMPRESSION, Z_DEFLATED, kGzipWindowBits, 8, Z_DEFAULT_STRATEGY) != Z_OK)
    std::abort();
  std::string compressed(deflateBound(&stream, uLong(bytes.size())) + 32, '\0');
  stream.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(bytes.data()));
  stream.avail_in = uInt(bytes.size());
  stream.next_out = reinterpret_cast<Bytef*>(compressed.data());
  stream.avail_out = uInt(compressed.size());
  if (deflate(&stream, Z_FINISH) != Z_STREAM_END) std::abort();
  compressed.resize(stream.total_out);
  deflateEnd(&stream);
  return compressed;
}

inline bool is_gzip(std::string_view bytes) {
  return bytes.size() >= 2 && bytes[0] == '\x1f' && bytes[1] == '\x8b';
}

// Runs `load`, returning what it returns, or nothing when it throws mlptune::Error: the errors a
// user's bad file is meant to get. Any other exception escapes and libFuzzer reports it.
template <typename Load>
auto expected_errors(Load&& load) -> std::optional<decltype(load())> {
  try {
    return load();
  } catch (const mlptune::Error&) {
    return std::nullopt;
  }
}

// Stops with a message when a property the library promises does not hold.
inline void require(bool holds, const char* what) {
  if (!holds) {
    std::fprintf(stderr, "fuzz: %s\n", what);
    std::abort();
  }
}

// Two loads of the same content must agree exactly (same rows, same values, same labels).
inline bool same_dataset(const Dataset& a, const Dataset& b) {
  return a.task == b.task && a.rows == b.rows && a.cols == b.cols && a.features == b.features && a.labels == b.labels &&
         a.num_classes == b.num_classes && a.targets == b.targets && a.target_width == b.target_width &&
         a.raw_bytes == b.raw_bytes && a.column_scale == b.column_scale && a.column_offset == b.column_offset;
}

inline bool same_splits(const DataSplits& a, const DataSplits& b) {
  return same_dataset(a.train, b.train) && same_dataset(a.validation, b.validation) && same_dataset(a.test, b.test);
}

// What every loaded set must satisfy, whatever the file held: the sizes the Dataset contract
// states, labels inside the class count, and finite features.
inline void check_dataset(const Dataset& data) {
  require(data.features.size() == data.rows * data.cols && data.column_scale.size() == data.cols &&
              data.column_offset.size() == data.cols &&
              (data.raw_bytes.empty() || data.raw_bytes.size() == data.features.size()),
          "a loaded split's features, raw bytes or column maps disagree with its rows and cols");
  if (data.task == Task::classification) {
    const auto in_range = [&](std::int32_t label) { return label >= 0 && label < data.num_classes; };
    require(data.labels.size() == data.rows && std::all_of(data.labels.begin(), data.labels.end(), in_range),
            "a loaded split has a label count other than its rows, or a label outside [0, num_classes)");
  } else {
    require(data.targets.size() == data.rows * std::size_t(data.target_width),
            "a loaded split has a target count other than rows x target_width");
  }
  require(std::all_of(data.features.begin(), data.features.end(), [](float value) { return std::isfinite(value); }),
          "a loaded split has a feature that is not finite after scaling");
}

inline void check_splits(const DataSplits& splits) {
  check_dataset(splits.train);
  check_dataset(splits.validation);
  check_dataset(splits.test);
}

struct InputFileBytes {
  std::string name;  // as the loader sees it: its suffix picks the format
  std::string_view bytes;
};

// Loads the files as `mlptune train --data NAME[,NAME]` does (load_file: parse, then split and
// scale), once as written and once with every file gzip-compressed. gzip is only a container, so
// both must load alike, and every split must keep the Dataset contract.
inline void load_plain_and_gzipped(const std::vector<InputFileBytes>& files, const LoadOptions& load,
                                   const SplitOptions& split) {
  std::string plain_spec, gzipped_spec;
  bool any_gzip = false;
  for (const auto& file : files) {
    const std::string separator = plain_spec.empty() ? "" : ",";
    plain_spec += separator + scratch().write(file.name, file.bytes).string();
    gzipped_spec += separator + scratch().write("gz-" + file.name, gzip(file.bytes)).string();
    any_gzip = any_gzip || is_gzip(file.bytes);
  }
  const auto plain = expected_errors([&] { return load_file(plain_spec, load, split); });
  const auto gzipped = expected_errors([&] { return load_file(gzipped_spec, load, split); });
  if (plain) check_splits(*plain);
  if (gzipped) check_splits(*gzipped);
  if (any_gzip) return;  // compressing a .gz again makes a different file
  require(plain.has_value() == gzipped.has_value(), "a file and its gzip-compressed copy load differently");
  require(!plain || same_splits(*plain, *gzipped), "a file and its gzip-compressed copy give different data");
}

}  // namespace mlptune::fuzz
