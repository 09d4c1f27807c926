// Whole-file reads and crash-safe writes, used for keys, pepper and configuration.
#include <fcntl.h>
#include <sodium.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>

#include "crypto/base/base.h"

namespace duanka::base {
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

namespace {

// Group and other permission bits: a secret file with any of them set is refused, as ssh refuses
// a private key "accessible by others" (write access lets them replace the key, too).
constexpr mode_t kGroupOtherBits = S_IRWXG | S_IRWXO;

std::string OctalMode(mode_t mode) {
  char text[8];
  std::snprintf(text, sizeof text, "%04o", static_cast<unsigned>(mode & 07777));
  return text;
}

Error TooLarge(const std::filesystem::path& path, size_t max_bytes) {
  return MakeError(ErrorKind::kInvalidInput, path.string() + " is larger than the " +
                                                 std::to_string(max_bytes) +
                                                 " bytes expected for it");
}

// Reads the whole file straight into the result's own storage: no bounce buffer, and when it must
// grow the old storage is wiped before it is freed, so that a secret leaves no copy behind but the
// result (which the caller wipes).
Result<std::string> ReadWhole(const std::filesystem::path& path, size_t max_bytes, bool secret) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return IoError("cannot read", path, errno);
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    int err = errno;
    ::close(fd);
    return IoError("cannot read", path, err);
  }
  // Checked on the opened file, so the mode judged is the mode of the bytes read.
  if (secret && (st.st_mode & kGroupOtherBits) != 0) {
    ::close(fd);
    return MakeError(ErrorKind::kIo,
                     path.string() + " holds a secret but is open to its group or others (mode " +
                         OctalMode(st.st_mode) + "); run `chmod 600 " + path.string() + "`");
  }
  if (static_cast<uint64_t>(st.st_size) > max_bytes) {
    ::close(fd);
    return TooLarge(path, max_bytes);
  }
  // One byte more than the size, so that end of file is seen without growing (read returns 0).
  constexpr size_t kMinCapacity = 4096;
  std::string out(std::max(static_cast<size_t>(st.st_size) + 1, kMinCapacity), '\0');
  size_t used = 0;
  auto fail = [&](Error e) {
    ::close(fd);
    if (secret) sodium_memzero(out.data(), out.size());
    return e;
  };
  for (;;) {
    if (used == out.size()) {
      if (used > max_bytes) return fail(TooLarge(path, max_bytes));
      // The file grew while being read.
      std::string bigger(std::min(out.size() * 2, max_bytes + 1), '\0');
      std::copy(out.begin(), out.end(), bigger.begin());
      if (secret) sodium_memzero(out.data(), out.size());
      out.swap(bigger);
    }
    ssize_t n = ::read(fd, out.data() + used, out.size() - used);
    if (n < 0) {
      if (errno == EINTR) continue;
      int err = errno;
      return fail(IoError("cannot read", path, err));
    }
    if (n == 0) break;
    used += static_cast<size_t>(n);
  }
  ::close(fd);
  if (used > max_bytes) {
    if (secret) sodium_memzero(out.data(), out.size());
    return TooLarge(path, max_bytes);
  }
  // Shrinking in place keeps the storage (and the bytes past the end are wiped first).
  if (secret) sodium_memzero(out.data() + used, out.size() - used);
  out.resize(used);
  return out;
}

}  // namespace

Result<std::string> ReadFile(const std::filesystem::path& path, size_t max_bytes) {
  return ReadWhole(path, max_bytes, /*secret=*/false);
}

Result<std::string> ReadSecretFile(const std::filesystem::path& path, size_t max_bytes) {
  return ReadWhole(path, max_bytes, /*secret=*/true);
}

}  // namespace duanka::base
