// The YAML converter of plan: plain scalars typed as kubectl types them, quoted ones kept as
// strings, errors with their line, and round trips (JSON to YAML to JSON gives the value back,
// and the YAML text back) for the strings that trip YAML writers up.
#include "plan/yaml_json.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <limits>
#include <random>
#include <string>

namespace sessionstore::plan {
namespace {

Json parseOne(const std::string& text) {
  auto documents = parseYaml(text);
  EXPECT_TRUE(documents.has_value()) << documents.error();
  if (!documents || documents->size() != 1) {
    ADD_FAILURE() << "expected one document in: " << text;
    return nullptr;
  }
  return documents->front();
}

void expectRoundTrip(const Json& value) {
  const std::string yaml = toYaml(value);
  auto back = parseYaml(yaml);
  ASSERT_TRUE(back.has_value()) << back.error() << "\n" << yaml;
  ASSERT_EQ(back->size(), 1u) << yaml;
  EXPECT_EQ(back->front(), value) << yaml;
  EXPECT_EQ(back->front().dump(), value.dump()) << yaml;  // the same types, not just equal values
  EXPECT_EQ(toYaml(back->front()), yaml);
}

TEST(ParseYaml, TypesPlainScalarsAsKubectlDoes) {
  const Json value = parseOne(R"(
replicas: 2
negative: -3
size: 1Gi
cpu: 500m
cpuQuoted: '2'
cpuDouble: "2"
half: 0.5
exponent: 1e3
version: 1.20
hex: 0x1F
octal: 0o17
legacyOctal: 017
enabled: true
yes: yes
off: Off
quotedTrue: "true"
nothing:
tilde: ~
nullWord: null
quotedNull: "null"
tagged: !!str 5
image: redis:7.2-alpine
url: http://prometheus:9090
empty: ""
)");
  EXPECT_EQ(value["replicas"], 2);
  EXPECT_TRUE(value["replicas"].is_number_integer());
  EXPECT_EQ(value["negative"], -3);
  EXPECT_EQ(value["size"], "1Gi");
  EXPECT_EQ(value["cpu"], "500m");
  EXPECT_EQ(value["cpuQuoted"], "2");
  EXPECT_EQ(value["cpuDouble"], "2");
  EXPECT_TRUE(value["half"].is_number_float());
  EXPECT_EQ(value["half"], 0.5);
  EXPECT_EQ(value["exponent"], 1000.0);
  EXPECT_TRUE(value["version"].is_number_float());  // the classic: unquoted 1.20 is 1.2
  EXPECT_EQ(value["hex"], 31);
  EXPECT_EQ(value["octal"], 15);
  EXPECT_EQ(value["legacyOctal"], 15);
  EXPECT_EQ(value["enabled"], true);
  EXPECT_EQ(value["yes"], true);
  EXPECT_EQ(value["off"], false);
  EXPECT_EQ(value["quotedTrue"], "true");
  EXPECT_TRUE(value["nothing"].is_null());
  EXPECT_TRUE(value["tilde"].is_null());
  EXPECT_TRUE(value["nullWord"].is_null());
  EXPECT_EQ(value["quotedNull"], "null");
  EXPECT_EQ(value["tagged"], "5");
  EXPECT_EQ(value["image"], "redis:7.2-alpine");
  EXPECT_EQ(value["url"], "http://prometheus:9090");
  EXPECT_EQ(value["empty"], "");
}

TEST(ParseYaml, KeepsBlockScalarsAsStrings) {
  const Json value = parseOne("a: |\n  1\n  2\nb: >-\n  true\nc: [1, '1', x]\n");
  EXPECT_EQ(value["a"], "1\n2\n");
  EXPECT_EQ(value["b"], "true");
  EXPECT_EQ(value["c"], Json::array({1, "1", "x"}));
}

TEST(ParseYaml, BigIntegersStayNumbers) {
  const Json value = parseOne(
      "max: 9223372036854775807\nmin: -9223372036854775808\nu: 18446744073709551615\n"
      "huge: 123456789012345678901234567890\n");
  EXPECT_EQ(value["max"], std::numeric_limits<std::int64_t>::max());
  EXPECT_EQ(value["min"], std::numeric_limits<std::int64_t>::min());
  EXPECT_EQ(value["u"], std::numeric_limits<std::uint64_t>::max());
  EXPECT_TRUE(value["huge"].is_number_float());
}

TEST(ParseYaml, ReadsEveryDocumentAndSkipsEmptyOnes) {
  auto documents = parseYaml("# only a comment\n---\na: 1\n---\n# nothing\n---\n- b\n---\n");
  ASSERT_TRUE(documents.has_value()) << documents.error();
  ASSERT_EQ(documents->size(), 2u);
  EXPECT_EQ((*documents)[0], (Json{{"a", 1}}));
  EXPECT_EQ((*documents)[1], Json::array({"b"}));
  auto none = parseYaml("");
  ASSERT_TRUE(none.has_value());
  EXPECT_TRUE(none->empty());
}

TEST(ParseYaml, ErrorsSayTheLine) {
  auto bad = parseYaml("a: 1\nb: [1, 2\nc: 3\n");
  ASSERT_FALSE(bad.has_value());
  EXPECT_NE(bad.error().find("line "), std::string::npos) << bad.error();
  EXPECT_NE(bad.error().find("column "), std::string::npos) << bad.error();

  auto tab = parseYaml("a:\n  b: 1\n c: 2\n");
  ASSERT_FALSE(tab.has_value());
  EXPECT_EQ(tab.error().rfind("line 3", 0), 0u) << tab.error();

  auto key = parseYaml("? [1, 2]\n: x\n");
  ASSERT_FALSE(key.has_value());
  EXPECT_NE(key.error().find("a mapping key must be a scalar"), std::string::npos) << key.error();
}

// Found by tests/fuzz/plan_yaml (regressions/plan_yaml/flow-entry-after-document): on a ',' that
// no flow collection opened, yaml-cpp 0.7's LoadAll started the same empty document forever,
// growing its result until memory ran out; `plan -f` hung on such a file.
TEST(ParseYaml, AStrayFlowEntryIsAnErrorNotAHang) {
  for (const std::string text : {"'',", "[a],", "a: 1\n---\n'x', y\n"}) {
    auto parsed = parseYaml(text);
    ASSERT_FALSE(parsed.has_value()) << text;
    EXPECT_NE(parsed.error().find("unexpected content after the end of a document"),
              std::string::npos)
        << parsed.error();
    EXPECT_EQ(parsed.error().rfind("line ", 0), 0u) << parsed.error();
  }
}

// Found by tests/fuzz/plan_yaml (regressions/plan_yaml/key-not-utf8): bytes that are not UTF-8
// came through as JSON strings that nlohmann::json cannot write, and that toYaml wrote back as
// U+FFFD in quoted scalars only, breaking the round trip.
TEST(ParseYaml, TextThatIsNotUtf8IsAnError) {
  for (const std::string text : {"a: \xd9x\n", "\"\xd9\": 1\n", "[\xff]", "a: \xed\xa0\x80\n"}) {
    auto parsed = parseYaml(text);
    ASSERT_FALSE(parsed.has_value()) << "accepted " << testing::PrintToString(text);
    EXPECT_NE(parsed.error().find("not UTF-8 text"), std::string::npos) << parsed.error();
    EXPECT_EQ(parsed.error().rfind("line 1, column ", 0), 0u) << parsed.error();
  }
  auto accented = parseYaml("caf\xc3\xa9: \xe2\x82\xac\n");
  ASSERT_TRUE(accented.has_value()) << accented.error();
  EXPECT_EQ(accented->front(), (Json{{"caf\xc3\xa9", "\xe2\x82\xac"}}));
}

// Found by tests/fuzz/plan_yaml (regressions/plan_yaml/key-longer-than-1024-once-escaped): YAML
// limits an implicit key to 1024 characters as written, so a long key, or a short one that
// escaping makes long, did not read back. Such keys are written as explicit "? key" entries.
TEST(ToYaml, KeysTooLongForAnImplicitKeyReadBack) {
  const std::string annotation = "example.com/" + std::string(300, 'k');  // 312: stays implicit
  const std::string escaped(200, '\x01');  // 200 bytes, 802 once written as "\x01..."
  const std::string plain(1500, 'k');
  for (const std::string& key : {annotation, escaped, plain}) {
    const Json value = {{key, "v"}, {"after", 1}};
    const std::string text = toYaml(value);
    auto back = parseYaml(text);
    ASSERT_TRUE(back.has_value()) << back.error();
    EXPECT_EQ(back->front(), value);
  }
  EXPECT_EQ(toYaml(Json{{annotation, "v"}}).rfind(annotation + ": v", 0), 0u);
  EXPECT_EQ(toYaml(Json{{plain, "v"}}).rfind("? " + plain, 0), 0u);
}

// Found by tests/fuzz/plan_yaml (regressions/plan_yaml/alias-inside-its-own-anchor): an alias
// inside the node it names is a cycle in yaml-cpp's node graph, and the walk to JSON recursed
// until the stack overflowed. Aliases of aliases ("billion laughs") would exhaust memory.
TEST(ParseYaml, AliasesThatNeverEndOrExplodeAreErrors) {
  auto cycle = parseYaml("defaults: &d\n  maxMemory: 64Mi\n  again: *d\n");
  ASSERT_FALSE(cycle.has_value());
  EXPECT_NE(cycle.error().find("nested deeper than 100 levels"), std::string::npos)
      << cycle.error();

  std::string laughs = "l0: &l0 [x, x, x, x, x, x, x, x, x, x]\n";
  for (int i = 1; i <= 6; ++i) {  // 10^7 values once expanded
    const std::string prev = "*l" + std::to_string(i - 1);
    laughs += "l" + std::to_string(i) + ": &l" + std::to_string(i) + " [";
    for (int j = 0; j < 10; ++j) laughs += (j ? ", " : "") + prev;
    laughs += "]\n";
  }
  auto bomb = parseYaml(laughs);
  ASSERT_FALSE(bomb.has_value());
  EXPECT_NE(bomb.error().find("expands to more than 1000000 values"), std::string::npos)
      << bomb.error();

  // Aliases used as intended still work, and so does nesting as deep as objects go.
  auto merged = parseYaml("a: &a {x: 1}\nb: *a\n");
  ASSERT_TRUE(merged.has_value()) << merged.error();
  EXPECT_EQ(merged->front(), (Json{{"a", {{"x", 1}}}, {"b", {{"x", 1}}}}));
  auto deep = parseYaml(std::string(60, '[') + std::string(60, ']'));
  ASSERT_TRUE(deep.has_value()) << deep.error();
}

// Found by tests/fuzz/plan_yaml (regressions/plan_yaml/carriage-return): "\r" was written as a
// plain scalar, which a reader takes for a line break.
TEST(ToYaml, ControlCharactersAreDoubleQuotedAndReadBack) {
  for (const std::string text : {"\r", "a\rb", "tab\there", "bell\x07", "del\x7f", "two\nlines"}) {
    const std::string yaml = toYaml(Json{{"v", text}});
    EXPECT_EQ(yaml.rfind("v: \"", 0), 0u) << yaml;
    auto back = parseYaml(yaml);
    ASSERT_TRUE(back.has_value()) << back.error();
    EXPECT_EQ(back->front(), (Json{{"v", text}})) << yaml;
  }
}

// Found by tests/fuzz/plan_yaml (regressions/plan_yaml/tagged-empty-document): "!c\"" (a tag and
// nothing else) gave a null document while "~" gave none; a null document now holds nothing.
TEST(ParseYaml, ANullDocumentHoldsNothing) {
  for (const std::string text : {"~\n", "!c\"", "null\n---\n", "--- !!null\n"}) {
    auto parsed = parseYaml(text);
    ASSERT_TRUE(parsed.has_value()) << parsed.error();
    EXPECT_TRUE(parsed->empty()) << text << ": " << parsed->front().dump();
  }
  auto two = parseYaml("a: 1\n---\n~\n---\nb: 2\n");
  ASSERT_TRUE(two.has_value()) << two.error();
  EXPECT_EQ(*two, (std::vector<Json>{{{"a", 1}}, {{"b", 2}}}));
}

TEST(ToYaml, QuotesStringsThatWouldReadBackAsAnotherType) {
  EXPECT_EQ(toYaml(Json{{"value", "5"}}), "value: \"5\"\n");
  EXPECT_EQ(toYaml(Json{{"value", 5}}), "value: 5\n");
  EXPECT_EQ(toYaml(Json{{"a", "true"}}), "a: \"true\"\n");
  EXPECT_EQ(toYaml(Json{{"a", "yes"}}), "a: \"yes\"\n");
  EXPECT_EQ(toYaml(Json{{"a", "null"}}), "a: \"null\"\n");
  EXPECT_EQ(toYaml(Json{{"a", ""}}), "a: \"\"\n");
  EXPECT_EQ(toYaml(Json{{"a", "0.5"}}), "a: \"0.5\"\n");
  EXPECT_EQ(toYaml(Json{{"a", "1Gi"}}), "a: \"1Gi\"\n");
  EXPECT_EQ(toYaml(Json{{"a", "web"}}), "a: web\n");
  EXPECT_EQ(toYaml(Json{{"a", true}}), "a: true\n");
  EXPECT_EQ(toYaml(Json{{"a", 2.0}}), "a: 2.0\n");
  EXPECT_EQ(toYaml(Json{{"a", nullptr}}), "a: ~\n");
}

TEST(ToYaml, WritesMultiLineTextAsALiteralBlock) {
  EXPECT_EQ(toYaml(Json{{"redis.conf", "port 6379\nbind 0.0.0.0\n"}}),
            "redis.conf: |\n  port 6379\n  bind 0.0.0.0\n");
  // Without a final newline, or with a leading space, a literal block would not hold it exactly.
  EXPECT_EQ(toYaml(Json{{"a", "x\ny"}}), "a: \"x\\ny\"\n");
  EXPECT_EQ(toYaml(Json{{"a", " x\ny\n"}}), "a: \" x\\ny\\n\"\n");
}

TEST(ToYaml, PutsApiVersionKindAndMetadataFirst) {
  const Json object = {
      {"spec", {{"b", 1}, {"a", 2}}},
      {"metadata", {{"namespace", "shop"}, {"labels", {{"x", "y"}}}, {"name", "web"}}},
      {"kind", "Service"},
      {"apiVersion", "v1"},
      {"data", Json::object()},
      {"items", Json::array()}};
  EXPECT_EQ(toYaml(object),
            "apiVersion: v1\n"
            "kind: Service\n"
            "metadata:\n"
            "  name: web\n"
            "  namespace: shop\n"
            "  labels:\n"
            "    x: \"y\"\n"  // y is a boolean to YAML 1.1 readers
            "data: {}\n"
            "items: []\n"
            "spec:\n"
            "  a: 2\n"
            "  b: 1\n");
}

TEST(ToYaml, NeedsQuotes) {
  for (const char* text :
       {"",  "true", "False", "YES", "no", "On",  "off",  "y",  "N", "null", "Null",
        "~", "1",    "-1",    "+1",  ".5", "1Gi", "0x1F", "<<", "=", "-x",   "..."}) {
    EXPECT_TRUE(needsQuotes(text)) << text;
  }
  for (const char* text : {"web", "redis:7.2-alpine", "ClientIP", "app.kubernetes.io/name",
                           "http://x:9090", "yesterday", "nil", "a b"}) {
    EXPECT_FALSE(needsQuotes(text)) << text;
  }
}

TEST(RoundTrip, ScalarsThatTripYamlWritersUp) {
  Json strings = Json::object();
  int i = 0;
  for (const char* text : {"",
                           "true",
                           "True",
                           "yes",
                           "no",
                           "on",
                           "off",
                           "y",
                           "n",
                           "null",
                           "~",
                           "1",
                           "-1",
                           "0.5",
                           "1e3",
                           ".inf",
                           ".nan",
                           "0x1F",
                           "017",
                           "1Gi",
                           "500m",
                           "-x",
                           "- x",
                           "--- x",
                           "---",
                           "...",
                           " lead",
                           "trail ",
                           "a: b",
                           "a:b",
                           "#x",
                           "x #y",
                           "@x",
                           "%x",
                           "!x",
                           "&x",
                           "*x",
                           "[x]",
                           "{x}",
                           "|x",
                           ">x",
                           "'x'",
                           "\"x\"",
                           "`x",
                           "? x",
                           "<<",
                           "=",
                           "multi\nline\n",
                           "multi\nline",
                           "x\n\ny\n",
                           "a\n  indented\n",
                           "\n",
                           "\n\n",
                           "x\n\n",
                           "tab\there",
                           "ctl\x01x",
                           "crlf\r\n",
                           "ünïcödé",
                           "a\\b",
                           "http://user:pass@host:6379/0",
                           "   ",
                           "a\n   \nb\n"}) {
    strings["k" + std::to_string(i++)] = text;
  }
  expectRoundTrip(strings);
  expectRoundTrip(Json::array({strings}));
  Json keys = Json::object();
  for (const char* key :
       {"", "1", "true", "null", "a b", "a: b", "-", "#", "app.kubernetes.io/x"}) {
    keys[key] = key;
  }
  expectRoundTrip(keys);
}

TEST(RoundTrip, NumbersBooleansNullAndNesting) {
  expectRoundTrip(
      Json{{"int", 0},
           {"negative", -1},
           {"max", std::numeric_limits<std::int64_t>::max()},
           {"min", std::numeric_limits<std::int64_t>::min()},
           {"unsigned", std::numeric_limits<std::uint64_t>::max()},
           {"half", 0.5},
           {"two", 2.0},
           {"tiny", 1e-300},
           {"big", 1e300},
           {"third", 1.0 / 3.0},
           {"t", true},
           {"f", false},
           {"nothing", nullptr},
           {"emptyObject", Json::object()},
           {"emptyArray", Json::array()},
           {"nested", Json::array({Json::array({1, "1"}), Json{{"a", Json::array()}}})}});
}

TEST(RoundTrip, RandomStrings) {
  const std::string alphabet = " :#-'\"\n\t{}[],&*!|>%@`?~=<.0123456789abcxyzTNY\\/";
  std::mt19937 random(20240611);
  std::uniform_int_distribution<std::size_t> length(0, 12), pick(0, alphabet.size() - 1);
  Json values = Json::object();
  for (int i = 0; i < 3000; ++i) {
    std::string text;
    for (std::size_t n = length(random); n > 0; --n) text += alphabet[pick(random)];
    values[std::to_string(i)] = text;
    values[text] = i;  // as a key too
  }
  expectRoundTrip(values);
}

}  // namespace
}  // namespace sessionstore::plan
