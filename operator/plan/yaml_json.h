// YAML text to JSON values and back, for `plan`: Kubernetes objects are JSON (nlohmann::json is
// the object model), but files under review and the plan itself are YAML. Pure functions over
// yaml-cpp; they never throw.
//
// Reading: a quoted or block scalar ('x', "x", |, >) and a scalar tagged !!str are strings; a plain
// scalar is resolved as kubectl resolves it (sigs.k8s.io/yaml, YAML 1.1 booleans included):
// ~, null, Null, NULL and nothing are null; true/false, yes/no, on/off, y/n in their three casings
// are booleans; decimal, 0x hex, 0o and leading-0 octal integers are integers (beyond 64 bits,
// numbers); YAML 1.2 floats and .inf/.nan are numbers; everything else ("1Gi", "500m", "redis:7")
// is a string. Mapping keys are always strings.
//
// Writing: block style; object keys apiVersion, kind, metadata, name, namespace first, then the
// others in byte order (nlohmann::json's order), so the same value always gives the same text.
// A string that a YAML reader could take for something else (needsQuotes) is double-quoted; a
// multi-line string ending in one newline is a literal block (|); anything else yaml-cpp quotes
// when its syntax needs it. toYaml(parseYaml(toYaml(v))) == toYaml(v) for every JSON value.
#pragma once

#include <expected>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

namespace sessionstore::plan {

using Json = nlohmann::json;

// Every document of `text`, in order; documents that hold nothing (only comments, or null) are
// skipped.
// Errors: "line L, column C: what is wrong" (1-based). A file nested deeper than 100 levels, or
// whose aliases expand it to more than a million values, is refused.
std::expected<std::vector<Json>, std::string> parseYaml(std::string_view text);

// One YAML document for `value` (no "---"), ending in a newline.
std::string toYaml(const Json& value);

// True when `text`, written as a plain scalar, could be read back as another type or as
// something special by a YAML 1.1 or 1.2 reader: the empty string, the null and boolean words,
// and anything that starts like a number or a YAML indicator (a digit, + - . ~ < =).
bool needsQuotes(std::string_view text);

}  // namespace sessionstore::plan
