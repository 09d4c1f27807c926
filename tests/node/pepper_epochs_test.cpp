// hello.pepperEpochs compared with this node's pepper: which epochs a peer holds that this node
// lacks (it would silently miss every entry made under them), and the alert's state across peers.
#include "node/daemon/pepper_epochs.h"

#include <gtest/gtest.h>

namespace duanka::daemon {
namespace {

using Epochs = std::vector<uint32_t>;

TEST(EpochsMissingHere, NamesOnlyTheEpochsThePeerHasAndWeLack) {
  EXPECT_EQ(EpochsMissingHere(Epochs{1}, Epochs{1}), Epochs{});
  EXPECT_EQ(EpochsMissingHere(Epochs{1}, Epochs{1, 2}), Epochs{2});
  // A peer behind us (it lacks our epoch 2) is not our alert: it misses our entries, not we its.
  EXPECT_EQ(EpochsMissingHere(Epochs{1, 2}, Epochs{1}), Epochs{});
  // After a retirement here, a peer that has not installed the smaller file yet is still named:
  // the check cannot tell a retired epoch from a missing one.
  EXPECT_EQ(EpochsMissingHere(Epochs{2}, Epochs{1, 2}), Epochs{1});
  EXPECT_EQ(EpochsMissingHere(Epochs{1}, Epochs{4, 2, 3, 2}), (Epochs{2, 3, 4}));
  EXPECT_EQ(EpochsMissingHere(Epochs{}, Epochs{}), Epochs{});
}

TEST(EpochListText, JoinsWithCommas) {
  EXPECT_EQ(EpochListText(Epochs{}), "");
  EXPECT_EQ(EpochListText(Epochs{3}), "3");
  EXPECT_EQ(EpochListText(Epochs{3, 4}), "3, 4");
}

TEST(PepperEpochWatch, AlertLastsWhileAPeerAheadIsConnected) {
  PepperEpochWatch watch(Epochs{1});
  int a = 0, b = 0, c = 0;  // three connections, known by address only
  EXPECT_EQ(watch.OnHello(&a, "BANKA", Epochs{1}), Epochs{});
  EXPECT_EQ(watch.Missing(), Epochs{});
  EXPECT_EQ(watch.OnHello(&b, "BANKB", Epochs{1, 2}), Epochs{2});
  EXPECT_EQ(watch.OnHello(&c, "BANKC", Epochs{1, 2, 3}), (Epochs{2, 3}));
  EXPECT_EQ(watch.Missing(), (Epochs{2, 3}));
  EXPECT_EQ(watch.PeersAhead(), (std::vector<std::string>{"BANKB", "BANKC"}));
  watch.OnGone(&c);
  EXPECT_EQ(watch.Missing(), Epochs{2});
  EXPECT_EQ(watch.PeersAhead(), std::vector<std::string>{"BANKB"});
  // The same connection greeting again replaces what it said.
  EXPECT_EQ(watch.OnHello(&b, "BANKB", Epochs{1}), Epochs{});
  EXPECT_EQ(watch.Missing(), Epochs{});
  EXPECT_TRUE(watch.PeersAhead().empty());
  watch.OnGone(&a);  // a connection never ahead goes quietly
  EXPECT_EQ(watch.Missing(), Epochs{});
}

TEST(PepperEpochWatch, TwoLinksToOnePeerEndTheAlertOnlyWhenBothGo) {
  PepperEpochWatch watch(Epochs{2, 1});
  EXPECT_EQ(watch.ours(), (Epochs{1, 2}));
  int in = 0, out = 0;
  watch.OnHello(&in, "BANKB", Epochs{1, 2, 3});
  watch.OnHello(&out, "BANKB", Epochs{1, 2, 3});
  watch.OnGone(&in);
  EXPECT_EQ(watch.Missing(), Epochs{3});
  watch.OnGone(&out);
  EXPECT_EQ(watch.Missing(), Epochs{});
}

}  // namespace
}  // namespace duanka::daemon
