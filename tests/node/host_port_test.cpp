// HOST:PORT, as every address in duanka.toml and the daemon's listeners and dialler read it.
#include "node/common/host_port.h"

#include <gtest/gtest.h>

#include <string>

#include "node/common/config.h"

namespace duanka::node {
namespace {

TEST(HostPortTest, ReadsNamesIpv4AndBracketedIpv6) {
  Result<HostPort> v4 = ParseHostPort("10.0.0.2:7400");
  ASSERT_TRUE(v4.ok()) << v4.error().message;
  EXPECT_EQ(v4->host, "10.0.0.2");
  EXPECT_EQ(v4->port, 7400);
  Result<HostPort> v6 = ParseHostPort("[::1]:65535");
  ASSERT_TRUE(v6.ok()) << v6.error().message;
  EXPECT_EQ(v6->host, "::1");
  EXPECT_EQ(v6->port, 65535);
  EXPECT_EQ(v6->ToString(), "[::1]:65535");
  Result<HostPort> name = ParseHostPort("duanka.bank-b.example:1");
  ASSERT_TRUE(name.ok()) << name.error().message;
  EXPECT_EQ(name->ToString(), "duanka.bank-b.example:1");
}

TEST(HostPortTest, RefusesWhatIsNotAnAddressWithOneLineNamingTheFormExpected) {
  for (const char* bad : {"", "7400", ":7400", "10.0.0.2:", "10.0.0.2:65536", "10.0.0.2:-1",
                          "10.0.0.2:+1", "10.0.0.2:74a", "::1:7400", "[::1]", "[]:7400",
                          "bank b:7400", "bank\nb:7400", "10.0.0.2:0"}) {
    Result<HostPort> hp = ParseHostPort(bad);
    ASSERT_FALSE(hp.ok()) << bad;
    EXPECT_EQ(hp.error().kind, ErrorKind::kInvalidInput) << bad;
    EXPECT_NE(hp.error().message.find("HOST:PORT"), std::string::npos) << hp.error().message;
    EXPECT_EQ(hp.error().message.find('\n'), std::string::npos) << hp.error().message;
  }
}

TEST(HostPortTest, PortZeroOnlyWhereAListenerMayTakeAnyPort) {
  EXPECT_FALSE(ParseHostPort("127.0.0.1:0").ok());
  Result<HostPort> any = ParseHostPort("127.0.0.1:0", PortZero::kAllowed);
  ASSERT_TRUE(any.ok()) << any.error().message;
  EXPECT_EQ(any->port, 0);
}

TEST(HostPortTest, PeerEntriesUseTheSameRule) {
  EXPECT_TRUE(ParsePeerEntry("BANKB@[::1]:7400").ok());
  EXPECT_FALSE(ParsePeerEntry("BANKB@::1:7400").ok());
  EXPECT_FALSE(ParsePeerEntry("BANKB@10.0.0.2:0").ok());
}

}  // namespace
}  // namespace duanka::node
