#include "quantity/quantity.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <limits>
#include <ostream>
#include <random>
#include <string>
#include <string_view>
#include <vector>

namespace sessionstore::quantity {

// Readable failures: gtest prints the canonical form instead of raw bytes.
void PrintTo(const Quantity& q, std::ostream* os) {
  *os << q.toString() << " (" << toString(q.format()) << ")";
}

namespace {

constexpr std::int64_t kMax = std::numeric_limits<std::int64_t>::max();
constexpr std::int64_t kMin = std::numeric_limits<std::int64_t>::min();
constexpr auto kDec = Format::kDecimalSI;
constexpr auto kBin = Format::kBinarySI;
constexpr auto kExp = Format::kDecimalExponent;

Quantity q(std::string_view text) {
  auto parsed = Quantity::parse(text);
  EXPECT_TRUE(parsed.has_value()) << parsed.error();
  return parsed.value_or(Quantity());
}

struct Accepted {
  std::string input;
  std::string canonical;  // toString()
  Format format;
  std::int64_t milli;  // milliValue()
  std::int64_t value;  // value()
};

// Each row was checked against k8s.io/apimachinery v0.34.4 (ParseQuantity, then CanonicalizeBytes,
// MilliValue, Value) except where marked, and except that an accessor whose result does not fit
// in int64 saturates here (kMax, kMin) where Go's overflows to an arbitrary number.
const std::vector<Accepted>& acceptedRows() {
  static const std::vector<Accepted> rows = {
      // Zero, however it is written.
      {"0", "0", kDec, 0, 0},
      {"-0", "0", kDec, 0, 0},
      {"+0", "0", kDec, 0, 0},
      {"000", "0", kDec, 0, 0},
      {"0.0", "0", kDec, 0, 0},
      {"0Ki", "0", kBin, 0, 0},
      {"0e5", "0", kExp, 0, 0},
      {"0e2147483647", "0", kExp, 0, 0},  // not run through Go (it builds 10^2147483647)
      // Signs, leading zeros, a bare point (Go's String() echoes "+1", "01", "1.": see header).
      {"1", "1", kDec, 1000, 1},
      {"-1", "-1", kDec, -1000, -1},
      {"+1", "1", kDec, 1000, 1},
      {"01", "1", kDec, 1000, 1},
      {"1.", "1", kDec, 1000, 1},
      {"1.k", "1k", kDec, 1000000, 1000},
      {".5", "500m", kDec, 500, 1},
      {"-.5", "-500m", kDec, -500, -1},
      {"+.5Ki", "512", kBin, 512000, 512},
      {"3.000", "3", kDec, 3000, 3},
      // Decimal SI: the largest suffix that keeps the mantissa whole.
      {"0.1", "100m", kDec, 100, 1},
      {"0.25", "250m", kDec, 250, 1},
      {"0.5", "500m", kDec, 500, 1},
      {"100m", "100m", kDec, 100, 1},
      {"1000m", "1", kDec, 1000, 1},
      {"1500m", "1500m", kDec, 1500, 2},
      {"2500m", "2500m", kDec, 2500, 3},
      {"-250m", "-250m", kDec, -250, -1},
      {"3000u", "3m", kDec, 3, 1},
      {"9559630n", "9559630n", kDec, 10, 1},
      {"12345678n", "12345678n", kDec, 13, 1},
      {"123456789u", "123456789u", kDec, 123457, 124},
      {"1000000000n", "1", kDec, 1000, 1},
      {"1n", "1n", kDec, 1, 1},
      {"1u", "1u", kDec, 1, 1},
      {"1m", "1m", kDec, 1, 1},
      {"1.1", "1100m", kDec, 1100, 2},
      {"-1.1", "-1100m", kDec, -1100, -2},
      {"1.5", "1500m", kDec, 1500, 2},
      {"-1.5", "-1500m", kDec, -1500, -2},
      {"1.2345", "1234500u", kDec, 1235, 2},
      {"1.5k", "1500", kDec, 1500000, 1500},
      {"1k", "1k", kDec, 1000000, 1000},
      {"1000k", "1M", kDec, 1000000000, 1000000},
      {"100000k", "100M", kDec, 100000000000, 100000000},
      {"0.5M", "500k", kDec, 500000000, 500000},
      {"0.000001M", "1", kDec, 1000, 1},
      {"1024", "1024", kDec, 1024000, 1024},
      {"1G", "1G", kDec, 1000000000000, 1000000000},
      {"1T", "1T", kDec, 1000000000000000, 1000000000000},
      {"1P", "1P", kDec, 1000000000000000000, 1000000000000000},
      {"1E", "1E", kDec, kMax, 1000000000000000000},
      {"100E", "100E", kDec, kMax, kMax},
      // Past E there is no SI suffix: exponent form (Go v0.34 prints "1" and "10"; see header).
      {"1000E", "1e21", kDec, kMax, kMax},
      {"10000000000000000000000000000", "10e27", kDec, kMax, kMax},
      // Finer than a nano: rounded away from zero to a whole nano.
      {"0.1n", "1n", kDec, 1, 1},
      {"0.9n", "1n", kDec, 1, 1},
      {"-0.1n", "-1n", kDec, -1, -1},  // Go: milli 1, value 1 (its big-decimal path)
      {"0.000000001", "1n", kDec, 1, 1},
      {"0.0000000015", "2n", kDec, 1, 1},
      {"123456789.123456789123", "123456789123456790n", kDec, 123456789124, 123456790},
      // Decimal exponent: the exponent a multiple of 3, kept in exponent form.
      {"1e3", "1e3", kExp, 1000000, 1000},
      {"1E3", "1e3", kExp, 1000000, 1000},
      {"1E+3", "1e3", kExp, 1000000, 1000},
      {"1e01", "10", kExp, 10000, 10},
      {"12e6", "12e6", kExp, 12000000000, 12000000},
      {"1.5e3", "1500", kExp, 1500000, 1500},
      {"0.001e3", "1", kExp, 1000, 1},
      {"1e-1", "100e-3", kExp, 100, 1},
      {"15e-1", "1500e-3", kExp, 1500, 2},
      {"1e-3", "1e-3", kExp, 1, 1},
      {"5e-3", "5e-3", kExp, 5, 1},
      {"100e-3", "100e-3", kExp, 100, 1},
      {"1e-9", "1e-9", kExp, 1, 1},
      {"1e-10", "1e-9", kExp, 1, 1},
      {"1e-400", "1e-9", kExp, 1, 1},
      {"1e-2147483648", "1e-9", kExp, 1, 1},  // not run through Go (it builds 10^2147483648)
      {"1e18", "1e18", kExp, kMax, 1000000000000000000},
      {"1e19", "10e18", kExp, kMax, kMax},
      {"1e28", "10e27", kExp, kMax, kMax},
      // Binary SI: kept when the value is a whole multiple of 1024 at or above 1024.
      {"1Ki", "1Ki", kBin, 1024000, 1024},
      {"1.0Ki", "1Ki", kBin, 1024000, 1024},
      {"1023Ki", "1023Ki", kBin, 1047552000, 1047552},
      {"1025Ki", "1025Ki", kBin, 1049600000, 1049600},
      {"1536Ki", "1536Ki", kBin, 1572864000, 1572864},
      {"2048Ki", "2Mi", kBin, 2097152000, 2097152},
      {"22244Ki", "22244Ki", kBin, 22777856000, 22777856},
      {"128Mi", "128Mi", kBin, 134217728000, 134217728},
      {"1000Mi", "1000Mi", kBin, 1048576000000, 1048576000},
      {"1023Mi", "1023Mi", kBin, 1072693248000, 1072693248},
      {"1024Mi", "1Gi", kBin, 1073741824000, 1073741824},
      {"1.5Gi", "1536Mi", kBin, 1610612736000, 1610612736},
      {"-1.5Gi", "-1536Mi", kBin, -1610612736000, -1610612736},
      {"1Ti", "1Ti", kBin, 1099511627776000, 1099511627776},
      {"1Pi", "1Pi", kBin, 1125899906842624000, 1125899906842624},
      {"1Ei", "1Ei", kBin, kMax, 1152921504606846976},
      {"7Ei", "7Ei", kBin, kMax, 8070450532247928832},
      // Binary SI otherwise prints as decimal SI; below 1 it parses as decimal SI.
      {"1.5Ki", "1536", kBin, 1536000, 1536},
      {"0.5Ki", "512", kBin, 512000, 512},
      {"0.999Ki", "1022976m", kBin, 1022976, 1023},
      {"0.0001Ki", "102400u", kDec, 103, 1},
      {"0.0000000001Ki", "103n", kDec, 1, 1},
      // Binary SI is capped at 2^63-1 in magnitude.
      {"8Ei", "9223372036854775807", kBin, kMax, kMax},
      {"-8Ei", "-9223372036854775807", kBin, kMin, -kMax},
      {"1024Ei", "9223372036854775807", kBin, kMax, kMax},
      {"100000000000000000000000000000000000000000Ei", "9223372036854775807", kBin, kMax, kMax},
      // Beyond int64: exact values, saturated accessors (Go's overflow there).
      {"9223372036854775807", "9223372036854775807", kDec, kMax, kMax},
      {"9223372036854775807m", "9223372036854775807m", kDec, kMax, 9223372036854776},
      {"18446744073709551616", "18446744073709551616", kDec, kMax, kMax},
      {"-9223372036854775809", "-9223372036854775809", kDec, kMin, kMin},
      {"99999999999999999999999999999", "99999999999999999999999999999", kDec, kMax, kMax},
      // Very long digit strings that stay in range.
      {"0." + std::string(1000, '0') + "1", "1n", kDec, 1, 1},
      {std::string(5000, '0') + "1", "1", kDec, 1000, 1},
      {"1." + std::string(5000, '0'), "1", kDec, 1000, 1},
      {"1" + std::string(20, '0') + "e-20", "1", kExp, 1000, 1},
      {"0." + std::string(100000, '0') + "1e100010", "1e9", kExp, 1000000000000, 1000000000},
  };
  return rows;
}

TEST(QuantityTest, ParsesAndPrintsLikeApimachinery) {
  for (const auto& row : acceptedRows()) {
    SCOPED_TRACE("input: " + row.input.substr(0, 80));
    const auto parsed = Quantity::parse(row.input);
    ASSERT_TRUE(parsed.has_value()) << parsed.error();
    EXPECT_EQ(parsed->toString(), row.canonical);
    EXPECT_EQ(parsed->format(), row.format) << toString(parsed->format());
    EXPECT_EQ(parsed->milliValue(), row.milli);
    EXPECT_EQ(parsed->value(), row.value);
  }
}

TEST(QuantityTest, CanonicalFormParsesBackToTheSameValueAndText) {
  for (const auto& row : acceptedRows()) {
    SCOPED_TRACE("input: " + row.input.substr(0, 80));
    const Quantity first = q(row.input);
    const auto again = Quantity::parse(first.toString());
    ASSERT_TRUE(again.has_value()) << again.error();
    EXPECT_EQ(*again, first);
    EXPECT_EQ(again->toString(), first.toString());
  }
}

struct Rejected {
  std::string input;
  std::string reason;  // a part of the error message
};

TEST(QuantityTest, RejectsMalformedTextWithAClearError) {
  const std::vector<Rejected> rows = {
      {"", "empty string"},
      // No digit in the number (Go reads these as 0; its grammar does not allow them).
      {".", "expected a number"},
      {"+", "expected a number"},
      {"-", "expected a number"},
      {"+.", "expected a number"},
      {"Ki", "expected a number"},
      {"-Ki", "expected a number"},
      {"e3", "expected a number"},
      {"m", "expected a number"},
      {"--1", "expected a number"},
      {"+-1", "expected a number"},
      {" 1", "expected a number"},
      {"\"1\"", "expected a number"},
      {"NaN", "expected a number"},
      {"inf", "expected a number"},
      {"\xef\xbc\x91", "expected a number"},  // a fullwidth one
      // Anything after the number that is not a suffix.
      {"1.2.3", "unknown suffix \".3\""},
      {"1..", "unknown suffix \".\""},
      {"1Kb", "unknown suffix \"Kb\""},
      {"1K", "unknown suffix \"K\""},
      {"1KI", "unknown suffix \"KI\""},
      {"1ki", "unknown suffix \"ki\""},
      {"1mi", "unknown suffix \"mi\""},
      {"1MiB", "unknown suffix \"MiB\""},
      {"1Gb", "unknown suffix \"Gb\""},
      {"1b", "unknown suffix \"b\""},
      {"1 ", "unknown suffix \" \""},
      {"1 Mi", "unknown suffix \" Mi\""},
      {"1\n", "unknown suffix \"\\x0a\""},
      {std::string("1\0", 2), "unknown suffix \"\\x00\""},
      {"1,5", "unknown suffix \",5\""},
      {"1_000", "unknown suffix \"_000\""},
      {"0x10", "unknown suffix \"x10\""},
      {"1-", "unknown suffix \"-\""},
      {"1e", "unknown suffix \"e\""},
      {"1e+", "unknown suffix \"e+\""},
      {"1e-", "unknown suffix \"e-\""},
      {"1e1.5", "unknown suffix \"e1.5\""},
      {"1e+-3", "unknown suffix \"e+-3\""},
      {"1ee3", "unknown suffix \"ee3\""},
      {"1e3k", "unknown suffix \"e3k\""},
      {"1Ei3", "unknown suffix \"Ei3\""},
      {"1Ki5", "unknown suffix \"Ki5\""},
      {"1e 3", "unknown suffix \"e 3\""},
      // Exponents that do not fit in 32 bits (Go wraps "1e4294967296" to 1).
      {"1e2147483648", "exponent out of range"},
      {"1e-2147483649", "exponent out of range"},
      {"1e4294967296", "exponent out of range"},
      {"1e99999999999999999999999999", "exponent out of range"},
      {"0e99999999999999999999999999", "exponent out of range"},
      // Magnitudes of 10^29 and more (Go keeps them as big decimals).
      {"1e29", "magnitude out of range"},
      {"-1e29", "magnitude out of range"},
      {"1e400", "magnitude out of range"},
      {"1e2147483647", "magnitude out of range"},
      {"100000000000000000000000000000", "magnitude out of range"},
      {"100000000000E", "magnitude out of range"},
      {std::string(100000, '9'), "magnitude out of range"},
      {std::string(100000, '9') + "e-99950", "magnitude out of range"},
  };
  for (const auto& row : rows) {
    SCOPED_TRACE("input: " + row.input.substr(0, 80));
    const auto parsed = Quantity::parse(row.input);
    ASSERT_FALSE(parsed.has_value()) << parsed->toString();
    EXPECT_TRUE(parsed.error().starts_with("invalid quantity \"")) << parsed.error();
    EXPECT_NE(parsed.error().find(row.reason), std::string::npos) << parsed.error();
  }
}

TEST(QuantityTest, ErrorQuotesAShortEscapedCopyOfTheText) {
  EXPECT_EQ(Quantity::parse("1Kb").error(),
            "invalid quantity \"1Kb\": unknown suffix \"Kb\"; expected one of n u m k M G T P E "
            "Ki Mi Gi Ti Pi Ei, or e/E and an integer exponent");
  const std::string huge = "1" + std::string(1'000'000, 'x');
  const std::string error = Quantity::parse(huge).error();
  EXPECT_LT(error.size(), 400u) << error;
  EXPECT_NE(error.find("(1000000 bytes)"), std::string::npos) << error;
  EXPECT_TRUE(Quantity::parse("1\x7f\xff\"\\")
                  .error()
                  .starts_with("invalid quantity \"1\\x7f\\xff\\\"\\\\\": "))
      << Quantity::parse("1\x7f\xff\"\\").error();
}

// Random byte strings, and random strings over the grammar's own characters: parsing never
// crashes (ASan/UBSan watch), and everything it accepts prints a form that parses back to the
// same value and text.
TEST(QuantityTest, AnyByteStringIsAValueOrAnError) {
  std::mt19937 random(20240611);
  const std::string_view grammar = "0123456789012345678901234567890123456789.+-eEinumkKMGTP";
  std::size_t accepted = 0;
  for (int i = 0; i < 40000; ++i) {
    const bool bytes = i % 4 == 0;
    std::string text(std::uniform_int_distribution<std::size_t>(0, 12)(random), '\0');
    for (char& c : text) {
      c = bytes
              ? static_cast<char>(std::uniform_int_distribution<int>(0, 255)(random))
              : grammar[std::uniform_int_distribution<std::size_t>(0, grammar.size() - 1)(random)];
    }
    const auto parsed = Quantity::parse(text);
    if (!parsed) {
      EXPECT_TRUE(parsed.error().starts_with("invalid quantity \"")) << parsed.error();
      continue;
    }
    ++accepted;
    const auto again = Quantity::parse(parsed->toString());
    ASSERT_TRUE(again.has_value()) << text << " -> " << parsed->toString();
    EXPECT_EQ(*again, *parsed) << text;
    EXPECT_EQ(again->toString(), parsed->toString()) << text;
  }
  EXPECT_GT(accepted, 1000u);  // the grammar strings do reach the accepting paths
}

TEST(QuantityTest, ComparesByValueAcrossFormats) {
  EXPECT_EQ(q("1Gi"), q("1073741824"));
  EXPECT_EQ(q("1"), q("1000m"));
  EXPECT_EQ(q("1e3"), q("1k"));
  EXPECT_EQ(q("0"), Quantity());
  EXPECT_LT(q("100m"), q("0.2"));
  EXPECT_LT(q("-1"), q("0"));
  EXPECT_GT(q("1n"), q("0"));
  EXPECT_LT(q("999999999n"), q("1"));
  EXPECT_GT(q("1Ki"), q("1k"));
  EXPECT_NE(q("1Ki"), q("1k"));

  std::vector<Quantity> values = {q("1Gi"), q("-1"), q("500m"), q("1e9"), q("2"), q("0")};
  std::sort(values.begin(), values.end());
  std::vector<std::string> printed;
  for (const auto& value : values) printed.push_back(value.toString());
  EXPECT_EQ(printed, (std::vector<std::string>{"-1", "0", "500m", "2", "1e9", "1Gi"}));

  EXPECT_EQ(q("-5m").sign(), -1);
  EXPECT_EQ(q("0Ki").sign(), 0);
  EXPECT_TRUE(q("0Ki").isZero());
  EXPECT_EQ(q("1n").sign(), 1);
}

TEST(QuantityTest, AddsAndSubtractsExactly) {
  // Ten times 0.1 is exactly 1 (it would not be in floating point).
  Quantity sum;
  for (int i = 0; i < 10; ++i) sum = sum.add(q("0.1")).value();
  EXPECT_EQ(sum, q("1"));
  EXPECT_EQ(sum.toString(), "1");

  const Quantity memory = q("1.5Gi").add(q("512Mi")).value();
  EXPECT_EQ(memory.toString(), "2Gi");  // keeps the left side's binary format
  EXPECT_EQ(memory.format(), kBin);
  EXPECT_EQ(q("100m").sub(q("1")).value().toString(), "-900m");
  EXPECT_TRUE(q("1Gi").sub(q("1Gi")).value().isZero());
  // A zero left side takes the other side's format, as Quantity.Add and Sub do.
  EXPECT_EQ(Quantity().add(q("2Ki")).value().toString(), "2Ki");
  EXPECT_EQ(q("0").sub(q("2Ki")).value().toString(), "-2Ki");
  EXPECT_EQ(q("2").add(q("2Ki")).value().toString(), "2050");
  EXPECT_EQ(q("9559630n").add(q("440370n")).value().toString(), "10m");

  EXPECT_EQ(q("1.5Gi").negated().toString(), "-1536Mi");
  EXPECT_EQ(q("-250m").negated(), q("250m"));
}

TEST(QuantityTest, SumsOutOfRangeAreErrors) {
  const Quantity big = q("99999999999999999999999999999");
  const auto sum = big.add(big);
  ASSERT_FALSE(sum.has_value());
  EXPECT_NE(sum.error().find("out of range"), std::string::npos) << sum.error();
  EXPECT_FALSE(big.negated().sub(big).has_value());
  EXPECT_FALSE(big.sub(big.negated()).has_value());
  EXPECT_TRUE(big.add(big.negated()).value().isZero());
  EXPECT_EQ(big.add(q("-1")).value().toString(), "99999999999999999999999999998");
}

TEST(QuantityTest, BuildsFromIntegers) {
  EXPECT_EQ(Quantity::fromInt64(1536, kBin).toString(), "1536");
  EXPECT_EQ(Quantity::fromInt64(2048, kBin).toString(), "2Ki");
  EXPECT_EQ(Quantity::fromInt64(134217728, kBin).toString(), "128Mi");
  EXPECT_EQ(Quantity::fromInt64(5000).toString(), "5k");
  EXPECT_EQ(Quantity::fromInt64(5000, kExp).toString(), "5e3");
  EXPECT_EQ(Quantity::fromMilli(1500).toString(), "1500m");
  EXPECT_EQ(Quantity::fromMilli(512, kBin).toString(), "512m");
  EXPECT_EQ(Quantity::fromMilli(250), q("0.25"));
  EXPECT_EQ(Quantity::fromInt64(kMax).value(), kMax);
  EXPECT_EQ(Quantity::fromInt64(kMin).value(), kMin);
  EXPECT_EQ(Quantity::fromInt64(kMin).milliValue(), kMin);
  EXPECT_EQ(Quantity::fromInt64(kMin).toString(), "-9223372036854775808");
  EXPECT_EQ(Quantity::fromMilli(kMax).milliValue(), kMax);
  EXPECT_EQ(Quantity::fromMilli(-1).value(), -1);
}

TEST(QuantityTest, ConvertsToTheNearestDouble) {
  EXPECT_DOUBLE_EQ(q("9559630n").asDouble(), 0.00955963);
  EXPECT_DOUBLE_EQ(q("1.5Gi").asDouble(), 1610612736.0);
  EXPECT_DOUBLE_EQ(q("-250m").asDouble(), -0.25);
  EXPECT_DOUBLE_EQ(q("0.1").asDouble(), 0.1);
  EXPECT_DOUBLE_EQ(q("1e-9").asDouble(), 1e-9);
  EXPECT_DOUBLE_EQ(q("99999999999999999999999999999").asDouble(), 1e29);
  EXPECT_EQ(q("0").asDouble(), 0.0);
}

}  // namespace
}  // namespace sessionstore::quantity
