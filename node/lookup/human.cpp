#include "node/lookup/human.h"

#include <algorithm>
#include <cstdio>

#include "node/common/human_time.h"
#include "node/lookup/text.h"

namespace duanka::lookup {
namespace {

// Column widths of the entries table; wider values push the line, they are never cut.
constexpr int kEntryWidth = 14;
constexpr int kStateWidth = 8;
constexpr int kCategoryWidth = 14;
constexpr int kBasisWidth = 15;
constexpr int kIssuerWidth = 16;

void Append(std::string& out, const char* format, auto... args) {
  char buf[512];
  int n = std::snprintf(buf, sizeof buf, format, args...);
  if (n <= 0) return;
  if (static_cast<size_t>(n) < sizeof buf) {
    out.append(buf, static_cast<size_t>(n));
    return;
  }
  std::string big(static_cast<size_t>(n) + 1, '\0');
  std::snprintf(big.data(), big.size(), format, args...);
  big.pop_back();
  out += big;
}

// Case references come from other institutions' records: control characters (terminal escape
// sequences) are shown as '?', never sent to the terminal.
std::string Printable(const std::string& s) {
  std::string out = s;
  for (char& c : out) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7F) c = '?';
  }
  return out;
}

std::string Str(std::string_view v) {
  return std::string(v);
}

void EntryHeader(std::string& out) {
  Append(out, "  %-*s %-*s %-*s %-*s %-10s  %-10s  %s\n", kEntryWidth, "ENTRY", kStateWidth,
         "STATE", kCategoryWidth, "CATEGORY", kBasisWidth, "BASIS", "ISSUED", "EXPIRES", "CASE");
}

void EntryLine(std::string& out, const store::Listing& l) {
  Append(out, "  %-*s %-*s %-*s %-*s %-10s  %-10s  %s\n", kEntryWidth, l.id.ToString().c_str(),
         kStateWidth, store::EntryStateName(l.state), kCategoryWidth,
         Str(protocol::CategoryName(l.category)).c_str(), kBasisWidth,
         Str(protocol::BasisName(l.basis)).c_str(), CstDate(l.issued_at).c_str(),
         CstDate(l.expires_at).c_str(), l.case_ref.empty() ? "-" : Printable(l.case_ref).c_str());
  if (l.revocation) {
    Append(out, "  %-*s revoked by %s on %s: %s\n", kEntryWidth, "",
           l.revocation->by.ToString().c_str(), CstDate(l.revocation->revoked_at).c_str(),
           Str(protocol::RevocationReasonName(l.revocation->reason)).c_str());
  }
}

}  // namespace

std::string HumanFreshness(const std::vector<store::Head>& heads, int64_t now) {
  std::string out;
  if (heads.empty()) {
    out += "Store freshness: the store holds no feed yet, so \"not listed\" means nothing yet.\n";
    return out;
  }
  Append(out, "Store freshness (when each feed last grew):\n");
  for (const store::Head& h : heads) {
    Append(out, "  %-*s seq %-10llu %s  (%s)%s\n", kIssuerWidth, h.issuer.c_str(),
           static_cast<unsigned long long>(h.seq), CstMinute(h.last_grew_at).c_str(),
           Ago(now - h.last_grew_at).c_str(), h.frozen ? "  FROZEN after a fork" : "");
  }
  return out;
}

std::string HumanAnswer(const node::LookupAnswer& answer, bool all,
                        const std::vector<store::Head>& heads, int64_t now) {
  size_t active = 0, held = 0;
  for (const store::Listing& l : answer.listings) {
    if (l.state == store::EntryState::kActive) ++active;
    if (l.state == store::EntryState::kHeld) ++held;
  }
  const size_t hidden = answer.listings.size() - active - held;
  const std::string type(protocol::IdTypeName(answer.type));
  std::string out;
  if (active > 0) {
    Append(out, "LISTED: this %s has %zu active entr%s\n", type.c_str(), active,
           active == 1 ? "y" : "ies");
  } else if (held > 0) {
    Append(out,
           "HELD: this %s has %zu entr%s held by the flood guard (its issuer passed its daily "
           "limit); not listed until released\n",
           type.c_str(), held, held == 1 ? "y" : "ies");
  } else {
    Append(out, "NOT LISTED: no active entry for this %s\n", type.c_str());
  }
  const size_t shown = all ? answer.listings.size() : active + held;
  if (shown > 0) {
    EntryHeader(out);
    for (const store::Listing& l : answer.listings) {
      if (all || store::Stands(l.state)) EntryLine(out, l);
    }
  }
  if (shown > 0) {
    // Who the issuers are, by their profiles (an issuer without one is shown by its code).
    std::vector<std::string> issuers;
    for (const store::Listing& l : answer.listings) {
      if ((all || store::Stands(l.state)) &&
          std::find(issuers.begin(), issuers.end(), l.id.issuer) == issuers.end()) {
        issuers.push_back(l.id.issuer);
      }
    }
    for (const std::string& issuer : issuers) {
      Append(out, "  Issuer %s\n", node::IssuerLabel(issuer, answer.profiles).c_str());
    }
  }
  if (!all && hidden > 0) {
    Append(out, "  (%zu revoked or expired entr%s not shown; --all shows %s)\n", hidden,
           hidden == 1 ? "y" : "ies", hidden == 1 ? "it" : "them");
  }
  // Entries made under the type this one succeeded (a passport number listed without its
  // issuing state) match every state's passport of that number: the reader must know.
  for (const store::Listing& l : answer.listings) {
    if (l.id_type == answer.type || !(all || l.state == store::EntryState::kActive)) continue;
    Append(out,
           "  %s was listed as %s, without an issuing state: it may be another state's "
           "passport with the same number\n",
           l.id.ToString().c_str(), Str(protocol::IdTypeName(l.id_type)).c_str());
  }
  Append(out, "%s\n", std::string(node::kHumanTimeZoneNote).c_str());
  out += HumanFreshness(heads, now);
  Append(out, "Subject %s…\n", answer.subject.Hex().substr(0, 16).c_str());
  return out;
}

std::string HumanListing(const store::Listing& l, int64_t now,
                         const node::IssuerProfiles& profiles) {
  std::string out;
  Append(out, "Entry       %s\n", l.id.ToString().c_str());
  Append(out, "State       %s%s\n", store::EntryStateName(l.state),
         l.state == store::EntryState::kActive ? " (listed)"
         : l.state == store::EntryState::kHeld
             ? " (not listed: its issuer passed its daily limit of new entries; held until its "
               "day is released)"
             : " (not listed)");
  Append(out, "Issuer      %s\n", node::IssuerLabel(l.id.issuer, profiles).c_str());
  Append(out, "Type        %s\n", Str(protocol::IdTypeName(l.id_type)).c_str());
  Append(out, "Category    %s\n", Str(protocol::CategoryName(l.category)).c_str());
  Append(out, "Basis       %s\n", Str(protocol::BasisName(l.basis)).c_str());
  Append(out, "Issued      %s  (%s)\n", CstMinute(l.issued_at).c_str(),
         Ago(now - l.issued_at).c_str());
  Append(out, "Expires     %s\n", CstMinute(l.expires_at).c_str());
  Append(out, "Case        %s\n", l.case_ref.empty() ? "-" : Printable(l.case_ref).c_str());
  if (l.pepper_epoch != 0) Append(out, "Epoch       %u\n", l.pepper_epoch);
  Append(out, "Subject     %s\n", l.subject.Hex().c_str());
  if (l.revocation) {
    Append(out, "Revoked     by %s on %s: %s\n", l.revocation->by.ToString().c_str(),
           CstMinute(l.revocation->revoked_at).c_str(),
           Str(protocol::RevocationReasonName(l.revocation->reason)).c_str());
  }
  if (l.suspended_since) {
    Append(out,
           "Suspended   signed by %s's key withdrawn since %s (stolen key): not answered as "
           "listed until %s re-affirms it with its new key\n",
           l.id.issuer.c_str(), CstMinute(*l.suspended_since).c_str(), l.id.issuer.c_str());
  }
  return out;
}

}  // namespace duanka::lookup
