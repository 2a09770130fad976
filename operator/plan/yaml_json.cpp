#include "plan/yaml_json.h"

#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <limits>
#include <optional>
#include <sstream>

namespace sessionstore::plan {
namespace {

constexpr std::string_view kStrTag = "tag:yaml.org,2002:str";

bool isOneOf(std::string_view text, std::initializer_list<std::string_view> words) {
  return std::find(words.begin(), words.end(), text) != words.end();
}

bool isNullWord(std::string_view text) { return isOneOf(text, {"", "~", "null", "Null", "NULL"}); }

std::optional<bool> boolWord(std::string_view text) {
  if (isOneOf(text, {"true", "True", "TRUE", "yes", "Yes", "YES", "on", "On", "ON", "y", "Y"})) {
    return true;
  }
  if (isOneOf(text, {"false", "False", "FALSE", "no", "No", "NO", "off", "Off", "OFF", "n", "N"})) {
    return false;
  }
  return std::nullopt;
}

bool allOf(std::string_view text, std::string_view allowed) {
  return !text.empty() && text.find_first_not_of(allowed) == std::string_view::npos;
}

// A double for `text` (which the caller checked is a float's spelling), via from_chars: no locale.
Json parseDouble(std::string_view text) {
  if (!text.empty() && text.front() == '+') text.remove_prefix(1);
  double value = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error == std::errc::result_out_of_range) {
    const bool negative = !text.empty() && text.front() == '-';
    return negative ? -std::numeric_limits<double>::infinity()
                    : std::numeric_limits<double>::infinity();
  }
  if (error != std::errc() || end != text.data() + text.size()) return Json(std::string(text));
  return Json(value);
}

// [-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?  (the YAML 1.2 core schema's float)
bool isFloat(std::string_view text) {
  std::size_t i = 0;
  if (i < text.size() && (text[i] == '-' || text[i] == '+')) ++i;
  const std::size_t intStart = i;
  while (i < text.size() && text[i] >= '0' && text[i] <= '9') ++i;
  const bool intDigits = i > intStart;
  bool fracDigits = false;
  if (i < text.size() && text[i] == '.') {
    ++i;
    const std::size_t fracStart = i;
    while (i < text.size() && text[i] >= '0' && text[i] <= '9') ++i;
    fracDigits = i > fracStart;
  }
  if (!intDigits && !fracDigits) return false;
  if (i < text.size() && (text[i] == 'e' || text[i] == 'E')) {
    ++i;
    if (i < text.size() && (text[i] == '-' || text[i] == '+')) ++i;
    const std::size_t expStart = i;
    while (i < text.size() && text[i] >= '0' && text[i] <= '9') ++i;
    if (i == expStart) return false;
  }
  return i == text.size();
}

// An integer in `digits` (no sign) in `base`, negated when asked; past 64 bits, a double.
Json parseInteger(std::string_view digits, int base, bool negative, std::string_view original) {
  std::uint64_t magnitude = 0;
  const auto [end, error] =
      std::from_chars(digits.data(), digits.data() + digits.size(), magnitude, base);
  if (error != std::errc() || end != digits.data() + digits.size() ||
      (negative && magnitude > std::uint64_t{std::numeric_limits<std::int64_t>::max()} + 1)) {
    if (base == 10) return parseDouble(original);
    return Json(std::string(original));  // a hex or octal beyond 64 bits stays as written
  }
  if (!negative) {
    if (magnitude > std::uint64_t{std::numeric_limits<std::int64_t>::max()}) {
      return Json(magnitude);
    }
    return Json(static_cast<std::int64_t>(magnitude));
  }
  if (magnitude == std::uint64_t{std::numeric_limits<std::int64_t>::max()} + 1) {
    return Json(std::numeric_limits<std::int64_t>::min());
  }
  return Json(-static_cast<std::int64_t>(magnitude));
}

// A plain scalar as kubectl reads it (see the header).
Json resolvePlain(const std::string& text) {
  if (isNullWord(text)) return Json(nullptr);
  if (const auto flag = boolWord(text)) return Json(*flag);
  std::string_view body = text;
  bool negative = false;
  if (!body.empty() && (body.front() == '-' || body.front() == '+')) {
    negative = body.front() == '-';
    body.remove_prefix(1);
  }
  if (body.size() > 2 && body[0] == '0' && (body[1] == 'x' || body[1] == 'X') &&
      allOf(body.substr(2), "0123456789abcdefABCDEF")) {
    return parseInteger(body.substr(2), 16, negative, text);
  }
  if (body.size() > 2 && body[0] == '0' && body[1] == 'o' && allOf(body.substr(2), "01234567")) {
    return parseInteger(body.substr(2), 8, negative, text);
  }
  if (body.size() > 1 && body[0] == '0' && allOf(body, "01234567")) {
    return parseInteger(body.substr(1), 8, negative, text);  // YAML 1.1 octal, as kubectl
  }
  if (allOf(body, "0123456789")) return parseInteger(body, 10, negative, text);
  if (isFloat(text)) return parseDouble(text);
  if (isOneOf(body, {".inf", ".Inf", ".INF"})) {
    return Json(negative ? -std::numeric_limits<double>::infinity()
                         : std::numeric_limits<double>::infinity());
  }
  if (isOneOf(text, {".nan", ".NaN", ".NAN"})) {
    return Json(std::numeric_limits<double>::quiet_NaN());
  }
  return Json(text);
}

std::string where(const YAML::Mark& mark) {
  return "line " + std::to_string(mark.line + 1) + ", column " + std::to_string(mark.column + 1);
}

// True when nlohmann::json can write `text`: JSON text is Unicode, and dump() throws on a string
// that is not UTF-8. (yaml-cpp passes such bytes through, and its emitter writes them back as
// U+FFFD in quoted scalars only, so toYaml would not read back the same; found by
// tests/fuzz/plan_yaml.)
bool isUtf8(const std::string& text) {
  try {
    (void)Json(text).dump();
    return true;
  } catch (const Json::type_error&) {
    return false;
  }
}

// What one file may expand to. Aliases share nodes: an alias inside the node it names makes a
// cycle that a walk never leaves (found by tests/fuzz/plan_yaml), and aliases of aliases
// multiply ("billion laughs"). Kubernetes objects nest some 20 levels.
constexpr int kMaxDepth = 100;
constexpr std::size_t kMaxValues = 1'000'000;

struct Walk {
  std::size_t values = 0;  // expanded so far, in the whole file
};

std::expected<Json, std::string> toJson(const YAML::Node& node, int depth, Walk& walk) {
  if (depth > kMaxDepth) {
    return std::unexpected(where(node.Mark()) + ": nested deeper than " +
                           std::to_string(kMaxDepth) +
                           " levels (is an alias inside the node it names?)");
  }
  if (++walk.values > kMaxValues) {
    return std::unexpected(where(node.Mark()) + ": the file expands to more than " +
                           std::to_string(kMaxValues) + " values (aliases of aliases?)");
  }
  if (node.IsScalar() && !isUtf8(node.Scalar())) {
    return std::unexpected(where(node.Mark()) + ": not UTF-8 text");
  }
  switch (node.Type()) {
    case YAML::NodeType::Undefined:
    case YAML::NodeType::Null:
      return Json(nullptr);
    case YAML::NodeType::Scalar: {
      const std::string& tag = node.Tag();
      // "!": a quoted or block scalar; "?" or "": plain; other tags: resolved like plain
      // scalars, except !!str.
      if (tag == "!" || tag == kStrTag) return Json(node.Scalar());
      return resolvePlain(node.Scalar());
    }
    case YAML::NodeType::Sequence: {
      Json out = Json::array();
      for (const auto& item : node) {
        auto value = toJson(item, depth + 1, walk);
        if (!value) return value;
        out.push_back(std::move(*value));
      }
      return out;
    }
    case YAML::NodeType::Map: {
      Json out = Json::object();
      for (const auto& entry : node) {
        if (!entry.first.IsScalar() && !entry.first.IsNull()) {
          return std::unexpected(where(entry.first.Mark()) +
                                 ": a mapping key must be a scalar, not a list or a mapping");
        }
        if (entry.first.IsScalar() && !isUtf8(entry.first.Scalar())) {
          return std::unexpected(where(entry.first.Mark()) + ": not UTF-8 text");
        }
        auto value = toJson(entry.second, depth + 1, walk);
        if (!value) return value;
        out[entry.first.IsScalar() ? entry.first.Scalar() : std::string("null")] =
            std::move(*value);
      }
      return out;
    }
  }
  return Json(nullptr);
}

bool printable(unsigned char c) { return c >= 0x20 && c != 0x7F; }

// A string a literal block (|) holds exactly: lines of printable text, one final newline, and
// no leading space (which the block's indentation would swallow).
bool literalFits(std::string_view text) {
  if (text.size() < 2 || text.back() != '\n' || text[text.size() - 2] == '\n') return false;
  if (text.front() == ' ' || text.front() == '\n') return false;
  return std::all_of(text.begin(), text.end(), [](char ch) {
    return ch == '\n' || printable(static_cast<unsigned char>(ch));
  });
}

void emitString(YAML::Emitter& out, const std::string& text) {
  if (needsQuotes(text)) {
    out << YAML::DoubleQuoted << text;
  } else if (literalFits(text)) {
    // `|` keeps one final newline (clip chomping): give the emitter the text without it.
    out << YAML::Literal << text.substr(0, text.size() - 1);
  } else if (!std::all_of(text.begin(), text.end(), [](char ch) {
               return printable(static_cast<unsigned char>(ch));
             })) {
    // A line break or another control character: a plain scalar would not read back the same
    // (a lone "\r" is a line break to a reader; found by tests/fuzz/plan_yaml).
    out << YAML::DoubleQuoted << text;
  } else {
    out << text;  // yaml-cpp quotes it when the plain form would not parse back
  }
}

// apiVersion, kind, metadata, name, namespace first; then byte order.
int keyRank(const std::string& key) {
  static constexpr std::array<std::string_view, 5> kFirst = {"apiVersion", "kind", "metadata",
                                                             "name", "namespace"};
  for (std::size_t i = 0; i < kFirst.size(); ++i) {
    if (key == kFirst[i]) return static_cast<int>(i);
  }
  return static_cast<int>(kFirst.size());
}

std::string doubleText(double value) {
  if (std::isnan(value)) return ".nan";
  if (std::isinf(value)) return value < 0 ? "-.inf" : ".inf";
  return Json(value).dump();  // shortest text that reads back as the same double, with a '.'
}

// YAML allows an implicit key of at most 1024 characters, counted as written (quotes and
// escapes included): a longer one does not read back (found by tests/fuzz/plan_yaml). True when
// `key` might be written longer than that; such a key is written in the explicit "? key" form.
bool mayOutgrowImplicitKey(const std::string& key) {
  std::size_t bound = 2;  // the quotes
  // A printable ASCII character is written in 2 at most (an escaped quote), any other byte in 10
  // at most (\UXXXXXXXX).
  for (const char c : key) bound += (c >= 0x20 && c < 0x7f) ? 2 : 10;
  return bound > 1024;
}

void emit(YAML::Emitter& out, const Json& value) {
  switch (value.type()) {
    case Json::value_t::object: {
      if (value.empty()) {
        out << YAML::Flow << YAML::BeginMap << YAML::EndMap;
        return;
      }
      std::vector<std::string> keys;
      for (const auto& [key, unused] : value.items()) keys.push_back(key);
      std::stable_sort(keys.begin(), keys.end(), [](const std::string& a, const std::string& b) {
        return keyRank(a) < keyRank(b);
      });
      out << YAML::BeginMap;
      for (const auto& key : keys) {
        if (mayOutgrowImplicitKey(key)) out << YAML::LongKey;
        out << YAML::Key;
        emitString(out, key);
        out << YAML::Value;
        emit(out, value.at(key));
      }
      out << YAML::EndMap;
      return;
    }
    case Json::value_t::array:
      if (value.empty()) {
        out << YAML::Flow << YAML::BeginSeq << YAML::EndSeq;
        return;
      }
      out << YAML::BeginSeq;
      for (const auto& item : value) emit(out, item);
      out << YAML::EndSeq;
      return;
    case Json::value_t::string:
      emitString(out, value.get_ref<const std::string&>());
      return;
    case Json::value_t::boolean:
      out << value.get<bool>();
      return;
    case Json::value_t::number_integer:
      out << value.get<std::int64_t>();
      return;
    case Json::value_t::number_unsigned:
      out << value.get<std::uint64_t>();
      return;
    case Json::value_t::number_float:
      out << doubleText(value.get<double>());
      return;
    case Json::value_t::null:
    case Json::value_t::discarded:
    case Json::value_t::binary:
      out << YAML::Null;
      return;
  }
}

// yaml-cpp 0.7's LoadAll never returns on some malformed text ("'',", "[a],"): its parser stops
// consuming at a flow entry that no collection opened and starts the same empty document again
// and again, each appended to LoadAll's result until memory runs out (found by
// tests/fuzz/plan_yaml). A first pass that only watches where documents start catches that.
class DocumentStarts : public YAML::EventHandler {
 public:
  std::optional<YAML::Mark> repeated;  // where a document started twice, if one did

  void OnDocumentStart(const YAML::Mark& mark) override {
    if (last_ && last_->pos == mark.pos) repeated = mark;
    last_ = mark;
  }
  void OnDocumentEnd() override {}
  void OnNull(const YAML::Mark&, YAML::anchor_t) override {}
  void OnAlias(const YAML::Mark&, YAML::anchor_t) override {}
  void OnScalar(const YAML::Mark&, const std::string&, YAML::anchor_t,
                const std::string&) override {}
  void OnSequenceStart(const YAML::Mark&, const std::string&, YAML::anchor_t,
                       YAML::EmitterStyle::value) override {}
  void OnSequenceEnd() override {}
  void OnMapStart(const YAML::Mark&, const std::string&, YAML::anchor_t,
                  YAML::EmitterStyle::value) override {}
  void OnMapEnd() override {}

 private:
  std::optional<YAML::Mark> last_;
};

// Where the parser would stop making progress in `text`, if it would. Throws YAML::Exception.
std::optional<YAML::Mark> stuckAt(const std::string& text) {
  std::istringstream in(text);
  YAML::Parser parser(in);
  DocumentStarts starts;
  while (!starts.repeated && parser.HandleNextDocument(starts)) {
  }
  return starts.repeated;
}

}  // namespace

bool needsQuotes(std::string_view text) {
  if (text.empty()) return true;
  if (isNullWord(text) || boolWord(text)) return true;
  static constexpr std::string_view kNumberLike = "0123456789+-.~<=";
  return kNumberLike.find(text.front()) != std::string_view::npos;
}

std::expected<std::vector<Json>, std::string> parseYaml(std::string_view text) {
  std::vector<YAML::Node> nodes;
  try {
    const std::string copy(text);
    if (const auto stuck = stuckAt(copy)) {
      return std::unexpected(where(*stuck) + ": unexpected content after the end of a document");
    }
    nodes = YAML::LoadAll(copy);
  } catch (const YAML::Exception& e) {
    return std::unexpected(where(e.mark) + ": " + e.msg);
  }
  std::vector<Json> documents;
  Walk walk;
  for (const auto& node : nodes) {
    if (node.IsNull() || !node.IsDefined()) continue;
    auto value = toJson(node, 0, walk);
    if (!value) return std::unexpected(value.error());
    // A document that is null once resolved ("~", or an empty scalar with a tag) holds nothing,
    // as kubectl sees it (found by tests/fuzz/plan_yaml: "!c\"" gave a null document).
    if (value->is_null()) continue;
    documents.push_back(std::move(*value));
  }
  return documents;
}

std::string toYaml(const Json& value) {
  YAML::Emitter out;
  out.SetIndent(2);
  emit(out, value);
  std::string text = out.c_str();
  if (text.empty() || text.back() != '\n') text += '\n';
  return text;
}

}  // namespace sessionstore::plan
