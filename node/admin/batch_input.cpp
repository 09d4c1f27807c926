#include "node/admin/batch_input.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace duanka::admin::batch {

BatchInput::~BatchInput() {
  if (fd_ > 0) ::close(fd_);
}

Result<BatchInput> OpenBatchInput(const std::string& input) {
  int fd = 0;
  if (input != "-") {
    fd = ::open(input.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
      return MakeError(ErrorKind::kInvalidInput,
                       "--batch: cannot open " + input + ": " + std::strerror(errno));
    }
  }
  BatchInput opened(fd, 0);
  struct stat st {};
  if (::fstat(fd, &st) != 0) return opened;
  if (S_ISDIR(st.st_mode)) {
    return MakeError(ErrorKind::kInvalidInput, "--batch: " + input + " is a directory");
  }
  if (!S_ISREG(st.st_mode)) return opened;
  opened.Release();
  return BatchInput(fd, static_cast<uint64_t>(st.st_size));
}

bool IsBlank(char c) {
  return c == ' ' || c == '\t';
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && IsBlank(s.front())) s.remove_prefix(1);
  while (!s.empty() && IsBlank(s.back())) s.remove_suffix(1);
  return s;
}

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

}  // namespace duanka::admin::batch
