#include "node/admin/batch_report_output.h"

#include <cstdio>
#include <string_view>

namespace duanka::admin::batch {
namespace {

void AppendJsonString(std::string& out, std::string_view s) {
  out.push_back('"');
  for (char c : s) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", c);
          out += buf;
        } else {
          out.push_back(c);
        }
    }
  }
  out.push_back('"');
}

}  // namespace

void AppendResult(std::string& out, const LineResult& r, bool json) {
  if (json) {
    out += "{\"line\":";
    out += std::to_string(r.line);
    out += ",\"result\":\"";
    out += OutcomeName(r.outcome);
    out += '"';
    if (r.outcome == Outcome::kInvalid) {
      out += ",\"reason\":";
      AppendJsonString(out, r.reason);
    } else {
      out += ",\"entry\":\"";
      out += r.entry.ToString();
      out += '"';
    }
    out += "}\n";
  } else {
    out += std::to_string(r.line);
    out += ',';
    out += OutcomeName(r.outcome);
    out += ',';
    out += r.outcome == Outcome::kInvalid ? r.reason : r.entry.ToString();
    out += '\n';
  }
}

std::string Grouped(uint64_t n) {
  std::string digits = std::to_string(n), out;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out.push_back(',');
    out.push_back(digits[i]);
  }
  return out;
}

std::string ProgressText(const Counts& c, double seconds) {
  std::string text = Grouped(c.lines) + " lines: " + Grouped(c.published) + " published, " +
                     Grouped(c.already_listed) + " already listed, " + Grouped(c.invalid) +
                     " invalid";
  if (seconds > 0) {
    text += ", " + Grouped(static_cast<uint64_t>(static_cast<double>(c.published) / seconds)) +
            " entries/s";
  }
  return text;
}

}  // namespace duanka::admin::batch
