// Whole-file reads and crash-safe writes, used for keys, pepper and configuration.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "crypto/crypto.h"

namespace duanka::crypto {
namespace {

Error IoError(const std::string& what, const std::filesystem::path& path, int err) {
  return MakeError(ErrorKind::kIo, what + " " + path.string() + ": " + std::strerror(err));
}

bool WriteAll(int fd, std::string_view data) {
  while (!data.empty()) {
    ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    data.remove_prefix(static_cast<size_t>(n));
  }
  return true;
}

// Makes the rename (or link) itself durable.
void SyncDirectory(const std::filesystem::path& dir) {
  int fd = ::open(dir.empty() ? "." : dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd >= 0) {
    ::fsync(fd);
    ::close(fd);
  }
}

}  // namespace

Status WriteFileAtomic(const std::filesystem::path& path, std::string_view data, unsigned mode,
                       bool overwrite) {
  std::error_code ec;
  if (!overwrite && std::filesystem::exists(path, ec)) {
    return MakeError(ErrorKind::kConflict,
                     path.string() + " already exists; refusing to overwrite it (use --force)");
  }
  std::string tmp = path.string() + ".tmp-XXXXXX";
  int fd = ::mkstemp(tmp.data());
  if (fd < 0) return IoError("cannot create a file beside", path, errno);
  auto fail = [&](const char* what) {
    int err = errno;
    ::close(fd);
    ::unlink(tmp.c_str());
    return IoError(what, path, err);
  };
  if (::fchmod(fd, mode) != 0) return fail("cannot set the mode of");
  if (!WriteAll(fd, data)) return fail("cannot write");
  if (::fsync(fd) != 0) return fail("cannot sync");
  ::close(fd);
  // link() refuses to replace an existing file, which closes the race the exists() check leaves.
  int rc = overwrite ? ::rename(tmp.c_str(), path.c_str()) : ::link(tmp.c_str(), path.c_str());
  int err = errno;
  ::unlink(tmp.c_str());
  if (rc != 0) {
    if (!overwrite && err == EEXIST) {
      return MakeError(ErrorKind::kConflict,
                       path.string() + " already exists; refusing to overwrite it (use --force)");
    }
    return IoError("cannot write", path, err);
  }
  SyncDirectory(path.parent_path());
  return Ok();
}

Result<std::string> ReadFile(const std::filesystem::path& path, size_t max_bytes) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return IoError("cannot read", path, errno);
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    int err = errno;
    ::close(fd);
    return IoError("cannot read", path, err);
  }
  if (static_cast<uint64_t>(st.st_size) > max_bytes) {
    ::close(fd);
    return MakeError(ErrorKind::kInvalidInput, path.string() + " is larger than the " +
                                                   std::to_string(max_bytes) +
                                                   " bytes expected for it");
  }
  std::string out;
  char buf[65536];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      int err = errno;
      ::close(fd);
      return IoError("cannot read", path, err);
    }
    if (n == 0) break;
    out.append(buf, static_cast<size_t>(n));
    if (out.size() > max_bytes) {
      ::close(fd);
      return MakeError(ErrorKind::kInvalidInput, path.string() + " is larger than the " +
                                                     std::to_string(max_bytes) +
                                                     " bytes expected for it");
    }
  }
  ::close(fd);
  return out;
}

}  // namespace duanka::crypto
