#include "node/common/audit_verify.h"

#include <nlohmann/json.hpp>

#include "node/common/audit.h"

namespace duanka::node {

namespace {

constexpr std::string_view kNotAuditLogExpected =
    "not an audit log: expected JSON lines ending in ,\"seq\":N,\"prev\":\"<64 hex>\"} (a duanka "
    "audit.log or one of its rotated files)";

bool IsJsonObject(std::string_view line) {
  return line.size() >= 2 && line.front() == '{' && line.back() == '}' &&
         nlohmann::json::accept(line);
}

// Whether the file holds anything an audit log holds: a chained line, or a JSON object line from
// before the chain. An empty file is a log with no lines yet.
bool LooksLikeAuditLog(std::string_view text) {
  if (text.empty()) return true;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t nl = text.find('\n', pos);
    const size_t end = nl == std::string_view::npos ? text.size() : nl;
    const std::string_view line = text.substr(pos, end - pos);
    if (ParseAuditChainFields(line) || IsJsonObject(line)) return true;
    pos = end + 1;
  }
  return false;
}

std::string Loc(const std::string& name, uint64_t line) {
  return name + ":" + std::to_string(line);
}

}  // namespace

AuditVerifyReport VerifyAuditChain(std::span<const AuditFileText> files,
                                   const AuditVerifyOptions& options) {
  AuditVerifyReport r;
  auto tamper = [&r](const std::string& loc, const std::string& what) {
    r.verdict = AuditVerdict::kTampered;
    r.problem = loc + ": " + what;
    return r;
  };
  for (const AuditFileText& f : files) {
    if (f.name.ends_with(".gz")) {
      r.verdict = AuditVerdict::kNotAuditLog;
      r.problem = f.name + ": compressed; decompress it first (zcat " + f.name +
                  " > FILE) and verify FILE in its place";
      return r;
    }
    if (!LooksLikeAuditLog(f.text)) {
      r.verdict = AuditVerdict::kNotAuditLog;
      r.problem = f.name + ": " + std::string(kNotAuditLogExpected);
      return r;
    }
  }

  const crypto::Hash256 genesis = AuditGenesis(options.institution);
  bool started = false;
  uint64_t prev_seq = 0;
  crypto::Hash256 prev_hash;
  std::string prev_loc;
  // Bytes that are not a whole audit line: a torn write, unless nothing records it so.
  std::string junk;
  std::string junk_loc;
  uint64_t last_checkpoint_seq = 0;
  std::string last_checkpoint_loc;
  bool first_is_anchor = false;
  bool last_is_checkpoint = false;
  uint64_t legacy = 0;

  for (const AuditFileText& f : files) {
    const std::string_view text = f.text;
    size_t pos = 0;
    uint64_t line_no = f.first_line_number - 1;
    while (pos < text.size()) {
      const size_t nl = text.find('\n', pos);
      const bool whole = nl != std::string_view::npos;
      const size_t end = whole ? nl : text.size();
      const std::string_view line = text.substr(pos, end - pos);
      const std::string_view raw = text.substr(pos, (whole ? end + 1 : end) - pos);
      pos = whole ? end + 1 : end;
      const std::string loc = Loc(f.name, ++line_no);

      std::optional<AuditChainFields> chain = whole ? ParseAuditChainFields(line) : std::nullopt;
      if (!chain) {
        if (!started && junk.empty() && whole && IsJsonObject(line)) {
          ++legacy;  // written before the log was a chain
          continue;
        }
        if (junk.empty()) junk_loc = loc;
        junk.append(raw);
        continue;
      }
      const nlohmann::json j = nlohmann::json::parse(line, nullptr, false);
      if (!j.is_object()) {
        return tamper(loc, "not a JSON object, though it ends in chain fields: changed");
      }
      const std::string action = j.value("action", "");
      if (!junk.empty()) {
        if (action != kAuditTornAction) {
          return tamper(junk_loc,
                        "not a whole audit line, and no audit-torn line records it as torn: "
                        "changed, or written by something else");
        }
        std::string skipped = junk;
        const uint64_t bytes = j.value("skipped_bytes", uint64_t{0});
        if (skipped.size() == bytes + 1 && skipped.back() == '\n') skipped.pop_back();
        if (skipped.size() != bytes ||
            AuditLineHash(skipped).Hex() != j.value("skipped_sha256", "")) {
          return tamper(junk_loc, "these bytes are not the ones the audit-torn line at " + loc +
                                      " records as skipped: changed");
        }
        r.notes.push_back(junk_loc + ": " + std::to_string(bytes) +
                          " bytes of a torn line (a write cut short), skipped as " + loc +
                          " records");
        junk.clear();
      } else if (action == kAuditTornAction) {
        return tamper(loc, "records torn bytes that are not there: they were removed");
      }

      if (!started) {
        started = true;
        r.first_seq = chain->seq;
        first_is_anchor = chain->seq == 1 || action == kAuditCheckpointAction;
        if (chain->seq == 1) {
          if (chain->prev != genesis) {
            return tamper(loc, "the chain's first line does not start from " + options.institution +
                                   "'s genesis value: another institution's log, or changed");
          }
        } else if (!options.excerpt) {
          r.notes.push_back(loc + ": the chain starts at its line " + std::to_string(chain->seq) +
                            "; the lines before are in files not given (removed by rotation?)");
        }
      } else if (chain->seq != prev_seq + 1) {
        if (chain->seq <= prev_seq) {
          return tamper(loc, "line " + std::to_string(chain->seq) +
                                 " of the chain comes after line " + std::to_string(prev_seq) +
                                 " (" + prev_loc +
                                 "): lines reordered, repeated, or a file out of order");
        }
        return tamper(loc, "the chain jumps from its line " + std::to_string(prev_seq) + " (" +
                               prev_loc + ") to " + std::to_string(chain->seq) + ": " +
                               std::to_string(chain->seq - prev_seq - 1) +
                               " line(s) removed or moved, or a file missing or out of order");
      } else if (chain->prev != prev_hash) {
        return tamper(prev_loc,
                      "changed: its hash is not the prev recorded by the next line (" + loc + ")");
      }

      last_is_checkpoint = action == kAuditCheckpointAction;
      if (action == kAuditCheckpointAction) {
        std::optional<AuditCheckpointSignature> sig = SplitAuditCheckpoint(line);
        if (!sig) return tamper(loc, "a checkpoint without a well-formed sig field");
        if (j.value("institution", "") != options.institution) {
          return tamper(loc, "a checkpoint of " + j.value("institution", std::string("?")) +
                                 ", not of " + options.institution);
        }
        if (j.value("lines", uint64_t{0}) != chain->seq - 1) {
          return tamper(loc, "a checkpoint whose line count is not its place in the chain");
        }
        const std::string key_id = j.value("key", "");
        std::optional<crypto::PublicKey> key = options.key ? options.key(key_id) : std::nullopt;
        if (!key) {
          return tamper(loc, "a checkpoint signed by key " + key_id.substr(0, 16) +
                                 "…, which is not a signing key certified for " +
                                 options.institution);
        }
        if (!crypto::VerifySignature(*key, crypto::AsBytes(sig->message),
                                     crypto::AsBytes(sig->signature))) {
          return tamper(loc,
                        "the checkpoint's signature does not verify: it, or the lines before it, "
                        "were changed and re-chained");
        }
        ++r.checkpoints;
        last_checkpoint_seq = chain->seq;
        last_checkpoint_loc = loc;
      } else if (action == kAuditShrunkAction) {
        return tamper(loc, "a writer found the log shorter (" +
                               std::to_string(j.value("found_bytes", uint64_t{0})) +
                               " bytes) than it had left it (" +
                               std::to_string(j.value("expected_bytes", uint64_t{0})) +
                               "): lines before this one were removed");
      }
      ++r.lines;
      prev_seq = chain->seq;
      prev_hash = AuditLineHash(line);
      prev_loc = loc;
      r.last_seq = chain->seq;
    }
  }

  if (!junk.empty()) {
    if (options.excerpt) {
      return tamper(junk_loc, "not a whole audit line, and no audit-torn line records it");
    }
    r.notes.push_back(junk_loc + ": a torn last line (" + std::to_string(junk.size()) +
                      " bytes, a write cut short): the chain is checked up to the line before; "
                      "the next writer records the torn bytes and goes on");
  }
  if (options.excerpt) {
    if (!started) return tamper(files.empty() ? "export" : files.front().name, "no lines");
    if (!first_is_anchor) {
      return tamper(Loc(files.front().name, files.front().first_line_number + legacy),
                    "the excerpt does not start at a checkpoint or at the chain's first line");
    }
    if (!last_is_checkpoint) {
      return tamper(prev_loc, "the excerpt does not end at a checkpoint");
    }
  }
  if (legacy > 0) {
    r.notes.push_back(std::to_string(legacy) +
                      " line(s) from before the log was chained: not protected");
  }
  if (started && last_checkpoint_seq < r.last_seq) {
    r.notes.push_back(std::to_string(r.last_seq - last_checkpoint_seq) + " line(s) after " +
                      (last_checkpoint_loc.empty()
                           ? std::string("the start (no checkpoint yet)")
                           : "the last checkpoint (" + last_checkpoint_loc + ")") +
                      " are chained but not yet signed");
  }
  return r;
}

}  // namespace duanka::node
