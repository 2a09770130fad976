#include "events/event.h"

#include "clock/time_format.h"

#include <algorithm>
#include <chrono>
#include <cstdio>

namespace sessionstore::events {

namespace {

// Length of the UTF-8 sequence starting at text[i], or 0 when it is not a valid one.
std::size_t utf8Length(std::string_view text, std::size_t i) {
  const auto byte = [&](std::size_t k) { return static_cast<unsigned char>(text[k]); };
  const unsigned char lead = byte(i);
  std::size_t length = 0;
  unsigned minimum = 0;
  unsigned codePoint = 0;
  if (lead < 0x80) return 1;
  if ((lead & 0xE0) == 0xC0) {
    length = 2;
    minimum = 0x80;
    codePoint = lead & 0x1Fu;
  } else if ((lead & 0xF0) == 0xE0) {
    length = 3;
    minimum = 0x800;
    codePoint = lead & 0x0Fu;
  } else if ((lead & 0xF8) == 0xF0) {
    length = 4;
    minimum = 0x10000;
    codePoint = lead & 0x07u;
  } else {
    return 0;
  }
  if (i + length > text.size()) return 0;
  for (std::size_t k = 1; k < length; ++k) {
    if ((byte(i + k) & 0xC0) != 0x80) return 0;
    codePoint = (codePoint << 6) | (byte(i + k) & 0x3Fu);
  }
  // Overlong encodings, UTF-16 surrogates and values past U+10FFFF are not valid UTF-8.
  if (codePoint < minimum || codePoint > 0x10FFFF || (codePoint >= 0xD800 && codePoint <= 0xDFFF)) {
    return 0;
  }
  return length;
}

kube::Json referenceJson(const ObjectReference& ref) {
  kube::Json json = {{"apiVersion", ref.apiVersion}, {"kind", ref.kind}, {"name", ref.name}};
  if (!ref.ns.empty()) json["namespace"] = ref.ns;
  if (!ref.uid.empty()) json["uid"] = ref.uid;
  if (!ref.resourceVersion.empty()) json["resourceVersion"] = ref.resourceVersion;
  return json;
}

}  // namespace

const char* toString(EventType type) {
  switch (type) {
    case EventType::kNormal:
      return "Normal";
    case EventType::kWarning:
      return "Warning";
  }
  return "Normal";
}

std::string eventNamespace(const ObjectReference& regarding) {
  return regarding.ns.empty() ? "default" : regarding.ns;
}

std::string eventName(std::string_view regardingName, uint64_t suffix) {
  char hex[17];
  std::snprintf(hex, sizeof hex, "%llx", static_cast<unsigned long long>(suffix));
  const std::string_view suffixText(hex);
  std::string prefix(regardingName.substr(0, kNameLimit - 1 - suffixText.size()));
  // A DNS subdomain's labels end with an alphanumeric character.
  while (!prefix.empty() && (prefix.back() == '-' || prefix.back() == '.')) prefix.pop_back();
  return prefix + "." + std::string(suffixText);
}

std::string clampUtf8(std::string_view text, std::size_t maxBytes) {
  std::string out;
  out.reserve(std::min(text.size(), maxBytes));
  std::size_t i = 0;
  while (i < text.size()) {
    const std::size_t length = utf8Length(text, i);
    const std::size_t outLength = length == 0 ? 1 : length;
    if (out.size() + outLength > maxBytes) break;
    if (length == 0) {
      out += '?';
      i += 1;
    } else {
      out.append(text.substr(i, length));
      i += length;
    }
  }
  return out;
}

kube::Json makeEvent(const EventSpec& spec) {
  const auto& r = kube::resources::kEvents;
  kube::Json event = {
      {"apiVersion", r.apiVersion()},
      {"kind", r.kind},
      {"metadata", {{"name", spec.name}, {"namespace", eventNamespace(spec.regarding)}}},
      {"eventTime", clock::formatMicroTime(spec.eventTime)},
      {"reportingController", spec.reportingController},
      {"reportingInstance", spec.reportingInstance},
      {"action", spec.action},
      {"reason", spec.reason},
      {"type", toString(spec.type)},
      {"regarding", referenceJson(spec.regarding)},
  };
  if (!spec.note.empty()) event["note"] = spec.note;
  return event;
}

kube::Json seriesPatch(int64_t count, clock::SystemTime lastObserved) {
  return {{"series", {{"count", count}, {"lastObservedTime", clock::formatMicroTime(lastObserved)}}}};
}


}  // namespace sessionstore::events
