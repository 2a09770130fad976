#include "redisclient/redis_client.h"

#include <hiredis/hiredis.h>
#include <sys/time.h>

#include <charconv>

namespace sessionstore::redisclient {

namespace {

struct ReplyDeleter {
  void operator()(redisReply* r) const { freeReplyObject(r); }
};
using Reply = std::unique_ptr<redisReply, ReplyDeleter>;

timeval toTimeval(std::chrono::milliseconds ms) {
  return timeval{.tv_sec = static_cast<time_t>(ms.count() / 1000),
                 .tv_usec = static_cast<suseconds_t>((ms.count() % 1000) * 1000)};
}

std::string render(const redisReply* r) {
  switch (r->type) {
    case REDIS_REPLY_STRING:
    case REDIS_REPLY_STATUS:
    case REDIS_REPLY_ERROR:
      return std::string(r->str, r->len);
    case REDIS_REPLY_INTEGER:
      return std::to_string(r->integer);
    case REDIS_REPLY_NIL:
      return "(nil)";
    case REDIS_REPLY_ARRAY: {
      std::string out;
      for (size_t i = 0; i < r->elements; ++i) out += (i ? "\n" : "") + render(r->element[i]);
      return out;
    }
    default:
      return "";
  }
}

std::optional<int> decodeHex(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return std::nullopt;
}

std::optional<std::string> percentDecode(std::string_view text) {
  std::string out;
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '%') {
      out.push_back(text[i]);
      continue;
    }
    if (i + 2 >= text.size()) return std::nullopt;
    const auto hi = decodeHex(text[i + 1]), lo = decodeHex(text[i + 2]);
    if (!hi || !lo) return std::nullopt;
    out.push_back(static_cast<char>(*hi * 16 + *lo));
    i += 2;
  }
  return out;
}

// Runs one command; a connection or protocol failure, or an error reply, is an error text.
std::expected<Reply, std::string> run(redisContext* c, const std::vector<std::string>& args) {
  std::vector<const char*> argv;
  std::vector<size_t> lengths;
  for (const auto& a : args) {
    argv.push_back(a.data());
    lengths.push_back(a.size());
  }
  Reply reply(static_cast<redisReply*>(
      redisCommandArgv(c, static_cast<int>(argv.size()), argv.data(), lengths.data())));
  if (!reply) {
    // hiredis 0.14 reports a timeout as an I/O error ("Resource temporarily unavailable").
    return std::unexpected(std::string(c->err == REDIS_ERR_IO ? "no answer: " : "") +
                           (c->errstr[0] != '\0' ? c->errstr : "connection lost"));
  }
  if (reply->type == REDIS_REPLY_ERROR) return std::unexpected(render(reply.get()));
  return reply;
}

}  // namespace

std::expected<Endpoint, std::string> parseRedisUrl(std::string_view url) {
  Endpoint e;
  std::string_view rest;
  if (url.starts_with("redis://")) {
    rest = url.substr(8);
  } else if (url.starts_with("rediss://")) {
    rest = url.substr(9);
    e.tls = true;
  } else {
    return std::unexpected("the URL must start with redis:// or rediss://");
  }
  const auto slash = rest.find('/');
  std::string_view authority = rest.substr(0, slash);
  if (slash != std::string_view::npos) {
    const auto db = rest.substr(slash + 1);
    if (!db.empty() && db.find_first_not_of("0123456789") != std::string_view::npos) {
      return std::unexpected("the database after the host must be a number");
    }
  }
  if (const auto at = authority.rfind('@'); at != std::string_view::npos) {
    const auto userinfo = authority.substr(0, at);
    authority = authority.substr(at + 1);
    const auto colon = userinfo.find(':');
    auto user = percentDecode(userinfo.substr(0, colon));
    auto pass = colon == std::string_view::npos ? std::optional<std::string>("")
                                                : percentDecode(userinfo.substr(colon + 1));
    if (!user || !pass) return std::unexpected("the credentials are not percent-encoded properly");
    e.username = *user;
    e.password = *pass;
  }
  std::string_view portText;
  if (authority.starts_with("[")) {
    const auto close = authority.find(']');
    if (close == std::string_view::npos) return std::unexpected("an IPv6 host needs a closing ]");
    e.host = std::string(authority.substr(1, close - 1));
    if (close + 1 < authority.size()) {
      if (authority[close + 1] != ':')
        return std::unexpected("unexpected text after the IPv6 host");
      portText = authority.substr(close + 2);
    }
  } else {
    const auto colon = authority.rfind(':');
    e.host = std::string(authority.substr(0, colon));
    if (colon != std::string_view::npos) portText = authority.substr(colon + 1);
  }
  if (e.host.empty()) return std::unexpected("the URL has no host");
  // A host name is at most 253 characters of letters, digits, '-', '.' and '_' (an IPv6 address
  // in brackets also ':' and a '%' zone); anything else (a newline, a space, a megabyte of
  // text) is no host a resolver could look up.
  if (e.host.size() > 253) return std::unexpected("the host is longer than 253 characters");
  const std::string ipv6Extra = authority.starts_with("[") ? ":%" : "";
  if (e.host.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._" +
                               ipv6Extra) != std::string::npos) {
    return std::unexpected(
        "the host may only hold letters, digits, '-', '.' and '_' (or be an IPv6 address in [])");
  }
  if (!portText.empty()) {
    int port = 0;
    const auto [end, ec] =
        std::from_chars(portText.data(), portText.data() + portText.size(), port);
    if (ec != std::errc() || end != portText.data() + portText.size() || port < 1 || port > 65535) {
      return std::unexpected("the port must be a number from 1 to 65535");
    }
    e.port = port;
  }
  return e;
}

std::map<std::string, std::string> parseInfo(std::string_view text) {
  std::map<std::string, std::string> fields;
  while (!text.empty()) {
    const auto end = text.find('\n');
    std::string_view line = text.substr(0, end);
    text = end == std::string_view::npos ? std::string_view() : text.substr(end + 1);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.empty() || line.front() == '#') continue;
    const auto colon = line.find(':');
    if (colon == std::string_view::npos || colon == 0) continue;
    fields.emplace(std::string(line.substr(0, colon)), std::string(line.substr(colon + 1)));
  }
  return fields;
}

std::string prefixPattern(std::string_view prefix) {
  std::string pattern;
  for (const char c : prefix) {
    if (c == '*' || c == '?' || c == '[' || c == ']' || c == '\\') pattern.push_back('\\');
    pattern.push_back(c);
  }
  return pattern + "*";
}

std::expected<std::unique_ptr<Session>, std::string> Session::open(const Endpoint& endpoint) {
  if (endpoint.tls) {
    return std::unexpected(
        "TLS (rediss://) is not supported by this build's Redis client (hiredis 0.14)");
  }
  redisContext* c = redisConnectWithTimeout(endpoint.host.c_str(), endpoint.port,
                                            toTimeval(endpoint.connectTimeout));
  if (c == nullptr) return std::unexpected("connect: out of memory");
  std::unique_ptr<Session> session(new Session(c));
  if (c->err != 0) {
    return std::unexpected("connect to " + endpoint.host + ":" + std::to_string(endpoint.port) +
                           ": " + c->errstr);
  }
  redisSetTimeout(c, toTimeval(endpoint.commandTimeout));
  if (!endpoint.password.empty()) {
    std::vector<std::string> auth{"AUTH"};
    if (!endpoint.username.empty()) auth.push_back(endpoint.username);
    auth.push_back(endpoint.password);
    if (auto r = run(c, auth); !r) return std::unexpected("AUTH: " + r.error());
  }
  return session;
}

Session::~Session() {
  if (context_ != nullptr) redisFree(context_);
}

bool Session::usable() const { return context_ != nullptr && context_->err == 0; }

std::expected<std::string, std::string> Session::command(const std::vector<std::string>& args) {
  auto r = run(context_, args);
  if (!r) return std::unexpected(r.error());
  return render(r->get());
}

std::expected<void, std::string> Session::ping() {
  auto r = run(context_, {"PING"});
  if (!r) return std::unexpected("PING: " + r.error());
  if (render(r->get()) != "PONG") return std::unexpected("PING: unexpected answer");
  return {};
}

std::expected<std::map<std::string, std::string>, std::string> Session::info() {
  auto r = run(context_, {"INFO"});
  if (!r) return std::unexpected("INFO: " + r.error());
  return parseInfo(render(r->get()));
}

std::expected<std::optional<int64_t>, std::string> Session::maxClients() {
  auto r = run(context_, {"CONFIG", "GET", "maxclients"});
  if (!r) {
    // Denied (NOPERM) or renamed away: the cap is unknown, not an error of the store.
    if (r.error().starts_with("NOPERM") || r.error().starts_with("ERR unknown command")) {
      return std::optional<int64_t>();
    }
    return std::unexpected("CONFIG GET maxclients: " + r.error());
  }
  const redisReply* reply = r->get();
  if (reply->type != REDIS_REPLY_ARRAY || reply->elements != 2) return std::optional<int64_t>();
  const std::string value = render(reply->element[1]);
  int64_t n = 0;
  const auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), n);
  if (ec != std::errc() || end != value.data() + value.size()) return std::optional<int64_t>();
  return std::optional<int64_t>(n);
}

std::expected<int64_t, std::string> Session::countKeys(std::string_view prefix, int batch) {
  const std::string pattern = prefixPattern(prefix);
  std::string cursor = "0";
  int64_t count = 0;
  do {
    auto r = run(context_, {"SCAN", cursor, "MATCH", pattern, "COUNT", std::to_string(batch)});
    if (!r) return std::unexpected("SCAN: " + r.error());
    const redisReply* reply = r->get();
    if (reply->type != REDIS_REPLY_ARRAY || reply->elements != 2 ||
        reply->element[1]->type != REDIS_REPLY_ARRAY) {
      return std::unexpected("SCAN: unexpected answer");
    }
    cursor = render(reply->element[0]);
    count += static_cast<int64_t>(reply->element[1]->elements);
  } while (cursor != "0");
  return count;
}

}  // namespace sessionstore::redisclient
