// Container image references (issue 19): the grammar of github.com/distribution/reference, which
// the kubelet and every registry client use, so the operator writes into a StatefulSet only an
// image a registry could serve, and a cluster admin can restrict which ones (an allow-list of
// registries and image-name prefixes, the operator's --allowed-images flag).
//
//   reference  := name [ ":" tag ] [ "@" digest ]
//   name       := [ domain "/" ] path-component *( "/" path-component )       (at most 255)
//   domain     := domain-component *( "." domain-component ) [ ":" port ]
//                 | "[" IPv6 "]" [ ":" port ]
//   domain-component := [A-Za-z0-9] | [A-Za-z0-9][A-Za-z0-9-]*[A-Za-z0-9]
//   path-component   := [a-z0-9]+ *( ( "." | "_" | "__" | "-"+ ) [a-z0-9]+ )
//   tag        := [A-Za-z0-9_][A-Za-z0-9_.-]{0,127}
//   digest     := algorithm ":" hex, algorithm := [A-Za-z][A-Za-z0-9]* *( [+._-]
//   [A-Za-z][A-Za-z0-9]* ),
//                 hex := [0-9a-fA-F]{32,}
//
// The first "/"-separated component is the domain when it holds a "." or a ":", is "localhost",
// or has an upper-case letter (as Docker's splitDockerDomain decides); else the image is on
// Docker Hub ("redis" is docker.io/library/redis). Pure functions; no I/O.
#pragma once

#include <expected>
#include <string>
#include <string_view>
#include <vector>

namespace sessionstore::imageref {

struct ImageRef {
  std::string domain;  // "" when the reference names none (Docker Hub)
  std::string path;    // "library/redis" is kept as written: "redis"
  std::string tag;     // "" when none
  std::string digest;  // "sha256:..." or ""
  bool operator==(const ImageRef&) const = default;

  // The name with Docker Hub's defaults spelled out: "docker.io/library/redis" for "redis",
  // "docker.io/bitnami/redis" for "bitnami/redis", "registry.example.com/redis" as it is. The
  // domain as written (in lower case "Redis/x" would read as a path, not a registry).
  std::string canonicalName() const;
  // The reference as written back: [domain/]path[:tag][@digest].
  std::string toString() const;
};

// Parses `text` by the grammar above; the error says what is wrong where, without repeating
// control characters ("the tag ... has a character that is not allowed at position 12").
std::expected<ImageRef, std::string> parse(std::string_view text);

// An allow-list of images: each entry a registry ("registry.example.com",
// "registry.example.com:5000", "docker.io") or an image-name prefix ("registry.example.com/team",
// "docker.io/library/redis", "redis" meaning docker.io/library/redis). An entry without "/" is a
// registry when it holds a "." or a ":" or is "localhost", else an image on Docker Hub.
// Matching is exact, never a text prefix:
//   - a registry entry matches every image of exactly that registry (the port included:
//     registry.example.com does not allow registry.example.com:5000 or
//     registry.example.com.evil.io);
//   - an image-name entry matches that image and the images under it at a "/" boundary:
//     registry.example.com/redis allows registry.example.com/redis:7 and
//     registry.example.com/redis/sentinel, never registry.example.com/redis-evil.
// Tags and digests do not matter; both sides are compared by canonicalName(), the registry in
// any case.
class AllowList {
 public:
  // From the flag's text: entries separated by commas, spaces around them ignored. An entry that
  // is not a registry or an image name (or has a tag or digest) is an error naming it. "" is the
  // empty list, which allows every image.
  static std::expected<AllowList, std::string> parse(std::string_view text);

  bool empty() const { return entries_.empty(); }
  bool allows(const ImageRef& image) const;
  // The entries as given, joined by ", " (for messages).
  std::string describe() const;

 private:
  struct Entry {
    std::string text;       // as given
    bool registry = false;  // a whole registry
    std::string name;       // the registry (lower case), or the canonical image name
  };
  std::vector<Entry> entries_;
};

}  // namespace sessionstore::imageref
