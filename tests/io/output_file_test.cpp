// Output files: written whole or not at all, never over anything but a regular file, and paths
// checked before any work.
#include "io/output_file.hpp"

#include <gtest/gtest.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <csignal>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "mlptune/error.hpp"
#include "temp_folder.hpp"
#include "thrown_message.hpp"

namespace mlptune::io {
namespace {

namespace fs = std::filesystem;
using mlptune::testing::TempFolder;

std::string read(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

std::size_t entries_in(const fs::path& folder) {
  return std::size_t(std::distance(fs::directory_iterator(folder), fs::directory_iterator()));
}

template <class Action>
std::string message_of(Action&& action) {
  return mlptune::testing::thrown_message<Error>(std::forward<Action>(action));
}

TEST(OutputFile, WritesAndReplacesAWholeFile) {
  TempFolder folder;
  const fs::path file = folder.file("out.csv");
  write_file_atomically(file, "first\n");
  EXPECT_EQ(read(file), "first\n");
  write_file_atomically(file, "second, longer\n");
  EXPECT_EQ(read(file), "second, longer\n");
  EXPECT_EQ(entries_in(file.parent_path()), 1u) << "no temporary file is left";
}

TEST(OutputFile, NothingAppearsBeforeCommitAndAnAbandonedFileLeavesNothing) {
  TempFolder folder;
  const fs::path file = folder.file("model.safetensors");
  {
    AtomicFile out(file);
    out.write("partial");
    EXPECT_FALSE(fs::exists(file));
  }
  EXPECT_EQ(entries_in(file.parent_path()), 0u);
  write_file_atomically(file, "kept");
  {
    AtomicFile out(file);
    out.write("never committed");
  }
  EXPECT_EQ(read(file), "kept") << "an abandoned write leaves the old file as it was";
  EXPECT_EQ(entries_in(file.parent_path()), 1u);
}

TEST(OutputFile, RefusesFoldersDevicesAndLinksToMissingFiles) {
  TempFolder folder;
  EXPECT_NE(message_of([&] { checked_output_path(folder.file(""), "--save"); }).find("is a folder"), std::string::npos);
  EXPECT_NE(message_of([] {
              checked_output_path("/dev/null", "--metrics");
            }).find("--metrics /dev/null: is not a regular file"),
            std::string::npos);
  fs::create_symlink(folder.file("nowhere"), folder.file("dangling"));
  EXPECT_NE(message_of([&] { checked_output_path(folder.file("dangling")); }).find("a symbolic link to a missing file"),
            std::string::npos);
  const std::string missing = message_of([&] { checked_output_path(folder.file("no/such/folder/x.json"), "--out"); });
  EXPECT_NE(missing.find("does not exist; create it first (mkdir -p "), std::string::npos) << missing;
}

TEST(OutputFile, ALinkToARegularFileIsFollowedAndKept) {
  TempFolder folder;
  write_file_atomically(folder.file("target"), "old");
  fs::create_symlink("target", folder.file("link"));
  EXPECT_EQ(checked_output_path(folder.file("link")), fs::canonical(folder.file("target")));
  write_file_atomically(folder.file("link"), "new");
  EXPECT_TRUE(fs::is_symlink(folder.file("link")));
  EXPECT_EQ(read(folder.file("target")), "new");
}

mode_t permissions_of(const fs::path& path) {
  struct stat status = {};
  EXPECT_EQ(::lstat(path.c_str(), &status), 0) << path;
  return status.st_mode & 07777;
}

TEST(OutputFile, AReplacedFileKeepsItsPermissions) {
  TempFolder folder;
  const mode_t previous_mask = ::umask(022);
  for (const mode_t mode : {0600, 0640, 0664}) {
    const fs::path file = folder.file("weights-" + std::to_string(mode));
    write_file_atomically(file, "old");
    ::chmod(file.c_str(), mode);
    write_file_atomically(file, "new");
    EXPECT_EQ(read(file), "new");
    EXPECT_EQ(permissions_of(file), mode) << "not the umask's 0644";
  }
  write_file_atomically(folder.file("fresh"), "new");
  EXPECT_EQ(permissions_of(folder.file("fresh")), 0644u) << "a new file gets what the umask leaves";
  ::umask(previous_mask);
}

// A folder like /tmp: writable by everyone, sticky, here owned by the test's user.
fs::path shared_sticky_folder(const TempFolder& folder) {
  const fs::path shared = folder.file("shared");
  fs::create_directory(shared);
  EXPECT_EQ(::chmod(shared.c_str(), 01777), 0);
  return shared;
}

TEST(OutputFile, AnOwnLinkInASharedStickyFolderIsFollowed) {
  TempFolder folder;
  const fs::path shared = shared_sticky_folder(folder);
  write_file_atomically(folder.file("target"), "old");
  fs::create_symlink(folder.file("target"), shared / "link");
  write_file_atomically(shared / "link", "new");
  EXPECT_EQ(read(folder.file("target")), "new");
  EXPECT_TRUE(fs::is_symlink(shared / "link"));
}

// Links owned by another user can only be made by root (lchown).
constexpr uid_t kOtherUser = 54321;

void expect_refused_and_untouched(const fs::path& link, const fs::path& target, const std::string& reason) {
  const std::string message = message_of([&] { write_file_atomically(link, "planted", "--save"); });
  EXPECT_NE(message.find("--save " + link.string() + ": " + reason), std::string::npos) << message;
  EXPECT_NE(message.find("Remove the link, or give the path of the file itself"), std::string::npos) << message;
  EXPECT_EQ(read(target), "precious") << "the file the link points to is untouched";
}

TEST(OutputFile, ALinkOfAnotherUserIsNotFollowedUnlessItsStickyFoldersOwnerMadeIt) {
  if (::geteuid() != 0) GTEST_SKIP() << "giving a link to another user (lchown) needs root";
  TempFolder folder;
  write_file_atomically(folder.file("target"), "precious");

  fs::create_symlink(folder.file("target"), folder.file("link"));
  ASSERT_EQ(::lchown(folder.file("link").c_str(), kOtherUser, kOtherUser), 0);
  expect_refused_and_untouched(folder.file("link"), folder.file("target"),
                               "is a symbolic link owned by another user (uid 54321, you are uid 0)");

  const fs::path shared = shared_sticky_folder(folder);
  fs::create_symlink(folder.file("target"), shared / "link");
  ASSERT_EQ(::lchown((shared / "link").c_str(), kOtherUser, kOtherUser), 0);
  expect_refused_and_untouched(shared / "link", folder.file("target"),
                               "is a symbolic link in " + shared.string() + ", a folder everyone can write to");

  fs::create_symlink(shared / "link", folder.file("chain"));
  const std::string through = message_of([&] { checked_output_path(folder.file("chain")); });
  EXPECT_NE(through.find("(through " + (shared / "link").string() + "): is a symbolic link in"), std::string::npos)
      << "every link on the way is checked: " << through;

  ASSERT_EQ(::chown(shared.c_str(), kOtherUser, kOtherUser), 0);
  ASSERT_EQ(::chmod(shared.c_str(), 01777), 0);
  write_file_atomically(shared / "link", "new");
  EXPECT_EQ(read(folder.file("target")), "new") << "the folder's owner's link is followed, as the kernel does";
}

TEST(OutputFile, AReplacedFileKeepsItsOwnerWherePermitted) {
  if (::geteuid() != 0) GTEST_SKIP() << "a file of another user can only be replaced as root";
  TempFolder folder;
  const fs::path file = folder.file("model.safetensors");
  write_file_atomically(file, "old");
  ASSERT_EQ(::chown(file.c_str(), kOtherUser, kOtherUser), 0);
  ASSERT_EQ(::chmod(file.c_str(), 0600), 0);
  write_file_atomically(file, "new");
  struct stat status = {};
  ASSERT_EQ(::stat(file.c_str(), &status), 0);
  EXPECT_EQ(status.st_uid, kOtherUser);
  EXPECT_EQ(status.st_gid, kOtherUser);
  EXPECT_EQ(status.st_mode & 07777, 0600u);
}

// A write beyond the file-size limit fails part-way (EFBIG, as a disk filling up): the error names
// the file and the cause, and neither a truncated file nor a temporary one stays. Run in a child
// process, since the limit applies to the whole process.
TEST(OutputFile, AWriteThatFailsPartWayRemovesItsTemporaryFile) {
  TempFolder folder;
  const fs::path file = folder.file("big.bin");
  const pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    std::signal(SIGXFSZ, SIG_IGN);
    const rlimit limit{4096, 4096};
    setrlimit(RLIMIT_FSIZE, &limit);
    const std::string message = message_of([&] { write_file_atomically(file, std::string(100000, 'x')); });
    const bool named = message.find("big.bin: cannot write (the file would exceed") != std::string::npos &&
                       message.find("nothing was written") != std::string::npos;
    _exit(named && !fs::exists(file) && entries_in(file.parent_path()) == 0 ? 0 : 1);
  }
  int status = 0;
  waitpid(child, &status, 0);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

TEST(OutputFile, ThreadsWritingOneFileNeverSeeEachOthersTemporaries) {
  TempFolder folder;
  const fs::path file = folder.file("best.safetensors");
  std::vector<std::thread> writers;
  for (int i = 0; i < 8; ++i)
    writers.emplace_back([&, i] {
      for (int round = 0; round < 20; ++round) write_file_atomically(file, std::string(1000, char('a' + i)));
    });
  for (auto& writer : writers) writer.join();
  const std::string contents = read(file);
  ASSERT_EQ(contents.size(), 1000u);
  EXPECT_EQ(contents, std::string(1000, contents[0])) << "one writer's whole file, never a mix";
  EXPECT_EQ(entries_in(file.parent_path()), 1u);
}

// kill -9 in the middle of a write leaves a temporary file: a later run removes those of
// writers no longer running, and nothing else.
TEST(OutputFile, TemporariesOfDeadWritersAreRemovedAndNothingElse) {
  TempFolder folder;
  const pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) _exit(0);
  waitpid(child, nullptr, 0);  // a pid no process has now
  const std::string dead = std::to_string(child), alive = std::to_string(getpid());
  const std::vector<std::string> names = {".model.safetensors.tmp-" + dead + "-0", ".best.tmp-" + dead + "-3",
                                          ".model.safetensors.tmp-" + alive + "-1", "model.tmp-" + dead + "-0",
                                          "notes.txt"};
  for (const std::string& name : names) write_file_atomically(folder.file(name), "x");
  remove_abandoned_temporaries(folder.file(""), "model.safetensors");
  EXPECT_FALSE(fs::exists(folder.file(names[0])));
  EXPECT_TRUE(fs::exists(folder.file(names[1]))) << "another target's, when one target is named";
  remove_abandoned_temporaries(folder.file(""));
  EXPECT_FALSE(fs::exists(folder.file(names[1])));
  for (std::size_t kept = 2; kept < names.size(); ++kept)
    EXPECT_TRUE(fs::exists(folder.file(names[kept]))) << names[kept] << ": a live writer's, or not a temporary";
}

}  // namespace
}  // namespace mlptune::io
