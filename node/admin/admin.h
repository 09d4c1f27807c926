// duanka-admin's commands. main.cpp parses arguments into these option structs; each command
// returns the process exit code (0 done, 2 usage or invalid input, 3 operational failure) and
// prints its one-line error itself.
#pragma once

#include <optional>
#include <string>
#include <vector>

namespace duanka::admin {

inline constexpr int kExitOk = 0;
inline constexpr int kExitInvalid = 2;
inline constexpr int kExitFailure = 3;

struct InitCaOptions {
  std::string dir;
  std::string consortium;
};
int InitCa(const InitCaOptions& o);

struct IssueOptions {
  std::string ca_dir;
  std::string institution;
  std::string role = "member";
  std::string home;
  std::vector<std::string> hosts;
  bool force = false;
};
int Issue(const IssueOptions& o);

struct PepperNewOptions {
  std::string out;
  bool force = false;
};
int PepperNew(const PepperNewOptions& o);

struct InitOptions {
  std::string home;
  std::string institution;
  std::string ca;
  std::string pepper;
  std::string listen;
  std::string api;
  std::vector<std::string> peers;
  bool force = false;
};
int Init(const InitOptions& o);

struct ReportOptions {
  std::optional<std::string> home;
  std::string type;
  std::string value;
  std::string category;
  std::string basis = "institution";
  std::string case_ref;
  std::string expires;
  bool json = false;
};
int Report(const ReportOptions& o);

struct RevokeOptions {
  std::optional<std::string> home;
  std::string entry;
  std::string reason;
  bool json = false;
};
int Revoke(const RevokeOptions& o);

struct ListOptions {
  std::optional<std::string> home;
  std::string issuer;
  bool all = false;
  bool json = false;
};
int List(const ListOptions& o);

struct ExportOptions {
  std::optional<std::string> home;
  std::string out;
  std::string issuer;
  uint64_t from = 1;
};
int Export(const ExportOptions& o);

struct ImportOptions {
  std::optional<std::string> home;
  std::string file;
};
int Import(const ImportOptions& o);

}  // namespace duanka::admin
