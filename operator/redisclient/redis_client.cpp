#include "redisclient/redis_client.h"

#include <arpa/inet.h>
// sds.h has no extern "C" of its own, and hiredis.h includes it outside its own: first, here.
extern "C" {
#include <hiredis/sds.h>
}
#include <hiredis/hiredis.h>
#include <netinet/in.h>

#include <charconv>

#include "redisclient/channel.h"

namespace sessionstore::redisclient {

namespace {

struct ReplyDeleter {
  void operator()(redisReply* r) const { freeReplyObject(r); }
};
using Reply = std::unique_ptr<redisReply, ReplyDeleter>;

struct ReaderDeleter {
  void operator()(redisReader* r) const { redisReaderFree(r); }
};

struct CommandDeleter {
  void operator()(char* c) const { redisFreeCommand(c); }
};

Deadline after(std::chrono::milliseconds timeout) {
  return std::chrono::steady_clock::now() + timeout;
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
  // RFC 3986: the authority ends at the first '/', '?' or '#' (a password holding one must
  // percent-encode it); the credentials end at its last '@'.
  const auto authorityEnd = rest.find_first_of("/?#");
  std::string_view authority = rest.substr(0, authorityEnd);
  std::string_view tail =
      authorityEnd == std::string_view::npos ? std::string_view() : rest.substr(authorityEnd);
  if (tail.starts_with("/")) {
    const auto end = tail.find_first_of("?#");
    const auto db = tail.substr(1, end == std::string_view::npos ? std::string_view::npos : end - 1);
    tail = end == std::string_view::npos ? std::string_view() : tail.substr(end);
    if (!db.empty()) {
      if (db.find_first_not_of("0123456789") != std::string_view::npos) {
        return std::unexpected(
            "the database after the host must be a number (a decimal index such as /0 or /5)");
      }
      // More digits than kMaxDatabase has cannot be an index; from_chars would overflow.
      const auto digits = db.substr(std::min(db.find_first_not_of('0'), db.size()));
      std::int64_t index = 0;
      if (digits.size() > 10) {
        index = kMaxDatabase + 1;
      } else if (!digits.empty()) {
        std::from_chars(digits.data(), digits.data() + digits.size(), index);
      }
      if (index > kMaxDatabase) {
        return std::unexpected("the database index must be from 0 to " +
                               std::to_string(kMaxDatabase) + " (a Redis server has 16 unless "
                               "configured with more)");
      }
      e.database = static_cast<int>(index);
    }
  }
  if (tail.starts_with("?")) {
    return std::unexpected(
        "query parameters (?...) are not supported: set TLS options in spec.store.external.tls "
        "and the database as /N; percent-encode a '?' or '#' in the password");
  }
  if (tail.starts_with("#")) {
    return std::unexpected(
        "a fragment (#...) is not supported; percent-encode a '#' in the password");
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
  if (authority.starts_with("[")) {
    // Brackets hold an IPv6 address (RFC 3986), with an optional %zone; nothing else.
    const std::string address = e.host.substr(0, e.host.find('%'));
    in6_addr parsed{};
    if (address.size() > 45 || ::inet_pton(AF_INET6, address.c_str(), &parsed) != 1) {
      return std::unexpected("the host in [] must be an IPv6 address");
    }
  }
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

struct Session::Connection {
  // A read buffer kept between replies is at most this big; a larger one (grown for an INFO) is
  // freed.
  static constexpr std::size_t kKeptBuffer = 512;

  std::unique_ptr<Channel> channel;
  std::unique_ptr<redisReader, ReaderDeleter> reader;
  std::chrono::milliseconds commandTimeout;
  bool broken = false;  // an I/O or protocol error: the stream is out of step

  // Empties the reader's buffer once every byte of it is parsed (a command has one reply, so
  // that is after each). hiredis keeps parsed bytes until 1 KiB of them has piled up, and keeps
  // the room it grew for them: a connection PINGed every 2 s grew its buffer in steps for about
  // five minutes, and 1,200 stores probed together grew theirs together, about a megabyte that
  // came and went at rest. Now a PING's buffer stays as small as one reply.
  void forgetConsumed() {
    redisReader* r = reader.get();
    if (r->pos != r->len) return;  // more came than this reply: parsed by the next command
    if (sdsalloc(r->buf) > kKeptBuffer) {
      sdsfree(r->buf);
      r->buf = sdsempty();
    } else {
      sdsclear(r->buf);
    }
    r->pos = 0;
    r->len = 0;
  }

  // Bytes the reader holds for its buffer (its room, used or not).
  std::size_t bufferBytes() const { return sdsalloc(reader->buf); }

  // Runs one command; a connection or protocol failure, or an error reply, is an error text.
  std::expected<Reply, std::string> run(const std::vector<std::string>& args) {
    if (broken) return std::unexpected("the connection failed earlier; open a new one");
    std::vector<const char*> argv;
    std::vector<size_t> lengths;
    for (const auto& a : args) {
      argv.push_back(a.data());
      lengths.push_back(a.size());
    }
    char* formatted = nullptr;
    const int length = redisFormatCommandArgv(&formatted, static_cast<int>(argv.size()),
                                              argv.data(), lengths.data());
    std::unique_ptr<char, CommandDeleter> command(formatted);
    if (length < 0 || !command) return std::unexpected("the command cannot be encoded");
    const Deadline deadline = after(commandTimeout);
    if (auto written = channel->writeAll({command.get(), static_cast<size_t>(length)}, deadline);
        !written) {
      broken = true;
      return std::unexpected("no answer: " + written.error());
    }
    for (;;) {
      void* parsed = nullptr;
      if (redisReaderGetReply(reader.get(), &parsed) != REDIS_OK) {
        broken = true;
        return std::unexpected(std::string("protocol error: ") + reader->errstr);
      }
      if (parsed != nullptr) {
        forgetConsumed();
        Reply reply(static_cast<redisReply*>(parsed));
        if (reply->type == REDIS_REPLY_ERROR) return std::unexpected(render(reply.get()));
        return reply;
      }
      char buffer[16384];
      auto got = channel->readSome(buffer, sizeof buffer, deadline);
      if (!got) {
        broken = true;
        return std::unexpected("no answer: " + got.error());
      }
      if (redisReaderFeed(reader.get(), buffer, *got) != REDIS_OK) {
        broken = true;
        return std::unexpected(std::string("protocol error: ") + reader->errstr);
      }
    }
  }
};

Session::Session(std::unique_ptr<Connection> connection) : connection_(std::move(connection)) {}

Session::~Session() = default;

std::expected<std::unique_ptr<Session>, std::string> Session::open(const Endpoint& endpoint) {
  auto channel = Channel::open({.host = endpoint.host,
                                .port = endpoint.port,
                                .tls = endpoint.tls,
                                .serverName = endpoint.verification.serverName,
                                .caPem = endpoint.verification.caPem,
                                .insecureSkipVerify = endpoint.verification.insecureSkipVerify},
                               after(endpoint.connectTimeout));
  if (!channel) return std::unexpected(channel.error());
  auto connection = std::make_unique<Connection>();
  connection->channel = std::move(*channel);
  connection->reader.reset(redisReaderCreate());
  if (!connection->reader) return std::unexpected("connect: out of memory");
  connection->commandTimeout = endpoint.commandTimeout;
  std::unique_ptr<Session> session(new Session(std::move(connection)));
  if (!endpoint.password.empty()) {
    std::vector<std::string> auth{"AUTH"};
    if (!endpoint.username.empty()) auth.push_back(endpoint.username);
    auth.push_back(endpoint.password);
    if (auto r = session->connection_->run(auth); !r) {
      return std::unexpected(std::string(kErrorAuth) + r.error());
    }
  }
  if (endpoint.database != 0) {
    const std::string index = std::to_string(endpoint.database);
    if (auto r = session->connection_->run({"SELECT", index}); !r) {
      return std::unexpected(std::string(kErrorSelect) + index + ": " + r.error());
    }
  }
  return session;
}

bool Session::usable() const { return !connection_->broken; }

std::size_t Session::readBufferBytes() const { return connection_->bufferBytes(); }

std::string Session::peerCertificateSha256() const {
  return connection_->channel->peerCertificateSha256();
}

std::expected<std::string, std::string> Session::command(const std::vector<std::string>& args) {
  auto r = connection_->run(args);
  if (!r) return std::unexpected(r.error());
  return render(r->get());
}

std::expected<void, std::string> Session::ping() {
  auto r = connection_->run({"PING"});
  if (!r) return std::unexpected("PING: " + r.error());
  if (render(r->get()) != "PONG") return std::unexpected("PING: unexpected answer");
  return {};
}

std::expected<std::map<std::string, std::string>, std::string> Session::info() {
  auto r = connection_->run({"INFO"});
  if (!r) return std::unexpected("INFO: " + r.error());
  return parseInfo(render(r->get()));
}

std::expected<std::optional<int64_t>, std::string> Session::maxClients() {
  auto r = connection_->run({"CONFIG", "GET", "maxclients"});
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
    auto r = connection_->run({"SCAN", cursor, "MATCH", pattern, "COUNT", std::to_string(batch)});
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
