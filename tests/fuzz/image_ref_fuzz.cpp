// Image references (spec.store.managed.image, each --allowed-images entry): imageref::parse gives
// a reference or an error and never crashes; an accepted reference holds no byte outside printable
// ASCII, prints back as the text it came from and parses to itself again; its canonical name parses
// too. The input's first line is also read as an allow-list, which must agree with itself (an image
// matched by a list is matched by the same list parsed again from its description).
#include "fuzz_input.h"
#include "imageref/image_ref.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  namespace imageref = sessionstore::imageref;
  namespace fuzz = sessionstore::fuzz;
  const auto input = fuzz::parts(fuzz::text(data, size), 2);
  const auto parsed = imageref::parse(input[0]);
  if (parsed) {
    for (char c : input[0]) {
      if (static_cast<unsigned char>(c) <= 0x20 || static_cast<unsigned char>(c) >= 0x7f) {
        fuzz::broken("an accepted image holds a space, control or non-ASCII byte");
      }
    }
    if (parsed->toString() != input[0]) fuzz::broken("the reference does not print back as given");
    const auto again = imageref::parse(parsed->toString());
    if (!again || !(*again == *parsed)) fuzz::broken("the printed reference parses differently");
    if (!imageref::parse(parsed->canonicalName()))
      fuzz::broken("the canonical name does not parse");
  }
  const auto list = imageref::AllowList::parse(input[1]);
  if (list && parsed) {
    const auto described = imageref::AllowList::parse(list->describe());
    if (!described) fuzz::broken("an allow-list's description does not parse");
    if (described->allows(*parsed) != list->allows(*parsed)) {
      fuzz::broken("an allow-list decides differently once printed and parsed again");
    }
    if (list->empty() && !list->allows(*parsed)) fuzz::broken("an empty list refuses an image");
  }
  return 0;
}
