// Output files written whole or not at all (temporary file, fsync, rename), and output paths
// checked before the work that fills them.
#include "io/output_file.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <charconv>
#include <cstring>

#include "common/process.hpp"
#include "common/shell_quote.hpp"
#include "mlptune/error.hpp"

namespace mlptune::io {
namespace {

namespace fs = std::filesystem;

std::string named(const fs::path& path, std::string_view what) {
  return what.empty() ? path.string() : std::string(what) + " " + path.string();
}

}  // namespace

WriteFailureReason write_failure_reason(int error_number) {
  switch (error_number) {
    case ENOSPC:
    case EDQUOT:
      return {"no space left on the device", "free some space or choose another folder"};
    case EFBIG:
      return {"the file would exceed this process's file-size limit", "raise it (ulimit -f) or write less"};
    case EACCES:
    case EPERM:
      return {"permission denied", "choose a folder you can write to"};
    case EROFS:
      return {"the file system is read-only", "choose another folder"};
    case ENOENT:
      return {"the folder does not exist", "create it first"};
    default:
      return {std::strerror(error_number), "check the folder and the disk"};
  }
}

namespace {

fs::path folder_of(const fs::path& file) {
  const fs::path folder = file.parent_path();
  return folder.empty() ? fs::path(".") : folder;
}

constexpr std::string_view kTemporaryMark = ".tmp-";

// A name beside `target` that no other writer, thread or process, uses at the same time:
// ".NAME.tmp-PID-COUNT".
fs::path temporary_beside(const fs::path& target) {
  static std::atomic<unsigned> counter{0};
  std::string name = ".";  // built by appending, clear of GCC 12's -Wrestrict false positive on "." + string
  name += target.filename().string();
  name += std::string(kTemporaryMark) + std::to_string(::getpid()) + "-" + std::to_string(counter++);
  return folder_of(target) / name;
}

// The writer's pid in a temporary file's name, or 0 when the name is not one of ours.
int temporary_owner(const std::string& name) {
  const std::size_t mark = name.rfind(kTemporaryMark);
  if (name.empty() || name[0] != '.' || mark == std::string::npos) return 0;
  int pid = 0;
  const char* digits = name.data() + mark + kTemporaryMark.size();
  const auto [end, error] = std::from_chars(digits, name.data() + name.size(), pid);
  return error == std::errc() && end < name.data() + name.size() && *end == '-' ? pid : 0;
}

void sync_folder(const fs::path& folder) {
  const int descriptor = ::open(folder.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (descriptor < 0) return;  // the rename is done; a folder that cannot be synced is not an error
  ::fsync(descriptor);
  ::close(descriptor);
}

}  // namespace

namespace {

std::string uid_text(uid_t uid) {
  return "uid " + std::to_string(uid);
}

// Why the symbolic link `link` must not be followed, or "" when it may be. The kernel's
// protected_symlinks rule: in a folder that is sticky and writable by everyone (/tmp), a link is
// followed only when it belongs to the caller or to the folder's owner. Elsewhere a link owned by
// another user is never followed: whoever planted it chose the file that would be overwritten.
std::string unfollowable_link_reason(const fs::path& link) {
  struct stat link_status = {};
  if (::lstat(link.c_str(), &link_status) != 0 || link_status.st_uid == ::geteuid()) return {};
  struct stat folder_status = {};
  const fs::path folder = folder_of(link);
  if (::stat(folder.c_str(), &folder_status) != 0) return "is a symbolic link whose folder cannot be examined";
  const bool shared_folder = (folder_status.st_mode & S_ISVTX) != 0 && (folder_status.st_mode & S_IWOTH) != 0;
  if (shared_folder && link_status.st_uid == folder_status.st_uid) return {};
  if (shared_folder)
    return "is a symbolic link in " + folder.string() + ", a folder everyone can write to, owned by " +
           uid_text(link_status.st_uid) + ", neither you (" + uid_text(::geteuid()) + ") nor the folder's owner";
  return "is a symbolic link owned by another user (" + uid_text(link_status.st_uid) + ", you are " +
         uid_text(::geteuid()) + ")";
}

// Each link on the way from `path` to a file that is no link, checked before it is followed.
void check_links_may_be_followed(const fs::path& path, const std::string& name) {
  constexpr int kMostLinks = 40;  // as the kernel's ELOOP limit
  std::error_code error;
  fs::path link = path;
  for (int hop = 0; hop < kMostLinks && fs::is_symlink(fs::symlink_status(link, error)); ++hop) {
    const std::string reason = unfollowable_link_reason(link);
    if (!reason.empty())
      throw Error(name + (link == path ? "" : " (through " + link.string() + ")") + ": " + reason +
                  "; mlptune does not write through such a link, since its owner chooses which file is "
                  "overwritten. Remove the link, or give the path of the file itself");
    const fs::path next = fs::read_symlink(link, error);
    if (error) return;  // vanished meanwhile: the checks that follow report it
    link = next.is_absolute() ? next : folder_of(link) / next;
  }
}

// An existing target's permissions, and its owner and group where this process may set them, for
// the file that replaces it: a 0600 file stays 0600.
void keep_mode_and_owner(int descriptor, const fs::path& target) {
  struct stat existing = {};
  if (::stat(target.c_str(), &existing) != 0 || !S_ISREG(existing.st_mode)) return;
  if (::fchown(descriptor, existing.st_uid, existing.st_gid) != 0) {
    [[maybe_unused]] const int group_only = ::fchown(descriptor, uid_t(-1), existing.st_gid);
  }
  [[maybe_unused]] const int changed = ::fchmod(descriptor, existing.st_mode & 07777);
}

}  // namespace

fs::path checked_output_path(const fs::path& path, std::string_view what) {
  const std::string name = named(path, what);
  if (path.empty())
    throw Error((what.empty() ? std::string("output file") : std::string(what)) + ": the path is empty");
  std::error_code error;
  fs::path target = path;
  if (fs::is_symlink(fs::symlink_status(path, error))) {
    check_links_may_be_followed(path, name);
    target = fs::canonical(path, error);
    if (error)
      throw Error(name + ": is a symbolic link to a missing file (" + fs::read_symlink(path, error).string() +
                  "); remove the link or give another path");
  }
  const std::string shown = target == path ? name : name + " (a link to " + target.string() + ")";
  const fs::file_status status = fs::status(target, error);
  if (fs::is_directory(status))
    throw Error(shown + ": is a folder; give a file name inside it, e.g. " + (path / "model.safetensors").string());
  if (fs::exists(status) && !fs::is_regular_file(status))
    throw Error(shown +
                ": is not a regular file (a device, pipe or socket); mlptune writes only regular files, so "
                "give the path of a file");
  const fs::path folder = folder_of(target);
  if (!fs::is_directory(folder, error))
    throw Error(name + ": the folder " + folder.string() + " does not exist; create it first (mkdir -p " +
                shell_quoted(folder.string()) + ")");
  if (::access(folder.c_str(), W_OK | X_OK) != 0) {
    const WriteFailureReason why = write_failure_reason(errno);
    throw Error(name + ": cannot write in the folder " + folder.string() + " (" + why.cause + "); " + why.fix);
  }
  return target;
}

AtomicFile::AtomicFile(const fs::path& path, std::string_view what)
    : name_(named(path, what)), target_(checked_output_path(path, what)) {
  remove_abandoned_temporaries(folder_of(target_), target_.filename().string());  // a killed writer's
  temporary_ = temporary_beside(target_);
  descriptor_ = ::open(temporary_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
  if (descriptor_ < 0) fail("cannot create a file in " + folder_of(target_).string(), errno);
}

AtomicFile::~AtomicFile() {
  if (descriptor_ >= 0) ::close(descriptor_);
  if (!temporary_.empty()) ::unlink(temporary_.c_str());
}

void AtomicFile::write(const void* bytes, std::size_t count) {
  const char* next = static_cast<const char*>(bytes);
  while (count > 0) {
    const ssize_t written = ::write(descriptor_, next, count);
    if (written < 0 && errno == EINTR) continue;
    if (written <= 0) fail("cannot write", written < 0 ? errno : ENOSPC);
    next += written;
    count -= std::size_t(written);
  }
}

void AtomicFile::commit() {
  keep_mode_and_owner(descriptor_, target_);
  if (::fsync(descriptor_) != 0) fail("cannot write", errno);
  const int closed = ::close(descriptor_);
  descriptor_ = -1;
  if (closed != 0) fail("cannot write", errno);
  if (::rename(temporary_.c_str(), target_.c_str()) != 0) fail("cannot replace the file", errno);
  temporary_.clear();
  sync_folder(folder_of(target_));
}

void AtomicFile::fail(const std::string& action, int error_number) {
  if (descriptor_ >= 0) ::close(descriptor_);
  descriptor_ = -1;
  if (!temporary_.empty()) ::unlink(temporary_.c_str());
  temporary_.clear();
  const WriteFailureReason why = write_failure_reason(error_number);
  throw Error(name_ + ": " + action + " (" + why.cause + "), so nothing was written; " + why.fix);
}

void remove_abandoned_temporaries(const fs::path& folder, std::string_view of_target) {
  std::string prefix = ".";  // appended to, clear of GCC 12's -Wrestrict false positive
  prefix += of_target;
  prefix += kTemporaryMark;
  std::error_code error;
  for (const auto& entry : fs::directory_iterator(folder, error)) {
    const std::string name = entry.path().filename().string();
    if (!of_target.empty() && !name.starts_with(prefix)) continue;
    const int pid = temporary_owner(name);
    if (pid > 0 && !process_alive(pid) && entry.is_regular_file(error)) fs::remove(entry.path(), error);
  }
}

void write_file_atomically(const fs::path& path, std::string_view contents, std::string_view what) {
  AtomicFile file(path, what);
  file.write(contents);
  file.commit();
}

}  // namespace mlptune::io
