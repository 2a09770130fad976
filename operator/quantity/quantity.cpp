#include "quantity/quantity.h"

#include <algorithm>
#include <array>
#include <cstdio>
#include <limits>
#include <optional>
#include <utility>

namespace sessionstore::quantity {
namespace {

constexpr UInt128 powerOf10(int n) {
  UInt128 result = 1;
  for (int i = 0; i < n; ++i) result *= 10;
  return result;
}

constexpr int kNanoDigits = 9;
constexpr UInt128 kNanosPerUnit = powerOf10(kNanoDigits);
constexpr UInt128 kNanosPerMilli = powerOf10(6);
// Every magnitude stays at or below 10^38 - 1 nanos (values below 10^29).
constexpr int kMaxNanoDigits = 38;
constexpr UInt128 kMaxNanos = powerOf10(kMaxNanoDigits) - 1;
// apimachinery caps binary SI values at 2^63-1.
constexpr UInt128 kBinaryCapNanos =
    static_cast<UInt128>(std::numeric_limits<std::int64_t>::max()) * kNanosPerUnit;
// At most this many bytes of a rejected text are quoted in the error.
constexpr std::size_t kQuotedMax = 64;

bool isDigit(char c) { return c >= '0' && c <= '9'; }
int digitValue(char c) { return c - '0'; }

std::string quoted(std::string_view text) {
  std::string out = "\"";
  const std::size_t shown = std::min(text.size(), kQuotedMax);
  for (std::size_t i = 0; i < shown; ++i) {
    const auto byte = static_cast<unsigned char>(text[i]);
    if (byte == '"' || byte == '\\') {
      out += '\\';
      out += static_cast<char>(byte);
    } else if (byte < 0x20 || byte >= 0x7f) {
      std::array<char, 5> escaped{};
      std::snprintf(escaped.data(), escaped.size(), "\\x%02x", static_cast<unsigned>(byte));
      out += escaped.data();
    } else {
      out += static_cast<char>(byte);
    }
  }
  out += '"';
  if (text.size() > shown) out += " (" + std::to_string(text.size()) + " bytes)";
  return out;
}

std::unexpected<std::string> invalid(std::string_view text, std::string_view reason) {
  return std::unexpected("invalid quantity " + quoted(text) + ": " + std::string(reason));
}

// A suffix multiplies the number by 2^pow2 * 10^pow10.
struct Suffix {
  Format format = Format::kDecimalSI;
  int pow2 = 0;
  std::int64_t pow10 = 0;
};

struct NamedSuffix {
  std::string_view name;
  Suffix suffix;
};

constexpr std::array<NamedSuffix, 16> kNamedSuffixes = {{
    {"n", {Format::kDecimalSI, 0, -9}},
    {"u", {Format::kDecimalSI, 0, -6}},
    {"m", {Format::kDecimalSI, 0, -3}},
    {"", {Format::kDecimalSI, 0, 0}},
    {"k", {Format::kDecimalSI, 0, 3}},
    {"M", {Format::kDecimalSI, 0, 6}},
    {"G", {Format::kDecimalSI, 0, 9}},
    {"T", {Format::kDecimalSI, 0, 12}},
    {"P", {Format::kDecimalSI, 0, 15}},
    {"E", {Format::kDecimalSI, 0, 18}},
    {"Ki", {Format::kBinarySI, 10, 0}},
    {"Mi", {Format::kBinarySI, 20, 0}},
    {"Gi", {Format::kBinarySI, 30, 0}},
    {"Ti", {Format::kBinarySI, 40, 0}},
    {"Pi", {Format::kBinarySI, 50, 0}},
    {"Ei", {Format::kBinarySI, 60, 0}},
}};

constexpr std::string_view kSuffixHelp =
    "expected one of n u m k M G T P E Ki Mi Gi Ti Pi Ei, or e/E and an integer exponent";

// Reads a suffix: a named one, or e/E, an optional sign and digits (an exponent in 32 bits,
// as apimachinery keeps it).
std::expected<Suffix, std::string> parseSuffix(std::string_view text, std::string_view suffix) {
  for (const auto& named : kNamedSuffixes) {
    if (named.name == suffix) return named.suffix;
  }
  const auto unknown = [&] {
    return invalid(text, "unknown suffix " + quoted(suffix) + "; " + std::string(kSuffixHelp));
  };
  if (suffix.size() < 2 || (suffix[0] != 'e' && suffix[0] != 'E')) return unknown();
  std::size_t pos = 1;
  const bool negative = suffix[pos] == '-';
  if (suffix[pos] == '-' || suffix[pos] == '+') ++pos;
  if (pos == suffix.size()) return unknown();
  constexpr std::int64_t kLimit = std::int64_t{1} << 31;  // |int32 min|
  std::int64_t exponent = 0;
  bool tooLarge = false;
  for (; pos < suffix.size(); ++pos) {
    if (!isDigit(suffix[pos])) return unknown();
    if (!tooLarge) exponent = exponent * 10 + digitValue(suffix[pos]);
    if (exponent > kLimit) tooLarge = true;
  }
  if (tooLarge || (!negative && exponent == kLimit)) {
    return invalid(text, "exponent out of range (it must fit in 32 bits)");
  }
  return Suffix{Format::kDecimalExponent, 0, negative ? -exponent : exponent};
}

// a * 2^pow2, or nullopt when that is above kMaxNanos.
std::optional<UInt128> shiftChecked(UInt128 a, int pow2) {
  if (a > (kMaxNanos >> pow2)) return std::nullopt;
  return a << pow2;
}

// The magnitude of digits * 10^pow10 * 2^pow2, in nanos, rounded up to a whole nano, where
// `digits` is a string of decimal digits and `pow10` is relative to nanos. nullopt when it is
// above kMaxNanos. Works on arbitrarily long digit strings and exponents without overflow.
std::optional<UInt128> magnitudeNanos(std::string_view digits, Int128 pow10, int pow2) {
  const std::size_t first = digits.find_first_not_of('0');
  if (first == std::string_view::npos) return UInt128{0};
  const std::size_t last = digits.find_last_not_of('0');
  pow10 += static_cast<Int128>(digits.size() - 1 - last);
  const std::string_view significant = digits.substr(first, last - first + 1);
  const auto length = static_cast<Int128>(significant.size());

  // The significant digits split into a whole part (scaled up by 10^pow10 when pow10 > 0) and
  // the digits that fall below a nano when pow10 < 0.
  const Int128 wholeLength = pow10 >= 0 ? length : (length + pow10 > 0 ? length + pow10 : 0);
  const Int128 wholeDigits = wholeLength + (pow10 > 0 ? pow10 : 0);
  if (wholeDigits > kMaxNanoDigits) return std::nullopt;  // at least 10^38

  UInt128 whole = 0;
  const auto wholeCount = static_cast<std::size_t>(wholeLength);
  for (std::size_t i = 0; i < wholeCount; ++i) {
    whole = whole * 10 + static_cast<UInt128>(digitValue(significant[i]));
  }
  if (pow10 > 0) whole *= powerOf10(static_cast<int>(pow10));
  std::optional<UInt128> result = shiftChecked(whole, pow2);
  if (!result) return std::nullopt;

  // The fraction 0.d1d2...dm (its leading zeros implied) times 2^pow2, by long multiplication
  // from the last digit: `carry` ends as its whole part, `remainder` says whether anything is
  // left below a nano.
  UInt128 carry = 0;
  bool remainder = false;
  for (std::size_t i = significant.size(); i > wholeCount; --i) {
    const UInt128 t = (static_cast<UInt128>(digitValue(significant[i - 1])) << pow2) + carry;
    remainder = remainder || t % 10 != 0;
    carry = t / 10;
  }
  if (pow10 < 0) {
    // The implied zeros between the point and the first significant digit.
    for (Int128 zeros = -pow10 - (length - wholeLength); zeros > 0 && carry != 0; --zeros) {
      remainder = remainder || carry % 10 != 0;
      carry /= 10;
    }
  }
  const UInt128 total = *result + carry + (remainder ? 1 : 0);
  if (total > kMaxNanos) return std::nullopt;
  return total;
}

void appendDecimal(std::string& out, UInt128 value) {
  std::array<char, 40> buffer{};
  std::size_t pos = buffer.size();
  do {
    buffer[--pos] = static_cast<char>('0' + static_cast<int>(value % 10));
    value /= 10;
  } while (value != 0);
  out.append(buffer.data() + pos, buffer.size() - pos);
}

UInt128 magnitude(Int128 nanos) {
  return nanos < 0 ? static_cast<UInt128>(-nanos) : static_cast<UInt128>(nanos);
}

// The magnitude divided by `unit`, rounded up, with the sign of `nanos`, saturated to int64.
std::int64_t roundedAwayFromZero(Int128 nanos, UInt128 unit) {
  const UInt128 abs = magnitude(nanos);
  const UInt128 quotient = abs / unit + (abs % unit != 0 ? 1 : 0);
  constexpr auto kMax = static_cast<UInt128>(std::numeric_limits<std::int64_t>::max());
  if (nanos >= 0) {
    return quotient > kMax ? std::numeric_limits<std::int64_t>::max()
                           : static_cast<std::int64_t>(quotient);
  }
  if (quotient > kMax) return std::numeric_limits<std::int64_t>::min();
  return -static_cast<std::int64_t>(quotient);
}

// Decimal canonical form: the largest exponent that is a multiple of 3 and keeps the mantissa
// whole, with its SI suffix, or "e<exponent>" (exponent format, or an exponent past E).
void appendDecimalForm(std::string& out, UInt128 abs, Format format) {
  int exponent = -kNanoDigits;
  while (abs % 10 == 0) {
    abs /= 10;
    ++exponent;
  }
  // Lower the exponent to a multiple of 3. The mantissa shed at least as many zeros above, so
  // it cannot grow past the magnitude it started from.
  while (exponent % 3 != 0) {
    abs *= 10;
    --exponent;
  }
  appendDecimal(out, abs);
  if (format == Format::kDecimalSI) {
    for (const auto& named : kNamedSuffixes) {
      if (named.suffix.format == Format::kDecimalSI && named.suffix.pow10 == exponent) {
        out += named.name;
        return;
      }
    }
  }
  if (exponent != 0) out += "e" + std::to_string(exponent);
}

}  // namespace

const char* toString(Format format) {
  switch (format) {
    case Format::kDecimalSI:
      return "DecimalSI";
    case Format::kBinarySI:
      return "BinarySI";
    case Format::kDecimalExponent:
      return "DecimalExponent";
  }
  return "unknown";
}

std::expected<Quantity, std::string> Quantity::parse(std::string_view text) {
  if (text.empty()) return invalid(text, "empty string");
  std::size_t pos = 0;
  const bool negative = text[0] == '-';
  if (text[0] == '-' || text[0] == '+') ++pos;
  const std::size_t wholeStart = pos;
  while (pos < text.size() && isDigit(text[pos])) ++pos;
  const std::size_t wholeEnd = pos;
  std::size_t fractionStart = pos;
  if (pos < text.size() && text[pos] == '.') {
    fractionStart = ++pos;
    while (pos < text.size() && isDigit(text[pos])) ++pos;
  }
  const std::size_t fractionLength = pos - fractionStart;
  if (wholeEnd == wholeStart && fractionLength == 0) {
    return invalid(text, "expected a number (an optional sign, digits, an optional decimal point)");
  }
  const auto suffix = parseSuffix(text, text.substr(pos));
  if (!suffix) return std::unexpected(suffix.error());

  std::string digits(text.substr(wholeStart, wholeEnd - wholeStart));
  digits.append(text.substr(fractionStart, fractionLength));
  const Int128 pow10 =
      static_cast<Int128>(suffix->pow10) + kNanoDigits - static_cast<Int128>(fractionLength);
  std::optional<UInt128> abs = magnitudeNanos(digits, pow10, suffix->pow2);

  Format format = suffix->format;
  if (format == Format::kBinarySI) {
    if (!abs || *abs > kBinaryCapNanos) abs = kBinaryCapNanos;
    if (*abs != 0 && *abs < kNanosPerUnit) format = Format::kDecimalSI;
  } else if (!abs) {
    return invalid(text, "magnitude out of range (it must be below 1e29)");
  }
  const auto nanos = static_cast<Int128>(*abs);
  return Quantity(negative ? -nanos : nanos, format);
}

Quantity Quantity::fromInt64(std::int64_t value, Format format) {
  return Quantity(static_cast<Int128>(value) * static_cast<Int128>(kNanosPerUnit), format);
}

Quantity Quantity::fromMilli(std::int64_t milli, Format format) {
  return Quantity(static_cast<Int128>(milli) * static_cast<Int128>(kNanosPerMilli), format);
}

std::int64_t Quantity::value() const { return roundedAwayFromZero(nanos_, kNanosPerUnit); }

std::int64_t Quantity::milliValue() const { return roundedAwayFromZero(nanos_, kNanosPerMilli); }

double Quantity::asDouble() const {
  return static_cast<double>(static_cast<long double>(nanos_) /
                             static_cast<long double>(kNanosPerUnit));
}

std::string Quantity::toString() const {
  if (nanos_ == 0) return "0";
  std::string out;
  if (nanos_ < 0) out += '-';
  const UInt128 abs = magnitude(nanos_);
  // Binary SI only for whole multiples of 1024 at 1024 and above; anything else would round.
  if (format_ != Format::kBinarySI || abs < 1024 * kNanosPerUnit || abs % kNanosPerUnit != 0) {
    appendDecimalForm(out, abs, format_ == Format::kBinarySI ? Format::kDecimalSI : format_);
    return out;
  }
  UInt128 units = abs / kNanosPerUnit;
  int pow2 = 0;
  while (pow2 < 60 && units % 1024 == 0) {
    units /= 1024;
    pow2 += 10;
  }
  appendDecimal(out, units);
  for (const auto& named : kNamedSuffixes) {
    if (named.suffix.format == Format::kBinarySI && named.suffix.pow2 == pow2) out += named.name;
  }
  return out;
}

std::expected<Quantity, std::string> Quantity::add(const Quantity& other) const {
  Int128 sum = 0;
  if (__builtin_add_overflow(nanos_, other.nanos_, &sum) || magnitude(sum) > kMaxNanos) {
    return std::unexpected("quantity " + toString() + " + " + other.toString() +
                           " is out of range (it must be below 1e29)");
  }
  return Quantity(sum, nanos_ == 0 ? other.format_ : format_);
}

std::expected<Quantity, std::string> Quantity::sub(const Quantity& other) const {
  Int128 difference = 0;
  if (__builtin_sub_overflow(nanos_, other.nanos_, &difference) ||
      magnitude(difference) > kMaxNanos) {
    return std::unexpected("quantity " + toString() + " - " + other.toString() +
                           " is out of range (it must be below 1e29)");
  }
  return Quantity(difference, nanos_ == 0 ? other.format_ : format_);
}

Quantity Quantity::negated() const { return Quantity(-nanos_, format_); }

}  // namespace sessionstore::quantity
