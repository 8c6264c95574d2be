// log::append_json_escaped (the JSON log lines and the admin API's answers):
// escapes per RFC 8259 and never emits bytes that are not UTF-8 (U+FFFD
// instead) (a reader
// such as Boost.JSON in the CLI rejects the whole document for one).
#include <doctest/doctest.h>

#include <string>

#include "common/log.hpp"

TEST_CASE("append_json_escaped: escapes, keeps UTF-8, replaces what is not UTF-8") {
    struct Case {
        const char* name;
        std::string in;
        std::string out;
    };
    const std::string R = "\xef\xbf\xbd";  // U+FFFD as UTF-8
    const Case cases[] = {
        {"plain", "550 5.1.1 no such user", "550 5.1.1 no such user"},
        {"quote, backslash, controls", "a\"b\\c\nd\re\tf\x01g\x7f", "a\\\"b\\\\c\\nd\\re\\tf\\u0001g\\u007f"},
        {"two-byte", "caf\xc3\xa9", "caf\xc3\xa9"},
        {"three-byte", "\xe2\x82\xac 5", "\xe2\x82\xac 5"},
        {"four-byte", "\xf0\x9f\x93\xa7", "\xf0\x9f\x93\xa7"},
        {"cut mid-character", "caf\xc3", "caf" + R},
        {"cut three-byte", "\xe2\x82", R + R},
        {"lone continuation", "\x80x", R + "x"},
        {"overlong slash", "\xc0\xaf", R + R},
        {"overlong three-byte", "\xe0\x80\xaf", R + R + R},
        {"surrogate", "\xed\xa0\x80", R + R + R},
        {"above U+10FFFF", "\xf4\x90\x80\x80", R + R + R + R},
        {"Latin-1 text", "Gr\xfc\xdf", "Gr" + R + R},
    };
    for (const auto& c : cases) {
        CAPTURE(c.name);
        std::string out;
        rp::log::append_json_escaped(out, c.in);
        CHECK(out == c.out);
    }
}
