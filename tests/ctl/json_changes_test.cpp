// Field-by-field changes between two documents, as diff, apply --dry-run
// and the journal show them.
#include "vaultwall/policy/json_changes.h"

#include <gtest/gtest.h>

namespace vaultwall {
namespace {

using nlohmann::json;

std::vector<std::string> texts(const json& before, const json& after) {
  std::vector<std::string> out;
  for (const JsonChange& change : json_changes(before, after)) out.push_back(change.text());
  return out;
}

TEST(JsonChanges, EqualDocumentsHaveNone) {
  json doc = json::parse(R"({"a": {"b": [1, 2]}, "c": "x"})");
  EXPECT_TRUE(json_changes(doc, doc).empty());
}

TEST(JsonChanges, ScalarsAddedRemovedAndChangedAreNamedAtTheirPath) {
  json before = json::parse(R"({"vaultwall": {"mode": "enforce", "old": 1}})");
  json after = json::parse(R"({"vaultwall": {"mode": "audit", "new": true}})");
  EXPECT_EQ(texts(before, after),
            (std::vector<std::string>{"vaultwall.mode: enforce -> audit", "vaultwall.old: - 1",
                                      "vaultwall.new: + true"}));
}

TEST(JsonChanges, ListsOfScalarsCompareAsSets) {
  json before = json::parse(R"({"ports": ["tcp/443", "tcp/8443"]})");
  json after = json::parse(R"({"ports": ["tcp/8443", "udp/443"]})");
  EXPECT_EQ(texts(before, after),
            (std::vector<std::string>{"ports: - tcp/443", "ports: + udp/443"}));
  EXPECT_TRUE(json_changes(json::parse(R"({"p": [1, 2]})"), json::parse(R"({"p": [2, 1]})")).empty())
      << "order alone is no change";
}

TEST(JsonChanges, ElementsWithAnIdentityAreMatchedAndDescribedInside) {
  json before = json::parse(R"({"virtualNetworks": [
      {"id": "/subscriptions/s/resourceGroups/g/providers/Microsoft.Network/virtualNetworks/app",
       "segment": {"interface": "eth1"},
       "subnets": [{"name": "web", "addressPrefix": "10.1.0.0/24"}]}]})");
  json after = json::parse(R"({"virtualNetworks": [
      {"id": "/SUBSCRIPTIONS/s/resourceGroups/g/providers/Microsoft.Network/virtualNetworks/app",
       "segment": {"interface": "eth2"},
       "subnets": [{"name": "web", "addressPrefix": "10.1.1.0/24"}, {"name": "db", "addressPrefix": "10.1.2.0/24"}]}]})");
  EXPECT_EQ(texts(before, after),
            (std::vector<std::string>{
                "virtualNetworks[app].segment.interface: eth1 -> eth2",
                "virtualNetworks[app].subnets[web].addressPrefix: 10.1.0.0/24 -> 10.1.1.0/24",
                R"(virtualNetworks[app].subnets: + {"addressPrefix":"10.1.2.0/24","name":"db"})"}))
      << "ids match case-insensitively, as Azure's do";
}

TEST(JsonChanges, AnElementWhoseIdentityChangedIsOneRemovedAndOneAdded) {
  json before = json::parse(R"({"rules": [{"value": "192.0.2.1"}]})");
  json after = json::parse(R"({"rules": [{"value": "192.0.2.2"}]})");
  EXPECT_EQ(texts(before, after),
            (std::vector<std::string>{R"(rules: - {"value":"192.0.2.1"})",
                                      R"(rules: + {"value":"192.0.2.2"})"}));
}

TEST(JsonChanges, ATypeChangeIsAChange) {
  EXPECT_EQ(texts(json::parse(R"({"a": [1]})"), json::parse(R"({"a": {"b": 1}})")),
            (std::vector<std::string>{R"(a: [1] -> {"b":1})"}));
}

}  // namespace
}  // namespace vaultwall
