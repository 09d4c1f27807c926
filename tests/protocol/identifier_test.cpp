// The canonical forms are part of the wire protocol: each case here is a promise to every other
// institution (protocol/identifiers.md). A case that changes its expected output is a protocol
// change, not a test fix.
#include "protocol/identifier.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "crypto/crypto.h"

namespace duanka::protocol {
namespace {

using namespace std::string_view_literals;

constexpr std::optional<std::string_view> kRefused = std::nullopt;

struct Case {
  const char* name;  // what the case feeds; becomes the test name
  IdType type;
  std::string_view raw;
  std::optional<std::string_view> canonical;  // kRefused: must be refused
};

std::ostream& operator<<(std::ostream& os, const Case& c) {
  return os << c.name;
}

const Case kCases[] = {
    // ---- cn-id ----
    {"CnIdValidWithUppercaseXKept", IdType::kCnId, "11010519491231002X", "11010519491231002X"},
    {"CnIdLowercaseXUppercased", IdType::kCnId, "11010519491231002x", "11010519491231002X"},
    {"CnIdAllDigitsKept", IdType::kCnId, "510108198506150018", "510108198506150018"},
    {"CnIdCheckDigitZeroKept", IdType::kCnId, "110101197001010040", "110101197001010040"},
    {"CnIdLeapDayIn2000Accepted", IdType::kCnId, "110101200002290018", "110101200002290018"},
    {"CnIdLeapDayIn1988Accepted", IdType::kCnId, "440106198802291236", "440106198802291236"},
    {"CnIdYear1900Accepted", IdType::kCnId, "650102190001010016", "650102190001010016"},
    {"CnIdYear2100Accepted", IdType::kCnId, "110101210012310018", "110101210012310018"},
    {"CnIdSurroundingSpacesTrimmed", IdType::kCnId, "  11010519491231002X  ", "11010519491231002X"},
    {"CnIdSurroundingTabsAndCrLfTrimmed", IdType::kCnId, "\t11010519491231002X\r\n",
     "11010519491231002X"},
    {"CnIdIdeographicSpacesTrimmed", IdType::kCnId, "\u300011010519491231002X\u3000",
     "11010519491231002X"},
    {"CnIdFullWidthDigitsMapped", IdType::kCnId,
     "\uff11\uff11\uff10\uff11\uff10\uff15\uff11\uff19\uff14\uff19\uff11\uff12\uff13\uff11\uff10"
     "\uff10\uff12\uff38",
     "11010519491231002X"},
    {"CnIdFullWidthLowercaseXMapped", IdType::kCnId, "11010519491231002\uff58",
     "11010519491231002X"},
    {"CnIdFirstGeneration15DigitsConverted", IdType::kCnId, "110105491231002",
     "11010519491231002X"},
    {"CnIdFirstGeneration15DigitsConvertedWithDigitCheck", IdType::kCnId, "510108850615001",
     "510108198506150018"},
    {"CnIdFirstGenerationFullWidthConverted", IdType::kCnId,
     "\uff11\uff11\uff10\uff11\uff10\uff15\uff14\uff19\uff11\uff12\uff13\uff11\uff10\uff10\uff12",
     "11010519491231002X"},
    {"CnIdFirstGenerationYear00Is1900", IdType::kCnId, "650102000101001", "650102190001010016"},
    {"CnIdWrongCheckCharacterRefused", IdType::kCnId, "110105194912310021", kRefused},
    {"CnIdCheckXWhereDigitDueRefused", IdType::kCnId, "51010819850615001X", kRefused},
    {"CnIdTransposedDigitsRefused", IdType::kCnId, "11010519491213002X", kRefused},
    {"CnIdFeb29InNonLeap1900Refused", IdType::kCnId, "110101190002290011", kRefused},
    {"CnIdYear1899Refused", IdType::kCnId, "11010118991231001X", kRefused},
    {"CnIdYear2101Refused", IdType::kCnId, "110101210101010017", kRefused},
    {"CnIdMonth13Refused", IdType::kCnId, "110101199013010012", kRefused},
    {"CnIdDay00Refused", IdType::kCnId, "11010119900100001X", kRefused},
    {"CnIdApril31Refused", IdType::kCnId, "110101199004310013", kRefused},
    {"CnIdFirstGenerationFeb29In1900Refused", IdType::kCnId, "110101000229001", kRefused},
    {"CnIdFirstGenerationMonth13Refused", IdType::kCnId, "110101901301001", kRefused},
    {"CnIdFirstGenerationWithXRefused", IdType::kCnId, "11010549123100X", kRefused},
    {"CnId17CharactersRefused", IdType::kCnId, "11010519491231002", kRefused},
    {"CnId19CharactersRefused", IdType::kCnId, "11010519491231002X0", kRefused},
    {"CnId16DigitsRefused", IdType::kCnId, "1101051949123100", kRefused},
    {"CnIdLetterAmongDigitsRefused", IdType::kCnId, "1101051949123A002X", kRefused},
    {"CnIdCheckLetterOtherThanXRefused", IdType::kCnId, "11010519491231002Y", kRefused},
    {"CnIdInnerSpaceRefused", IdType::kCnId, "110105 19491231002X", kRefused},
    {"CnIdInnerDashRefused", IdType::kCnId, "110105-19491231-002X", kRefused},
    {"CnIdEmptyRefused", IdType::kCnId, "", kRefused},
    {"CnIdOnlySpacesRefused", IdType::kCnId, "   ", kRefused},
    {"CnIdNulByteInsideRefused", IdType::kCnId,
     "110105194912\0"
     "31002X"sv,
     kRefused},
    {"CnIdNulByteAtEndRefused", IdType::kCnId, "11010519491231002X\0"sv, kRefused},
    {"CnIdInnerTabRefused", IdType::kCnId, "110105\t19491231002X", kRefused},
    {"CnIdDelCharacterRefused", IdType::kCnId, "11010519491231002X\x7f", kRefused},
    {"CnIdC1ControlRefused", IdType::kCnId, "11010519491231002X\u0085", kRefused},
    {"CnIdChineseCharacterRefused", IdType::kCnId, "11010519491231002X\u53f7", kRefused},
    {"CnIdInvalidUtf8Refused", IdType::kCnId, "11010519491231002\xff", kRefused},
    {"CnIdNoBreakSpaceRefused", IdType::kCnId, "\u00a011010519491231002X", kRefused},

    // ---- phone ----
    {"PhoneBareMobileGetsPlus86", IdType::kPhone, "13800138000", "+8613800138000"},
    {"PhonePlus86WithSpaces", IdType::kPhone, "+86 138 0013 8000", "+8613800138000"},
    {"PhonePlus86WithDashes", IdType::kPhone, "+86-138-0013-8000", "+8613800138000"},
    {"PhonePlus86Compact", IdType::kPhone, "+8613800138000", "+8613800138000"},
    {"Phone0086Prefix", IdType::kPhone, "008613800138000", "+8613800138000"},
    {"Phone0086PrefixWithSpaces", IdType::kPhone, "0086 138 0013 8000", "+8613800138000"},
    {"Phone86PrefixWithoutPlus", IdType::kPhone, "8613800138000", "+8613800138000"},
    {"Phone86PrefixWithSpace", IdType::kPhone, "86 13800138000", "+8613800138000"},
    {"PhoneParenthesisedPlus86", IdType::kPhone, "(+86) 138 0013 8000", "+8613800138000"},
    {"PhoneParenthesised86", IdType::kPhone, "(86)13800138000", "+8613800138000"},
    {"PhoneParenthesised0086", IdType::kPhone, "(0086) 13800138000", "+8613800138000"},
    {"PhoneDashGroups344", IdType::kPhone, "138-0013-8000", "+8613800138000"},
    {"PhoneFullWidthDigits", IdType::kPhone,
     "\uff11\uff13\uff18\uff10\uff10\uff11\uff13\uff18\uff10\uff10\uff10", "+8613800138000"},
    {"PhoneFullWidthPlusAndDigits", IdType::kPhone,
     "\uff0b\uff18\uff16\uff11\uff13\uff18\uff10\uff10\uff11\uff13\uff18\uff10\uff10\uff10",
     "+8613800138000"},
    {"PhoneFullWidthParentheses", IdType::kPhone, "\uff08+86\uff0913800138000", "+8613800138000"},
    {"PhoneIdeographicSpacesInside", IdType::kPhone, "138\u30000013\u30008000", "+8613800138000"},
    {"PhoneTrailingNewlineTrimmed", IdType::kPhone, "13800138000\n", "+8613800138000"},
    {"PhonePrefix19Mobile", IdType::kPhone, "19912345678", "+8619912345678"},
    {"PhonePrefix16Mobile", IdType::kPhone, "16612345678", "+8616612345678"},
    {"PhoneUkE164WithSpaces", IdType::kPhone, "+44 20 7946 0958", "+442079460958"},
    {"PhoneUsE164WithDashes", IdType::kPhone, "+1 212-555-0100", "+12125550100"},
    {"PhoneHongKongParenthesisedCode", IdType::kPhone, "(+852) 9123 4567", "+85291234567"},
    {"PhoneHongKongCompact", IdType::kPhone, "+85291234567", "+85291234567"},
    {"PhoneUsSixDigitNationalNumberRefused", IdType::kPhone, "+1234567", kRefused},
    {"PhoneE164FifteenDigitsAccepted", IdType::kPhone, "+49 30 12345678901", "+493012345678901"},
    {"PhoneE164EightDigitsMinimumAccepted", IdType::kPhone, "+50012345", "+50012345"},
    {"PhoneSecondDigit2Refused", IdType::kPhone, "12800138000", kRefused},
    {"PhoneSecondDigit0Refused", IdType::kPhone, "10086000000", kRefused},
    {"Phone10DigitMobileRefused", IdType::kPhone, "1380013800", kRefused},
    {"Phone12DigitMobileRefused", IdType::kPhone, "138001380000", kRefused},
    {"PhonePlus86LandlineRefused", IdType::kPhone, "+86 10 1234 5678", kRefused},
    {"PhonePlus86LandlineWithTrunkZeroRefused", IdType::kPhone, "+86 010 1234 5678", kRefused},
    {"PhoneNationalLandlineRefused", IdType::kPhone, "010-12345678", kRefused},
    {"PhoneTrunkZeroBeforeMobileDropped", IdType::kPhone, "013800138000", "+8613800138000"},
    {"PhonePlus86TrunkZeroBeforeMobileDropped", IdType::kPhone, "+86 0138 0013 8000",
     "+8613800138000"},
    {"Phone0086TrunkZeroBeforeMobileDropped", IdType::kPhone, "0086 0138 0013 8000",
     "+8613800138000"},
    {"PhoneTwoTrunkZerosRefused", IdType::kPhone, "0013800138000", kRefused},
    {"Phone86ThenTwoZerosRefused", IdType::kPhone, "86 00 138 0013 8000", kRefused},
    {"PhoneCountryCodeZeroRefused", IdType::kPhone, "+0123456789", kRefused},
    {"PhoneE164SixteenDigitsRefused", IdType::kPhone, "+1234567890123456", kRefused},
    {"PhoneUkTrunkZeroInParenthesesRefused", IdType::kPhone, "+44 (0)20 7946 0958", kRefused},
    {"PhoneUsAreaCodeInParenthesesRefused", IdType::kPhone, "+1 (212) 555-0100", kRefused},
    {"PhoneUnclosedParenthesisRefused", IdType::kPhone, "(+86 13800138000", kRefused},
    {"PhoneLongCodeInParenthesesRefused", IdType::kPhone, "(+86138)00138000", kRefused},
    {"PhoneDotsRefused", IdType::kPhone, "138.0013.8000", kRefused},
    {"PhoneExtensionRefused", IdType::kPhone, "+86 13800138000 ext 1", kRefused},
    {"PhoneLetterORefused", IdType::kPhone, "1380013800O", kRefused},
    {"PhoneTrailingPlusRefused", IdType::kPhone, "13800138000+", kRefused},
    {"PhoneDoublePlusRefused", IdType::kPhone, "++8613800138000", kRefused},
    {"PhoneInternationalPrefix00ForeignRefused", IdType::kPhone, "00852 9123 4567", kRefused},
    {"PhoneOnlyPlusRefused", IdType::kPhone, "+", kRefused},
    {"PhoneOnlyDashesRefused", IdType::kPhone, "- -", kRefused},
    {"PhoneEmptyRefused", IdType::kPhone, "", kRefused},
    {"PhoneInnerTabRefused", IdType::kPhone, "138\t0013\t8000", kRefused},
    {"PhoneEnDashRefused", IdType::kPhone, "138\u20130013\u20138000", kRefused},
    {"PhoneNulByteRefused", IdType::kPhone,
     "1380013\0"
     "8000"sv,
     kRefused},
    // Lengths follow libphonenumber's per country code (issue 12): 7 E.164 digits exist.
    {"PhoneNiueSevenDigitsAccepted", IdType::kPhone, "+683 7012", "+6837012"},
    {"PhoneTokelauSevenDigitsAccepted", IdType::kPhone, "+690 3101", "+6903101"},
    {"PhoneTokelauMobileSevenDigitsAccepted", IdType::kPhone, "+690 7290", "+6907290"},
    {"PhoneStHelenaSevenDigitsAccepted", IdType::kPhone, "+290 2256", "+2902256"},
    {"PhoneStHelenaEightDigitsAccepted", IdType::kPhone, "+290 22158", "+29022158"},
    {"PhoneNiueParenthesisedCodeAccepted", IdType::kPhone, "(+683) 7012", "+6837012"},
    {"PhoneAustriaSixDigitsAccepted", IdType::kPhone, "+43 1234", "+431234"},
    {"PhoneNiueThreeDigitNationalRefused", IdType::kPhone, "+683 701", kRefused},
    {"PhoneNiueFiveDigitNationalRefused", IdType::kPhone, "+683 70123", kRefused},
    {"PhoneUsNineDigitNationalRefused", IdType::kPhone, "+1 212 555 010", kRefused},
    {"PhoneUsElevenDigitNationalRefused", IdType::kPhone, "+1 212 555 01000", kRefused},
    {"PhoneUkFourDigitNationalRefused", IdType::kPhone, "+44 2079", kRefused},
    {"PhoneUnassignedCountryCode28Refused", IdType::kPhone, "+28 1234 5678", kRefused},
    {"PhoneUnassignedCountryCode999Refused", IdType::kPhone, "+999 1234 5678", kRefused},
    {"PhoneCountryCodeAloneRefused", IdType::kPhone, "+683", kRefused},
    {"PhoneJapanBeyondFifteenDigitsRefused", IdType::kPhone, "+81 1234567890123456", kRefused},

    // ---- bank-card ----
    {"BankCard19DigitsKept", IdType::kBankCard, "6222020200000000006", "6222020200000000006"},
    {"BankCardGroupsOfFourSpaces", IdType::kBankCard, "6222 0202 0000 0000 006",
     "6222020200000000006"},
    {"BankCardGroupsOfFourDashes", IdType::kBankCard, "6222-0202-0000-0000-006",
     "6222020200000000006"},
    {"BankCardMixedSeparators", IdType::kBankCard, " 6228 4804-0256 4890 018 ",
     "6228480402564890018"},
    {"BankCard16DigitsVisa", IdType::kBankCard, "4111 1111 1111 1111", "4111111111111111"},
    {"BankCard12DigitsMinimum", IdType::kBankCard, "622588012345", "622588012345"},
    {"BankCard18Digits", IdType::kBankCard, "622202020000000005", "622202020000000005"},
    {"BankCard15DigitsAmex", IdType::kBankCard, "378282246310005", "378282246310005"},
    {"BankCardFullWidthDigits", IdType::kBankCard,
     "\uff14\uff11\uff11\uff11\uff11\uff11\uff11\uff11\uff11\uff11\uff11\uff11\uff11\uff11\uff11"
     "\uff11",
     "4111111111111111"},
    {"BankCardFullWidthSpacesBetweenGroups", IdType::kBankCard,
     "4111\u30001111\u30001111\u30001111", "4111111111111111"},
    {"BankCardLuhnFailureRefused", IdType::kBankCard, "4111111111111112", kRefused},
    {"BankCardLuhnFailure19DigitsRefused", IdType::kBankCard, "6222020200000000007", kRefused},
    {"BankCardTransposedDigitsRefused", IdType::kBankCard, "4111111111111141", kRefused},
    {"BankCard11DigitsRefused", IdType::kBankCard, "94001100000", kRefused},
    {"BankCard20DigitsRefused", IdType::kBankCard, "62220202000000000006", kRefused},
    {"BankCardLetterAmongDigitsRefused", IdType::kBankCard, "4111a11111111111", kRefused},
    {"BankCardDotsRefused", IdType::kBankCard, "4111.1111.1111.1111", kRefused},
    {"BankCardUnderscoreRefused", IdType::kBankCard, "4111_1111_1111_1111", kRefused},
    {"BankCardEmptyRefused", IdType::kBankCard, "", kRefused},
    {"BankCardOnlySeparatorsRefused", IdType::kBankCard, " - - ", kRefused},
    {"BankCardNulByteRefused", IdType::kBankCard, "4111111111111111\0"sv, kRefused},

    // ---- bank-account ----
    {"BankAccountDigitsWithSpaces", IdType::kBankAccount, "6228 4804 0256 4890 018",
     "6228480402564890018"},
    {"BankAccountIbanLowercaseUppercased", IdType::kBankAccount, "gb82 west 1234 5698 7654 32",
     "GB82WEST12345698765432"},
    {"BankAccountSixCharactersMinimum", IdType::kBankAccount, "abc123", "ABC123"},
    {"BankAccount34CharactersMaximum", IdType::kBankAccount, "1234567890123456789012345678901234",
     "1234567890123456789012345678901234"},
    {"BankAccountFullWidthLetters", IdType::kBankAccount, "\uff41\uff42\uff43123", "ABC123"},
    {"BankAccountFiveCharactersRefused", IdType::kBankAccount, "12345", kRefused},
    {"BankAccount35CharactersRefused", IdType::kBankAccount, "12345678901234567890123456789012345",
     kRefused},
    {"BankAccountDashRefused", IdType::kBankAccount, "1234-5678-9012", kRefused},
    {"BankAccountSlashRefused", IdType::kBankAccount, "1234/5678", kRefused},
    {"BankAccountChineseRefused", IdType::kBankAccount, "\u519c\u884c123456", kRefused},
    {"BankAccountOnlySpacesInsideRefused", IdType::kBankAccount, "1 2 3", kRefused},
    {"BankAccountEmptyRefused", IdType::kBankAccount, "", kRefused},

    // ---- wechat ----
    {"WechatMixedCaseLowercased", IdType::kWechat, "Zhang_San-88", "zhang_san-88"},
    {"WechatWxidKept", IdType::kWechat, "wxid_abc123", "wxid_abc123"},
    {"WechatSixCharactersMinimum", IdType::kWechat, "abcdef", "abcdef"},
    {"WechatTwentyCharactersMaximum", IdType::kWechat, "a1234567890123456789",
     "a1234567890123456789"},
    {"WechatFullWidthLetters", IdType::kWechat, "\uff3a\uff48\uff41\uff4e\uff47\uff33\uff41\uff4e",
     "zhangsan"},
    {"WechatSurroundingSpacesTrimmed", IdType::kWechat, " zhangsan ", "zhangsan"},
    {"WechatFiveCharactersRefused", IdType::kWechat, "abcde", kRefused},
    {"WechatTwentyOneCharactersRefused", IdType::kWechat, "a12345678901234567890", kRefused},
    {"WechatStartingWithDigitRefused", IdType::kWechat, "1abcdef", kRefused},
    {"WechatStartingWithUnderscoreRefused", IdType::kWechat, "_abcdef", kRefused},
    {"WechatInnerSpaceRefused", IdType::kWechat, "zhang san", kRefused},
    {"WechatDotRefused", IdType::kWechat, "zhang.san", kRefused},
    {"WechatChineseRefused", IdType::kWechat, "\u5f20\u4e09abcdef", kRefused},
    {"WechatAtSignRefused", IdType::kWechat, "zhang@san", kRefused},
    {"WechatEmptyRefused", IdType::kWechat, "", kRefused},

    // ---- alipay ----
    {"AlipayMobileAsPhone", IdType::kAlipay, "13800138000", "+8613800138000"},
    {"AlipayMobileWithPrefixAsPhone", IdType::kAlipay, "+86 138-0013-8000", "+8613800138000"},
    {"AlipayEmailLowercased", IdType::kAlipay, "Zhang.San@Example.COM", "zhang.san@example.com"},
    {"AlipayUserIdKept", IdType::kAlipay, "2088102146225135", "2088102146225135"},
    {"AlipayUserIdFullWidth", IdType::kAlipay,
     "\uff12\uff10\uff18\uff18\uff11\uff10\uff12\uff11\uff14\uff16\uff12\uff12\uff15\uff11\uff13"
     "\uff15",
     "2088102146225135"},
    {"AlipayForeignE164AsPhone", IdType::kAlipay, "+852 9123 4567", "+85291234567"},
    {"AlipayUserIdWithSpacesRefused", IdType::kAlipay, "2088 1021 4622 5135", kRefused},
    {"AlipayUserIdWrongPrefixRefused", IdType::kAlipay, "2089102146225135", kRefused},
    {"AlipayUserId15DigitsRefused", IdType::kAlipay, "208810214622513", kRefused},
    {"AlipayUserId17DigitsRefused", IdType::kAlipay, "20881021462251350", kRefused},
    {"AlipayTwoAtSignsRefused", IdType::kAlipay, "a@@example.com", kRefused},
    {"AlipayNicknameRefused", IdType::kAlipay, "zhangsan", kRefused},
    {"AlipayEmptyRefused", IdType::kAlipay, "", kRefused},

    // ---- qq ----
    {"QqFiveDigitsMinimum", IdType::kQq, "10001", "10001"},
    {"QqNineDigits", IdType::kQq, "123456789", "123456789"},
    {"QqElevenDigitsMaximum", IdType::kQq, "12345678901", "12345678901"},
    {"QqFullWidthDigits", IdType::kQq, "\uff11\uff12\uff13\uff14\uff15", "12345"},
    {"QqSurroundingSpacesTrimmed", IdType::kQq, " 123456 ", "123456"},
    {"QqFourDigitsRefused", IdType::kQq, "1234", kRefused},
    {"QqTwelveDigitsRefused", IdType::kQq, "123456789012", kRefused},
    {"QqLeadingZeroRefused", IdType::kQq, "012345", kRefused},
    {"QqInnerSpaceRefused", IdType::kQq, "123 456", kRefused},
    {"QqLetterRefused", IdType::kQq, "12345a", kRefused},
    {"QqMinusSignRefused", IdType::kQq, "-123456", kRefused},
    {"QqEmptyRefused", IdType::kQq, "", kRefused},

    // ---- uscc ----
    {"UsccEnterpriseKept", IdType::kUscc, "91350100M000100Y43", "91350100M000100Y43"},
    {"UsccLowercaseUppercased", IdType::kUscc, "91350100m000100y43", "91350100M000100Y43"},
    {"UsccCheckLetterU", IdType::kUscc, "91110000600007336U", "91110000600007336U"},
    {"UsccAllDigits", IdType::kUscc, "911100001000170206", "911100001000170206"},
    {"UsccPublicInstitution", IdType::kUscc, "121000004000006227", "121000004000006227"},
    {"UsccSocialOrganisation", IdType::kUscc, "51100000500000135F", "51100000500000135F"},
    {"UsccCheckLetterJ", IdType::kUscc, "91310000MA1FL8TQ7J", "91310000MA1FL8TQ7J"},
    {"UsccAgriculturalAuthorityLetterN", IdType::kUscc, "N2330110MA4A2R3K0N", "N2330110MA4A2R3K0N"},
    {"UsccOtherAuthorityLetterY", IdType::kUscc, "Y1110000MA01A3B56P", "Y1110000MA01A3B56P"},
    {"UsccFullWidth", IdType::kUscc,
     "\uff19\uff11\uff13\uff15\uff10\uff11\uff10\uff10\uff2d\uff10\uff10\uff10\uff11\uff10\uff10"
     "\uff39\uff14\uff13",
     "91350100M000100Y43"},
    {"UsccWrongCheckCharacterRefused", IdType::kUscc, "91350100M000100Y44", kRefused},
    {"UsccWrongCheckLetterRefused", IdType::kUscc, "91110000600007336T", kRefused},
    {"UsccLetterIRefused", IdType::kUscc, "91350100MI00100Y43", kRefused},
    {"UsccLetterORefused", IdType::kUscc, "91350100MO00100Y43", kRefused},
    {"UsccLetterInDivisionCodeRefused", IdType::kUscc, "9135A100M000100Y43", kRefused},
    {"Uscc17CharactersRefused", IdType::kUscc, "91350100M000100Y4", kRefused},
    {"Uscc19CharactersRefused", IdType::kUscc, "91350100M000100Y430", kRefused},
    {"UsccInnerSpaceRefused", IdType::kUscc, "91350100 M000100Y43", kRefused},
    {"UsccInnerDashRefused", IdType::kUscc, "91350100-M000100Y4", kRefused},
    {"UsccEmptyRefused", IdType::kUscc, "", kRefused},

    // ---- email ----
    {"EmailMixedCaseLowercased", IdType::kEmail, "Zhang.San@Example.COM", "zhang.san@example.com"},
    {"EmailSurroundingSpacesTrimmed", IdType::kEmail, "  a@b.cn  ", "a@b.cn"},
    {"EmailFullWidthMapped", IdType::kEmail, "\uff41\uff20\uff42\uff0e\uff43\uff4e", "a@b.cn"},
    {"EmailPlusTagKept", IdType::kEmail, "User+Tag@Gmail.com", "user+tag@gmail.com"},
    {"EmailPunycodeDomainKept", IdType::kEmail, "a@xn--fiqs8s.cn", "a@xn--fiqs8s.cn"},
    {"EmailDigitsLocalPartKept", IdType::kEmail, "12345678@qq.com", "12345678@qq.com"},
    {"EmailDomainWithHyphen", IdType::kEmail, "a@mail-1.example.cn", "a@mail-1.example.cn"},
    {"EmailLocal64BytesAccepted", IdType::kEmail,
     "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa@b.cn",
     "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa@b.cn"},
    {"EmailLocal65BytesRefused", IdType::kEmail,
     "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa@b.cn", kRefused},
    {"EmailWithoutAtRefused", IdType::kEmail, "zhangsan.example.com", kRefused},
    {"EmailTwoAtSignsRefused", IdType::kEmail, "a@b@example.com", kRefused},
    {"EmailEmptyLocalPartRefused", IdType::kEmail, "@example.com", kRefused},
    {"EmailEmptyDomainRefused", IdType::kEmail, "zhangsan@", kRefused},
    {"EmailSingleLabelDomainRefused", IdType::kEmail, "zhangsan@qq", kRefused},
    {"EmailDoubleDotDomainRefused", IdType::kEmail, "a@example..com", kRefused},
    {"EmailLeadingDotDomainRefused", IdType::kEmail, "a@.example.com", kRefused},
    {"EmailTrailingDotDomainRefused", IdType::kEmail, "a@example.com.", kRefused},
    {"EmailUnderscoreInDomainRefused", IdType::kEmail, "a@ex_ample.com", kRefused},
    {"EmailInnerSpaceRefused", IdType::kEmail, "zhang san@example.com", kRefused},
    {"EmailChineseLocalPartRefused", IdType::kEmail, "\u5f20\u4e09@example.com", kRefused},
    {"EmailChineseDomainRefused", IdType::kEmail, "a@\u4f8b\u5b50.\u4e2d\u56fd", kRefused},
    {"EmailInnerTabRefused", IdType::kEmail, "a\t@b.cn", kRefused},
    {"EmailEmptyRefused", IdType::kEmail, "", kRefused},

    // ---- passport ----
    {"PassportChineseEKept", IdType::kPassport, "E12345678", "E12345678"},
    {"PassportLowercaseUppercased", IdType::kPassport, "e12345678", "E12345678"},
    {"PassportFiveCharactersMinimum", IdType::kPassport, "G1234", "G1234"},
    {"PassportTwentyCharactersMaximum", IdType::kPassport, "AB345678901234567890",
     "AB345678901234567890"},
    {"PassportFullWidth", IdType::kPassport, "\uff25\uff11\uff12\uff13\uff14\uff15", "E12345"},
    {"PassportFourCharactersRefused", IdType::kPassport, "E123", kRefused},
    {"PassportTwentyOneCharactersRefused", IdType::kPassport, "AB3456789012345678901", kRefused},
    {"PassportInnerSpaceRefused", IdType::kPassport, "E 12345678", kRefused},
    {"PassportDashRefused", IdType::kPassport, "E-12345678", kRefused},
    {"PassportEmptyRefused", IdType::kPassport, "", kRefused},

    // ---- passport-icao ----
    {"PassportIcaoChineseKept", IdType::kPassportIcao, "CHN:E12345678", "CHN:E12345678"},
    {"PassportIcaoLowercaseUppercased", IdType::kPassportIcao, "chn:e12345678", "CHN:E12345678"},
    {"PassportIcaoFullWidthColon", IdType::kPassportIcao, "CHN\uff1aE12345678", "CHN:E12345678"},
    {"PassportIcaoFullWidthWhole", IdType::kPassportIcao,
     "\uff23\uff28\uff2e\uff1a\uff25\uff11\uff12\uff13\uff14\uff15", "CHN:E12345"},
    {"PassportIcaoSurroundingSpacesTrimmed", IdType::kPassportIcao, " USA:123456789 ",
     "USA:123456789"},
    {"PassportIcaoGermanyDIsDeu", IdType::kPassportIcao, "D:C01X00T47", "DEU:C01X00T47"},
    {"PassportIcaoGermanyLowercaseD", IdType::kPassportIcao, "d:c01x00t47", "DEU:C01X00T47"},
    {"PassportIcaoGermanyDeuKept", IdType::kPassportIcao, "DEU:C01X00T47", "DEU:C01X00T47"},
    {"PassportIcaoHongKongKept", IdType::kPassportIcao, "HKG:K12345678", "HKG:K12345678"},
    {"PassportIcaoUnitedNationsKept", IdType::kPassportIcao, "UNO:123456789", "UNO:123456789"},
    {"PassportIcaoEuropeanUnionKept", IdType::kPassportIcao, "EUE:AB1234567", "EUE:AB1234567"},
    {"PassportIcaoKosovoRksKept", IdType::kPassportIcao, "RKS:P12345678", "RKS:P12345678"},
    {"PassportIcaoMaximumLength", IdType::kPassportIcao, "GBR:AB345678901234567890",
     "GBR:AB345678901234567890"},
    {"PassportIcaoNoStateRefused", IdType::kPassportIcao, "E12345678", kRefused},
    {"PassportIcaoSpaceInsteadOfColonRefused", IdType::kPassportIcao, "CHN E12345678", kRefused},
    {"PassportIcaoUnknownStateRefused", IdType::kPassportIcao, "ZZZ:E12345678", kRefused},
    {"PassportIcaoTwoLetterStateRefused", IdType::kPassportIcao, "CN:E12345678", kRefused},
    {"PassportIcaoFourLetterStateRefused", IdType::kPassportIcao, "CHNA:E12345678", kRefused},
    {"PassportIcaoOtherOneLetterStateRefused", IdType::kPassportIcao, "F:12AB34567", kRefused},
    {"PassportIcaoMrzFillerRefused", IdType::kPassportIcao, "D<<:C01X00T47", kRefused},
    {"PassportIcaoSpecimenUtopiaRefused", IdType::kPassportIcao, "UTO:L898902C3", kRefused},
    {"PassportIcaoNationalityOnlyGbnRefused", IdType::kPassportIcao, "GBN:123456789", kRefused},
    {"PassportIcaoStatelessXxaRefused", IdType::kPassportIcao, "XXA:123456789", kRefused},
    {"PassportIcaoDigitsAsStateRefused", IdType::kPassportIcao, "156:E12345678", kRefused},
    {"PassportIcaoEmptyStateRefused", IdType::kPassportIcao, ":E12345678", kRefused},
    {"PassportIcaoEmptyNumberRefused", IdType::kPassportIcao, "CHN:", kRefused},
    {"PassportIcaoShortNumberRefused", IdType::kPassportIcao, "CHN:E123", kRefused},
    {"PassportIcaoLongNumberRefused", IdType::kPassportIcao, "CHN:AB3456789012345678901", kRefused},
    {"PassportIcaoSecondColonRefused", IdType::kPassportIcao, "CHN:E1234:5678", kRefused},
    {"PassportIcaoSpaceAfterColonRefused", IdType::kPassportIcao, "CHN: E12345678", kRefused},
    {"PassportIcaoDashInNumberRefused", IdType::kPassportIcao, "CHN:E-12345678", kRefused},
    {"PassportIcaoEmptyRefused", IdType::kPassportIcao, "", kRefused},

    // ---- ecny-wallet ----
    {"EcnyWalletDigitsKept", IdType::kEcnyWallet, "0021123456789012", "0021123456789012"},
    {"EcnyWalletGroupsOfFourSpaces", IdType::kEcnyWallet, "0021 1234 5678 9012",
     "0021123456789012"},
    {"EcnyWalletFullWidthDigits", IdType::kEcnyWallet,
     "\uff10\uff10\uff12\uff11\uff11\uff12\uff13\uff14\uff15\uff16\uff17\uff18\uff19\uff10\uff11"
     "\uff12",
     "0021123456789012"},
    {"EcnyWallet15DigitsRefused", IdType::kEcnyWallet, "002112345678901", kRefused},
    {"EcnyWallet17DigitsRefused", IdType::kEcnyWallet, "00211234567890123", kRefused},
    {"EcnyWalletDashRefused", IdType::kEcnyWallet, "0021-1234-5678-9012", kRefused},
    {"EcnyWalletLetterRefused", IdType::kEcnyWallet, "0021A23456789012", kRefused},
    {"EcnyWalletEmptyRefused", IdType::kEcnyWallet, "", kRefused},

    // ---- pre-normalisation, shared by every type ----
    {"OnlyIdeographicSpaceRefused", IdType::kQq, "\u3000", kRefused},
    {"OnlyWhitespaceControlsRefused", IdType::kQq, "\t\r\n\v\f", kRefused},
    {"NulOnlyRefused", IdType::kQq, "\0"sv, kRefused},
    {"NulBetweenDigitsRefused", IdType::kQq,
     "123\0"
     "456"sv,
     kRefused},
    {"EscapeCharacterRefused", IdType::kQq, "123\x1b[0m456", kRefused},
    {"BellCharacterRefused", IdType::kPassport, "E1234\a5678", kRefused},
    {"DeleteCharacterRefused", IdType::kWechat, "zhang\x7fsan", kRefused},
    {"C1NextLineRefused", IdType::kWechat, "zhangsan\u0085", kRefused},
    {"C1ControlAtStartRefused", IdType::kWechat, "\u0080zhangsan", kRefused},
    {"LoneContinuationByteRefused", IdType::kQq, "123456\x80", kRefused},
    {"LoneLeadByteRefused", IdType::kQq,
     "\xc3"
     "123456",
     kRefused},
    {"TruncatedThreeByteSequenceRefused", IdType::kQq, "123456\xe4\xb8", kRefused},
    {"OverlongSlashRefused", IdType::kQq,
     "123\xc0\xaf"
     "456",
     kRefused},
    {"OverlongThreeByteRefused", IdType::kQq, "123\xe0\x80\xb1", kRefused},
    {"OverlongFullWidthDigitRefused", IdType::kQq, "123\xf0\x8f\xbc\x91", kRefused},
    {"EncodedSurrogateRefused", IdType::kQq, "123456\xed\xa0\x80", kRefused},
    {"AboveUnicodeMaximumRefused", IdType::kQq, "123456\xf4\x90\x80\x80", kRefused},
    {"ByteF5Refused", IdType::kQq, "123456\xf5\x80\x80\x80", kRefused},
    {"Latin1EncodedTextRefused", IdType::kEmail, "caf\xe9@example.com", kRefused},
    {"ByteOrderMarkRefused", IdType::kQq, "\ufeff123456", kRefused},
    {"ZeroWidthSpaceRefused", IdType::kQq, "123\u200b456", kRefused},
    {"FullWidthDigitNeighbourRefused", IdType::kQq, "123456\uff5f", kRefused},
    {"ArabicIndicDigitsRefused", IdType::kQq, "\u0661\u0662\u0663\u0664\u0665", kRefused},
    {"HalfWidthKatakanaRefused", IdType::kPassport, "E1234\uff76", kRefused},
    {"EmojiRefused", IdType::kWechat, "zhangsan\U0001f600", kRefused},
    {"InvalidUtf8BeforeControlReportedFirst", IdType::kQq, "\x01\xff", kRefused},
};

class CanonicalFormTest : public testing::TestWithParam<Case> {};

TEST_P(CanonicalFormTest, GivesExpectedCanonicalFormOrRefusal) {
  const Case& c = GetParam();
  const Result<std::string> result = Canonicalize(c.type, c.raw);
  if (c.canonical) {
    ASSERT_TRUE(result.ok()) << result.error().message;
    EXPECT_EQ(*result, *c.canonical);
  } else {
    ASSERT_FALSE(result.ok()) << "accepted as " << *result;
    EXPECT_EQ(result.error().kind, ErrorKind::kInvalidInput);
  }
}

INSTANTIATE_TEST_SUITE_P(Table, CanonicalFormTest, testing::ValuesIn(kCases),
                         [](const testing::TestParamInfo<Case>& info) { return info.param.name; });

TEST(IdentifierTable, HasAtLeast200CasesWithUniqueNames) {
  std::vector<std::string_view> names;
  for (const Case& c : kCases) names.push_back(c.name);
  std::sort(names.begin(), names.end());
  EXPECT_EQ(std::adjacent_find(names.begin(), names.end()), names.end());
  EXPECT_GE(names.size(), 200u);
}

TEST(IdentifierTable, CanonicalFormsAreFixedPoints) {
  for (const Case& c : kCases) {
    if (!c.canonical) continue;
    const Result<std::string> again = Canonicalize(c.type, *c.canonical);
    ASSERT_TRUE(again.ok()) << c.name << ": " << again.error().message;
    EXPECT_EQ(*again, *c.canonical) << c.name;
  }
}

// Raw identifiers must never reach logs; messages are logged and shown as they are.
TEST(IdentifierErrors, NoMessageContainsTheInput) {
  for (const Case& c : kCases) {
    if (c.canonical) continue;
    const Result<std::string> result = Canonicalize(c.type, c.raw);
    ASSERT_FALSE(result.ok()) << c.name;
    const std::string& message = result.error().message;
    // Short inputs like "123" could coincide with words or limits in a message; from 5 bytes on
    // every fed value is distinctive.
    if (c.raw.size() >= 5) {
      EXPECT_EQ(message.find(c.raw), std::string::npos) << c.name;
    }
    for (size_t start = 0; start + 8 <= c.raw.size(); ++start) {
      EXPECT_EQ(message.find(c.raw.substr(start, 8)), std::string::npos)
          << c.name << " leaks a part of its input: " << message;
    }
  }
}

TEST(IdentifierErrors, MessageIsOneLineNamingTypeReasonAndExpectation) {
  for (const Case& c : kCases) {
    if (c.canonical) continue;
    const std::string message = Canonicalize(c.type, c.raw).error().message;
    const std::string prefix = std::string(IdTypeName(c.type)) + ": ";
    EXPECT_EQ(message.rfind(prefix, 0), 0u) << c.name << ": " << message;
    EXPECT_NE(message.find("; expected "), std::string::npos) << c.name << ": " << message;
    EXPECT_EQ(message.find('\n'), std::string::npos) << c.name;
    EXPECT_TRUE(std::all_of(message.begin(), message.end(),
                            [](char ch) { return ch >= 0x20 && ch < 0x7f; }))
        << c.name << ": message is not printable ASCII";
  }
}

TEST(IdentifierErrors, CnIdWrongCheckCharacterMessageSaysSo) {
  EXPECT_EQ(Canonicalize(IdType::kCnId, "110105194912310021").error().message,
            "cn-id: check character does not match; expected 18 characters per GB 11643-1999 "
            "with a valid MOD 11-2 check character");
}

TEST(IdentifierErrors, InvalidUtf8IsReportedBeforeControlCharacters) {
  EXPECT_NE(Canonicalize(IdType::kQq, "\x01\xff").error().message.find("UTF-8"), std::string::npos);
}

TEST(IdentifierErrors, ControlCharactersAreReportedBeforeNonAscii) {
  EXPECT_NE(Canonicalize(IdType::kQq, "\u4e2d\x01").error().message.find("control"),
            std::string::npos);
}

TEST(IdentifierLimits, Input100KilobytesRefusedAsTooLong) {
  const std::string huge(100 * 1024, '1');
  for (IdType type : AllIdTypes()) {
    const Result<std::string> result = Canonicalize(type, huge);
    ASSERT_FALSE(result.ok()) << IdTypeName(type);
    EXPECT_NE(result.error().message.find("too long"), std::string::npos);
  }
}

TEST(IdentifierLimits, InputOfExactlyMaxBytesAccepted) {
  std::string raw = "a@b.cn";
  raw.resize(kMaxIdentifierInputBytes, ' ');
  const Result<std::string> result = Canonicalize(IdType::kEmail, raw);
  ASSERT_TRUE(result.ok()) << result.error().message;
  EXPECT_EQ(*result, "a@b.cn");
}

TEST(IdentifierLimits, InputOfMaxPlusOneBytesRefusedEvenIfOnlyPadding) {
  std::string raw = "a@b.cn";
  raw.resize(kMaxIdentifierInputBytes + 1, ' ');
  EXPECT_FALSE(Canonicalize(IdType::kEmail, raw).ok());
}

TEST(IdentifierLimits, Email254BytesAcceptedAnd255Refused) {
  const std::string domain = std::string(63, 'a') + "." + std::string(63, 'b') + "." +
                             std::string(63, 'c') + ".cn";   // 194 bytes
  const std::string local254(254 - 1 - domain.size(), 'x');  // 59 bytes
  const std::string email254 = local254 + "@" + domain;
  ASSERT_EQ(email254.size(), 254u);
  EXPECT_TRUE(Canonicalize(IdType::kEmail, email254).ok());
  const std::string email255 = local254 + "x@" + domain;
  EXPECT_FALSE(Canonicalize(IdType::kEmail, email255).ok());
}

TEST(IdentifierLimits, DomainLabelOf64BytesRefused) {
  EXPECT_FALSE(Canonicalize(IdType::kEmail, "a@" + std::string(64, 'a') + ".cn").ok());
}

TEST(IdentifierLimits, MaxLengthFullWidthInputStaysWithinLimit) {
  std::string raw;
  while (raw.size() + 3 <= kMaxIdentifierInputBytes) raw += "\uff11";  // 85 full-width ones
  for (IdType type : AllIdTypes()) {
    const Result<std::string> result = Canonicalize(type, raw);
    if (result.ok()) {
      EXPECT_LE(result->size(), kMaxIdentifierInputBytes);
    }
  }
}

TEST(IdTypes, NamesRoundTrip) {
  for (IdType type : AllIdTypes()) {
    const std::optional<IdType> parsed = ParseIdType(IdTypeName(type));
    ASSERT_TRUE(parsed.has_value()) << IdTypeName(type);
    EXPECT_EQ(*parsed, type);
  }
}

TEST(IdTypes, NamesAreTheProtocolNames) {
  const std::vector<std::string_view> expected = {
      "cn-id", "phone", "bank-card", "bank-account", "wechat",      "alipay",
      "qq",    "uscc",  "email",     "passport",     "ecny-wallet", "passport-icao"};
  std::vector<std::string_view> names;
  for (IdType type : AllIdTypes()) names.push_back(IdTypeName(type));
  EXPECT_EQ(names, expected);
}

TEST(IdTypes, WireValuesAreOneToTwelve) {
  uint8_t wire = 1;
  for (IdType type : AllIdTypes()) EXPECT_EQ(static_cast<uint8_t>(type), wire++);
  EXPECT_EQ(wire, 13);
  EXPECT_FALSE(IdTypeFromWire(0).has_value());
  EXPECT_EQ(IdTypeFromWire(10), IdType::kPassport);
  EXPECT_EQ(IdTypeFromWire(12), IdType::kPassportIcao);
  EXPECT_FALSE(IdTypeFromWire(13).has_value());
  EXPECT_FALSE(IdTypeFromWire(255).has_value());
  EXPECT_EQ(IdTypeFromWire(8), IdType::kUscc);
}

TEST(IdTypes, UnknownNamesRefused) {
  EXPECT_FALSE(ParseIdType("").has_value());
  EXPECT_FALSE(ParseIdType("CN-ID").has_value());
  EXPECT_FALSE(ParseIdType("cn_id").has_value());
  EXPECT_FALSE(ParseIdType("cn-id ").has_value());
  EXPECT_FALSE(ParseIdType("unknown").has_value());
}

TEST(IdTypes, OutOfRangeTypeRefusedNotCrashed) {
  const Result<std::string> result = Canonicalize(static_cast<IdType>(0), "13800138000");
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.error().kind, ErrorKind::kInvalidInput);
  EXPECT_EQ(result.error().message.find("13800138000"), std::string::npos);
  EXPECT_FALSE(Canonicalize(static_cast<IdType>(200), "13800138000").ok());
  EXPECT_EQ(IdTypeName(static_cast<IdType>(200)), "unknown");
}

// Subjects of passports listed before issue 12 must not move: the old type keeps its tag
// "passport" and its canonical form. The expected values are HMAC-SHA256 computed outside this
// code base (Python's hmac) under the fixed key 00 01 .. 1f.
constexpr std::string_view kFixedPepperKey =
    "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";

std::string SubjectHex(IdType type, std::string_view raw) {
  const Result<std::string> canonical = Canonicalize(type, raw);
  if (!canonical.ok()) return "refused: " + canonical.error().message;
  const std::string message = std::string(IdTypeName(type)) + '\0' + *canonical;
  return crypto::HmacSha256(crypto::FromHex(kFixedPepperKey).value(), crypto::AsBytes(message))
      .Hex();
}

TEST(PassportSubjects, OldPassportSubjectIsUnchanged) {
  EXPECT_EQ(SubjectHex(IdType::kPassport, "e12345678"),
            "94dc775b557f69325182e7bd74439f2b55182941355268e3c593998439f45b64");
}

TEST(PassportSubjects, NewTypeHasItsOwnTagAndForm) {
  EXPECT_EQ(SubjectHex(IdType::kPassportIcao, "chn:e12345678"),
            "49cbf93a4bec457b2619bdd258c5ee8e084cfe3b33bf02a9befcb44cb9d981fb");
  EXPECT_NE(SubjectHex(IdType::kPassportIcao, "CHN:E12345678"),
            SubjectHex(IdType::kPassportIcao, "USA:E12345678"));
}

TEST(PassportSubjects, NewFormLeadsBackToTheOldForm) {
  const Result<std::string> canonical = Canonicalize(IdType::kPassportIcao, "d:c01x00t47");
  ASSERT_TRUE(canonical.ok());
  const std::optional<LegacyForm> legacy = LegacyFormOf(IdType::kPassportIcao, *canonical);
  ASSERT_TRUE(legacy.has_value());
  EXPECT_EQ(legacy->type, IdType::kPassport);
  EXPECT_EQ(legacy->canonical, "C01X00T47");
  EXPECT_EQ(Canonicalize(IdType::kPassport, "c01x00t47").value(), legacy->canonical);
  for (IdType type : AllIdTypes()) {
    if (type != IdType::kPassportIcao) {
      EXPECT_FALSE(LegacyFormOf(type, "CHN:E12345678"));
    }
  }
}

TEST(PassportSubjects, OnlyTheOldPassportTypeIsClosedToNewReports) {
  for (IdType type : AllIdTypes()) {
    EXPECT_EQ(AcceptsNewReports(type), type != IdType::kPassport) << IdTypeName(type);
  }
}

TEST(IdentifierErrors, PassportIcaoRefusalsNameTheReason) {
  EXPECT_NE(Canonicalize(IdType::kPassportIcao, "E12345678")
                .error()
                .message.find("passport-icao: has no issuing state"),
            std::string::npos);
  EXPECT_NE(Canonicalize(IdType::kPassportIcao, "ZZZ:E12345678")
                .error()
                .message.find("not an ICAO 9303 code"),
            std::string::npos);
  EXPECT_NE(Canonicalize(IdType::kPassportIcao, "GBN:E12345678")
                .error()
                .message.find("only for nationalities"),
            std::string::npos);
}

TEST(IdentifierErrors, PhoneLengthRefusalsNameTheReason) {
  EXPECT_NE(Canonicalize(IdType::kPhone, "+683 701")
                .error()
                .message.find("phone: has a number of digits that its country code does not use"),
            std::string::npos);
  EXPECT_NE(Canonicalize(IdType::kPhone, "+28 1234 5678")
                .error()
                .message.find("country code is not in use"),
            std::string::npos);
}

}  // namespace
}  // namespace duanka::protocol
