#include "node/common/explain.h"

#include <array>
#include <nlohmann/json.hpp>

#include "node/common/audit.h"
#include "node/common/human_time.h"

namespace duanka::node {
namespace {

struct Bilingual {
  std::string_view zh, en;
};

// In the order of protocol::Category / protocol::Basis, from 1.
constexpr std::array<Bilingual, 7> kCategoryWords{{
    {"出租本人的账户、银行卡或电话卡给他人使用",
     "renting out your own account, bank card or phone card for others to use"},
    {"出借本人的账户、银行卡或电话卡给他人使用",
     "lending your own account, bank card or phone card for others to use"},
    {"出售本人的账户、银行卡或电话卡", "selling your own account, bank card or phone card"},
    {"购买他人的账户、银行卡或电话卡", "buying another person's account, bank card or phone card"},
    {"为买卖、出租、出借账户、银行卡或电话卡居间介绍或提供帮助",
     "acting as a go-between in buying, selling, renting or lending accounts, bank cards or "
     "phone cards"},
    {"冒用他人身份开立账户或办理电话卡",
     "opening an account or phone card in another person's name"},
    {"账户、银行卡或电话卡被用于电信网络诈骗",
     "an account, bank card or phone card used in telecom or online fraud"},
}};

constexpr std::array<Bilingual, 3> kBasisWords{{
    {"经公安机关认定", "identified by the public security authorities (the police)"},
    {"经人民法院生效判决认定", "found by a final judgment of a people's court"},
    {"由该机构根据其自身的风险核查决定", "decided by the institution from its own risk checks"},
}};

std::string_view Pick(const Bilingual& w, Language lang) {
  return lang == Language::kZh ? w.zh : w.en;
}

std::string_view NotPublished(Language lang) {
  return lang == Language::kZh ? kNotPublishedZh : kNotPublishedEn;
}

const IssuerProfile* ProfileOf(const store::Listing& l, const IssuerProfiles& profiles) {
  auto it = profiles.find(l.id.issuer);
  return it == profiles.end() ? nullptr : &it->second;
}

std::string Who(const store::Listing& l, const IssuerProfile* p, Language lang) {
  if (p == nullptr) return l.id.issuer;
  return l.id.issuer + (lang == Language::kZh ? "（" + p->body.legal_name_zh + "）"
                                              : " (" + p->body.legal_name_en + ")");
}

std::string OrNotPublished(const IssuerProfile* p, std::string protocol::ProfileBody::*field,
                           Language lang) {
  if (p == nullptr || (p->body.*field).empty()) return std::string(NotPublished(lang));
  return p->body.*field;
}

std::string Contact(const store::Listing& l, const IssuerProfile* p, Language lang) {
  using PB = protocol::ProfileBody;
  const std::string phone = OrNotPublished(p, &PB::appeal_phone, lang);
  const std::string address = OrNotPublished(p, &PB::appeal_address, lang);
  const std::string web = OrNotPublished(p, &PB::appeal_web, lang);
  if (lang == Language::kZh) {
    if (p == nullptr) {
      return "申诉：" + l.id.issuer + " 未公布申诉联系方式（" + std::string(kNotPublishedZh) +
             "），请向办理业务的机构询问该机构的联系方式。";
    }
    return "申诉：请向 " + Who(l, p, lang) + " 提出。电话：" + phone + "；地址：" + address +
           "；网址：" + web + "。";
  }
  if (p == nullptr) {
    return "To appeal: " + l.id.issuer + " has not published an appeal contact (" +
           std::string(kNotPublishedEn) + "); ask the institution serving you how to reach it.";
  }
  return "To appeal, contact " + Who(l, p, lang) + ". Phone: " + phone + "; address: " + address +
         "; web: " + web + ".";
}

size_t ActiveCount(const LookupAnswer& answer) {
  size_t n = 0;
  for (const store::Listing& l : answer.listings) {
    if (l.state == store::EntryState::kActive) ++n;
  }
  return n;
}

nlohmann::json Plain(std::string_view code, std::string_view zh, std::string_view en) {
  return {{"code", code}, {"zh", zh}, {"en", en}};
}

nlohmann::json TextOrNull(const IssuerProfile* p, const std::string protocol::ProfileBody::*f) {
  if (p == nullptr || (p->body.*f).empty()) return nullptr;
  return p->body.*f;
}

}  // namespace

std::string_view CategoryPlain(protocol::Category c, Language lang) {
  const auto i = static_cast<size_t>(c);
  if (i == 0 || i > kCategoryWords.size()) return lang == Language::kZh ? "未知" : "unknown";
  return Pick(kCategoryWords[i - 1], lang);
}

std::string_view BasisPlain(protocol::Basis b, Language lang) {
  const auto i = static_cast<size_t>(b);
  if (i == 0 || i > kBasisWords.size()) return lang == Language::kZh ? "未知" : "unknown";
  return Pick(kBasisWords[i - 1], lang);
}

std::string NoticeText(const store::Listing& l, const IssuerProfiles& profiles, Language lang) {
  const IssuerProfile* p = ProfileOf(l, profiles);
  const std::string since = HumanDate(l.issued_at), until = HumanDate(l.expires_at);
  if (lang == Language::kZh) {
    return Who(l, p, lang) + " 将您列入名单（记录 " + l.id.ToString() + "）。原因：" +
           std::string(CategoryPlain(l.category, lang)) + "。依据：" +
           std::string(BasisPlain(l.basis, lang)) + "。期限：自 " + since + " 起至 " + until +
           " 止（中国标准时间）。" + Contact(l, p, lang);
  }
  return "Listed by " + Who(l, p, lang) + " (record " + l.id.ToString() +
         "). For: " + std::string(CategoryPlain(l.category, lang)) +
         ". Basis: " + std::string(BasisPlain(l.basis, lang)) + ". From " + since + " until " +
         until + " (China Standard Time). " + Contact(l, p, lang);
}

std::string ExplainText(const LookupAnswer& answer, int64_t now, Language lang) {
  const size_t active = ActiveCount(answer);
  std::string out;
  if (active == 0) {
    out = lang == Language::kZh
              ? "截至 " + HumanDate(now) +
                    "（中国标准时间），本节点的断卡名单中没有关于您所询问信息的有效记录。\n"
              : "As of " + HumanDate(now) +
                    " (China Standard Time), this node's list holds no active entry about what "
                    "you asked.\n";
    return out;
  }
  out = lang == Language::kZh
            ? "您所询问的信息在断卡名单中有 " + std::to_string(active) +
                  " 条有效记录。您有权向列入您的机构提出申诉；申诉成立的，记录将被撤销，"
                  "各节点随之不再显示。\n"
            : "What you asked about has " + std::to_string(active) + " active entr" +
                  (active == 1 ? "y" : "ies") +
                  " in the list. You may appeal to the institution that listed you; if the "
                  "appeal is upheld, the entry is withdrawn and no node answers it any more.\n";
  for (const store::Listing& l : answer.listings) {
    if (l.state != store::EntryState::kActive) continue;
    out += "- " + NoticeText(l, answer.profiles, lang) + "\n";
  }
  return out;
}

std::string ExplainJson(const LookupAnswer& answer, int64_t now) {
  nlohmann::json notices = nlohmann::json::array();
  for (const store::Listing& l : answer.listings) {
    if (l.state != store::EntryState::kActive) continue;
    const IssuerProfile* p = ProfileOf(l, answer.profiles);
    using PB = protocol::ProfileBody;
    notices.push_back({
        {"entry", l.id.ToString()},
        {"issuer", l.id.issuer},
        {"issuer_name", p == nullptr ? nlohmann::json(nullptr)
                                     : nlohmann::json{{"zh", p->body.legal_name_zh},
                                                      {"en", p->body.legal_name_en}}},
        {"category",
         Plain(protocol::CategoryName(l.category), CategoryPlain(l.category, Language::kZh),
               CategoryPlain(l.category, Language::kEn))},
        {"basis", Plain(protocol::BasisName(l.basis), BasisPlain(l.basis, Language::kZh),
                        BasisPlain(l.basis, Language::kEn))},
        {"since", IsoTime(l.issued_at)},
        {"until", IsoTime(l.expires_at)},
        {"appeal",
         {{"published", p != nullptr},
          {"phone", TextOrNull(p, &PB::appeal_phone)},
          {"address", TextOrNull(p, &PB::appeal_address)},
          {"web", TextOrNull(p, &PB::appeal_web)}}},
        {"text_zh", NoticeText(l, answer.profiles, Language::kZh)},
        {"text_en", NoticeText(l, answer.profiles, Language::kEn)},
    });
  }
  nlohmann::json j = {
      {"listed", answer.listed()},
      {"type", protocol::IdTypeName(answer.type)},
      {"notices", std::move(notices)},
      {"text_zh", ExplainText(answer, now, Language::kZh)},
      {"text_en", ExplainText(answer, now, Language::kEn)},
  };
  return j.dump();
}

}  // namespace duanka::node
