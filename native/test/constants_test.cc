// layout_constants() (exported by the addon as `constants`) holds every SHMRING_* value of
// layout.h, with layout.h's value: proven by parsing the header itself, so adding a constant to
// layout.h without exporting it fails here.
#include <fstream>
#include <map>
#include <regex>
#include <sstream>
#include <string>

#include <gtest/gtest.h>

#include "shmring/header.h"

namespace shmring {
namespace {

std::map<std::string, uint64_t> parse_layout_h() {
  std::ifstream file(SHMRING_LAYOUT_H_PATH);
  EXPECT_TRUE(file.good()) << "cannot read " << SHMRING_LAYOUT_H_PATH;
  std::map<std::string, uint64_t> defines;
  const std::regex define(R"(^\s*#\s*define\s+SHMRING_(\w+)\s+(0[xX][0-9A-Fa-f]+|[0-9]+)[uU]?\b)");
  std::string line;
  while (std::getline(file, line)) {
    std::smatch match;
    if (std::regex_search(line, match, define)) {
      defines[match[1].str()] = std::stoull(match[2].str(), nullptr, 0);
    }
  }
  return defines;
}

TEST(Constants, TableMatchesLayoutHeader) {
  const std::map<std::string, uint64_t> defines = parse_layout_h();
  ASSERT_GT(defines.size(), 30u) << "parsed too little of layout.h";
  size_t count = 0;
  const LayoutConstant* table = layout_constants(&count);
  std::map<std::string, uint64_t> exported;
  for (size_t i = 0; i < count; ++i) {
    EXPECT_TRUE(exported.emplace(table[i].name, table[i].value).second)
        << "duplicate " << table[i].name;
  }
  for (const auto& [name, value] : defines) {
    auto found = exported.find(name);
    ASSERT_NE(found, exported.end()) << "SHMRING_" << name << " is not exported";
    EXPECT_EQ(found->second, value) << name;
  }
  for (const auto& [name, value] : exported) {
    EXPECT_TRUE(defines.count(name) == 1) << name << " is exported but not in layout.h";
  }
}

}  // namespace
}  // namespace shmring
