#include "imageref/image_ref.h"

#include <algorithm>
#include <cctype>

namespace sessionstore::imageref {
namespace {

constexpr std::size_t kMaxName = 255;
constexpr std::size_t kMaxTag = 128;
constexpr std::size_t kMaxReference = 512;  // the CRD's maxLength of spec.store.managed.image

bool lowerAlnum(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }
bool alnum(char c) { return std::isalnum(static_cast<unsigned char>(c)) != 0; }
bool word(char c) { return alnum(c) || c == '_'; }
bool hex(char c) { return std::isxdigit(static_cast<unsigned char>(c)) != 0; }
bool digit(char c) { return c >= '0' && c <= '9'; }

// [a-z0-9]+ *( ( "." | "_" | "__" | "-"+ ) [a-z0-9]+ )
bool pathComponent(std::string_view text) {
  std::size_t i = 0;
  const auto run = [&] {
    const std::size_t start = i;
    while (i < text.size() && lowerAlnum(text[i])) ++i;
    return i > start;
  };
  if (!run()) return false;
  while (i < text.size()) {
    if (text[i] == '.') {
      ++i;
    } else if (text[i] == '_') {
      ++i;
      if (i < text.size() && text[i] == '_') ++i;
    } else if (text[i] == '-') {
      while (i < text.size() && text[i] == '-') ++i;
    } else {
      return false;
    }
    if (!run()) return false;
  }
  return true;
}

// [A-Za-z0-9] | [A-Za-z0-9][A-Za-z0-9-]*[A-Za-z0-9]
bool domainComponent(std::string_view text) {
  if (text.empty() || !alnum(text.front()) || !alnum(text.back())) return false;
  return std::all_of(text.begin(), text.end(), [](char c) { return alnum(c) || c == '-'; });
}

bool port(std::string_view text) {
  return !text.empty() && text.size() <= 5 && std::all_of(text.begin(), text.end(), digit);
}

std::expected<void, std::string> checkDomain(std::string_view domain) {
  const auto bad = [&](const std::string& what) {
    return std::unexpected("the registry \"" + std::string(domain) + "\" " + what);
  };
  std::string_view host = domain;
  if (domain.front() == '[') {
    const auto close = domain.find(']');
    if (close == std::string_view::npos) return bad("has an unclosed [");
    const std::string_view address = domain.substr(1, close - 1);
    if (address.empty() || !std::all_of(address.begin(), address.end(),
                                        [](char c) { return hex(c) || c == ':' || c == '.'; })) {
      return bad("is not an IPv6 address in [ ]");
    }
    const std::string_view rest = domain.substr(close + 1);
    if (rest.empty()) return {};
    if (rest.front() != ':' || !port(rest.substr(1))) return bad("has a port that is not a number");
    return {};
  }
  if (const auto colon = host.find(':'); colon != std::string_view::npos) {
    if (!port(host.substr(colon + 1))) return bad("has a port that is not a number");
    host = host.substr(0, colon);
  }
  std::size_t start = 0;
  while (true) {
    const auto dot = host.find('.', start);
    const std::string_view component = host.substr(start, dot - start);
    if (!domainComponent(component)) {
      return bad(
          "is not a host name (letters, digits and -, in parts separated by dots) with an "
          "optional :port");
    }
    if (dot == std::string_view::npos) break;
    start = dot + 1;
  }
  return {};
}

std::expected<void, std::string> checkDigest(std::string_view digest) {
  const auto colon = digest.find(':');
  const auto bad = std::unexpected(
      std::string("the digest must be ALGORITHM:HEX, such as sha256: and 64 hex digits"));
  if (colon == std::string_view::npos) return bad;
  const std::string_view algorithm = digest.substr(0, colon);
  const std::string_view encoded = digest.substr(colon + 1);
  // [A-Za-z][A-Za-z0-9]* *( [+._-] [A-Za-z][A-Za-z0-9]* )
  bool expectStart = true;
  if (algorithm.empty()) return bad;
  for (char c : algorithm) {
    if (expectStart) {
      if (!std::isalpha(static_cast<unsigned char>(c))) return bad;
      expectStart = false;
    } else if (c == '+' || c == '.' || c == '_' || c == '-') {
      expectStart = true;
    } else if (!alnum(c)) {
      return bad;
    }
  }
  if (expectStart) return bad;
  if (encoded.size() < 32 || !std::all_of(encoded.begin(), encoded.end(), hex)) return bad;
  return {};
}

bool looksLikeDomain(std::string_view component) {
  // "[fd00::1]": an IPv6 address, in any case ("[D1]" is one, and "[d1]" as the canonical name
  // writes it must be one too).
  return component.starts_with("[") || component.find_first_of(".:") != std::string_view::npos ||
         component == "localhost" || std::any_of(component.begin(), component.end(), [](char c) {
           return c >= 'A' && c <= 'Z';
         });
}

std::string lower(std::string_view text) {
  std::string out(text);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// A canonical name with its registry in lower case: registries are host names, which compare in
// any case; repositories are lower case already.
std::string comparable(const std::string& canonical) {
  const auto slash = canonical.find('/');
  return lower(std::string_view(canonical).substr(0, slash)) +
         (slash == std::string::npos ? std::string() : canonical.substr(slash));
}

// Splits a name into domain and path and checks both.
std::expected<void, std::string> splitName(std::string_view name, ImageRef& out) {
  if (name.empty()) return std::unexpected(std::string("the image name is empty"));
  if (name.size() > kMaxName) {
    return std::unexpected("the image name is longer than " + std::to_string(kMaxName) +
                           " characters");
  }
  std::string_view path = name;
  if (const auto slash = name.find('/');
      slash != std::string_view::npos && looksLikeDomain(name.substr(0, slash))) {
    const std::string_view domain = name.substr(0, slash);
    if (auto checked = checkDomain(domain); !checked) return checked;
    out.domain = std::string(domain);
    path = name.substr(slash + 1);
  }
  std::size_t start = 0;
  while (true) {
    const auto slash = path.find('/', start);
    const std::string_view component = path.substr(start, slash - start);
    if (!pathComponent(component)) {
      return std::unexpected(
          "the repository \"" + std::string(path) +
          "\" must be lower-case letters and digits in parts separated by /, each part joined "
          "only by . _ __ or -");
    }
    if (slash == std::string_view::npos) break;
    start = slash + 1;
  }
  out.path = std::string(path);
  // The limit holds for the name as a runtime pulls it: "redis" is docker.io/library/redis.
  if (const auto canonical = out.canonicalName(); canonical.size() > kMaxName) {
    return std::unexpected("the image name is longer than " + std::to_string(kMaxName) +
                           " characters as it is pulled (" +
                           canonical.substr(0, canonical.find('/')) +
                           "/..., with the registry and library/ filled in)");
  }
  return {};
}

}  // namespace

std::string ImageRef::canonicalName() const {
  if (domain.empty()) {
    return "docker.io/" + (path.find('/') == std::string::npos ? "library/" + path : path);
  }
  // The registry as written: lowering it could make it read as a path ("Redis/x" is a registry,
  // "redis/x" is not). Allow-lists compare registries in any case (comparable() below).
  return domain + "/" + path;
}

std::string ImageRef::toString() const {
  std::string out = domain.empty() ? path : domain + "/" + path;
  if (!tag.empty()) out += ":" + tag;
  if (!digest.empty()) out += "@" + digest;
  return out;
}

std::expected<ImageRef, std::string> parse(std::string_view text) {
  if (text.empty()) return std::unexpected(std::string("the image is empty"));
  for (std::size_t i = 0; i < text.size(); ++i) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (c <= 0x20 || c >= 0x7f) {
      return std::unexpected("the image has a space, control or non-ASCII character at position " +
                             std::to_string(i + 1) + ": an image reference has none");
    }
  }
  if (text.size() > kMaxReference) {
    return std::unexpected("the image is longer than " + std::to_string(kMaxReference) +
                           " characters");
  }
  ImageRef out;
  std::string_view rest = text;
  if (const auto at = rest.find('@'); at != std::string_view::npos) {
    const std::string_view digest = rest.substr(at + 1);
    if (auto checked = checkDigest(digest); !checked) return std::unexpected(checked.error());
    out.digest = std::string(digest);
    rest = rest.substr(0, at);
  }
  const auto lastSlash = rest.rfind('/');
  const auto colon = rest.rfind(':');
  if (colon != std::string_view::npos &&
      (lastSlash == std::string_view::npos || colon > lastSlash)) {
    const std::string_view tag = rest.substr(colon + 1);
    if (tag.empty() || tag.size() > kMaxTag || !word(tag.front()) ||
        !std::all_of(tag.begin(), tag.end(),
                     [](char c) { return word(c) || c == '.' || c == '-'; })) {
      return std::unexpected(
          std::string("the tag must be 1 to 128 letters, digits, _ . or -, not starting with . "
                      "or -"));
    }
    out.tag = std::string(tag);
    rest = rest.substr(0, colon);
  }
  if (auto split = splitName(rest, out); !split) return std::unexpected(split.error());
  return out;
}

std::expected<AllowList, std::string> AllowList::parse(std::string_view text) {
  AllowList out;
  std::size_t start = 0;
  while (start <= text.size()) {
    auto comma = text.find(',', start);
    if (comma == std::string_view::npos) comma = text.size();
    std::string_view item = text.substr(start, comma - start);
    while (!item.empty() && (item.front() == ' ' || item.front() == '\t')) item.remove_prefix(1);
    while (!item.empty() && (item.back() == ' ' || item.back() == '\t')) item.remove_suffix(1);
    start = comma + 1;
    if (item.empty()) continue;
    const std::string quoted = "\"" + std::string(item) + "\"";
    if (item.find('/') == std::string_view::npos && looksLikeDomain(item)) {
      if (auto checked = checkDomain(item); !checked) {
        return std::unexpected("entry " + quoted + ": " + checked.error());
      }
      out.entries_.push_back({.text = std::string(item), .registry = true, .name = lower(item)});
      continue;
    }
    auto parsed = imageref::parse(item);
    if (!parsed) return std::unexpected("entry " + quoted + ": " + parsed.error());
    if (!parsed->tag.empty() || !parsed->digest.empty()) {
      return std::unexpected("entry " + quoted +
                             ": give a registry or an image name, without a tag or digest");
    }
    // As an image: "redis" is docker.io/library/redis, "bitnami/redis" docker.io/bitnami/redis.
    out.entries_.push_back({.text = std::string(item),
                            .registry = false,
                            .name = comparable(parsed->canonicalName())});
  }
  return out;
}

bool AllowList::allows(const ImageRef& image) const {
  if (entries_.empty()) return true;
  const std::string name = comparable(image.canonicalName());
  const std::string registry = name.substr(0, name.find('/'));
  return std::any_of(entries_.begin(), entries_.end(), [&](const Entry& entry) {
    if (entry.registry) return registry == entry.name;
    return name == entry.name || (name.size() > entry.name.size() && name.starts_with(entry.name) &&
                                  name[entry.name.size()] == '/');
  });
}

std::string AllowList::describe() const {
  std::string out;
  for (const Entry& entry : entries_) out += (out.empty() ? "" : ", ") + entry.text;
  return out;
}

}  // namespace sessionstore::imageref
