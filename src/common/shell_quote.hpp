// Text quoted for a POSIX shell, for every command line mlptune prints for the user to run.
#pragma once

#include <string>
#include <string_view>

namespace mlptune {

// `text` as one shell word: unchanged when it holds only letters, digits and @%+=:,./-_ (as
// Python's shlex.quote decides), otherwise in single quotes with each ' written as '"'"'.
// "" becomes ''. A shell reading the result gets `text` back, whatever bytes it holds.
inline std::string shell_quoted(std::string_view text) {
  const auto plain = [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           std::string_view("@%+=:,./-_").find(c) != std::string_view::npos;
  };
  bool all_plain = !text.empty();
  for (const char c : text) all_plain = all_plain && plain(c);
  if (all_plain) return std::string(text);
  std::string quoted = "'";
  for (const char c : text) {
    if (c == '\'')
      quoted += "'\"'\"'";
    else
      quoted += c;
  }
  return quoted + "'";
}

}  // namespace mlptune
