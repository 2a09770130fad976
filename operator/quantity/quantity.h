// Kubernetes resource quantities ("100m", "1.5Gi", "9559630n", "1e3"), parsed and printed as
// k8s.io/apimachinery's resource.Quantity does, so that CPU and memory read from pods,
// metrics.k8s.io samples and a SessionStore's spec compare, add up and print back exactly as the
// API server would. A value is held exactly, as a whole number of nano-units (10^-9); it is never
// a floating-point number. Parsing never throws: malformed text is an error value.
//
// Grammar (apimachinery's): [+-] digits [. digits] suffix, with at least one digit, where suffix
// is a binary SI suffix (Ki Mi Gi Ti Pi Ei), a decimal SI suffix (n u m "" k M G T P E) or a
// decimal exponent (e or E, an optional sign, digits). As in Kubernetes:
//  - A value finer than 1n is rounded away from zero to a whole nano ("0.1n" is 1n).
//  - A binary SI value is capped at 2^63-1 in magnitude ("8Ei" is 9223372036854775807); a binary
//    SI value whose magnitude is below 1 becomes decimal SI.
//  - The format family of the text (binary SI, decimal SI, exponent) is kept for printing.
//
// Where it differs from apimachinery v0.34, on purpose:
//  - A number needs a digit: ".", "+", "-" and "Ki" are errors (Go reads them as 0; its
//    documented grammar does not allow them). "1." and ".5" are accepted, as the grammar says.
//  - A decimal magnitude must be below 10^29 ("1e29" is an error; Go keeps arbitrary precision).
//  - An exponent outside 32 bits is an error (Go wraps it: "1e4294967296" parses as 1).
//  - toString() is always the canonical form; Go's String() echoes some non-canonical texts it
//    parsed ("1.", "+1", "01").
//  - A decimal SI value of 10^21 or more prints in exponent form ("1000E" prints "1e21");
//    v0.34 prints "1", a bug fixed upstream the same way (kubernetes/kubernetes#140459).
//  - value() and milliValue() always round away from zero and saturate at the int64 bounds; Go
//    silently overflows, and for values it holds as big decimals rounds negatives toward zero.
#pragma once

#include <compare>
#include <cstdint>
#include <expected>
#include <string>
#include <string_view>

namespace sessionstore::quantity {

// The compiler's 128-bit integers (__extension__ keeps -Wpedantic quiet about them).
__extension__ typedef __int128 Int128;
__extension__ typedef unsigned __int128 UInt128;

// How a quantity prints; each parsed quantity keeps the family of its suffix.
enum class Format {
  kDecimalSI,        // 12M, 500m, 1 (also what a value without suffix has)
  kBinarySI,         // 12Mi; printed as decimal SI when not a whole multiple of 1024 or < 1024
  kDecimalExponent,  // 12e6
};

const char* toString(Format format);

class Quantity {
 public:
  // Zero, decimal SI.
  Quantity() = default;

  // Parses `text` exactly as written: no surrounding spaces, no quotes. Accepts any byte
  // string; the error says what is wrong and quotes (a bounded, escaped copy of) the text.
  static std::expected<Quantity, std::string> parse(std::string_view text);

  // `value` units, or `milli` thousandths of a unit (NewQuantity, NewMilliQuantity).
  static Quantity fromInt64(std::int64_t value, Format format = Format::kDecimalSI);
  static Quantity fromMilli(std::int64_t milli, Format format = Format::kDecimalSI);

  // The value rounded away from zero to a whole unit ("1.1" is 2, "-1.1" is -2), or to a whole
  // thousandth ("9559630n" is 10), saturated at the int64 bounds.
  std::int64_t value() const;
  std::int64_t milliValue() const;
  // The nearest double (for ratios and logs; never for comparing or adding quantities).
  double asDouble() const;

  // The canonical form, as Kubernetes writes it back: "1024Mi" is "1Gi", "1000m" is "1",
  // "0.5" is "500m", "1.5Gi" is "1536Mi", "100000k" is "100M", "1e3" is "1e3".
  std::string toString() const;

  Format format() const { return format_; }
  bool isZero() const { return nanos_ == 0; }
  int sign() const { return nanos_ < 0 ? -1 : (nanos_ > 0 ? 1 : 0); }

  // Exact sums. The result keeps this quantity's format, or takes `other`'s when this one is
  // zero (as Quantity.Add and Sub). Errors when the magnitude reaches 10^29.
  std::expected<Quantity, std::string> add(const Quantity& other) const;
  std::expected<Quantity, std::string> sub(const Quantity& other) const;
  Quantity negated() const;

  // Comparison is by value only, as Quantity.Cmp: "1Gi" == "1073741824" and "1" == "1000m".
  friend bool operator==(const Quantity& a, const Quantity& b) { return a.nanos_ == b.nanos_; }
  friend std::strong_ordering operator<=>(const Quantity& a, const Quantity& b) {
    if (a.nanos_ < b.nanos_) return std::strong_ordering::less;
    if (a.nanos_ > b.nanos_) return std::strong_ordering::greater;
    return std::strong_ordering::equal;
  }

 private:
  Quantity(Int128 nanos, Format format) : nanos_(nanos), format_(format) {}

  Int128 nanos_ = 0;  // the value times 10^9; |nanos_| < 10^38
  Format format_ = Format::kDecimalSI;
};

}  // namespace sessionstore::quantity
