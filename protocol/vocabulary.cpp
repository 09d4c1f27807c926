// The names of categories, legal bases and revocation reasons, as users type them.
#include <array>
#include <utility>

#include "protocol/record.h"

namespace duanka::protocol {
namespace {

template <typename E, size_t N>
using NameTable = std::array<std::pair<E, std::string_view>, N>;

constexpr NameTable<Category, 7> kCategories{{
    {Category::kRentedOut, "rented-out"},
    {Category::kLent, "lent"},
    {Category::kSold, "sold"},
    {Category::kBought, "bought"},
    {Category::kBroker, "broker"},
    {Category::kImpersonation, "impersonation"},
    {Category::kFraudUse, "fraud-use"},
}};

constexpr NameTable<Basis, 3> kBases{{
    {Basis::kPsbIdentified, "psb-identified"},
    {Basis::kConvicted, "convicted"},
    {Basis::kInstitution, "institution"},
}};

constexpr NameTable<RevocationReason, 6> kReasons{{
    {RevocationReason::kAppealUpheld, "appeal-upheld"},
    {RevocationReason::kIssuedInError, "issued-in-error"},
    {RevocationReason::kCourtOrder, "court-order"},
    {RevocationReason::kSanctionLifted, "sanction-lifted"},
    {RevocationReason::kRehashed, "rehashed"},
    {RevocationReason::kSuperseded, "superseded"},
}};

constexpr NameTable<InstitutionKind, 3> kKinds{{
    {InstitutionKind::kBank, "bank"},
    {InstitutionKind::kPaymentInstitution, "payment-institution"},
    {InstitutionKind::kRegulator, "regulator"},
}};

template <typename E, size_t N>
std::string_view NameOf(const NameTable<E, N>& table, E value) {
  for (const auto& [v, name] : table) {
    if (v == value) return name;
  }
  return "unknown";
}

template <typename E, size_t N>
std::optional<E> Lookup(const NameTable<E, N>& table, std::string_view name) {
  for (const auto& [v, n] : table) {
    if (n == name) return v;
  }
  return std::nullopt;
}

template <typename E, size_t N>
std::string JoinNames(const NameTable<E, N>& table) {
  std::string out;
  for (const auto& [v, name] : table) {
    if (!out.empty()) out += ", ";
    out += name;
  }
  return out;
}

}  // namespace

std::string_view CategoryName(Category c) {
  return NameOf(kCategories, c);
}
std::string_view BasisName(Basis b) {
  return NameOf(kBases, b);
}
std::string_view RevocationReasonName(RevocationReason r) {
  return NameOf(kReasons, r);
}
std::optional<Category> ParseCategory(std::string_view name) {
  return Lookup(kCategories, name);
}
std::optional<Basis> ParseBasis(std::string_view name) {
  return Lookup(kBases, name);
}
std::optional<RevocationReason> ParseRevocationReason(std::string_view name) {
  return Lookup(kReasons, name);
}
std::string AllCategoryNames() {
  return JoinNames(kCategories);
}
std::string AllBasisNames() {
  return JoinNames(kBases);
}
std::string AllRevocationReasonNames() {
  return JoinNames(kReasons);
}
std::string_view InstitutionKindName(InstitutionKind k) {
  return NameOf(kKinds, k);
}
std::optional<InstitutionKind> ParseInstitutionKind(std::string_view name) {
  return Lookup(kKinds, name);
}
std::string AllInstitutionKindNames() {
  return JoinNames(kKinds);
}

}  // namespace duanka::protocol
