// Command lines mlptune prints for the user to run: every argument quoted as a POSIX shell reads it,
// checked by running the printed text through sh.
#include "common/shell_quote.hpp"

#include <gtest/gtest.h>

#include <array>
#include <cstdio>
#include <string>
#include <vector>

#include "mlptune/tune/study.hpp"

namespace mlptune::tune {
namespace {

// What `sh -c SCRIPT` prints on stdout.
std::string shell_output(const std::string& script) {
  const std::string command = "sh -c " + shell_quoted(script);
  FILE* pipe = ::popen(command.c_str(), "r");
  EXPECT_NE(pipe, nullptr);
  if (pipe == nullptr) return {};
  std::string output;
  std::array<char, 4096> buffer{};
  for (std::size_t got; (got = std::fread(buffer.data(), 1, buffer.size(), pipe)) > 0;)
    output.append(buffer.data(), got);
  EXPECT_EQ(::pclose(pipe), 0) << script;
  return output;
}

const std::vector<std::string> kHostile = {"x'); DROP TABLE trials; --",
                                           "",
                                           "plain-name_1.csv",
                                           "two words",
                                           "it's",
                                           "\"double\"",
                                           "$HOME `id` $(id)",
                                           "a\\b",
                                           "new\nline",
                                           "tab\there",
                                           "*?[a]{b,c}~!#",
                                           "-n",
                                           "ünïcödé",
                                           "'",
                                           "''",
                                           "semi;colon&amp|pipe>out<in"};

TEST(ShellQuoted, EveryTextComesBackWhole) {
  for (const std::string& text : kHostile)
    EXPECT_EQ(shell_output("printf %s " + shell_quoted(text)), text) << shell_quoted(text);
}

TEST(ShellQuoted, QuotesAsPythonsShlexQuoteDoes) {
  EXPECT_EQ(shell_quoted("out/mnist.db"), "out/mnist.db");
  EXPECT_EQ(shell_quoted("postgresql://user@host:5432/db"), "postgresql://user@host:5432/db");
  EXPECT_EQ(shell_quoted(""), "''");
  EXPECT_EQ(shell_quoted("two words"), "'two words'");
  EXPECT_EQ(shell_quoted("x'); DROP TABLE trials; --"), "'x'\"'\"'); DROP TABLE trials; --'");
  EXPECT_EQ(shell_quoted("a#b"), "'a#b'") << "a # starts a comment after a space";
}

// The reproducing `mlptune train` line, run through sh with `mlptune` a function that prints its
// arguments one per line: the files' names arrive as they were given.
TEST(ShellQuoted, TheTrainLineGivesTheProgramItsArgumentsUnchanged) {
  DataSpec data{"digits", "x'); DROP TABLE trials; --.csv", "label $(id)", Task::classification};
  data.test_path = "test\nrows.csv";
  TrialSpec spec;
  spec.model.hidden = {};
  const std::string line = train_command_line(spec, data, BackendKind::cpu);
  const std::string arguments =
      shell_output("mlptune() { for a in \"$@\"; do printf '%s\\n' \"[$a]\"; done; }; " + line);
  EXPECT_NE(arguments.find("[--data]\n[x'); DROP TABLE trials; --.csv]\n"), std::string::npos) << line << "\n"
                                                                                               << arguments;
  EXPECT_NE(arguments.find("[--test-data]\n[test\nrows.csv]\n"), std::string::npos) << arguments;
  EXPECT_NE(arguments.find("[--label-column]\n[label $(id)]\n"), std::string::npos) << arguments;
  EXPECT_NE(arguments.find("[--hidden]\n[]\n"), std::string::npos) << arguments;
  EXPECT_EQ(arguments.find("uid="), std::string::npos) << "nothing in the line runs: " << arguments;
}

}  // namespace
}  // namespace mlptune::tune
