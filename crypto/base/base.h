// What every duanka module may use and none owns: the error vocabulary (Result, Error: result.h),
// whole-file reads and crash-safe writes, and institution codes. It sits under crypto/ because
// the product's top level is fixed (README, "Layout"); it is its own library (duanka_base) and
// depends on nothing of duanka's. libsodium is used only to wipe secrets read from files.
#pragma once

#include <cstddef>
#include <filesystem>
#include <string>
#include <string_view>

#include "crypto/base/result.h"

namespace duanka::base {

// ---- Files ---------------------------------------------------------------------------------

// Writes `data` to `path` with `mode` via a temporary file, fsync and rename, so that a reader
// never sees half a file. Refuses (kConflict) to replace an existing file unless overwrite.
Status WriteFileAtomic(const std::filesystem::path& path, std::string_view data, unsigned mode,
                       bool overwrite);
// Reads a whole file; kIo names the path and the OS reason. Files over max_bytes are refused.
Result<std::string> ReadFile(const std::filesystem::path& path, size_t max_bytes);
// As ReadFile, for a file that holds a secret (a private key, the pepper). Refuses (kIo), as ssh
// does, a file its group or others may access, with one line naming it and the `chmod 600` to
// run: a key that other accounts can read is a key to replace. The bytes pass through no buffer
// but the result, which the caller wipes (sodium_memzero) once it has parsed them.
Result<std::string> ReadSecretFile(const std::filesystem::path& path, size_t max_bytes);

// ---- Institutions --------------------------------------------------------------------------

// Institution codes are [A-Z0-9]{2,16}, carried as certificates' CN and as feeds' issuers.
inline constexpr size_t kMaxInstitutionCodeLength = 16;
bool IsValidInstitutionCode(std::string_view code);

}  // namespace duanka::base
