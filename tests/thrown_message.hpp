// The message of the error a test expects an action to throw; a test failure when it throws none.
#pragma once

#include <gtest/gtest.h>

#include <string>

namespace mlptune::testing {

template <class ErrorType, class Action>
std::string thrown_message(Action&& action) {
  try {
    action();
  } catch (const ErrorType& error) {
    return error.what();
  }
  ADD_FAILURE() << "expected the action to throw";
  return "";
}

}  // namespace mlptune::testing
