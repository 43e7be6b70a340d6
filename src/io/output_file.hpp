// Output files written whole or not at all: the path checked before any work starts, the bytes
// written to a temporary file beside the target, flushed, synced and renamed over it.
#pragma once

#include <cstddef>
#include <filesystem>
#include <string>
#include <string_view>

namespace mlptune::io {

// Why a write failed, for a message: errno as a cause a user understands and what to do about it
// ("no space left on the device", "free some space or choose another folder").
struct WriteFailureReason {
  std::string cause;
  std::string fix;
};
WriteFailureReason write_failure_reason(int error_number);

// Where the bytes for `path` go: `path` itself, or the regular file a symbolic link at `path`
// points to (the link stays). Throws Error, naming `what` (e.g. "--save") and the fix, when the
// path cannot take a file: it is a folder, a device or another non-regular file, a link to a
// missing file, a link that must not be followed (the kernel's protected_symlinks rule: owned by
// another user, unless it lies in a sticky folder everyone can write to and belongs to that
// folder's owner), or its folder is missing or not writable. Call it before the work whose result
// the file holds, so a bad path costs nothing.
std::filesystem::path checked_output_path(const std::filesystem::path& path, std::string_view what = {});

// A file being written. Nothing appears at the path until commit(): it gives the temporary file
// the permissions (and, where permitted, the owner) of the file it replaces, flushes and syncs
// it, renames it over the target and syncs the folder. Every failure throws Error with
// the path and the reason; an AtomicFile destroyed before commit() removes its temporary file, so
// neither a half-written file nor a temporary one is ever left behind.
class AtomicFile {
 public:
  explicit AtomicFile(const std::filesystem::path& path, std::string_view what = {});
  ~AtomicFile();
  AtomicFile(const AtomicFile&) = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;

  void write(const void* bytes, std::size_t count);
  void write(std::string_view text) { write(text.data(), text.size()); }
  void commit();

 private:
  [[noreturn]] void fail(const std::string& action, int error_number);

  std::string name_;                 // the path as the user gave it (and the flag), for messages
  std::filesystem::path target_;     // where the file lands
  std::filesystem::path temporary_;  // beside the target, on the same file system
  int descriptor_ = -1;
};

// Removes the temporary files in `folder` that writers killed mid-write (kill -9) left behind,
// those of processes no longer running: all of them, or only those for the file `of_target`.
void remove_abandoned_temporaries(const std::filesystem::path& folder, std::string_view of_target = {});

// The whole file at once, through an AtomicFile.
void write_file_atomically(const std::filesystem::path& path, std::string_view contents, std::string_view what = {});

}  // namespace mlptune::io
