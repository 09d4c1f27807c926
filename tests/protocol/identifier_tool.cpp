// identifier_tool: canonicalizes "TYPE<TAB>VALUE" lines from stdin, one answer line each:
// "OK<TAB>canonical" or "ERR<TAB>message". It exists so identifier_oracle_test.py can compare
// Canonicalize with independent implementations over many generated cases in one process.
#include <iostream>
#include <string>
#include <string_view>

#include "protocol/identifier.h"

namespace {

std::string Answer(std::string_view line) {
  using duanka::protocol::Canonicalize;
  using duanka::protocol::ParseIdType;
  const size_t tab = line.find('\t');
  const auto type = ParseIdType(line.substr(0, tab));
  if (tab == std::string_view::npos || !type) return "ERR\tunknown type or missing tab";
  const auto result = Canonicalize(*type, line.substr(tab + 1));
  return result.ok() ? "OK\t" + *result : "ERR\t" + result.error().message;
}

}  // namespace

int main() {
  std::ios::sync_with_stdio(false);
  std::string line;
  while (std::getline(std::cin, line)) std::cout << Answer(line) << '\n';
  std::cout.flush();
  return std::cout ? 0 : 1;
}
