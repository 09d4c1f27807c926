// How fast an institution's existing list is published: `duanka-admin report --batch` (the real
// binary) on a generated file, into an empty store and into one that already holds as many
// entries, on one thread and on two; and a re-run of the same file, where every line is already
// listed. Beside them, the floor that bounds any of it: signing is sequential per feed (each
// record's prev is the hash of the signed record before it), so entries/s can never pass the
// rate at which one core encodes, signs and hashes a record.
//
// Figures only, no assertions (design.md section 8). The aim read against them: >= 40,000
// entries/s end to end on one core (issue: onboarding an institution's list).
//
//   build/tests/bench/onboarding/onboarding_bench                   # 100,000-line files
//   build/tests/bench/onboarding/onboarding_bench --lines 1000000   # the 1M figures (minutes)
//   DUANKA_BENCH_ONBOARDING_LINES=1000000 build/tests/bench/onboarding/onboarding_bench
//
// Every line is distinct and valid; the types cycle through phone, bank-card, qq, wechat and
// e-mail, so canonicalisation costs what a real list costs. Wall time and the child's CPU time
// (user + system, from wait4) are both printed: on a shared machine the CPU time per entry is
// the steadier figure.
#include <fcntl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "crypto/crypto.h"
#include "protocol/record.h"
#include "tests/support/temp_dir.h"

namespace duanka {
namespace {

const std::string kAdmin = DUANKA_ADMIN_BIN;
constexpr uint64_t kDefaultLines = 100'000;

struct Run {
  int exit_code = -1;
  double wall_seconds = 0;
  double cpu_seconds = 0;
  std::string summary;  // the last stderr line
};

// Runs the admin tool with stdout discarded (a million result lines would only measure the pipe)
// and stderr kept for the summary.
Run Admin(const std::vector<std::string>& args, const std::filesystem::path& err_file) {
  auto start = std::chrono::steady_clock::now();
  pid_t pid = ::fork();
  if (pid == 0) {
    int devnull = ::open("/dev/null", O_RDWR);
    int err = ::open(err_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    ::dup2(devnull, 0);
    ::dup2(devnull, 1);
    ::dup2(err, 2);
    std::vector<char*> argv;
    argv.push_back(const_cast<char*>(kAdmin.c_str()));
    for (const std::string& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
  Run run;
  int status = 0;
  rusage usage{};
  ::wait4(pid, &status, 0, &usage);
  run.wall_seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  run.cpu_seconds = static_cast<double>(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) +
                    static_cast<double>(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6;
  run.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  std::ifstream in(err_file);
  for (std::string line; std::getline(in, line);) {
    if (!line.empty()) run.summary = line;
  }
  return run;
}

char LuhnCheckDigit(const std::string& digits) {
  int sum = 0;
  bool twice = true;  // the check digit will be appended on the right
  for (size_t i = digits.size(); i-- > 0;) {
    int d = digits[i] - '0';
    if (twice) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
    twice = !twice;
  }
  return static_cast<char>('0' + (10 - sum % 10) % 10);
}

// `count` distinct valid lines; `offset` keeps files apart (0 for one, count for the next …).
void WriteList(const std::filesystem::path& path, uint64_t count, uint64_t offset) {
  static const char* kCategories[] = {"rented-out", "lent", "sold", "bought", "broker"};
  static const char* kBases[] = {"psb-identified", "convicted", "institution"};
  std::string out;
  out.reserve(count * 64);
  out += "type,value,category,basis,case_ref\n";
  char buf[128];
  for (uint64_t k = 0; k < count; ++k) {
    const uint64_t i = offset + k;
    const char* category = kCategories[k % 5];
    const char* basis = kBases[k % 3];
    switch (k % 5) {
      case 0:  // a mainland mobile, as typed
        std::snprintf(buf, sizeof buf, "phone,+86 139 %04llu %04llu", (i / 10000) % 10000ULL,
                      i % 10000ULL);
        break;
      case 1: {  // a 16-digit card, Luhn-valid, with spaces
        char digits[32];
        std::snprintf(digits, sizeof digits, "622202%09llu", i % 1'000'000'000ULL);
        std::string d = digits;
        d.push_back(LuhnCheckDigit(d));
        std::snprintf(buf, sizeof buf, "bank-card,%s %s %s %s", d.substr(0, 4).c_str(),
                      d.substr(4, 4).c_str(), d.substr(8, 4).c_str(), d.substr(12).c_str());
        break;
      }
      case 2:
        std::snprintf(buf, sizeof buf, "qq,%llu", 10'000'000ULL + i);
        break;
      case 3:
        std::snprintf(buf, sizeof buf, "wechat,Mule_%010llu", static_cast<unsigned long long>(i));
        break;
      default:
        std::snprintf(buf, sizeof buf, "email,Mule.%llu@Example.cn",
                      static_cast<unsigned long long>(i));
        break;
    }
    out += buf;
    out += ',';
    out += category;
    out += ',';
    out += basis;
    std::snprintf(buf, sizeof buf, ",PSB-2026-%05llu\n", (i / 100) % 100'000ULL);
    out += buf;
  }
  std::ofstream(path, std::ios::binary) << out;
}

double ThreadCpuSeconds() {
  timespec ts{};
  ::clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}

// The per-feed ceiling: encode + sign + hash one entry record, on this core.
void PrintSigningFloor() {
  crypto::SigningKey key = crypto::SigningKey::Generate();
  protocol::Record r;
  r.issuer = "BANKA";
  r.issued_at = 1'800'000'000;
  r.signer_key_id = protocol::KeyId(key.public_key());
  protocol::EntryBody e;
  e.pepper_epoch = 1;
  e.id_type = protocol::IdType::kPhone;
  e.expires_at = r.issued_at + 730 * 86400;
  e.case_ref = "PSB-2026-00042";
  constexpr int kRecords = 20'000;
  auto start = std::chrono::steady_clock::now();
  double cpu_start = ThreadCpuSeconds();
  crypto::Hash256 prev;
  for (int i = 0; i < kRecords; ++i) {
    e.subject.bytes[0] = static_cast<uint8_t>(i);
    r.seq = static_cast<uint64_t>(i) + 1;
    r.prev = prev;
    r.body = e;
    Result<protocol::SignedRecord> s = protocol::SignRecord(r, key);
    if (!s) std::abort();
    prev = protocol::RecordHash(*s);
  }
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  double cpu = ThreadCpuSeconds() - cpu_start;
  std::printf("%-52s %10.0f records/s  wall %6.2f s, cpu %6.2f s = %5.1f us/record\n",
              "floor: encode + Ed25519 sign + hash, one core", kRecords / seconds, seconds, cpu,
              cpu / kRecords * 1e6);
  // Machine-readable copy for ops/bench (key<TAB>value<TAB>unit), beside the text above.
  std::printf("figure\tsign_floor_records_per_s\t%.0f\trecords/s\n", kRecords / seconds);
}

// key: the name of the machine-readable figure line for ops/bench, or null for none.
void PrintRun(const char* what, const Run& run, uint64_t lines, const char* key = nullptr) {
  if (run.exit_code != 0) {
    std::printf("%-52s FAILED (exit %d): %s\n", what, run.exit_code, run.summary.c_str());
    return;
  }
  std::printf("%-52s %10.0f lines/s   wall %6.2f s, cpu %6.2f s = %5.1f us/line\n", what,
              static_cast<double>(lines) / run.wall_seconds, run.wall_seconds, run.cpu_seconds,
              run.cpu_seconds / static_cast<double>(lines) * 1e6);
  std::printf("    %s\n", run.summary.c_str());
  if (key != nullptr) {
    std::printf("figure\t%s\t%.0f\tlines/s\n", key, static_cast<double>(lines) / run.wall_seconds);
  }
}

int Main(int argc, char** argv) {
  uint64_t lines = kDefaultLines;
  if (const char* env = std::getenv("DUANKA_BENCH_ONBOARDING_LINES")) {
    lines = std::strtoull(env, nullptr, 10);
  }
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--lines") == 0 && i + 1 < argc) {
      lines = std::strtoull(argv[++i], nullptr, 10);
    } else {
      std::fprintf(stderr, "usage: onboarding_bench [--lines N]  (default %llu)\n",
                   static_cast<unsigned long long>(kDefaultLines));
      return 2;
    }
  }
  if (lines == 0) lines = kDefaultLines;
  crypto::EnsureInitialized();

  testing::TempDir dir;
  const std::filesystem::path err = dir / "stderr";
  auto setup = [&](const std::vector<std::string>& args) {
    Run r = Admin(args, err);
    if (r.exit_code != 0) {
      std::fprintf(stderr, "setup failed: %s\n", r.summary.c_str());
      std::exit(1);
    }
  };
  const std::string ca = (dir / "ca").string(), pepper = (dir / "pepper.key").string();
  setup({"pki", "init-ca", "--dir", ca, "--consortium", "BENCH"});
  setup({"pepper", "new", "--out", pepper});
  auto join = [&](const std::string& code) {
    std::string home = (dir / code).string();
    setup({"--home", home, "pki", "issue", "--ca-dir", ca, "--institution", code});
    setup({"init", "--home", home, "--institution", code, "--ca", ca + "/ca.pem", "--pepper",
           pepper});
    return home;
  };
  const std::string one = join("ONE"), two = join("TWO");
  const std::filesystem::path a = dir / "a.csv", b = dir / "b.csv";
  WriteList(a, lines, 0);
  WriteList(b, lines, lines);

  std::printf("duanka-admin report --batch, %llu-line files (%.1f MB each), %u hardware threads\n",
              static_cast<unsigned long long>(lines),
              static_cast<double>(std::filesystem::file_size(a)) / 1e6,
              std::thread::hardware_concurrency());
  PrintSigningFloor();
  auto batch = [&](const std::string& home, const std::filesystem::path& file, const char* t) {
    return Admin({"--home", home, "report", "--batch", file.string(), "--threads", t}, err);
  };
  std::string n = std::to_string(lines);
  std::printf("figure\treport_batch_lines\t%llu\tlines\n", static_cast<unsigned long long>(lines));
  PrintRun("empty store, --threads 1", batch(one, a, "1"), lines, "report_batch_empty_t1_per_s");
  PrintRun(("store holding " + n + " entries, --threads 1").c_str(), batch(one, b, "1"), lines);
  PrintRun("empty store, --threads 2", batch(two, a, "2"), lines, "report_batch_empty_t2_per_s");
  PrintRun(("store holding " + n + " entries, --threads 2").c_str(), batch(two, b, "2"), lines);
  PrintRun("re-run, every line already listed, --threads 2", batch(two, a, "2"), lines);
  std::printf(
      "store of %s: %.1f MB on disk\n", two.c_str(),
      static_cast<double>(std::filesystem::file_size(dir / "TWO" / "store" / "data.mdb")) / 1e6);
  return 0;
}

}  // namespace
}  // namespace duanka

int main(int argc, char** argv) {
  return duanka::Main(argc, argv);
}
