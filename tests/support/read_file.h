// A file's whole content, for tests that check what a program wrote.
#pragma once

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

namespace duanka::testing {

// Empty when the file cannot be read. One bulk copy through the stream buffer: a character-wise
// read compiled in the test at -O0 under the sanitizers took most of a minute over a node's store.
inline std::string ReadAll(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream bytes;
  if (in) bytes << in.rdbuf();
  return std::move(bytes).str();
}

}  // namespace duanka::testing
